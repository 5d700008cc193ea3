"""Export a recording to Neurodata Without Borders (NWB, pynwb) for electrophysiology tools.

What the NWB file holds (one session time axis, in seconds):

- ``units``: one unit per latent neuron (unit id = neuron index) with its
  spike times on the session axis: stimulus n starts at ``n T tau`` (the
  network runs the stimuli back to back), so a spike at time t of stimulus n
  is at ``n T tau + t``. ``resolution`` is dt (continuous mode) or tau
  (discrete mode, whose "spike times" are ticks spread evenly within their bin,
  :mod:`analysis.spike_trains`; the table's description says so). No
  electrodes: the units are model neurons.
- ``stimulus`` (in ``/stimulus/presentation``): an ``ImageSeries`` (a
  ``TimeSeries``) at rate 1/tau, one frame per bin (N T frames of W x H pixels,
  NWB's (frame, x, y) order): a movie's frames, or a static image held
  (repeated) for each of its T bins; written chunk by chunk and compressed, so
  that held images cost little. (Frames rather than N T x M rows of pixels:
  nwbinspector flags, as CRITICAL, time series whose first axis is shorter than
  another, which N T x M rows would be for any recording shorter than M bins;
  frames are flagged only below max(H, W) bins in total.)
- ``trials``: one trial per stimulus, ``[n T tau, (n + 1) T tau)``, with
  ``stimulus_index``, and the label and grid conditions (e.g. direction) when
  the stimulus set has them.
- session metadata: description, identifier, start time (the recording's
  creation time), the paper as related publication, the command line that
  made the recording, keywords, and the recording's root attributes in
  ``notes``.

pynwb is an optional dependency (``pip install 'ipvae-brian[nwb]'``); without
it :func:`export_nwb` raises :class:`MissingDependencyError` with one line
saying so.
"""
from __future__ import annotations

import datetime
import json
import os
import uuid
import warnings

import numpy as np

from ipvae_brian.analysis.spike_trains import read_spike_trains
from ipvae_brian.models.atomic_file import atomic_output, check_output_path
from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.recording import Recording

#: The iP-VAE paper (Vafaii, Galor & Yates 2025), as NWB's related_publications wants it.
PAPER_DOI = "https://doi.org/10.48550/arXiv.2410.19315"


class MissingDependencyError(SimulationInputError):
    """An optional package needed for the requested output is not installed."""


def _require_pynwb():
    try:
        import pynwb  # noqa: F401
        from hdmf.data_utils import GenericDataChunkIterator  # noqa: F401
    except ImportError:
        raise MissingDependencyError(
            "NWB export needs pynwb, which is not installed: pip install 'ipvae-brian[nwb]' "
            "(or pip install pynwb)") from None


def default_nwb_path(recording_path) -> str:
    """``run.h5`` -> ``run.nwb`` (same folder)."""
    return os.path.splitext(os.fspath(recording_path))[0] + ".nwb"


