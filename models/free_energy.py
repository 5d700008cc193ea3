r"""The iP-VAE's free energy per time bin: the yardstick of learning (docs/model.md).

For a stimulus x, the counts z_t of bin t and the membrane potentials u_t
(posterior log-rates before bin t) and u_{t+1} (after it),

.. math::

    F_t = \underbrace{\sum_m \left[\frac{(x_m - (\Phi z_t)_m)^2}{2 \sigma_m^2}
          + \log \sigma_m + \tfrac12 \log 2\pi\right]}_{-\log \mathcal N(x;\, \Phi z_t,\, \sigma^2)}
          \;+\; \beta\, \mathrm{KL}\!\left(\mathrm{Pois}(e^{u_{t+1}}) \,\|\,
          \mathrm{Pois}(e^{u_t})\right),

    \mathrm{KL}(\mathrm{Pois}(\lambda) \| \mathrm{Pois}(\lambda_0))
        = \lambda \log(\lambda / \lambda_0) - \lambda + \lambda_0 .

The prior of bin t is the posterior of bin t - 1, and u_0 = u0 (the learned
prior) for every stimulus when u is reset. The authors average F_t over the T
bins of a sequence and minimise it by back-propagation; this project fits the
parameters offline from recorded counts (``learning/``) and reports the same
average as its yardstick. Units: nats per stimulus.

References
----------
Vafaii, Galor & Yates (2025), "Brain-like variational inference", arXiv:2410.19315,
and the authors' ``main/distributions.py`` (Poisson KL) and ``main/train.py``.
"""
from __future__ import annotations

import numpy as np

from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.parameters import IPVAEParameters


def poisson_kl(u: np.ndarray, u_prior: np.ndarray) -> np.ndarray:
    r"""KL(Pois(exp(u)) || Pois(exp(u_prior))), elementwise, in nats.

    .. math:: e^{u} (u - u_0) - e^{u} + e^{u_0}

    Zero when u = u_prior, positive otherwise.

    Examples
    --------
    >>> float(poisson_kl(np.log(2.0), np.log(2.0)))
    0.0
    >>> round(float(poisson_kl(np.log(2.0), 0.0)), 6)    # 2 log 2 - 2 + 1
    0.386294
    """
    u = np.asarray(u, dtype=np.float64)
    u_prior = np.asarray(u_prior, dtype=np.float64)
    rate = np.exp(u)
    return rate * (u - u_prior) - rate + np.exp(u_prior)


def reconstruction_nll(params: IPVAEParameters, x: np.ndarray, counts: np.ndarray) -> np.ndarray:
    r"""-log N(x; Phi z_t, diag(sigma^2)) of every recorded bin, in nats.

    Parameters
    ----------
    params : IPVAEParameters
    x : ndarray, shape (N, M) or (N, T, M)
        Stimuli (static, or one frame per bin).
    counts : ndarray, shape (N, T, K)

    Returns
    -------
    ndarray, shape (N, T)
    """
    counts = np.asarray(counts)
    x = np.asarray(x, dtype=np.float64)
    if counts.ndim != 3 or counts.shape[2] != params.n_latents:
        raise SimulationInputError(
            f"counts must be N x T x K with K = {params.n_latents}, got shape {counts.shape}")
    if x.ndim == 2:
        x = x[:, None, :]
    if x.shape[0] != counts.shape[0] or x.shape[-1] != params.n_pixels:
        raise SimulationInputError(
            f"stimuli of shape {x.shape} do not match counts of shape {counts.shape} and "
            f"{params.n_pixels} pixels")
    sigma = params.sigma
    residual = x - counts.astype(np.float64) @ params.Phi.T
    return (0.5 * np.sum((residual / sigma) ** 2, axis=-1)
            + np.sum(np.log(sigma)) + 0.5 * params.n_pixels * np.log(2 * np.pi))


def free_energy(params: IPVAEParameters, x: np.ndarray, counts: np.ndarray,
                u: np.ndarray, u_next: np.ndarray | None = None) -> np.ndarray:
    r"""F_t of every stimulus and bin (see the module docstring), in nats.

    Parameters
    ----------
    params : IPVAEParameters
    x : ndarray, shape (N, M) or (N, T, M)
    counts : ndarray, shape (N, T, K)
        z_t, drawn from exp(u_t).
    u : ndarray, shape (N, T, K)
        u_t, the potential each bin's counts were drawn from.
    u_next : ndarray, shape (N, K), optional
        u_T, the potential after the last bin. Without it the KL term of the
        last bin is unknown and that bin's F is NaN.

    Returns
    -------
    ndarray, shape (N, T)
        Average it over bins and stimuli (``numpy.nanmean``) for the paper's
        per-sample free energy.
    """
    u = np.asarray(u, dtype=np.float64)
    if u.shape != np.shape(counts):
        raise SimulationInputError(
            f"potentials of shape {u.shape} do not match counts of shape {np.shape(counts)}")
    nll = reconstruction_nll(params, x, counts)
    after = np.empty_like(u)
    after[:, :-1] = u[:, 1:]
    after[:, -1] = np.nan if u_next is None else np.asarray(u_next, dtype=np.float64)
    kl = poisson_kl(after, u).sum(axis=-1)
    return nll + params.beta * kl
