r"""Bootstrap confidence intervals of a median: over neurons, stimuli, or neurons of pairs.

Percentile bootstrap (Efron & Tibshirani 1993, ch. 13): draw the sample's units
with replacement ``n_resamples`` times (2,000 by default, seeded), take the
median of each resample, and report the (1 - level)/2 and (1 + level)/2
quantiles of those medians (95% by default). For a per-neuron statistic the
units are the neurons; for a per-stimulus statistic the stimuli.

For a per-*pair* statistic (noise correlations r_sc) the pairs are not
independent: every neuron takes part in many pairs. :func:`pair_median_ci`
therefore resamples *neurons*, and a resample holds every pair (i, j) of drawn
neurons with weight c_i c_j (c_i: how often neuron i was drawn); its median is
the weighted median of the pair values. Resampling the pairs instead would give
an interval too narrow by a factor up to about sqrt(n_pairs / n_neurons).

Known case: for n draws of a continuous distribution with density f at its
median, the median's standard error is :math:`1 / (2 f \sqrt n)`
(:math:`\sqrt{\pi / 2} / \sqrt n` for the standard normal), so a 95% interval is
about :math:`2 \cdot 1.96` standard errors wide; the percentile bootstrap of a
median is discrete (its resampled medians take only sample values) and matches
this within about 20% for n in the hundreds.

Reference
---------
Efron, B. & Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman & Hall.
"""
from __future__ import annotations

import numpy as np

#: Resamples of every confidence interval of the V1 table.
N_RESAMPLES = 2000
#: Confidence level of the intervals.
LEVEL = 0.95
#: Seed of the resampling (the intervals are reproducible).
SEED = 0


def finite_values(values) -> np.ndarray:
    """The finite values of ``values`` (None: none) as a flat float64 array."""
    v = np.asarray(values if values is not None else [], dtype=np.float64).ravel()
    return v[np.isfinite(v)]


def _quantiles(medians: np.ndarray, level: float) -> tuple[float, float]:
    lo, hi = np.quantile(medians, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def median_ci(values, n_resamples: int = N_RESAMPLES, level: float = LEVEL,
              seed: int = SEED) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of the median of independent units.

    Parameters
    ----------
    values : array_like, shape (n,)
        One value per unit (neuron or stimulus); non-finite values are dropped.
    n_resamples : int
    level : float
        Confidence level in (0, 1).
    seed : int

    Returns
    -------
    (float, float)
        Lower and upper bound; NaN, NaN without finite values.

    Examples
    --------
    >>> median_ci([3.0, 3.0, 3.0])
    (3.0, 3.0)
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    medians = np.empty(n_resamples)
    chunk = max(1, 2_000_000 // v.size)
    for start in range(0, n_resamples, chunk):
        stop = min(start + chunk, n_resamples)
        medians[start:stop] = np.median(v[rng.integers(0, v.size, (stop - start, v.size))],
                                        axis=1)
    return _quantiles(medians, level)


def pair_median_ci(values, pairs, n_resamples: int = N_RESAMPLES, level: float = LEVEL,
                   seed: int = SEED) -> tuple[float, float]:
    """Bootstrap confidence interval of the median of a per-pair statistic, over neurons.

    Parameters
    ----------
    values : array_like, shape (n_pairs,)
        The statistic of each pair (e.g. r_sc).
    pairs : array_like, shape (n_pairs, 2), int
        The two neurons of each pair (any labels).
    n_resamples, level, seed
        As in :func:`median_ci`.

    Returns
    -------
    (float, float)
        Lower and upper bound (see the module notes); NaN, NaN without pairs.

    Examples
    --------
    >>> pair_median_ci([0.1, 0.1, 0.1], [[0, 1], [0, 2], [1, 2]])
    (0.1, 0.1)
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    p = np.asarray(pairs).reshape(-1, 2)
    if p.shape[0] != v.size:
        raise ValueError(f"{v.size} values but {p.shape[0]} pairs")
    keep = np.isfinite(v)
    v, p = v[keep], p[keep]
    if v.size == 0:
        return float("nan"), float("nan")
    neurons, index = np.unique(p, return_inverse=True)
    index = index.reshape(-1, 2)
    order = np.argsort(v, kind="stable")
    v, first, second = v[order], index[order, 0], index[order, 1]
    rng = np.random.default_rng(seed)
    medians = np.full(n_resamples, np.nan)
    for r in range(n_resamples):
        drawn = np.bincount(rng.integers(0, neurons.size, neurons.size),
                            minlength=neurons.size).astype(np.float64)
        cumulative = np.cumsum(drawn[first] * drawn[second])
        if cumulative[-1] > 0:
            medians[r] = v[np.searchsorted(cumulative, cumulative[-1] / 2)]
    medians = medians[np.isfinite(medians)]
    if medians.size == 0:
        return float("nan"), float("nan")
    return _quantiles(medians, level)
