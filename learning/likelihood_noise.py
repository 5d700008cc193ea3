r"""Fitting the per-pixel noise sigma of the likelihood N(x; Phi z, diag(sigma^2)).

For fixed Phi and recorded counts, the reconstruction term of the free energy
(``models.free_energy.reconstruction_nll``) is minimised over sigma_m by the
residual variance of pixel m over the recorded bins,

.. math::

    \hat\sigma_m^2 = \frac{1}{N T} \sum_{n, t} \left(x_{nm} - (\Phi z_{nt})_m\right)^2 ,

the maximum-likelihood variance of a Gaussian. The parameters store the
log-std before the authors' soft clamp, sigma = exp(3.45 tanh(s / 3.45)), so
the fit is mapped back through s = 3.45 artanh(log sigma / 3.45), after
limiting log sigma to the clamp's open range.

References
----------
Vafaii, Galor & Yates (2025), arXiv:2410.19315 (docs/model.md: the likelihood and its
soft clamp); Bishop (2006), Pattern Recognition and Machine Learning, sec. 2.3.4
(maximum-likelihood variance of a Gaussian).
"""
from __future__ import annotations

import numpy as np

from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.parameters import LOG_SIGMA_BOUND
from ipvae_brian.learning.dictionary import _as_bins

#: Largest |log sigma| a fit may return: just inside the soft clamp's range (+-3.45).
MAX_ABS_LOG_SIGMA = 0.99 * LOG_SIGMA_BOUND


def residual_variance(Phi: np.ndarray, x: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Mean squared residual of every pixel over the recorded bins, shape (M,).

    Parameters
    ----------
    Phi : ndarray, shape (M, K)
    x : ndarray, shape (N, M) or (N, T, M)
    codes : ndarray, shape (N, K) or (N, T, K)

    Examples
    --------
    >>> residual_variance(np.eye(2), np.array([[1.0, 2.0]]), np.array([[1.0, 0.0]]))
    array([0., 4.])
    """
    xb, zb = _as_bins(x, codes)
    return np.mean((xb - zb @ np.asarray(Phi, dtype=np.float64).T) ** 2, axis=0)


def log_sigma_from_variance(variance: np.ndarray) -> np.ndarray:
    """The stored parameter s whose clamped sigma = exp(3.45 tanh(s / 3.45)) has this variance.

    Variances outside the clamp's range (about 1e-3 to 1e3) are limited to it.

    Examples
    --------
    >>> float(log_sigma_from_variance(np.array([1.0]))[0])
    0.0
    """
    variance = np.asarray(variance, dtype=np.float64)
    if np.any(~np.isfinite(variance)) or np.any(variance < 0):
        raise SimulationInputError("residual variances must be finite and non-negative")
    log_sigma = 0.5 * np.log(np.maximum(variance, 1e-300))
    log_sigma = np.clip(log_sigma, -MAX_ABS_LOG_SIGMA, MAX_ABS_LOG_SIGMA)
    return LOG_SIGMA_BOUND * np.arctanh(log_sigma / LOG_SIGMA_BOUND)
