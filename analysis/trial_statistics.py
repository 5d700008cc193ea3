r"""Spike-train statistics of repeated trials: one set of functions for a model and a recording.

A :class:`TrialSpikes` holds what every statistic here needs and nothing more: the
spike times of each (trial, unit) in seconds from the trial's onset, the counting
window ``[t0, t1)`` (s from onset), which trials show the same stimulus (a
*condition*), the stimulus parameters of each trial (``conditions``, e.g.
``orientation`` in deg), and the PSTH bin width. The model's recordings
(``analysis.spike_trains``) and a user's recording (``analysis.ephys_recording``)
are both turned into one, and :func:`spike_train_statistics` measures them with the
same code (``ipvae compare-ephys``); the natural-image experiment of ``compare-v1``
computes its Fano factors and ISI statistics with :func:`condition_fano_isi`.

Definitions (window counts n, window duration d = t1 - t0):

=========================  ===========================================================
statistic                  definition (function)
=========================  ===========================================================
firing rate                mean count over all trials / d, per unit (spikes/s;
                           ``rate_distribution.firing_rates``)
Fano factor                unbiased var / mean of the counts over the trials of one
                           condition (``spike_statistics.fano_factor``), for the
                           conditions where the unit's mean count >= 1; median over
                           those conditions
ISI CV, LV                 of the intervals within the window, pooled over the trials of
                           a condition (``spike_statistics.isi_cv``, ``isi_lv``), where
                           the unit fires >= 5 spikes/s with >= ``min_intervals``
                           intervals; median over the conditions
noise correlation r_sc     per pair, within each condition for the pairs with mean
                           counts >= 1, averaged over the conditions
                           (``noise_correlation.stimulus_averaged_noise_correlations``)
signal correlation         per pair, Pearson correlation of the mean counts over the
                           conditions (``noise_correlation.signal_correlations``)
lifetime sparseness        S of each unit's mean counts over the conditions
population sparseness      S of each condition's mean counts over the units
                           (``sparseness``)
PSTH peak / mean           the largest bin of a unit's PSTH over all trials (bins of
                           ``bin_width`` over the window; ``spike_statistics.psth``)
                           over its mean
=========================  ===========================================================

The tuning statistics (orientation, contrast, size, F1/F0) of trials that carry
stimulus parameters are in ``analysis.tuning_statistics``.
"""
from __future__ import annotations

import dataclasses
import logging
import warnings

import numpy as np

#: A unit's ISI statistics need at least this rate in a condition (spikes/s), as in
#: ``compare-v1`` (``analysis.experiments.base.RESPONSIVE_RATE_HZ``).
ISI_MIN_RATE_HZ = 5.0
#: ... and at least this many intervals pooled over the condition's trials.
ISI_MIN_INTERVALS = 20
#: Fano factors and r_sc use the conditions where the unit's mean count is at least this.
MIN_MEAN_COUNT = 1.0
#: PSTH bin width of ``compare-ephys`` (s): the model's bin tau.
PSTH_BIN_S = 0.025


