r"""Noise correlations r_sc: correlated trial-to-trial fluctuations of spike counts.

For two neurons i and j shown the same stimulus on N trials, with counts
:math:`n_{i,1..N}` and :math:`n_{j,1..N}`,

.. math::
    r_{sc} = \frac{\sum_t (n_{i,t} - \bar n_i)(n_{j,t} - \bar n_j)}
                  {\sqrt{\sum_t (n_{i,t} - \bar n_i)^2 \sum_t (n_{j,t} - \bar n_j)^2}},

the Pearson correlation of the counts across trials (dimensionless, in
[-1, 1]). With several stimuli, the stimulus-driven part is removed by
z-scoring each neuron's counts within each stimulus,
:math:`\tilde n_{i,s,t} = (n_{i,s,t} - \bar n_{i,s}) / \mathrm{sd}_{i,s}`,
and r_sc is the correlation of the pooled z-scores (Cohen & Kohn 2011; the
stimulus means then cannot create a "signal" correlation). Known case:
jointly Gaussian counts with correlation rho give r_sc -> rho with a standard
error of about (1 - rho^2) / sqrt(N_total).

Alternatively (:func:`stimulus_averaged_noise_correlations`) r_sc is computed
within each stimulus for the pairs that respond to it (both mean counts above a
threshold, so that sparse, selective neurons are compared only where they fire)
and averaged over those stimuli; for jointly Gaussian counts with correlation
rho both estimators converge to rho.

Edge cases: a neuron whose counts do not vary over the trials of a stimulus
contributes z-scores of 0 for that stimulus (no fluctuation to correlate); a
neuron that never varies has no r_sc (NaN, and it is left out of the pairs).

V1 reference (``docs/ephys_reference.md``): small and positive, near 0.01 in
some awake recordings (Ecker et al. 2010), 0.1 to 0.2 in many others (Cohen &
Kohn 2011).

References
----------
Ecker, A. S. et al. (2010). Decorrelated neuronal firing in cortical microcircuits. Science
327, 584-587.
Cohen, M. R. & Kohn, A. (2011). Measuring and interpreting neuronal correlations. Nat
Neurosci 14, 811-819.
"""
from __future__ import annotations

import dataclasses

import numpy as np


