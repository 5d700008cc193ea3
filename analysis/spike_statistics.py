r"""Spike-train statistics through Elephant: Fano factor, ISI CV and LV, PSTH.

Every statistic here is Elephant's (``elephant.statistics``) applied to Neo
spike trains (:meth:`analysis.spike_trains.RecordedSpikeTrains.to_neo`); this
module only chooses what is pooled over (trials, intervals), documents the
estimators' values for a Poisson process, and says what happens at the edges.

Two properties of the simulator's spike trains matter for them:

- continuous mode draws Poisson(exp(u) dt / tau) spikes per step of ``dt``, so
  several spikes of a neuron can share one time (zero intervals) and every
  interval is a multiple of ``dt``: a lattice Poisson process, whose interval
  statistics differ from the continuum's by O(rate dt) (the values are given
  with each function);
- discrete-mode recordings hold counts only; their "spike times" are ticks
  spread evenly within bins (``times_from_counts``). Spike-count statistics
  (Fano factor, PSTH at the bin width) are exact on them; interval statistics
  are not meaningful and warn.

V1 reference values (``docs/ephys_reference.md``): spike-count Fano factor
about 1 to 2 (Tolhurst, Movshon & Dean 1983; Churchland et al. 2010), ISI CV
about 0.5 to 1.1 for steadily firing cells (Softky & Koch 1993).
"""
from __future__ import annotations

import warnings
from typing import Callable, Sequence

import numpy as np
import quantities as pq

with warnings.catch_warnings():
    # importing Elephant installs a process-wide filter (every UserWarning shown "once");
    # catch_warnings puts the caller's filters back
    from elephant import statistics as elephant_statistics


def _seconds(value) -> float | None:
    """A time as float seconds (Quantity or number of seconds), or None."""
    if value is None:
        return None
    if isinstance(value, pq.Quantity):
        return float(value.rescale(pq.s).magnitude)
    return float(value)


def _warn_if_from_counts(spiketrains, statistic: str) -> None:
    if any(getattr(st, "annotations", {}).get("times_from_counts") for st in spiketrains):
        warnings.warn(f"{statistic} of spike times spread evenly within bins (a discrete-mode "
                      f"recording: only counts exist) describes the tick placement, not the "
                      f"neurons' timing", UserWarning, stacklevel=3)


def fano_factor(trials: Sequence, window=None) -> float:
    r"""Spike-count Fano factor of one neuron over repeated trials, unbiased variance.

    Given the spike counts :math:`n_1, \dots, n_N` of the N trials within the
    window,

    .. math::
        F = \frac{s^2}{\bar n}
          = \frac{\frac{1}{N - 1} \sum_i (n_i - \bar n)^2}{\bar n}

    with the unbiased variance (``ddof = 1``): :func:`elephant.statistics.fanofactor`
    (whose variance divides by N, ``ddof = 0``) times N / (N - 1).

    For a Poisson process F = 1 in every window and this estimator's expected
    value is 1 for any N >= 2 (Elephant's own value, with the 1/N variance,
    would be (N - 1) / N: 0.875 for 8 trials). Its standard error is about
    :math:`\sqrt{2 / (N - 1) + 1 / (N \lambda)}` for a mean count
    :math:`\lambda` per window ((N - 1) F is close to a chi-square variable with
    N - 1 degrees of freedom: the index-of-dispersion test).

    Parameters
    ----------
    trials : sequence of neo.SpikeTrain or of 1-D arrays of spike times
        One train per trial (the same neuron and the same stimulus repeated),
        all of the same duration.
    window : tuple of (Quantity or float), optional
        ``(t_start, t_stop)`` of the counting window, in s if plain numbers;
        default: the trains' whole duration (``neo.SpikeTrain`` only).

    Returns
    -------
    float
        F (dimensionless); NaN if no trial has a spike in the window or there
        are fewer than 2 trials.

    Examples
    --------
    >>> import neo
    >>> trials = [neo.SpikeTrain([0.1, 0.5], t_stop=1.0, units="s"),
    ...           neo.SpikeTrain([0.3, 0.4, 0.9, 0.95], t_stop=1.0, units="s")]
    >>> round(fano_factor(trials), 3)        # counts 2 and 4: var (ddof 1) 2, mean 3
    0.667
    """
    trials = list(trials)
    if len(trials) < 2:
        return float("nan")
    if window is not None:
        t0, t1 = (_seconds(w) * pq.s for w in window)
        trials = [st.time_slice(t0, t1) for st in trials]
    if sum(len(st) for st in trials) == 0:
        return float("nan")
    n = len(trials)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        biased = float(elephant_statistics.fanofactor(trials))
    return biased * n / (n - 1)


