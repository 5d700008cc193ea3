"""Which term limits the R^2 of a code decoded from counts: bias or Poisson noise.

For q = Pois(lambda) the expected squared error of the count read-out splits exactly
(models/free_energy.py):

    E ||x - Phi z||^2 = ||x - Phi lambda||^2 + sum_k lambda_k ||Phi_k||^2
                        (bias of the rates)    (Poisson noise of the counts)

Both are divided by each patch's pixel variance sum_m (x_m - mean x)^2 and averaged over
patches, as the R^2 of `run_sim.py evaluate` is. Prints, at bin t, the R^2 decoded from the
counts z_t (what `evaluate` reports), from the rates lambda_t = exp(u_t) (no Poisson noise),
the expected R^2 of the counts (1 - bias - noise), the two fractions and the %-zeros.

    python examples/poisson_noise_limit.py PARAMS.h5 [--n 1000] [--t 128] [--engine runtime] [--tiny]
"""
import argparse

import numpy as np

from ipvae_brian.learning.alternation import brian_simulator
from ipvae_brian.models.parameters import IPVAEParameters
from ipvae_brian.models.run_summary import r_squared
from ipvae_brian.stimuli import catalog

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("params", help="parameter file")
parser.add_argument("--n", type=int, default=1000, help="natural16 test patches")
parser.add_argument("--t", type=int, default=128, help="the bin t (membrane updates before it)")
parser.add_argument("--seed", type=int, default=0, help="seed of the Poisson draws")
parser.add_argument("--engine", default="runtime", help="Brian2 engine")
parser.add_argument("--tiny", action="store_true", help="20 patches, t = 8")
args = parser.parse_args()
if args.tiny:
    args.n, args.t = 20, 8

params = IPVAEParameters.load(args.params)
x = catalog.load("natural16:test", n=args.n).x
counts, u = brian_simulator(args.t + 1, engine=args.engine)(params, x, args.seed)
rates, z = np.exp(u[:, args.t]), counts[:, args.t].astype(np.float64)
variance = ((x - x.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
bias = ((x - rates @ params.Phi.T) ** 2).sum(axis=1) / variance
noise = rates @ (params.Phi ** 2).sum(axis=0) / variance
print(f"{args.params}, t = {args.t}, {args.n:,} natural16 test patches: R^2 from the counts "
      f"{np.mean(r_squared(x, z @ params.Phi.T)):.3f}, from the rates {np.mean(1 - bias):.3f}, "
      f"expected from the counts {np.mean(1 - bias - noise):.3f}; fraction of the pixel "
      f"variance: bias {np.mean(bias):.3f}, Poisson noise {np.mean(noise):.3f}; "
      f"{100 * np.mean(z == 0):.1f}% zeros")
