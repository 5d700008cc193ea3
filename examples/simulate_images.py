"""Simulate your own images from a script or notebook: counts as numpy, spikes as Neo.

Any N x M numpy array of images works (here natural16 test patches, or random pixels
with ``--random``); the parameters are the learned ones shipped for 16 x 16 images.
The run is in continuous time (``RunConfig(dt=0.0005)``: 0.5 ms steps within 25 ms
bins), so besides the counts per bin it keeps every spike time. Prints the shapes, the
reconstruction R^2 over t (decoded from the counts, Phi z_t) and the first Neo train.

    python examples/simulate_images.py [--tiny] [--random]
"""
import argparse

import numpy as np

from ipvae_brian.analysis.spike_trains import spike_trains_from_result
from ipvae_brian.models.config import RunConfig
from ipvae_brian.models.run_summary import r_squared
from ipvae_brian.models.shipped import resolve_parameters
from ipvae_brian.models.simulation import simulate
from ipvae_brian.stimuli import catalog

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--tiny", action="store_true", help="3 images, 8 bins (seconds)")
parser.add_argument("--random", action="store_true", help="random pixels, not natural16")
args = parser.parse_args()
n_images, steps = (3, 8) if args.tiny else (20, 32)

if args.random:
    x = np.random.default_rng(0).standard_normal((n_images, 256))   # any N x M array
else:
    x = catalog.load("natural16:test", n=n_images).x                 # (N, 256), whitened
params, source, _ = resolve_parameters(n_pixels=x.shape[1])          # the shipped K = 512
print(f"images {x.shape}, parameters {source} (K = {params.n_latents})")

result = simulate(params, x, RunConfig(steps=steps, dt=0.0005), seed=0)
counts = result.counts                                               # (N, T, K) integers
print(f"counts {counts.shape} {counts.dtype}; {result.spike_times.size:,} spikes")
print(result.summary.describe())

# R^2 of the reconstruction x_hat_t = Phi z_t at every bin t, averaged over the images
r2 = np.nanmean(r_squared(x[:, None, :], counts @ params.Phi.T), axis=0)    # (T,)
print("R^2 over t:", " ".join(f"{v:.2f}" for v in r2))

trains = spike_trains_from_result(result, neurons="0:16").to_neo()    # [stimulus][neuron]
first = trains[0][0]
print(f"Neo: {len(trains)} stimuli x {len(trains[0])} neurons; stimulus 0, neuron 0: "
      f"{first.size} spikes in [{first.t_start}, {first.t_stop}]")