@dataclasses.dataclass(frozen=True, eq=False)
class TrialSpikes:
    """Spike times of repeated trials, with the window and the stimulus of every trial.

    Attributes
    ----------
    trains : list of list of ndarray
        ``trains[i][u]``: spike times (s, ascending) of unit u on trial i, from the
        trial's onset (any times; the statistics use those in ``window``).
    window : (float, float)
        Counting window (s from onset), the same for every trial.
    condition : ndarray, shape (n_trials,), int
        Trials with equal values show the same stimulus (0 .. n_conditions - 1).
    conditions : dict of str -> ndarray, shape (n_trials,)
        Stimulus parameters per trial (known columns, see ``tuning_statistics``).
    unit_ids : list of str
    bin_width : float
        PSTH bin width, s.
    label : str
        "model" or "recording" (for messages).
    """

    trains: list
    window: tuple
    condition: np.ndarray
    conditions: dict
    unit_ids: list
    bin_width: float = PSTH_BIN_S
    label: str = ""

    @property
    def n_trials(self) -> int:
        return len(self.trains)

    @property
    def n_units(self) -> int:
        return len(self.unit_ids)

    @property
    def duration(self) -> float:
        """d = t1 - t0, s."""
        return float(self.window[1] - self.window[0])

    @property
    def n_conditions(self) -> int:
        return int(self.condition.max()) + 1 if self.condition.size else 0

    def windowed(self, trial: int, unit: int) -> np.ndarray:
        """Spike times of (trial, unit) in ``[t0, t1)``."""
        times = self.trains[trial][unit]
        lo, hi = np.searchsorted(times, self._edges)
        return times[lo:hi]

    @property
    def _edges(self):
        # the model's spike times are multiples of dt: a spike at the window's start must
        # not fall out by rounding (the same tolerance as compare-v1)
        return np.asarray(self.window, dtype=np.float64) - 1e-12

    def counts(self) -> np.ndarray:
        """Window counts, shape (n_trials, n_units), float64."""
        out = np.zeros((self.n_trials, self.n_units))
        for i, row in enumerate(self.trains):
            for u, times in enumerate(row):
                lo, hi = np.searchsorted(times, self._edges)
                out[i, u] = hi - lo
        return out

    def trials_by_condition(self) -> list:
        """Trial indices of each condition, a list of int arrays."""
        return [np.flatnonzero(self.condition == c) for c in range(self.n_conditions)]

    def mean_counts(self) -> np.ndarray:
        """Mean window count per condition and unit, shape (n_conditions, n_units)."""
        counts = self.counts()
        return np.array([counts[t].mean(axis=0) for t in self.trials_by_condition()])


def condition_index(columns: dict, n_trials: int) -> np.ndarray:
    """Condition of each trial: trials with equal values in every column share one.

    Parameters
    ----------
    columns : dict of str -> array_like, shape (n_trials,)
    n_trials : int

    Returns
    -------
    ndarray, shape (n_trials,), int
        0 .. n_conditions - 1 in order of first appearance; all 0 without columns.

    Examples
    --------
    >>> condition_index({"orientation": [0, 90, 0, 90], "contrast": [1, 1, 1, 0.5]}, 4)
    array([0, 1, 0, 2])
    """
    keys = [tuple(str(np.asarray(columns[c])[i]) for c in sorted(columns))
            for i in range(n_trials)]
    first = {}
    return np.array([first.setdefault(k, len(first)) for k in keys], dtype=np.int64)


def condition_fano_isi(windowed, trials_by_condition, n_units: int, duration: float,
                       min_intervals: int = ISI_MIN_INTERVALS,
                       min_rate: float = ISI_MIN_RATE_HZ,
                       min_mean_count: float = MIN_MEAN_COUNT, units=None):
    """Fano factor, ISI CV and LV of every unit in every condition (Elephant).

    Parameters
    ----------
    windowed : callable(trial, unit) -> ndarray
        Spike times of a trial and unit within the counting window.
    trials_by_condition : sequence of sequence of int
        The trials of each condition (repeats of one stimulus).
    n_units : int
    duration : float
        Window length, s.
    min_intervals, min_rate, min_mean_count
        See the module notes.
    units : sequence of int, optional
        The units to measure (default all); the others stay NaN.

    Returns
    -------
    fano, cv, lv : ndarray, shape (n_conditions, n_units)
        NaN where a unit does not qualify in a condition (mean count below
        ``min_mean_count`` for the Fano factor; rate or intervals too low for CV, LV).
    """
    from ipvae_brian.analysis.spike_statistics import fano_factor, isi_cv, isi_lv
    n_cond = len(trials_by_condition)
    fano, cv, lv = (np.full((n_cond, n_units), np.nan) for _ in range(3))
    for a, trials in enumerate(trials_by_condition):
        if len(trials) < 2:
            continue
        for k in (range(n_units) if units is None else units):
            sliced = [windowed(t, k) for t in trials]
            mean = sum(s.size for s in sliced) / len(sliced)
            if mean < min_mean_count:
                continue
            fano[a, k] = fano_factor(sliced)
            n_intervals = sum(max(s.size - 1, 0) for s in sliced)
            if mean / duration < min_rate or n_intervals < min_intervals:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                cv[a, k] = isi_cv(sliced)
                lv[a, k] = isi_lv(sliced)
    return fano, cv, lv