def spike_count_correlation(counts) -> np.ndarray:
    """Pearson correlation matrix of spike counts across trials.

    Parameters
    ----------
    counts : array_like, shape (n_trials, n_neurons)
        Counts of each neuron on each trial of one stimulus.

    Returns
    -------
    ndarray, shape (n_neurons, n_neurons)
        r_sc for every pair (1 on the diagonal); NaN in the rows and columns of neurons
        whose counts do not vary.

    Examples
    --------
    >>> spike_count_correlation([[1, 2, 5], [2, 4, 5], [3, 6, 5]]).round(6)
    array([[ 1.,  1., nan],
           [ 1.,  1., nan],
           [nan, nan, nan]])
    """
    x = np.asarray(counts, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"counts must be (n_trials, n_neurons), got shape {x.shape}")
    x = x - x.mean(axis=0)
    sd = np.sqrt((x * x).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(sd > 0, x / sd, np.nan)
    return z.T @ z


@dataclasses.dataclass(frozen=True)
class NoiseCorrelations:
    """Noise correlations of all pairs of a set of neurons.

    Attributes
    ----------
    matrix : ndarray, shape (n_neurons, n_neurons)
        r_sc of every pair (NaN rows for neurons without fluctuations).
    pairs : ndarray, shape (n_pairs, 2), int
        Neuron positions (i < j) of the pairs where r_sc is defined.
    values : ndarray, shape (n_pairs,)
        r_sc of those pairs.
    """

    matrix: np.ndarray
    pairs: np.ndarray
    values: np.ndarray


def noise_correlations(counts) -> NoiseCorrelations:
    """r_sc of every pair from repeated trials of one or several stimuli.

    Parameters
    ----------
    counts : array_like, shape (n_stimuli, n_trials, n_neurons) or (n_trials, n_neurons)
        Spike counts (in a fixed window) of each neuron on each repeat of each stimulus.

    Returns
    -------
    NoiseCorrelations
        Correlations of the counts z-scored within each stimulus and pooled over stimuli
        (see the module notes).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> common = rng.standard_normal((4, 5000, 1))            # 4 stimuli, 5000 trials
    >>> counts = 10 * np.arange(4)[:, None, None] + common + rng.standard_normal((4, 5000, 2))
    >>> round(float(noise_correlations(counts).values[0]), 2)  # shared variance 1 of 2
    0.5
    """
    x = np.asarray(counts, dtype=np.float64)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise ValueError(f"counts must be (n_stimuli, n_trials, n_neurons), got shape {x.shape}")
    if x.shape[1] < 2:
        raise ValueError(f"noise correlations need at least 2 trials per stimulus, got "
                         f"{x.shape[1]}")
    centred = x - x.mean(axis=1, keepdims=True)
    sd = centred.std(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(sd > 0, centred / sd, 0.0)
    matrix = spike_count_correlation(z.reshape(-1, x.shape[2]))
    i, j = np.triu_indices(x.shape[2], k=1)
    keep = np.isfinite(matrix[i, j])
    pairs = np.stack([i[keep], j[keep]], axis=1)
    return NoiseCorrelations(matrix=matrix, pairs=pairs, values=matrix[i[keep], j[keep]])


def stimulus_averaged_noise_correlations(counts, min_mean: float = 1.0) -> NoiseCorrelations:
    """r_sc within each stimulus for the pairs responding to it, averaged over stimuli.

    Parameters
    ----------
    counts : array_like, shape (n_stimuli, n_trials, n_neurons), or sequence of arrays
        Spike counts of each neuron on each repeat of each stimulus; a sequence of
        (n_trials_s, n_neurons) arrays when the stimuli have different numbers of trials.
    min_mean : float
        A neuron takes part in a stimulus's correlations if its mean count over the
        trials of that stimulus is at least this (and its counts vary).

    Returns
    -------
    NoiseCorrelations
        ``matrix`` holds the average r_sc of every pair over the stimuli where both
        neurons took part (NaN where they never did); ``pairs`` and ``values`` list the
        defined pairs (i < j).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> shared = rng.standard_normal((3, 4000, 1))
    >>> counts = 5 + shared + rng.standard_normal((3, 4000, 2))
    >>> counts[2, :, 1] = 0.0                          # neuron 1 silent on stimulus 2
    >>> round(float(stimulus_averaged_noise_correlations(counts).values[0]), 1)
    0.5
    """
    x = [np.asarray(c, dtype=np.float64) for c in counts]
    if not x or any(c.ndim != 2 or c.shape[1] != x[0].shape[1] for c in x):
        raise ValueError(f"counts must be (n_stimuli, n_trials, n_neurons), got shapes "
                         f"{sorted({c.shape for c in x})}")
    if min(c.shape[0] for c in x) < 2:
        raise ValueError(f"noise correlations need at least 2 trials per stimulus, got "
                         f"{min(c.shape[0] for c in x)}")
    n = x[0].shape[1]
    total = np.zeros((n, n))
    weight = np.zeros((n, n))
    for stimulus in x:
        taking_part = np.flatnonzero((stimulus.mean(axis=0) >= min_mean)
                                     & (stimulus.std(axis=0) > 0))
        if taking_part.size < 2:
            continue
        r = spike_count_correlation(stimulus[:, taking_part])
        total[np.ix_(taking_part, taking_part)] += r
        weight[np.ix_(taking_part, taking_part)] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        matrix = np.where(weight > 0, total / weight, np.nan)
    i, j = np.triu_indices(n, k=1)
    keep = np.isfinite(matrix[i, j])
    return NoiseCorrelations(matrix=matrix, pairs=np.stack([i[keep], j[keep]], axis=1),
                             values=matrix[i[keep], j[keep]])


def signal_correlations(mean_responses) -> NoiseCorrelations:
    """Signal correlation of every pair: Pearson correlation of the mean responses over stimuli.

    Parameters
    ----------
    mean_responses : array_like, shape (n_stimuli, n_neurons)
        Mean count (or rate) of each neuron to each stimulus, averaged over its trials.

    Returns
    -------
    NoiseCorrelations
        The same structure as the noise correlations (``pairs``, ``values``); undefined
        (left out) for neurons whose mean response does not vary, and for all pairs with
        fewer than 3 stimuli.

    Examples
    --------
    >>> signal_correlations([[1, 2, 5], [2, 4, 5], [3, 6, 4]]).values.round(3)
    array([ 1.   , -0.866, -0.866])
    """
    x = np.asarray(mean_responses, dtype=np.float64)
    n = x.shape[1] if x.ndim == 2 else 0
    if x.ndim != 2 or x.shape[0] < 3:
        return NoiseCorrelations(matrix=np.full((n, n), np.nan), pairs=np.zeros((0, 2), int),
                                 values=np.zeros(0))
    matrix = spike_count_correlation(x)
    i, j = np.triu_indices(n, k=1)
    keep = np.isfinite(matrix[i, j])
    return NoiseCorrelations(matrix=matrix, pairs=np.stack([i[keep], j[keep]], axis=1),
                             values=matrix[i[keep], j[keep]])


# --- r_sc against the overlap of the two neurons' dictionary columns ------------------------

#: Edges of the signed cosine bins of :func:`correlations_by_overlap`.
OVERLAP_EDGES = (-1.0, -0.3, -0.1, 0.1, 0.3, 1.0)


def column_cosines(Phi) -> np.ndarray:
    """Cosine similarity of every pair of dictionary columns.

    In the iP-VAE the lateral weights are W = -Phi^T diag(1/sigma^2) Phi
    (``docs/model.md``), so W_ij is about -|Phi_i| |Phi_j| cos / sigma^2: columns that
    overlap (cos > 0)
    inhibit each other and compete to explain the same pixels, so the model predicts
    negative noise correlations for them ("explaining away"), and positive ones for
    anti-aligned columns (cos < 0).

    Parameters
    ----------
    Phi : array_like, shape (M, K)

    Returns
    -------
    ndarray, shape (K, K)
        cos(Phi_i, Phi_j) in [-1, 1]; 0 for a zero column.

    Examples
    --------
    >>> column_cosines(np.array([[1.0, 1.0, -1.0], [0.0, 1.0, 0.0]])).round(4)
    array([[ 1.    ,  0.7071, -1.    ],
           [ 0.7071,  1.    , -0.7071],
           [-1.    , -0.7071,  1.    ]])
    """
    P = np.asarray(Phi, dtype=np.float64)
    norms = np.linalg.norm(P, axis=0)
    unit = P / np.where(norms > 0, norms, 1.0)
    return np.clip(unit.T @ unit, -1.0, 1.0)


@dataclasses.dataclass(frozen=True)
class OverlapBin:
    """r_sc of the pairs whose column cosine lies in [low, high) (the last bin includes 1).

    Attributes
    ----------
    low, high : float
    n_pairs : int
    median, mean : float
        Of the pairs' r_sc (NaN without pairs).
    """

    low: float
    high: float
    n_pairs: int
    median: float
    mean: float


def correlations_by_overlap(values, overlap, edges=OVERLAP_EDGES) -> list:
    """Noise correlations binned by the overlap (column cosine) of each pair.

    Parameters
    ----------
    values : array_like, shape (n_pairs,)
        r_sc of each pair.
    overlap : array_like, shape (n_pairs,)
        cos(Phi_i, Phi_j) of each pair (:func:`column_cosines` at the pair's indices).
    edges : sequence of float
        Increasing bin edges; the last bin is closed on the right.

    Returns
    -------
    list of OverlapBin

    Examples
    --------
    >>> bins = correlations_by_overlap([-0.2, -0.1, 0.05], [0.5, 0.4, 0.0], (-1, 0.1, 1))
    >>> [(b.n_pairs, round(b.median, 3)) for b in bins]
    [(1, 0.05), (2, -0.15)]
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    c = np.asarray(overlap, dtype=np.float64).ravel()
    if v.size != c.size:
        raise ValueError(f"{v.size} correlations but {c.size} overlaps")
    edges = np.asarray(edges, dtype=np.float64)
    index = np.clip(np.searchsorted(edges, c, side="right") - 1, 0, edges.size - 2)
    bins = []
    for b in range(edges.size - 1):
        sel = v[(index == b) & np.isfinite(v)]
        bins.append(OverlapBin(float(edges[b]), float(edges[b + 1]), int(sel.size),
                               float(np.median(sel)) if sel.size else float("nan"),
                               float(np.mean(sel)) if sel.size else float("nan")))
    return bins


def format_overlap_bins(bins) -> str:
    """``[low, high): median m (n = pairs)`` for every bin of :func:`correlations_by_overlap`."""
    return "; ".join(f"[{b.low:g}, {b.high:g}{']' if b is bins[-1] else ')'}: median "
                     f"{b.median:.3g} (n = {b.n_pairs})" for b in bins)
