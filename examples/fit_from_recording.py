"""Fit the parameters from a recording: one step of the offline learning rule, by hand.

Simulates natural16 training patches with the authors' random initialisation and writes
a recording with the potentials u (``record=("u",)``), reads it back, and fits from the
recorded counts what ``learning.alternation`` fits every minibatch (docs/learning.md):
a per-neuron Newton step of the dictionary Phi (``hebbian_step``), u0 from the mean
posterior rates of the later half of the bins, sigma from the residual variance per
pixel, eta from the stability rule. Prints the free energy (nats per stimulus and bin)
before and after: on the recorded counts, and of a new run with the fitted parameters.

    python examples/fit_from_recording.py [--tiny] [--out fit.h5]
"""
import argparse
import os
import tempfile

import numpy as np

from ipvae_brian.learning.alternation import CURVATURE_FLOOR, LearningRule
from ipvae_brian.learning.dictionary import hebbian_step
from ipvae_brian.learning.likelihood_noise import log_sigma_from_variance, residual_variance
from ipvae_brian.learning.prior_rates import fit_u0, mean_posterior_rates
from ipvae_brian.learning.step_size import stable_step_size
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
rule = LearningRule(steps=steps)                       # the learning rule's settings

stimuli = catalog.load("natural16:train", n=n)
params = IPVAEParameters.random(stimuli.n_pixels, K, seed=0)
simulate(params, stimuli, config, seed=1, out=args.out)
with Recording.open(args.out) as rec:                  # read back: x, counts, u
    x, counts, u = rec.stimuli.x, rec.counts[()], rec.u[()]
print(f"recording {args.out}: counts {counts.shape}, u {u.shape}")
f_before = np.nanmean(free_energy(params, x, counts, u))

z = counts.astype(np.float64)
Phi = hebbian_step(params.Phi, x, z, rule.dictionary_step, column_norm=rule.column_norm,
                   curvature=np.maximum(np.mean(z ** 2, axis=(0, 1)), CURVATURE_FLOOR))
u0 = fit_u0(mean_posterior_rates(counts, first_bin=steps // 2),
            max(rule.u0_min, params.u_floor), params.c_u)
log_sigma = log_sigma_from_variance(residual_variance(params.Phi, x, z))
fitted = params.replace(Phi=Phi, u0=u0, log_sigma=log_sigma)
fitted = fitted.replace(log_lr=np.log(stable_step_size(fitted, x, rule.stability_margin)))
refit = params.replace(Phi=Phi, log_sigma=log_sigma)         # u0, eta act on a new run only
f_recorded = np.nanmean(free_energy(refit, x, counts, u))

new = simulate(fitted, stimuli, config, seed=1)
f_after = np.nanmean(free_energy(fitted, x, new.counts, new.u))
print(f"eta {params.eta:.3f} -> {fitted.eta:.3f}, sigma {params.sigma.mean():.3f} -> "
      f"{fitted.sigma.mean():.3f}, median u0 {np.median(params.u0):.2f} -> {np.median(u0):.2f}")
print(f"free energy before: {f_before:.1f} nats; on the recorded counts with the fitted "
      f"Phi and sigma: {f_recorded:.1f}; new run with all fitted parameters: {f_after:.1f}")
