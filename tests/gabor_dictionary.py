"""A dictionary of 2-D Gabors with known parameters, for tests of the V1 experiments.

The learned natural16 dictionaries look like this (localised, oriented, band-pass
columns; Olshausen & Field 1996); with known parameters a test can check that an
experiment recovers what the dictionary encodes (preferred orientation, the STA).
"""
import numpy as np

from ipvae_brian.analysis.receptive_fields import gabor_2d
from ipvae_brian.models.parameters import IPVAEParameters


def gabor_parameters(side=16, n_latents=16, seed=0, column_norm=0.5, eta=0.5, bias=0.05,
                     u0=-5.0, clamp=2.5):
    """IPVAEParameters whose Phi columns are Gabors, and the Gabors' parameters.

    Returns
    -------
    params : IPVAEParameters
        M = side**2, K = n_latents; sigma = 1, the given eta, bias and u0, and the soft clamps
        c_u = c_du = ``clamp`` (the stable regime of ``docs/learning.md``: with column
        norm 0.5 and eta 0.5 a well-matched natural patch drives eta Phi_k^T x above 2 and
        the dynamics run away unless the clamps hold the rate near exp(clamp)).
    gabors : dict of str -> ndarray, shape (K,)
        theta (deg, wave-vector direction), frequency (cycles/pixel), sigma_x, sigma_y
        (pixels), x0, y0 (pixels from the centre), phase (deg).
    """
    rng = np.random.default_rng(seed)
    K = n_latents
    theta = (np.arange(K) * 180.0 / K + rng.uniform(0, 180.0 / K, K)) % 180.0
    frequency = rng.uniform(0.12, 0.25, K)
    sigma_x = 0.4 / frequency
    sigma_y = sigma_x * rng.uniform(1.0, 1.5, K)
    x0 = rng.uniform(-side / 8, side / 8, K)
    y0 = rng.uniform(-side / 8, side / 8, K)
    phase = rng.uniform(-180, 180, K)
    Phi = np.stack([gabor_2d((side, side), x0[k], y0[k], theta[k], sigma_x[k], sigma_y[k],
                             frequency[k], phase[k]).ravel() for k in range(K)], axis=1)
    Phi *= column_norm / np.linalg.norm(Phi, axis=0)
    params = IPVAEParameters(Phi=Phi, log_sigma=np.zeros(side * side), u0=np.full(K, u0),
                             log_bias=np.full(K, np.log(bias)), log_lr=np.log(eta),
                             c_u=clamp, c_du=clamp,
                             provenance={"init": "gabor dictionary (tests)", "seed": seed})
    gabors = dict(theta=theta, frequency=frequency, sigma_x=sigma_x, sigma_y=sigma_y, x0=x0,
                  y0=y0, phase=phase)
    return params, gabors