def _intervals(spiketrains) -> list:
    """Inter-spike intervals (s) of each train, by :func:`elephant.statistics.isi`.

    The times are handed over in seconds as plain float64 arrays (Elephant then
    returns plain arrays, without the deprecated Quantity ``copy`` path).
    """
    out = []
    for st in spiketrains:
        times = (st.rescale(pq.s).magnitude if isinstance(st, pq.Quantity)
                 else np.asarray(st, dtype=np.float64))
        out.append(np.asarray(elephant_statistics.isi(times), dtype=np.float64)
                   if times.size >= 2 else np.zeros(0))
    return out


def isi_cv(spiketrains: Sequence) -> float:
    r"""Coefficient of variation of the inter-spike intervals (Elephant).

    .. math::
        CV = \frac{\sqrt{\frac{1}{n} \sum_k (I_k - \bar I)^2}}{\bar I}

    over the n intervals :math:`I_k` between consecutive spikes *within* each
    train (pooled over the trains, e.g. the trials of one neuron; no interval
    spans two trains), by :func:`elephant.statistics.isi` and
    :func:`elephant.statistics.cv` (``ddof = 0``).

    CV = 1 for a Poisson process (exponential intervals); the standard error
    of the estimate is then about :math:`1 / \sqrt{n}`. On the continuous
    mode's lattice (p = rate dt spikes per step on average), the expected
    value is :math:`\sqrt{(2 - q) p / q - 1}` with q = 1 - exp(-p), i.e.
    1 + O(p^2): 1.0001 at p = 0.04. Regular firing gives CV < 1, bursty
    firing CV > 1. Rate changes within a train inflate it (see :func:`isi_lv`).

    Parameters
    ----------
    spiketrains : neo.SpikeTrain or sequence of neo.SpikeTrain
        One neuron's train, or its trains over several trials.

    Returns
    -------
    float
        CV (dimensionless); NaN with fewer than 2 intervals in total.

    Warns
    -----
    UserWarning
        If the trains hold ticks spread within bins (discrete-mode recording).

    Examples
    --------
    >>> import neo
    >>> st = neo.SpikeTrain([0.1, 0.2, 0.3, 0.4], t_stop=1.0, units="s")
    >>> round(isi_cv(st), 12)            # perfectly regular
    0.0
    """
    trains = [spiketrains] if hasattr(spiketrains, "times") else list(spiketrains)
    _warn_if_from_counts(trains, "the ISI CV")
    intervals = np.concatenate(_intervals(trains) + [np.zeros(0)])
    if intervals.size < 2:
        return float("nan")
    return float(elephant_statistics.cv(intervals))


def isi_lv(spiketrains: Sequence) -> float:
    r"""Local variation LV of the inter-spike intervals (Shinomoto et al. 2003; Elephant).

    .. math::
        LV = \frac{3}{n - 1} \sum_{k=1}^{n-1}
             \left( \frac{I_k - I_{k+1}}{I_k + I_{k+1}} \right)^2

    for the n consecutive intervals of a train, by
    :func:`elephant.statistics.lv`. Over several trains (trials), LV is the
    mean over all within-train pairs: each train's LV weighted by its number
    of pairs; no pair spans two trains.

    LV = 1 for a Poisson process, < 1 for regular and > 1 for bursty firing;
    unlike the CV it is insensitive to slow rate changes. For a Poisson
    process its variance is about 1.17 / (n - 1) (9 [Var Y + 2 Cov(Y_k,
    Y_k+1)] with Y = ((I_k - I_k+1)/(I_k + I_k+1))^2, Var Y = 4/45 and the
    covariance 0.0208 by Monte Carlo). On the continuous mode's lattice the
    ties (equal intervals give 0, a zero next to a non-zero interval gives 1)
    shift it to about 1.01 at p = rate dt = 0.04.

    Parameters
    ----------
    spiketrains : neo.SpikeTrain or sequence of neo.SpikeTrain
        One neuron's train, or its trains over several trials.

    Returns
    -------
    float
        LV (dimensionless); NaN with no pair of intervals.

    Notes
    -----
    Two consecutive zero intervals (three or more spikes in one ``dt`` step)
    make a term 0/0, for which Elephant returns NaN for the whole train; such
    trains are left out of the pooled value, with a warning that counts them.
    Lower ``dt`` (or the rate) to make them rare: their probability per step
    is about (rate dt)^3 / 6.

    Warns
    -----
    UserWarning
        If trains are left out (see Notes), or if the trains hold ticks spread
        within bins (discrete-mode recording).

    Examples
    --------
    >>> import neo
    >>> st = neo.SpikeTrain([0.1, 0.2, 0.3, 0.4], t_stop=1.0, units="s")
    >>> round(isi_lv(st), 12)            # perfectly regular
    0.0
    """
    trains = [spiketrains] if hasattr(spiketrains, "times") else list(spiketrains)
    _warn_if_from_counts(trains, "the ISI LV")
    values, weights, undefined = [], [], 0
    for intervals in _intervals(trains):
        if intervals.size < 2:
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            value = elephant_statistics.lv(intervals)
        if not np.isfinite(value):
            undefined += 1
            continue
        values.append(value)
        weights.append(intervals.size - 1)
    if undefined:
        warnings.warn(f"LV undefined (0/0: three or more spikes in one time step) in "
                      f"{undefined} of {len(trains)} train(s); left out", UserWarning,
                      stacklevel=2)
    if not values:
        return float("nan")
    return float(np.average(values, weights=weights))


