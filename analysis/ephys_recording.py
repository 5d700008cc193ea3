"""A user's electrophysiology: units' spike times and the trial table, from NWB or any Neo file.

:func:`read_ephys` reads

- an NWB file (``.nwb``, with ``pynwb``): the ``Units`` table (``spike_times``, in s
  on the session clock, as the NWB standard fixes) and the ``trials`` table, else the
  ``epochs`` table, else the only other time-intervals table (``start_time``,
  ``stop_time`` and any stimulus columns);
- any file Neo reads (``neo.io.get_io``: NIX, Plexon, Blackrock, Spike2, ...): the
  spike trains of every segment (a unit is a train's ``name``, else its
  ``unit_id`` annotation, else its position; trains of one unit in several segments
  are merged), and the trials from the Epoch named "trials" (else the only Epoch):
  times, durations, and the stimulus columns as array annotations; without an Epoch,
  each segment of several is one trial (its ``t_start`` to ``t_stop``) with its
  annotations as columns.

The stimulus columns are renamed to the names ``analysis.tuning_statistics`` reads
(:data:`ALIASES`: ``direction`` or ``ori`` become ``orientation``, ``diameter``
``size``, ``sf`` ``spatial_frequency``, ...). :func:`trial_spikes` cuts the spike
trains into trials (times from each trial's start) for ``analysis.trial_statistics``.

Errors (``SimulationInputError``, one line): no units; no trials; units whose
spike times are unknown (no ``spike_times`` column, non-finite times, or no spike
of any unit inside any trial: times not on the trials' clock); a selection that
selects nothing.
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np

from ipvae_brian.models.errors import SimulationInputError

#: Column names of the usual trial tables and the names the statistics read.
ALIASES = {"direction": "orientation", "ori": "orientation", "grating_orientation":
           "orientation", "orientation_deg": "orientation", "diameter": "size",
           "grating_size": "size", "sf": "spatial_frequency", "tf": "temporal_frequency",
           "stimulus": "stimulus_type", "stim_type": "stimulus_type", "image": "image_index",
           "frame_index": "image_index", "seed": "noise_seed"}
#: Trial-table columns that are not stimulus parameters.
NOT_STIMULUS = {"start_time", "stop_time", "id", "tags", "timeseries", "tags_index",
                "timeseries_index", "duration", "label", "labels"}


@dataclasses.dataclass(frozen=True, eq=False)
class EphysRecording:
    """Spike trains of units on one session clock, and the trials.

    Attributes
    ----------
    unit_ids : list of str
    spike_times : list of ndarray
        Per unit, seconds on the session clock, ascending.
    trial_start, trial_stop : ndarray, shape (n_trials,)
        Seconds on the same clock.
    columns : dict of str -> ndarray, shape (n_trials,)
        The trials' stimulus columns, renamed by :data:`ALIASES`.
    source : str
        The file and how it was read (e.g. "NWB", "Neo NixIO").
    """

    unit_ids: list
    spike_times: list
    trial_start: np.ndarray
    trial_stop: np.ndarray
    columns: dict
    source: str

    @property
    def n_units(self) -> int:
        return len(self.unit_ids)

    @property
    def n_trials(self) -> int:
        return int(self.trial_start.size)


def _fail(path, message):
    raise SimulationInputError(f"{os.path.basename(str(path))}: {message}")


def _stimulus_columns(raw: dict, n: int) -> dict:
    out = {}
    for name, values in raw.items():
        if name in NOT_STIMULUS:
            continue
        values = np.asarray(values)
        if values.ndim != 1 or values.size != n:
            continue            # ragged or per-trial arrays: not a stimulus parameter
        if values.dtype.kind in "SO":
            values = values.astype(str)
        out[ALIASES.get(name.lower(), name.lower())] = values
    return out


def _read_nwb(path, table: str | None):
    try:
        from pynwb import NWBHDF5IO
    except ImportError as exc:          # pragma: no cover - the nwb extra is missing
        _fail(path, f"reading NWB needs pynwb (pip install 'ipvae-brian[nwb]'): {exc}")
    with NWBHDF5IO(str(path), "r", load_namespaces=True) as io:
        nwb = io.read()
        units = nwb.units
        if units is None or len(units) == 0:
            _fail(path, "the file has no units (no Units table, or an empty one): nothing "
                  "to compare")
        if "spike_times" not in units.colnames:
            _fail(path, f"the Units table has no spike_times column (columns: "
                  f"{', '.join(units.colnames)}): the units' spike times are unknown")
        ids = [str(i) for i in units.id[:]]
        times = [np.asarray(units.get_unit_spike_times(i), dtype=np.float64)
                 for i in range(len(units))]
        tables = {name: t for name, t in (nwb.intervals or {}).items()}
        if table is not None:
            if table not in tables:
                _fail(path, f"no intervals table {table!r} (the file has: "
                      f"{', '.join(tables) or 'none'})")
            chosen = tables[table]
        else:
            chosen = next((tables[n] for n in ("trials", "epochs") if n in tables), None)
            if chosen is None and len(tables) == 1:
                chosen = next(iter(tables.values()))
        if chosen is None or len(chosen) == 0:
            _fail(path, "the file has no trials (no trials, epochs or other intervals table"
                  + (f"; tables: {', '.join(tables)}" if tables else "") + ")")
        raw = {c: chosen[c].data[:] for c in chosen.colnames}
        start = np.asarray(chosen["start_time"].data[:], dtype=np.float64)
        stop = np.asarray(chosen["stop_time"].data[:], dtype=np.float64)
    return ids, times, start, stop, _stimulus_columns(raw, start.size), "NWB (pynwb)"


def _read_neo(path, table: str | None):
    import neo
    import quantities as pq
    try:
        io = neo.io.get_io(str(path))
    except (IOError, ValueError, TypeError) as exc:
        _fail(path, f"neither NWB nor a format Neo reads ({exc})")
    try:
        block = io.read_block()
    finally:
        close = getattr(io, "close", None)
        if close is not None:
            close()
    trains, epochs = {}, []
    for segment in block.segments:
        epochs += list(segment.epochs)
        for position, st in enumerate(segment.spiketrains):
            unit = st.name or st.annotations.get("unit_id") or f"unit {position}"
            try:
                t = st.times.rescale(pq.s).magnitude
            except ValueError:
                _fail(path, f"spike train {unit!r} has times in {st.units.dimensionality} "
                      f"(not a time unit): the units' spike times are unknown")
            trains.setdefault(str(unit), []).append(np.asarray(t, dtype=np.float64))
    if not trains:
        _fail(path, "the file has no units (no spike trains in any segment): nothing to "
              "compare")
    ids = list(trains)
    times = [np.sort(np.concatenate(trains[u])) for u in ids]
    named = [e for e in epochs if e.name == (table or "trials")]
    epoch = named[0] if named else (epochs[0] if len(epochs) == 1 and table is None
                                    else None)
    if epoch is not None and len(epoch) > 0:
        start = epoch.times.rescale(pq.s).magnitude.astype(np.float64)
        stop = start + epoch.durations.rescale(pq.s).magnitude
        raw = dict(epoch.array_annotations)
    elif table is None and len(block.segments) > 1:
        segments = block.segments
        start = np.array([float(s.t_start.rescale(pq.s)) for s in segments])
        stop = np.array([float(s.t_stop.rescale(pq.s)) for s in segments])
        keys = set.intersection(*(set(s.annotations) for s in segments))
        raw = {k: np.array([s.annotations[k] for s in segments]) for k in keys}
    else:
        _fail(path, "the file has no trials (no Epoch named "
              f"{table or 'trials'!r}" + ("" if table else ", no single Epoch") +
              ", and not one segment per trial)")
    return ids, times, start, stop, _stimulus_columns(raw, start.size), \
        f"Neo ({type(io).__name__})"


def read_ephys(path, units=None, trials=None, table: str | None = None) -> EphysRecording:
    """Units and trials of an NWB file or of any file Neo reads (see the module notes).

    Parameters
    ----------
    path : str or os.PathLike
    units : None, str or sequence of int
        Units by position in the file (``"0:10,12"``; ``spike_trains.select_neurons``
        syntax); default all.
    trials : None, str or sequence of int
        Trials by position (same syntax); default all.
    table : str, optional
        The intervals table (NWB) or Epoch name (Neo) holding the trials.

    Returns
    -------
    EphysRecording

    Raises
    ------
    SimulationInputError
        See the module notes.
    """
    from ipvae_brian.analysis.spike_trains import select_neurons
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise SimulationInputError(f"recording {path!r} does not exist")
    reader = _read_nwb if path.lower().endswith(".nwb") else _read_neo
    ids, times, start, stop, columns, how = reader(path, table)
    for uid, t in zip(ids, times):
        if t.size and not np.all(np.isfinite(t)):
            _fail(path, f"unit {uid} has non-finite spike times: the units' spike times are "
                  f"unknown")
    if np.any(~np.isfinite(start) | ~np.isfinite(stop) | (stop <= start)):
        _fail(path, "some trials have no finite positive duration (stop_time <= start_time)")
    pick_u = _select(select_neurons, units, len(ids), "units")
    pick_t = _select(select_neurons, trials, start.size, "trials")
    ids, times = [ids[i] for i in pick_u], [np.sort(times[i]) for i in pick_u]
    start, stop = start[pick_t], stop[pick_t]
    columns = {k: v[pick_t] for k, v in columns.items()}
    inside = sum(int(np.sum(_in_intervals(t, start, stop))) for t in times)
    if inside == 0:
        span = [float(np.min([t.min() for t in times if t.size] or [np.nan])),
                float(np.max([t.max() for t in times if t.size] or [np.nan]))]
        _fail(path, f"no spike of any unit falls inside any trial (spikes {span[0]:g} to "
              f"{span[1]:g}, trials {start.min():g} to {stop.max():g} s): the units' spike "
              f"times are not on the trials' clock in seconds")
    return EphysRecording(ids, times, start, stop, columns, f"{os.path.basename(path)}, {how}")


def _select(select, selection, n: int, what: str) -> np.ndarray:
    """``spike_trains.select_neurons`` with its messages about --units or --trials."""
    try:
        return select(selection, n)
    except SimulationInputError as exc:
        raise SimulationInputError(str(exc).replace("--neurons", f"--{what}")
                                   .replace("neurons", what).replace("neuron", what[:-1])
                                   .replace("the recording", "the file")) from None


def _in_intervals(times, start, stop) -> np.ndarray:
    order = np.argsort(start)
    i = np.searchsorted(start[order], times, side="right") - 1
    ok = i >= 0
    ok[ok] = times[ok] < stop[order][i[ok]]
    return ok


def trial_spikes(rec: EphysRecording, window=None, bin_width: float | None = None):
    """The recording cut into trials: ``analysis.trial_statistics.TrialSpikes``.

    Parameters
    ----------
    rec : EphysRecording
    window : (float, float), optional
        Counting window, s from each trial's start; default from 0 to the shortest
        trial's duration.
    bin_width : float, optional
        PSTH bin width, s (default ``trial_statistics.PSTH_BIN_S``).

    Returns
    -------
    TrialSpikes
        ``conditions`` holds the stimulus columns; trials with equal values in all of them
        form one condition.
    """
    from ipvae_brian.analysis.trial_statistics import PSTH_BIN_S, TrialSpikes, condition_index
    shortest = float(np.min(rec.trial_stop - rec.trial_start))
    window = (0.0, shortest) if window is None else (float(window[0]), float(window[1]))
    if not 0 <= window[0] < window[1] <= shortest + 1e-9:
        raise SimulationInputError(f"--window {window[0]:g} {window[1]:g}: must satisfy 0 <= "
                                   f"start < stop <= the shortest trial ({shortest:g} s)")
    trains = []
    for t0, t1 in zip(rec.trial_start, rec.trial_stop):
        row = []
        for times in rec.spike_times:
            lo, hi = np.searchsorted(times, [t0, t1])
            row.append(times[lo:hi] - t0)
        trains.append(row)
    return TrialSpikes(trains=trains, window=window,
                       condition=condition_index(rec.columns, rec.n_trials),
                       conditions=dict(rec.columns), unit_ids=list(rec.unit_ids),
                       bin_width=PSTH_BIN_S if bin_width is None else float(bin_width),
                       label="recording")


def to_neo_block(rec: EphysRecording, name: str = "recording"):
    """The recording as one Neo segment: a SpikeTrain per unit and the Epoch "trials".

    The trials' columns become the Epoch's array annotations, so that
    ``neo.io.NixIO(path, "ow").write_block(to_neo_block(rec))`` writes a file that
    :func:`read_ephys` reads back to the same units, trials and columns.
    """
    import neo
    import quantities as pq
    stop = max([float(rec.trial_stop.max())] + [float(t.max()) + 1e-6 for t in
                                                 rec.spike_times if t.size])
    segment = neo.Segment(name="session")
    for uid, times in zip(rec.unit_ids, rec.spike_times):
        segment.spiketrains.append(neo.SpikeTrain(times, units=pq.s, t_start=0.0 * pq.s,
                                                  t_stop=stop * pq.s, name=str(uid)))
    segment.epochs.append(neo.Epoch(times=rec.trial_start * pq.s,
                                    durations=(rec.trial_stop - rec.trial_start) * pq.s,
                                    labels=np.array([f"trial {i}" for i in
                                                     range(rec.n_trials)]),
                                    name="trials", array_annotations=dict(rec.columns)))
    block = neo.Block(name=name)
    block.segments.append(segment)
    return block
