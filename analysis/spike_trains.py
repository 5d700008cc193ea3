"""Spike trains of a recording: spike times per (stimulus, neuron), as arrays or Neo objects.

Continuous-mode recordings (``mode = "continuous"``) store every spike in
``/spikes/{times, neurons, stimuli}``: times in seconds from the onset of the
spike's stimulus, the start of the ``dt`` step it fell in. A step in which a
neuron fired z > 1 spikes holds z spikes at the same time (a Poisson count of
mean ``exp(u) dt / tau`` per step), so zero inter-spike intervals occur with
probability of about ``exp(u) dt / (2 tau)`` per interval.

Discrete-mode recordings have only the counts z_t of every bin of width tau;
no spike time exists. For rasters and spike-train tools the counts are drawn
as *ticks spread evenly within their bin*: the c spikes of bin t are placed at
the centres of c equal sub-intervals,

    t_j = (t + (j + 1/2) / c) tau,        j = 0, ..., c - 1,

which is deterministic, keeps every spike inside its bin (so any histogram
with bins of tau or multiples of it gives back the counts exactly), and is
flagged (:attr:`RecordedSpikeTrains.times_from_counts`, the Neo annotation
``times_from_counts``) so that plots and statistics can say so. Interval
statistics (CV, LV) of such ticks describe the counts' placement, not a
neuron's timing.

Results held in memory (the Python API's
:class:`~ipvae_brian.models.simulation.SimulationResult`, or bare arrays) are read the
same way through :class:`InMemoryRecording` (:func:`recording_from_result`,
:func:`spike_trains_from_result`); no file is needed.

Session time: stimulus n starts at ``n T tau`` of the run (the network runs
the stimuli back to back), so ``onset(n) + t`` puts every spike on one time
axis (used by the NWB export).
"""
from __future__ import annotations

import bisect
import dataclasses
import os
import re

import numpy as np

from ipvae_brian.models.errors import FileFormatError, SimulationInputError
from ipvae_brian.models.recording import Recording


@dataclasses.dataclass(frozen=True, eq=False)
class RecordedSpikeTrains:
    """Spike times of selected neurons for selected stimuli of one recording.

    Stored flat (one entry per spike, grouped by stimulus then neuron, times
    ascending within a group) with offsets, so that recordings with millions of
    spikes cost three arrays, not millions of small ones.

    Attributes
    ----------
    times : ndarray, shape (S,), float64
        Spike times in seconds from the onset of their stimulus.
    offsets : ndarray, shape (n_stimuli, n_neurons + 1), int64
        Spikes of ``stimuli[a]``, ``neurons[b]`` are ``times[offsets[a, b]:offsets[a, b + 1]]``.
    stimuli : ndarray, shape (n_stimuli,), int64
        Stimulus indices in the recording.
    neurons : ndarray, shape (n_neurons,), int64
        Neuron (latent) indices in the recording.
    duration : float
        Length of one stimulus, T tau, in seconds (``t_stop`` of every train).
    bin_width : float
        tau, seconds.
    dt : float
        Simulation time step, seconds (``bin_width`` in discrete mode).
    times_from_counts : bool
        True for a discrete-mode recording: the times are ticks spread evenly
        within their bin (see the module docstring), not recorded spike times.
    """

    times: np.ndarray
    offsets: np.ndarray
    stimuli: np.ndarray
    neurons: np.ndarray
    duration: float
    bin_width: float
    dt: float
    times_from_counts: bool

    @property
    def n_spikes(self) -> int:
        """S, the number of spikes held."""
        return int(self.times.shape[0])

    def train(self, a: int, b: int) -> np.ndarray:
        """Spike times (s) of ``neurons[b]`` for ``stimuli[a]``, shape (n,), ascending.

        ``a`` and ``b`` are positions in :attr:`stimuli` and :attr:`neurons`, not
        the recording's indices.
        """
        return self.times[self.offsets[a, b]:self.offsets[a, b + 1]]

    def spike_counts(self) -> np.ndarray:
        """Number of spikes per train, shape (n_stimuli, n_neurons), int64."""
        return np.diff(self.offsets, axis=1)

    def onset(self, stimulus: int) -> float:
        """Session time (s) at which stimulus ``stimulus`` (recording index) starts: n T tau."""
        return float(stimulus) * self.duration

    def to_neo(self) -> list:
        """The trains as Neo objects, ``[a][b]`` for ``stimuli[a]`` and ``neurons[b]``.

        Returns
        -------
        list of list of neo.SpikeTrain
            Each with times in s (float64, the recorded values unchanged),
            ``t_start = 0 s``, ``t_stop = T tau``, and annotations ``neuron``,
            ``stimulus`` (recording indices), ``times_from_counts``,
            ``bin_width`` and ``dt`` (s).
        """
        import neo
        import quantities as pq
        nested = []
        for a, stimulus in enumerate(self.stimuli):
            row = []
            for b, neuron in enumerate(self.neurons):
                row.append(neo.SpikeTrain(
                    np.array(self.train(a, b)), units=pq.s, t_start=0.0 * pq.s,
                    t_stop=self.duration * pq.s, dtype=np.float64,
                    name=f"neuron {int(neuron)}, stimulus {int(stimulus)}",
                    neuron=int(neuron), stimulus=int(stimulus),
                    times_from_counts=bool(self.times_from_counts),
                    bin_width=float(self.bin_width), dt=float(self.dt)))
            nested.append(row)
        return nested


