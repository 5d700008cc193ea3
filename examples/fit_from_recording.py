"""Fit the parameters to a recording: the offline step of learning, by hand.

Simulates natural16 training patches with the authors' random initialisation and writes
a recording with the potentials u (``record=("u",)``), reads it back, and takes Adam
steps down the teacher-forced free energy of the recorded counts
(``learning.recording_fit.fit_recording``; docs/learning.md): Phi, sigma, u0, b and eta
move together, with the counts held fixed. This is what ``run_sim.py learn --from``
does, and what the learning alternation does once per minibatch. Prints the free energy
(nats per stimulus and bin) of the recording before and after, and of a new run with
the fitted parameters: the fit lowers the free energy of the counts it was given, but
many steps on one recording can leave parameters that do worse in a new run (the counts
they would draw differ from the recorded ones), which is why learning alternates one step
with one new simulation.

    python examples/fit_from_recording.py [--tiny] [--out fit.h5]
"""
import argparse
import os
import tempfile

import numpy as np

from ipvae_brian.learning.adam import step_sizes
from ipvae_brian.learning.recording_fit import fit_recording
from ipvae_brian.models.config import RunConfig
from ipvae_brian.models.free_energy import free_energy
from ipvae_brian.models.parameters import IPVAEParameters
from ipvae_brian.models.recording import Recording
from ipvae_brian.models.simulation import simulate
from ipvae_brian.stimuli import catalog

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--tiny", action="store_true", help="20 patches, K = 32, 16 bins")
parser.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "ipvae_fit.h5"))
args = parser.parse_args()
n, K, steps = (20, 32, 16) if args.tiny else (200, 128, 32)
config = RunConfig(steps=steps, record=("u",))

stimuli = catalog.load("natural16:train", n=n)
params = IPVAEParameters.random(stimuli.n_pixels, K, seed=0)
simulate(params, stimuli, config, seed=1, out=args.out)
with Recording.open(args.out) as rec:                  # read back: x, counts, u
    x, counts, u = rec.stimuli.x, rec.counts[()], rec.u[()]
print(f"recording {args.out}: counts {counts.shape}, u {u.shape}")

rates = step_sizes(dictionary_rate=1e-4, parameter_rate=1e-2)  # Adam step per parameter
fit = fit_recording(params, x, counts, u, rates=rates, iterations=50, final_objective=True)
fitted = fit.params
new = simulate(fitted, stimuli, config, seed=1)
f_after = np.mean(free_energy(fitted, x, new.counts, new.u))
print(f"eta {params.eta:.3f} -> {fitted.eta:.3f}, sigma {params.sigma.mean():.3f} -> "
      f"{fitted.sigma.mean():.3f}, median u0 {np.median(params.u0):.2f} -> "
      f"{np.median(fitted.u0):.2f}, median b {np.median(params.bias):.3f} -> "
      f"{np.median(fitted.bias):.3f}")
print(f"free energy before: {fit.objectives[0]:.1f} nats; of the recorded counts after 50 "
      f"steps: {fit.objectives[-1]:.1f}; new run with the fitted parameters: {f_after:.1f}")
