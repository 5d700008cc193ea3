r"""Fitting the prior log-rates u0 to the recorded posteriors.

The prior enters the free energy only through the KL term of the first bin,
KL(Pois(lambda_n) || Pois(exp(u0))) per neuron, with lambda_n the posterior rate
for stimulus n. Its derivative with respect to u0_k is
sum_n (exp(u0_k) - lambda_nk), so the optimum over a set of stimuli is

.. math::

    e^{u_{0,k}} = \frac{1}{N} \sum_n \lambda_{nk} ,

the mean posterior rate of neuron k (docs/model.md, docs/design.md). We estimate the
posterior rate of a stimulus by the mean count over the recorded bins from
``first_bin`` on (the counts are unbiased samples of exp(u_t)); taking the
later bins of each sequence uses the converged posterior rather than the
transient that starts at the old prior. A neuron that never fired gets the
floor ``u_floor``.

References
----------
Vafaii, Galor & Yates (2025), arXiv:2410.19315 (docs/model.md: the prior and the KL term).
"""
from __future__ import annotations

import numpy as np

from ipvae_brian.models.errors import SimulationInputError


def mean_posterior_rates(counts: np.ndarray, first_bin: int = 0) -> np.ndarray:
    """Mean count per bin of every neuron over stimuli and the bins from ``first_bin``, (K,).

    Parameters
    ----------
    counts : ndarray, shape (N, T, K)
    first_bin : int
        First bin included (0 <= first_bin < T).
    """
    counts = np.asarray(counts)
    if counts.ndim != 3:
        raise SimulationInputError(f"counts must be N x T x K, got shape {counts.shape}")
    if not 0 <= first_bin < counts.shape[1]:
        raise SimulationInputError(
            f"first_bin = {first_bin} is outside the recording's {counts.shape[1]} bins")
    return counts[:, first_bin:].mean(axis=(0, 1), dtype=np.float64)


def fit_u0(rates: np.ndarray, u_floor: float = -8.0, u_ceiling: float = 10.0) -> np.ndarray:
    """u0 = log(mean posterior rate), limited to [u_floor, u_ceiling].

    The expected KL is convex in u0, so the limited value is the optimum over
    the interval (the learning rule uses a floor above -8: see
    :mod:`learning.alternation`).

    Examples
    --------
    >>> fit_u0(np.array([1.0, 0.0]))
    array([ 0., -8.])
    """
    rates = np.asarray(rates, dtype=np.float64)
    if np.any(~np.isfinite(rates)) or np.any(rates < 0):
        raise SimulationInputError("posterior rates must be finite and non-negative")
    with np.errstate(divide="ignore"):
        return np.clip(np.log(rates), u_floor, u_ceiling)