# --- selections ------------------------------------------------------------------------------

_RANGE = re.compile(r"^\s*(-?\d*)\s*:\s*(-?\d*)\s*$")


def select_neurons(selection, n_latents: int) -> np.ndarray:
    """Neuron indices from a selection, checked against K.

    Parameters
    ----------
    selection : None, str, slice, int or sequence of int
        None: all K neurons. A string: ``"0:64"`` (a Python slice, end excluded),
        ``"3,17,42"`` (a list), or both mixed (``"0:8,12,20:24"``).
    n_latents : int
        K, the number of neurons in the recording.

    Returns
    -------
    ndarray, shape (n,), int64
        The indices, in the order given (duplicates removed, first kept).

    Raises
    ------
    SimulationInputError
        Unparseable text, an empty selection, or an index outside 0 to K - 1.
    """
    if selection is None:
        return np.arange(n_latents, dtype=np.int64)
    if isinstance(selection, slice):
        chosen = list(range(n_latents))[selection]
    elif isinstance(selection, str):
        chosen = []
        for part in selection.split(","):
            match = _RANGE.match(part)
            if match:
                start = int(match.group(1)) if match.group(1) else 0
                stop = int(match.group(2)) if match.group(2) else n_latents
                if not (0 <= start < stop <= n_latents):
                    raise SimulationInputError(
                        f"--neurons {selection!r}: range {part.strip()} is outside the "
                        f"recording's neurons 0 to {n_latents - 1} (or empty)")
                chosen.extend(range(start, stop))
            elif part.strip().lstrip("-").isdigit():
                chosen.append(int(part))
            else:
                raise SimulationInputError(
                    f"--neurons {selection!r}: expected a range like 0:64 or a list like "
                    f"3,17,42, got {part.strip()!r}")
    else:
        chosen = [int(i) for i in np.atleast_1d(np.asarray(selection)).ravel()]
    chosen = np.asarray(chosen, dtype=np.int64)
    if chosen.size == 0:
        raise SimulationInputError(f"neuron selection {selection!r} selects no neuron")
    bad = chosen[(chosen < 0) | (chosen >= n_latents)]
    if bad.size:
        raise SimulationInputError(
            f"neuron {int(bad[0])} is out of range: the recording has {n_latents} neurons "
            f"(0 to {n_latents - 1})")
    _, first = np.unique(chosen, return_index=True)
    return chosen[np.sort(first)]


def select_stimuli(selection, n_stimuli: int) -> np.ndarray:
    """Stimulus indices from None (all), an int or a sequence, checked against N.

    Returns
    -------
    ndarray, shape (n,), int64

    Raises
    ------
    SimulationInputError
        An index outside 0 to N - 1, or an empty selection.
    """
    if selection is None:
        return np.arange(n_stimuli, dtype=np.int64)
    if isinstance(selection, slice):
        chosen = np.arange(n_stimuli, dtype=np.int64)[selection]
    else:
        chosen = np.atleast_1d(np.asarray(selection)).astype(np.int64).ravel()
    if chosen.size == 0:
        raise SimulationInputError("the stimulus selection is empty")
    bad = chosen[(chosen < 0) | (chosen >= n_stimuli)]
    if bad.size:
        raise SimulationInputError(
            f"stimulus {int(bad[0])} is out of range: the recording has {n_stimuli} "
            f"stimuli (0 to {n_stimuli - 1})")
    return chosen


