"""Plain numpy version of the iP-VAE's discrete update, used to test the Brian2 network.

This is not a second engine: the simulator is :mod:`models.network`. The
functions here restate docs/model.md's equations in array form so the tests can
check the network step by step and in distribution.

One bin t (docs/model.md), for a batch of N stimuli at once::

    z_t     ~ Poisson(exp(u_t))
    du_t    = eta * (Phi^T x / sigma^2 - (Phi^T diag(1/sigma^2) Phi) z_t - b)
    du_t   <- c_du - softplus(c_du - max(du_t, u_floor))
    v_t     = max(u_t + du_t, u_floor)
    u_{t+1} = v_t - softplus(v_t - c_u)          (= c_u - softplus(c_u - v_t))

:func:`membrane_update` also takes one step of the continuous mode (``substeps`` = tau / dt
steps per bin, as :data:`~ipvae_brian.models.equations.MEMBRANE_UPDATE` computes it), so
that the tests can check that mode's update too.

References
----------
Vafaii, Galor & Yates (2025), arXiv:2410.19315, and the authors' ``main/layers.py``.
"""
from __future__ import annotations

import numpy as np

from ipvae_brian.models.parameters import IPVAEParameters


def softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)), computed without overflow."""
    return np.logaddexp(0.0, x)


def membrane_update(params: IPVAEParameters, u: np.ndarray, z: np.ndarray,
                    drive: np.ndarray, substeps: int = 1) -> np.ndarray:
    """u_{t+1} from u_t, the counts z_t and the feed-forward drive Phi^T x / sigma^2.

    Parameters
    ----------
    params : IPVAEParameters
    u, z, drive : ndarray, shape (N, K)
        Membrane potentials, counts of this bin (or step), feed-forward drive.
    substeps : int
        tau / dt: 1 (default) for one bin of the discrete model; n for one step of the
        continuous mode with dt = tau / n, where the drift and the ceiling's pull are
        divided by n and the soft bound on du is shifted by log(n) (docs/model.md).

    Returns
    -------
    ndarray, shape (N, K)
    """
    step_fraction = 1.0 / substeps
    bound = params.c_du + np.log(substeps)
    du = params.eta * ((drive - params.bias) * step_fraction + z @ params.lateral_weights)
    du = bound - softplus(bound - np.maximum(du, params.u_floor))
    v = np.maximum(u + du, params.u_floor)
    return np.minimum(v - softplus(v - params.c_u) * step_fraction, params.c_u)


def infer(params: IPVAEParameters, x: np.ndarray, steps: int, rng: np.random.Generator,
          stream: bool = False):
    """Run T bins of inference on N stimuli.

    Parameters
    ----------
    x : ndarray, shape (N, M) or (N, T, M)
        Static stimuli or movies (frame t drives bin t).
    steps : int
        T, the number of bins.
    rng : numpy.random.Generator
    stream : bool
        If True the stimuli are one continuous sequence: u is carried from the last
        bin of stimulus n to the first bin of stimulus n + 1 (run one after another).
        If False (default) every stimulus starts from u0 (run side by side).

    Returns
    -------
    counts : ndarray, shape (N, T, K), int64
        z_t for every stimulus and bin.
    u : ndarray, shape (N, T, K)
        u_t, the potential the counts of bin t were drawn from.
    """
    x = np.asarray(x, dtype=np.float64)
    N, K = x.shape[0], params.n_latents
    counts = np.zeros((N, steps, K), dtype=np.int64)
    potentials = np.zeros((N, steps, K))
    drive = params.feedforward_drive(x)
    frame = (lambda t: drive[:, t]) if x.ndim == 3 else (lambda t: drive)
    if not stream:
        u = np.broadcast_to(params.u0, (N, K)).copy()
        for t in range(steps):
            potentials[:, t] = u
            counts[:, t] = rng.poisson(np.exp(u))
            u = membrane_update(params, u, counts[:, t], frame(t))
        return counts, potentials
    u = params.u0[None, :].copy()
    for n in range(N):
        for t in range(steps):
            potentials[n, t] = u[0]
            counts[n, t] = rng.poisson(np.exp(u[0]))
            d = drive[n, t] if x.ndim == 3 else drive[n]
            u = membrane_update(params, u, counts[n, t][None], d[None])
    return counts, potentials