def _stimulus_frames(x: np.ndarray, steps: int, image_shape: tuple):
    """An hdmf chunk iterator over the N T frames of the stimulus ImageSeries.

    Frame ``n T + t`` is frame t of movie n, or image n (held for all T bins),
    as an array of shape (W, H): NWB's (frame, x, y) order, x the column
    (horizontal) and y the row of the H x W image.
    """
    from hdmf.data_utils import GenericDataChunkIterator
    h, w = image_shape

    class StimulusFrames(GenericDataChunkIterator):
        def __init__(self):
            self.x, self.steps = x, int(steps)
            n_frames = x.shape[0] * self.steps
            per_chunk = int(max(1, min(n_frames, 2 ** 17 // x.shape[-1])))  # ~1 MiB
            super().__init__(chunk_shape=(per_chunk, w, h),
                             buffer_shape=(min(n_frames, per_chunk * 64), w, h))

        def _get_data(self, selection):
            rows = np.arange(self.x.shape[0] * self.steps)[selection[0]]
            if self.x.ndim == 3:
                frames = self.x[rows // self.steps, rows % self.steps]
            else:
                frames = self.x[rows // self.steps]
            frames = frames.reshape(-1, h, w).transpose(0, 2, 1)
            return frames[:, selection[1], selection[2]]

        def _get_maxshape(self):
            return (self.x.shape[0] * self.steps, w, h)

        def _get_dtype(self):
            return self.x.dtype

    return StimulusFrames()


def _session_start(attrs: dict) -> datetime.datetime:
    created = attrs.get("created")
    try:
        start = datetime.datetime.fromisoformat(str(created))
    except (TypeError, ValueError):
        start = datetime.datetime.now(datetime.timezone.utc)
    if start.tzinfo is None:
        start = start.replace(tzinfo=datetime.timezone.utc)
    return start


def _plain(value):
    """A JSON-able version of an HDF5 attribute value."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def build_nwbfile(rec: Recording, session_description: str | None = None,
                  identifier: str | None = None, experimenter: str | None = None,
                  institution: str | None = None):
    """The NWB representation of a recording (in memory; see the module docstring).

    Parameters
    ----------
    rec : Recording
    session_description : str, optional
        Default: what was simulated (stimuli, bins, neurons, mode).
    identifier : str, optional
        Unique file identifier (default: a random UUID).
    experimenter, institution : str, optional
        Who ran the simulation, and where (NWB metadata; left out if not given).

    Returns
    -------
    pynwb.NWBFile
    """
    _require_pynwb()
    from hdmf.backends.hdf5.h5_utils import H5DataIO
    from pynwb import NWBFile
    from pynwb.file import Subject
    from pynwb.image import ImageSeries
    from pynwb.misc import Units

    attrs = {k: _plain(v) for k, v in rec.attrs.items()}
    stimset = rec.stimuli
    N, T, K = (int(s) for s in rec.counts.shape)
    trains = read_spike_trains(rec)
    tau, duration = trains.bin_width, trains.duration
    mode = "discrete" if trains.times_from_counts else "continuous"
    h, w = stimset.image_shape
    what = (f"{N} {'movies' if stimset.is_movie else 'images'} ({stimset.name}, {h}x{w} "
            f"pixels) x {T} bins of {tau * 1e3:g} ms")
    start = _session_start(attrs)
    subject = Subject(
        subject_id=f"ipvae-network-K{K}-seed{attrs.get('seed', 'unknown')}",
        description=("a simulated iP-VAE spiking network, not an animal: sex 'O' (other: not "
                     "applicable), date of birth = the start of the simulation"),
        sex="O", date_of_birth=start)
    nwbfile = NWBFile(
        session_description=session_description or (
            f"Simulation of the iterative Poisson VAE (iP-VAE; Vafaii, Galor & Yates 2025) "
            f"as a Brian2 spiking network: {what}, K = {K} latent neurons, {mode} mode"
            + (f" (dt = {trains.dt * 1e3:g} ms)" if mode == "continuous" else "")
            + "; every stimulus starts at n T tau of the session"),
        identifier=identifier or str(uuid.uuid4()),
        session_start_time=start, subject=subject,
        session_id=os.path.splitext(os.path.basename(rec.path))[0].replace("/", "_"),
        experiment_description=(
            "In-silico experiment: latent neurons whose membrane potential u is a log firing "
            "rate emit Poisson spikes and inhibit each other through lateral synapses W = "
            "-Phi^T diag(1/sigma^2) Phi; the feed-forward drive is Phi^T x / sigma^2 of the "
            "stimulus x. No animal and no electrodes are involved."),
        keywords=["iP-VAE", "Poisson VAE", "spiking network", "simulation", "Brian2",
                  "variational inference", "V1 model"],
        related_publications=[PAPER_DOI],
        source_script=str(attrs.get("command_line", "")) or None,
        source_script_file_name="run_sim.py",
        experimenter=[experimenter] if experimenter else None, institution=institution,
        notes=json.dumps({"recording": os.path.basename(rec.path), **attrs}, default=str),
        data_collection=(f"ipvae-brian {attrs.get('software_version', '?')}, Brian2 "
                         f"{attrs.get('brian2_version', '?')}, seed {attrs.get('seed', '?')}"),
    )

    # --- units: spike times on the session axis --------------------------------------------
    counts = trains.spike_counts()                              # (N, K)
    a = np.repeat(np.repeat(np.arange(N), K), counts.ravel())   # stimulus of every spike
    b = np.repeat(np.tile(np.arange(K), N), counts.ravel())     # neuron of every spike
    session = trains.stimuli[a] * duration + trains.times
    order = np.lexsort((session, b))
    session, b = session[order], b[order]
    per_neuron = np.bincount(b, minlength=K)
    ends = np.cumsum(per_neuron)
    resolution = tau if trains.times_from_counts else trains.dt
    nwbfile.units = Units(
        name="units", resolution=float(resolution),
        description=(
            "latent neurons of the iP-VAE network; unit id = neuron index k. Spike times in s "
            "on the session axis (stimulus n starts at n T tau). "
            + ("Discrete-mode recording: only per-bin counts exist, and each bin's count is "
               "given as spike times spread evenly within the bin, t = (bin + (j + 1/2) / c) "
               "tau; resolution = tau." if trains.times_from_counts else
               "Continuous mode: the start of the dt step of every spike; a step with several "
               "spikes repeats its time; resolution = dt.")))
    nwbfile.add_unit_column("u0", "prior log firing rate u0 of the neuron, log(spikes per "
                            "bin); exp(u0) / tau spikes/s at stimulus onset")
    observed = [[0.0, N * duration]]
    for k in range(K):
        nwbfile.add_unit(id=k, spike_times=session[ends[k] - per_neuron[k]:ends[k]],
                         obs_intervals=observed, u0=float(rec.params.u0[k]))

    # --- the stimulus, one frame per bin -----------------------------------------------------
    stim_description = (
        f"stimulus shown to the network ({stimset.name}), one frame per {tau * 1e3:g} ms bin "
        f"(N T = {N} x {T} frames); frame n T + t is "
        + ("frame t of movie n" if stimset.is_movie else
           "image n, held for all T bins of its presentation")
        + f". NWB's (frame, x, y) order: data[f, i, j] is the pixel in column i and row j of "
        f"the {h} x {w} (rows x columns) image, i.e. data[f].T is the image; the recording's "
        f"/stimuli/x holds it flattened row-major")
    nwbfile.add_stimulus(ImageSeries(
        name="stimulus", description=stim_description,
        data=H5DataIO(_stimulus_frames(stimset.x, T, (h, w)), compression="gzip",
                      compression_opts=4, shuffle=True),
        unit="z-scored pixel intensity", format="raw", rate=1.0 / tau, starting_time=0.0,
        comments=json.dumps({"generator": stimset.name, "image_shape": [h, w],
                             "params": stimset.params}, default=str)))

    # --- trials: one per stimulus ------------------------------------------------------------
    nwbfile.add_trial_column("stimulus_index", "index n of the stimulus in the recording "
                             "(row block n T to (n + 1) T - 1 of the stimulus TimeSeries)")
    columns = {}
    if stimset.labels is not None:
        columns["label"] = ("label or condition index of the stimulus", stimset.labels)
    units = stimset.params.get("units", {})
    for key, values in stimset.conditions().items():
        unit = units.get(key, "see the generator")
        columns.setdefault(key, (f"stimulus parameter {key} ({unit})", values))
    converted = {}
    for key, (description, values) in columns.items():
        values = np.asarray(values, dtype=object)
        if all(v is None for v in values):
            continue                      # e.g. diameter None: full field throughout
        try:
            values = np.array([np.nan if v is None else float(v) for v in values])
        except (TypeError, ValueError):
            values = np.array([str(v) for v in values])
        nwbfile.add_trial_column(key, description)
        converted[key] = values
    for n in range(N):
        nwbfile.add_trial(start_time=n * duration, stop_time=(n + 1) * duration,
                          stimulus_index=n, **{k: v[n] for k, v in converted.items()})
    return nwbfile


def export_nwb(recording_path, out_path=None, session_description: str | None = None,
               identifier: str | None = None, experimenter: str | None = None,
               institution: str | None = None) -> str:
    """Write a recording as an NWB file (atomically: complete or absent).

    Parameters
    ----------
    recording_path : str or os.PathLike
        A recording (continuous or discrete mode).
    out_path : str or os.PathLike, optional
        Output file (default: the recording's name with ``.nwb``); its folder must exist.
    session_description, identifier, experimenter, institution : str, optional
        See :func:`build_nwbfile`.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    MissingDependencyError
        pynwb is not installed.
    FileFormatError
        The input is not a recording.
    SimulationInputError
        The output folder does not exist or is not writable.
    """
    _require_pynwb()
    from pynwb import NWBHDF5IO
    out = check_output_path(out_path or default_nwb_path(recording_path))
    if os.path.abspath(out) == os.path.abspath(os.fspath(recording_path)):
        raise SimulationInputError(f"--out {out!r} would overwrite the recording itself")
    with Recording.open(recording_path) as rec:
        nwbfile = build_nwbfile(rec, session_description, identifier, experimenter,
                                institution)
        with atomic_output(out) as tmp, warnings.catch_warnings():
            # the temporary name ends in .tmp; the final one is checked above
            warnings.filterwarnings("ignore", message=".*does not end in '.nwb'")
            with NWBHDF5IO(tmp, mode="w") as io:
                io.write(nwbfile)
    return out