# --- reading ---------------------------------------------------------------------------------

class _LazySequence:
    """A 1-D HDF5 dataset seen as a sequence, so that ``bisect`` reads O(log S) entries."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return self.dataset.shape[0]

    def __getitem__(self, i):
        return int(self.dataset[i])


def _continuous_spikes(group, stimuli: np.ndarray):
    """Times, neurons and stimuli of the spikes of ``stimuli`` from ``/spikes``.

    The spikes are stored in stimulus order (the writer appends chunks of
    consecutive stimuli, each in time order), so each run of consecutive
    selected stimuli is one contiguous slice, found by bisection.
    """
    for name in ("times", "neurons", "stimuli"):
        if name not in group:
            raise FileFormatError(f"/spikes lacks the dataset {name!r}")
    index = _LazySequence(group["stimuli"])
    order = np.sort(np.unique(stimuli))
    runs = np.split(order, np.flatnonzero(np.diff(order) != 1) + 1)
    parts = []
    for run in runs:
        lo = bisect.bisect_left(index, int(run[0]))
        hi = bisect.bisect_left(index, int(run[-1]) + 1, lo=lo)
        if hi > lo:
            parts.append((group["times"][lo:hi], group["neurons"][lo:hi],
                          group["stimuli"][lo:hi]))
    if not parts:
        empty = np.zeros(0)
        return empty, empty.astype(np.int64), empty.astype(np.int64)
    times, neurons, stims = (np.concatenate(p) for p in zip(*parts))
    return (np.asarray(times, dtype=np.float64), neurons.astype(np.int64),
            stims.astype(np.int64))


def _ticks_from_counts(counts: np.ndarray, bin_width: float):
    """Ticks spread evenly within their bins for counts of shape (S, T, n).

    Returns times (s), positions a in the stimulus axis and b in the neuron axis,
    one entry per spike.
    """
    a, t, b = np.nonzero(counts)
    c = counts[a, t, b].astype(np.int64)
    total = int(c.sum())
    start = np.repeat(np.cumsum(c) - c, c)
    j = np.arange(total, dtype=np.int64) - start          # rank of the spike within its bin
    c_rep = np.repeat(c, c)
    times = (np.repeat(t, c) + (j + 0.5) / c_rep) * bin_width
    return times, np.repeat(a, c), np.repeat(b, c)


def read_spike_trains(recording, stimuli=None, neurons=None) -> RecordedSpikeTrains:
    """Spike trains of a recording, per (stimulus, neuron).

    Parameters
    ----------
    recording : Recording or InMemoryRecording or str or os.PathLike
        An open :class:`~models.recording.Recording`, the path of one, or results held
        in memory (:func:`recording_from_result`, :func:`recording_from_arrays`).
    stimuli : None, int, slice or sequence of int
        Stimulus indices (default: all N).
    neurons : None, str, slice, int or sequence of int
        Neuron indices (default: all K); see :func:`select_neurons`.

    Returns
    -------
    RecordedSpikeTrains
        Continuous mode: the recorded spike times (float64, unchanged).
        Discrete mode: ticks spread evenly within their bins, with
        ``times_from_counts = True`` (module docstring).

    Raises
    ------
    FileFormatError
        The file is not a recording, or a continuous-mode one without ``/spikes``.
    SimulationInputError
        A stimulus or neuron index out of range.

    Examples
    --------
    >>> trains = read_spike_trains("run.h5", stimuli=[0], neurons="0:8")  # doctest: +SKIP
    >>> trains.train(0, 3)            # spike times (s) of neuron 3 for stimulus 0
    """
    if isinstance(recording, (str, os.PathLike)):
        with Recording.open(recording) as rec:
            return read_spike_trains(rec, stimuli, neurons)
    rec = recording
    N, T, K = (int(s) for s in rec.counts.shape)
    stim_idx = select_stimuli(stimuli, N)
    neuron_idx = select_neurons(neurons, K)
    bin_width = float(rec.attrs["bin_width"])
    dt = float(rec.attrs.get("dt", bin_width))
    mode = str(rec.attrs.get("mode", "discrete"))
    from_counts = rec.spikes is None
    if mode == "continuous" and from_counts:
        raise FileFormatError(f"{rec.path}: a continuous-mode recording without /spikes "
                              f"(incomplete file?)")
    neuron_pos = np.full(K, -1, dtype=np.int64)
    neuron_pos[neuron_idx] = np.arange(neuron_idx.size)
    unique_stimuli, inverse = np.unique(stim_idx, return_inverse=True)
    if from_counts:
        if unique_stimuli[-1] - unique_stimuli[0] + 1 == unique_stimuli.size:
            counts = rec.counts[int(unique_stimuli[0]):int(unique_stimuli[-1]) + 1]
        else:
            counts = rec.counts[unique_stimuli]
        counts = np.asarray(counts)[inverse][:, :, neuron_idx]    # (n_s, T, n_k)
        times, a, b = _ticks_from_counts(counts, bin_width)
    else:
        times, nrn, stm = _continuous_spikes(rec.spikes, unique_stimuli)
        if times.size and (nrn.max() >= K or stm.max() >= N):
            raise FileFormatError(f"{rec.path}: /spikes refers to a neuron or stimulus "
                                  f"outside the counts' shape {rec.counts.shape}")
        keep = neuron_pos[nrn] >= 0
        times, nrn, stm = times[keep], nrn[keep], stm[keep]
        # group the spikes by stimulus, then give every selected position (a stimulus
        # may be selected more than once) the group of its stimulus
        group = np.searchsorted(unique_stimuli, stm)
        by_group = np.argsort(group, kind="stable")
        bounds = np.searchsorted(group[by_group], np.arange(unique_stimuli.size + 1))
        starts, stops = bounds[inverse], bounds[inverse + 1]
        lengths = stops - starts
        take = by_group[np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
                        + np.arange(int(lengths.sum()))]
        times, b = times[take], neuron_pos[nrn[take]]
        a = np.repeat(np.arange(stim_idx.size), lengths)
    n_s, n_k = stim_idx.size, neuron_idx.size
    key = a * n_k + b
    order = np.lexsort((times, key))
    counts_per_train = np.bincount(key, minlength=n_s * n_k)
    offsets = np.zeros((n_s, n_k + 1), dtype=np.int64)
    flat_end = np.cumsum(counts_per_train).reshape(n_s, n_k)
    offsets[:, 1:] = flat_end
    offsets[1:, 0] = flat_end[:-1, -1]
    return RecordedSpikeTrains(times=np.ascontiguousarray(times[order], dtype=np.float64),
                               offsets=offsets, stimuli=stim_idx, neurons=neuron_idx,
                               duration=T * bin_width, bin_width=bin_width, dt=dt,
                               times_from_counts=from_counts)


# --- in memory: results of the Python API, no file -------------------------------------------

@dataclasses.dataclass(frozen=True, eq=False)
class InMemoryRecording:
    """Simulation results held in memory, readable wherever a :class:`Recording` is.

    :func:`read_spike_trains` and :func:`ipvae_brian.analysis.raster.plot_raster` read
    ``counts``, ``attrs``, ``spikes``, ``stimuli`` and ``path`` of a recording; this class
    gives arrays those names, so the same code reads a file and a
    :class:`~ipvae_brian.models.simulation.SimulationResult`. Build one with
    :func:`recording_from_result` or :func:`recording_from_arrays`.

    Attributes
    ----------
    counts : ndarray, shape (N, T, K)
        Spike counts z_t per bin.
    attrs : dict
        ``bin_width`` and ``dt`` (s) and ``mode`` ("discrete" or "continuous"), as a
        recording's root attributes.
    spikes : dict of ndarray or None
        Continuous mode: ``{"times", "neurons", "stimuli"}``, one entry per spike, in
        stimulus order (as :func:`~ipvae_brian.models.simulation.simulate` keeps them).
    stimuli : StimulusSet or None
        The stimuli (needed for a raster's stimulus panel, not for spike trains).
    path : str
        A name for figure titles (there is no file).
    params : IPVAEParameters or None
        The parameters (for the dictionary and reconstructions).
    u : ndarray, shape (N, T, K), or None
        The potentials, if recorded.
    reconstructions : ndarray, shape (N, T, M), or None
        Phi z_t (computed from the counts and ``params`` when both are given).
    """

    counts: np.ndarray
    attrs: dict
    spikes: dict | None = None
    stimuli: object = None
    path: str = "in-memory results"
    params: object = None
    u: np.ndarray | None = None
    reconstructions: np.ndarray | None = None


def recording_from_arrays(counts, bin_width: float, dt: float | None = None,
                          spike_times=None, spike_neurons=None, spike_stimuli=None,
                          stimuli=None, name: str = "in-memory results") -> InMemoryRecording:
    """Counts (and spike times) held in memory, seen as a recording.

    Parameters
    ----------
    counts : ndarray, shape (N, T, K)
    bin_width : float
        tau, seconds.
    dt : float, optional
        Simulation time step, seconds (default ``bin_width``).
    spike_times, spike_neurons, spike_stimuli : ndarray, shape (S,), optional
        Continuous mode: every spike's time (s from its stimulus's onset), neuron and
        stimulus, in stimulus order. Without them the counts are drawn as ticks spread
        evenly within their bins (module docstring).
    stimuli : StimulusSet or ndarray, shape (N, M) or (N, T, M), optional
        The stimuli shown (for a raster's stimulus panel).
    name : str
        Shown in figure titles in place of a file name.

    Returns
    -------
    InMemoryRecording

    Examples
    --------
    >>> rec = recording_from_arrays(np.array([[[0, 2]]]), bin_width=0.025)
    >>> read_spike_trains(rec).train(0, 1)        # 2 ticks spread within the 25 ms bin
    array([0.00625, 0.01875])
    """
    counts = np.asarray(counts)
    if counts.ndim != 3:
        raise SimulationInputError(f"counts must be N x T x K, got shape {counts.shape}")
    bin_width = float(bin_width)
    dt = bin_width if dt is None else float(dt)
    given = [a is not None for a in (spike_times, spike_neurons, spike_stimuli)]
    if any(given) and not all(given):
        raise SimulationInputError("spike_times, spike_neurons and spike_stimuli go together")
    spikes = None
    if all(given):
        spikes = {"times": np.asarray(spike_times, dtype=np.float64),
                  "neurons": np.asarray(spike_neurons), "stimuli": np.asarray(spike_stimuli)}
    if stimuli is not None:
        from ipvae_brian.models.simulation import as_stimulus_set
        stimuli = as_stimulus_set(stimuli)
        if stimuli.n_stimuli != counts.shape[0]:
            raise SimulationInputError(f"{stimuli.n_stimuli} stimuli but counts for "
                                       f"{counts.shape[0]}: they must match")
    attrs = {"bin_width": bin_width, "dt": dt,
             "mode": "continuous" if spikes is not None else "discrete"}
    return InMemoryRecording(counts=counts, attrs=attrs, spikes=spikes, stimuli=stimuli,
                             path=name)


def recording_from_result(result, stimuli=None,
                          name: str = "in-memory results") -> InMemoryRecording:
    """A :class:`~ipvae_brian.models.simulation.SimulationResult` seen as a recording.

    Parameters
    ----------
    result : SimulationResult
        Of a run that kept its counts in memory (``simulate(..., keep=True)``, the
        default without ``out``); continuous mode (``RunConfig(dt=...)``) adds the spikes.
    stimuli : StimulusSet or ndarray, optional
        The stimuli the run was given (for a raster's stimulus panel); default: the
        result's own.
    name : str
        Shown in figure titles.

    Returns
    -------
    InMemoryRecording
        With the result's parameters, u (if recorded) and reconstructions (if
        ``"recon"`` was recorded).
    """
    if result.counts is None:
        raise SimulationInputError("the result holds no counts: simulate with keep=True, "
                                   "or read the recording it wrote")
    rec = recording_from_arrays(result.counts, result.config.bin_width, result.config.dt,
                                result.spike_times, result.spike_neurons,
                                result.spike_stimuli,
                                stimuli=getattr(result, "stimuli", None) if stimuli is None
                                else stimuli, name=name)
    params = getattr(result, "params", None)
    recon = (None if params is None or "recon" not in result.config.record
             else (result.counts @ params.Phi.T).astype(np.float32))
    return dataclasses.replace(rec, params=params, u=result.u, reconstructions=recon)


def spike_trains_from_result(result, stimuli=None, neurons=None) -> RecordedSpikeTrains:
    """Spike trains of a :class:`~ipvae_brian.models.simulation.SimulationResult`.

    :func:`read_spike_trains` of :func:`recording_from_result`; ``.to_neo()`` gives Neo
    ``SpikeTrain`` objects.

    Parameters
    ----------
    result : SimulationResult
    stimuli : None, int, slice or sequence of int
        Stimulus indices (default: all N).
    neurons : None, str, slice, int or sequence of int
        Neuron indices (default: all K); see :func:`select_neurons`.

    Returns
    -------
    RecordedSpikeTrains
    """
    return read_spike_trains(recording_from_result(result), stimuli, neurons)