def psth(spiketrains: Sequence, bin_size, t_start=None, t_stop=None):
    r"""Peri-stimulus time histogram: mean firing rate per train (Elephant).

    .. math::
        r(t_j) = \frac{1}{N \Delta} \sum_{i=1}^{N} \#\{\text{spikes of train } i
                 \text{ in } [t_j, t_j + \Delta)\}

    by :func:`elephant.statistics.time_histogram` with ``output="rate"``, for N
    trains (neurons of a population, or trials of one neuron) and bins of
    width :math:`\Delta`. For a Poisson process of rate :math:`\lambda` every
    bin has expectation :math:`\lambda` and standard deviation
    :math:`\sqrt{\lambda / (N \Delta)}`.

    Parameters
    ----------
    spiketrains : sequence of neo.SpikeTrain
        Trains with a common time axis.
    bin_size : Quantity or float
        Bin width :math:`\Delta` (s if a plain number). With a multiple of the
        recording's bin width tau, ticks of a discrete-mode recording give the
        exact counts.
    t_start, t_stop : Quantity or float, optional
        Time range (s if plain numbers); default: the trains' own.

    Returns
    -------
    neo.AnalogSignal, shape (n_bins, 1)
        Rate in spikes/s (1/s) per train, sampled every ``bin_size`` from
        ``t_start``; a trailing partial bin is dropped (Elephant).

    Examples
    --------
    >>> import neo
    >>> trains = [neo.SpikeTrain([0.1, 0.6], t_stop=1.0, units="s"),
    ...           neo.SpikeTrain([0.2], t_stop=1.0, units="s")]
    >>> psth(trains, 0.5).magnitude.ravel()     # 2 and 1 spikes / (2 trains x 0.5 s)
    array([2., 1.])
    """
    trains = list(spiketrains)
    if not trains:
        raise ValueError("psth needs at least one spike train")
    to_q = lambda v: None if v is None else _seconds(v) * pq.s  # noqa: E731
    with warnings.catch_warnings():
        # Elephant 1.2's binning still passes quantities' deprecated (no-op) copy argument
        warnings.filterwarnings("ignore", message=".*'copy' argument in Quantity")
        hist = elephant_statistics.time_histogram(trains, bin_size=to_q(bin_size),
                                                  t_start=to_q(t_start), t_stop=to_q(t_stop),
                                                  output="rate")
    return hist.rescale(1 / pq.s)


def per_neuron(statistic: Callable, trains_by_stimulus: Sequence, **kwargs) -> np.ndarray:
    """Apply a statistic to each neuron's trains over the stimuli (trials).

    Parameters
    ----------
    statistic : callable
        :func:`fano_factor`, :func:`isi_cv` or :func:`isi_lv` (anything taking
        a list of one neuron's trains).
    trains_by_stimulus : sequence of sequence of neo.SpikeTrain
        ``[a][b]``: stimulus (trial) a, neuron b, as returned by
        :meth:`~analysis.spike_trains.RecordedSpikeTrains.to_neo`.
    **kwargs
        Passed to ``statistic`` (e.g. ``window`` for :func:`fano_factor`).

    Returns
    -------
    ndarray, shape (n_neurons,), float64
    """
    rows = list(trains_by_stimulus)
    if not rows:
        return np.zeros(0)
    return np.array([statistic([row[b] for row in rows], **kwargs)
                     for b in range(len(rows[0]))], dtype=np.float64)