def median_over_conditions(values) -> np.ndarray:
    """Median over axis 0, ignoring NaN (NaN where a column has none), shape (n_units,)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(np.asarray(values, dtype=np.float64), axis=0)


@dataclasses.dataclass
class Sample:
    """One statistic's sample on one side.

    Attributes
    ----------
    values : ndarray
        Finite values.
    kind : str
        What one value is: "units", "pairs" or "conditions".
    n_units : int
        Units contributing.
    note : str
        What was included.
    pairs : ndarray, shape (n, 2), or None
        The units of each value of a per-pair sample.
    """

    values: np.ndarray
    kind: str
    n_units: int
    note: str = ""
    pairs: np.ndarray | None = None


def _finite(values, kind="units", note="", pairs=None) -> Sample:
    v = np.asarray(values, dtype=np.float64).ravel()
    keep = np.isfinite(v)
    if pairs is not None:
        pairs = np.asarray(pairs).reshape(-1, 2)[keep]
        n_units = int(np.unique(pairs).size)
    else:
        n_units = int(keep.sum()) if kind == "units" else 0
    return Sample(v[keep], kind, n_units, note, pairs)


def psth_peak_to_mean(ts: TrialSpikes, min_spikes: int = 20) -> np.ndarray:
    """PSTH peak over mean rate of each unit over all trials (NaN below ``min_spikes``).

    Returns
    -------
    ratio : ndarray, shape (n_units,)
    """
    t0 = ts.window[0]
    n_bins = int(np.floor(ts.duration / ts.bin_width + 1e-9))
    out = np.full(ts.n_units, np.nan)
    if n_bins < 2:
        return out
    stop = t0 + n_bins * ts.bin_width
    from elephant import utils as elephant_utils
    quiet = getattr(elephant_utils, "logger", logging.getLogger("elephant"))
    level = quiet.level
    quiet.setLevel(logging.ERROR)         # Elephant's "correcting rounding errors" at bin edges
    try:
        for u in range(ts.n_units):
            out[u] = _peak_to_mean(ts, u, t0, stop, min_spikes)
    finally:
        quiet.setLevel(level)
    return out


def _peak_to_mean(ts, u, t0, stop, min_spikes) -> float:
    """One unit's PSTH peak / mean (Elephant's time histogram), NaN below ``min_spikes``."""
    import neo
    import quantities as pq
    from ipvae_brian.analysis.spike_statistics import psth
    trains = []
    for i in range(ts.n_trials):
        times = ts.windowed(i, u)
        trains.append(neo.SpikeTrain(times[times < stop], units=pq.s, t_start=t0 * pq.s,
                                     t_stop=stop * pq.s))
    if sum(len(t) for t in trains) < min_spikes:
        return float("nan")
    rate = psth(trains, ts.bin_width, t0, stop).magnitude.ravel()
    return float(rate.max() / rate.mean()) if rate.mean() > 0 else float("nan")


def mean_psth(ts: TrialSpikes) -> tuple:
    """Population PSTH normalised per unit (each unit's mean rate = 1), for the figure.

    Returns
    -------
    (t, r) : ndarray, ndarray
        Bin starts (s from onset) and the mean over the firing units of rate / mean rate.
    """
    n_bins = int(np.floor(ts.duration / ts.bin_width + 1e-9))
    edges = ts.window[0] + ts.bin_width * np.arange(n_bins + 1)
    hist = np.zeros((ts.n_units, n_bins))
    for row in ts.trains:
        for u, times in enumerate(row):
            hist[u] += np.histogram(times, edges)[0]
    firing = hist.sum(axis=1) > 0
    if not firing.any() or n_bins == 0:
        return edges[:-1], np.zeros(n_bins)
    norm = hist[firing] / hist[firing].mean(axis=1, keepdims=True)
    return edges[:-1], norm.mean(axis=0)


def spike_train_statistics(ts: TrialSpikes, min_intervals: int = ISI_MIN_INTERVALS) -> dict:
    """Every statistic that needs only spike trains and trials (see the module notes).

    Parameters
    ----------
    ts : TrialSpikes
    min_intervals : int
        Intervals a unit needs in a condition for its ISI CV and LV.

    Returns
    -------
    dict of str -> Sample
        Keys ``rate``, ``fano``, ``isi_cv``, ``isi_lv``, ``r_sc``, ``signal_correlation``,
        ``lifetime_sparseness``, ``population_sparseness``, ``psth_peak_to_mean``.
    """
    from ipvae_brian.analysis.noise_correlation import (signal_correlations,
                                                        stimulus_averaged_noise_correlations)
    from ipvae_brian.analysis.rate_distribution import firing_rates
    from ipvae_brian.analysis.sparseness import lifetime_sparseness, population_sparseness
    counts = ts.counts()
    groups = ts.trials_by_condition()
    repeated = [g for g in groups if g.size >= 2]
    mean_counts = np.array([counts[g].mean(axis=0) for g in groups])
    out = {"rate": _finite(firing_rates(counts, ts.duration),
                           note="mean count over all trials / window")}
    fano, cv, lv = condition_fano_isi(ts.windowed, repeated, ts.n_units, ts.duration,
                                      min_intervals)
    out["fano"] = _finite(median_over_conditions(fano), note=(
        f"unbiased variance, median over the {len(repeated)} conditions with >= 2 trials "
        f"where the unit's mean count >= {MIN_MEAN_COUNT:g}"))
    isi_note = (f"intervals within the window pooled over a condition's trials, where the unit "
                f"fires >= {ISI_MIN_RATE_HZ:g} spikes/s with >= {min_intervals} intervals; "
                f"median over conditions")
    out["isi_cv"] = _finite(median_over_conditions(cv), note=isi_note)
    out["isi_lv"] = _finite(median_over_conditions(lv), note=isi_note)
    if repeated:
        corr = stimulus_averaged_noise_correlations([counts[g] for g in repeated],
                                                    min_mean=MIN_MEAN_COUNT)
        out["r_sc"] = _finite(corr.values, "pairs", pairs=corr.pairs, note=(
            f"within each condition for pairs with mean counts >= {MIN_MEAN_COUNT:g}, "
            f"averaged over conditions"))
    else:
        out["r_sc"] = _finite([], "pairs", pairs=np.zeros((0, 2)), note="no repeated trials")
    signal = signal_correlations(mean_counts)
    out["signal_correlation"] = _finite(signal.values, "pairs", pairs=signal.pairs,
                                        note=f"over {len(groups)} conditions")
    out["lifetime_sparseness"] = _finite(lifetime_sparseness(mean_counts),
                                         note=f"over {len(groups)} conditions")
    pop = population_sparseness(mean_counts) if ts.n_units > 1 else np.zeros(0)
    out["population_sparseness"] = _finite(pop, "conditions", note=f"over {ts.n_units} units")
    out["population_sparseness"].n_units = ts.n_units
    out["psth_peak_to_mean"] = _finite(psth_peak_to_mean(ts), note=(
        f"PSTH over all trials, {ts.bin_width * 1e3:g} ms bins over the window; units with "
        f">= 20 spikes"))
    return out
