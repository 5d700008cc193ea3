"""Export a recording to Neurodata Without Borders (NWB, pynwb) for electrophysiology tools.

What the NWB file holds (one session time axis, in seconds):

- what was simulated, never invented spike times:

  - discrete mode: the counts per bin, as ``acquisition/binned_spikes``, an
    ``ndx-binned-spikes`` ``BinnedAlignedSpikes`` (data (K, N, T): neuron, stimulus,
    bin; ``bin_width_in_ms`` = tau; ``event_timestamps`` = the stimulus onsets n T tau;
    ``units_region`` = rows of ``processing/ecephys/neurons``), gzip-compressed.
    Without that extension installed: a ``TimeSeries`` ``binned_spike_counts`` of
    shape (N T, K) at rate 1/tau.
  - continuous mode: the recorded spike times in ``units`` (the start of the dt step
    of every spike, on the session axis; ``resolution`` = dt), compressed.

- the latent neurons, one row each (id = neuron index) with the prior log rate ``u0``
  and the ``dictionary`` column Phi[:, k] (M pixels, row-major H x W): ``units`` in
  continuous mode; in discrete mode, which has no spike times, the table
  ``processing/ecephys/neurons`` (a Units table without spike times is flagged CRITICAL
  by nwbinspector). No electrodes: the units are model neurons.
- when recorded (``simulate --record u,recon``): ``acquisition/membrane_potential``, a
  ``TimeSeries`` of u (N T, K), and ``acquisition/reconstruction``, an ``ImageSeries`` of
  Phi z_t (N T frames), both at rate 1/tau, compressed.
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
  ``notes``; the subject is the network, species NCBITaxon_32630 ("synthetic
  construct"), so that nwbinspector reports nothing above suggestions.

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


#: The subject's species: NCBI Taxonomy 32630, "synthetic construct" (no animal).
SPECIES = "http://purl.obolibrary.org/obo/NCBITaxon_32630"

#: Compression of every large dataset.
COMPRESSION = dict(compression="gzip", compression_opts=4, shuffle=True)


class _Progress:
    """Bytes handed to the writer, reported as ``report(done, total)`` (an export bar)."""

    def __init__(self, report):
        self.report, self.done, self.total = report, 0, 0

    def add(self, nbytes: int):
        self.done += int(nbytes)
        if self.report is not None:
            self.report(self.done, self.total)


def _chunked(get, maxshape: tuple, dtype, axis: int, progress: _Progress):
    """An hdmf chunk iterator over an array of ``maxshape``, read block by block.

    ``get(start, stop)`` returns the whole array between ``start`` and ``stop`` along
    ``axis`` (all of every other axis); chunks of about 1 MiB along ``axis``.
    """
    from hdmf.data_utils import GenericDataChunkIterator
    maxshape, dtype = tuple(int(s) for s in maxshape), np.dtype(dtype)
    slab = int(np.prod(maxshape)) // max(1, maxshape[axis]) * dtype.itemsize
    per_chunk = int(max(1, min(maxshape[axis], 2 ** 20 // max(1, slab))))
    chunk = tuple(per_chunk if a == axis else s for a, s in enumerate(maxshape))
    buffer = tuple(min(s, per_chunk * 16) if a == axis else s for a, s in enumerate(maxshape))
    progress.total += int(np.prod(maxshape)) * dtype.itemsize

    class Blocks(GenericDataChunkIterator):
        def __init__(self):
            super().__init__(chunk_shape=chunk, buffer_shape=buffer)

        def _get_data(self, selection):
            along = selection[axis]
            start = along.start or 0
            stop = maxshape[axis] if along.stop is None else along.stop
            data = np.asarray(get(start, stop), dtype=dtype)
            progress.add(data.nbytes)
            return data[tuple(slice(None) if a == axis else sel
                              for a, sel in enumerate(selection))]

        def _get_maxshape(self):
            return maxshape

        def _get_dtype(self):
            return dtype

        @property
        def shape(self):          # for containers that check shapes (BinnedAlignedSpikes)
            return maxshape

    return Blocks()


def _per_bin(source, steps: int):
    """``get(start, stop)`` of rows ``n T + t`` of an (N, T, ...) array (or dataset)."""
    def get(start, stop):
        first, last = start // steps, (stop - 1) // steps + 1
        block = np.asarray(source[first:last])
        block = block.reshape(-1, *block.shape[2:])
        return block[start - first * steps:stop - first * steps]
    return get


def _frames(get_rows, image_shape: tuple):
    """Rows of M pixels as NWB frames (W, H): data[f].T is the H x W image."""
    h, w = image_shape

    def get(start, stop):
        return get_rows(start, stop).reshape(-1, h, w).transpose(0, 2, 1)
    return get


def _stimulus_frames(x: np.ndarray, steps: int, image_shape: tuple, progress: _Progress):
    """The N T frames of the stimulus ImageSeries (chunk iterator).

    Frame ``n T + t`` is frame t of movie n, or image n (held for all T bins), as an
    array of shape (W, H): NWB's (frame, x, y) order, x the column (horizontal) and y
    the row of the H x W image.
    """
    h, w = image_shape
    steps = int(steps)

    def rows(start, stop):
        r = np.arange(start, stop)
        return x[r // steps, r % steps] if x.ndim == 3 else x[r // steps]
    return _chunked(_frames(rows, image_shape), (x.shape[0] * steps, w, h), x.dtype, 0,
                    progress)


def _add_binned_counts(nwbfile, neurons, counts, tau: float, progress: _Progress) -> None:
    """The counts (N, T, K) of a discrete-mode recording, binned, in ``acquisition``.

    ``BinnedAlignedSpikes`` (ndx-binned-spikes) of data (K, N, T) aligned to the stimulus
    onsets n T tau, with the bin width, its rows a region of the table ``neurons``; a
    ``TimeSeries`` (N T, K) of counts at rate 1/tau if the extension is not installed.
    """
    from hdmf.backends.hdf5.h5_utils import H5DataIO
    N, T, K = (int(s) for s in counts.shape)
    description = ("spike counts z_t of every latent neuron in every bin of width tau, as "
                   "simulated (discrete mode: the network draws a count per bin, no spike "
                   "times)")
    try:
        from ndx_binned_spikes import BinnedAlignedSpikes
    except ImportError:
        from pynwb import TimeSeries
        nwbfile.add_acquisition(TimeSeries(
            name="binned_spike_counts", description=description + "; row n T + t is bin t "
            "of stimulus n, columns = neurons (unit ids)",
            data=H5DataIO(_chunked(_per_bin(counts, T), (N * T, K), counts.dtype, 0,
                                   progress), **COMPRESSION),
            unit="spikes per bin", rate=1.0 / tau, starting_time=0.0))
        return

    def by_stimulus(start, stop):
        return np.asarray(counts[start:stop]).transpose(2, 0, 1)

    region = neurons.create_region(name="units_region", region=list(range(K)),
                                   description="the K latent neurons (rows of data)")
    binned = BinnedAlignedSpikes(
        name="binned_spikes", description=description + "; data[k, n, t] = count of neuron "
        "k in bin t of stimulus n, which starts at event_timestamps[n] = n T tau",
        bin_width_in_ms=float(tau * 1e3), event_to_bin_offset_in_ms=0.0,
        data=_chunked(by_stimulus, (K, N, T), counts.dtype, 1, progress),
        event_timestamps=np.arange(N) * T * tau, units_region=region)
    binned.set_data_io("data", H5DataIO, dict(COMPRESSION))
    nwbfile.add_acquisition(binned)


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
                  institution: str | None = None, progress=None):
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
    progress : callable, optional
        ``progress(done, total)`` in bytes, called as the large datasets are handed to the
        writer (while ``NWBHDF5IO.write`` runs).

    Returns
    -------
    pynwb.NWBFile
    """
    _require_pynwb()
    from hdmf.backends.hdf5.h5_utils import H5DataIO
    from pynwb import NWBFile
    from pynwb.file import Subject
    from pynwb import TimeSeries
    from pynwb.image import ImageSeries
    from pynwb.misc import Units

    attrs = {k: _plain(v) for k, v in rec.attrs.items()}
    stimset = rec.stimuli
    N, T, K = (int(s) for s in rec.counts.shape)
    tau = float(attrs["bin_width"])
    dt, duration = float(attrs.get("dt", tau)), T * tau
    mode = "continuous" if str(attrs.get("mode")) == "continuous" else "discrete"
    bytes_written = _Progress(progress)
    h, w = stimset.image_shape
    what = (f"{N} {'movies' if stimset.is_movie else 'images'} ({stimset.name}, {h}x{w} "
            f"pixels) x {T} bins of {tau * 1e3:g} ms")
    start = _session_start(attrs)
    subject = Subject(
        subject_id=f"ipvae-network-K{K}-seed{attrs.get('seed', 'unknown')}",
        description=("a simulated iP-VAE spiking network, not an animal: species NCBI Taxonomy "
                     "32630 'synthetic construct', sex 'O' (other: not applicable), date of "
                     "birth = the start of the simulation"),
        species=SPECIES, sex="O", date_of_birth=start)
    nwbfile = NWBFile(
        session_description=session_description or (
            f"Simulation of the iterative Poisson VAE (iP-VAE; Vafaii, Galor & Yates 2025) "
            f"as a Brian2 spiking network: {what}, K = {K} latent neurons, {mode} mode"
            + (f" (dt = {dt * 1e3:g} ms)" if mode == "continuous" else "")
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

    # --- the latent neurons: units with spike times (continuous), or a table (discrete) ----
    h, w = stimset.image_shape
    phi = np.asarray(rec.params.Phi, dtype=np.float64)
    columns = (("u0", "prior log firing rate u0 of the neuron, log(spikes per bin); exp(u0) "
                "/ tau spikes/s at stimulus onset"),
               ("dictionary", f"the neuron's dictionary column Phi[:, k] ({h * w} pixels of an "
                f"{h} x {w} image, row-major): what one of its spikes adds to the "
                f"reconstruction Phi z"))
    if mode == "continuous":
        nwbfile.units = Units(
            name="units", resolution=float(dt), description=(
                "latent neurons of the iP-VAE network; unit id = neuron index k. Continuous "
                "mode: spike times in s on the session axis (stimulus n starts at n T tau), "
                "the start of the dt step of every spike; a step with several spikes repeats "
                "its time; resolution = dt."))
        for name, text in columns:
            nwbfile.add_unit_column(name, text)
        trains = read_spike_trains(rec)
        counts = trains.spike_counts()                              # (N, K)
        a = np.repeat(np.repeat(np.arange(N), K), counts.ravel())   # stimulus of every spike
        b = np.repeat(np.tile(np.arange(K), N), counts.ravel())     # neuron of every spike
        session = trains.stimuli[a] * duration + trains.times
        order = np.lexsort((session, b))
        session, b = session[order], b[order]
        per_neuron = np.bincount(b, minlength=K)
        ends = np.cumsum(per_neuron)
        observed = [[0.0, N * duration]]
        for k in range(K):
            nwbfile.add_unit(id=k, spike_times=session[ends[k] - per_neuron[k]:ends[k]],
                             obs_intervals=observed, u0=float(rec.params.u0[k]),
                             dictionary=phi[:, k])
        nwbfile.units.spike_times.set_data_io(H5DataIO, dict(COMPRESSION))
    else:
        # discrete mode has counts, not spike times: a Units table without spike_times is
        # a misuse (nwbinspector, CRITICAL), so the neurons are a table of their own
        from hdmf.common import DynamicTable
        neurons = DynamicTable(name="neurons", description=(
            "latent neurons of the iP-VAE network; id = neuron index k (the rows of "
            "acquisition/binned_spikes). Discrete mode: the network draws a count per bin, "
            "not spike times."))
        for name, text in columns:
            neurons.add_column(name, text)
        for k in range(K):
            neurons.add_row(id=k, u0=float(rec.params.u0[k]), dictionary=phi[:, k])
        nwbfile.create_processing_module(
            "ecephys", "the model's neurons (a simulation: no electrodes)").add(neurons)
        _add_binned_counts(nwbfile, neurons, rec.counts, tau, bytes_written)

    # --- u and the reconstructions, when recorded ----------------------------------------------
    if rec.u is not None:
        nwbfile.add_acquisition(TimeSeries(
            name="membrane_potential", description=(
                "membrane potential u_t of every latent neuron (the log firing rate its counts "
                "of bin t were drawn from), one row per bin: row n T + t is bin t of stimulus "
                "n; columns = neurons (unit ids)"),
            data=H5DataIO(_chunked(_per_bin(rec.u, T), (N * T, K), rec.u.dtype, 0,
                                   bytes_written), **COMPRESSION),
            unit="log(spikes per bin)", rate=1.0 / tau, starting_time=0.0))
    if rec.reconstructions is not None:
        nwbfile.add_acquisition(ImageSeries(
            name="reconstruction", description=(
                f"reconstruction x_hat_t = Phi z_t of every bin, one frame per bin (frame "
                f"n T + t is bin t of stimulus n), in the stimulus's (frame, x, y) order: "
                f"data[f].T is the {h} x {w} image"),
            data=H5DataIO(_chunked(_frames(_per_bin(rec.reconstructions, T), (h, w)),
                                   (N * T, w, h), rec.reconstructions.dtype, 0,
                                   bytes_written), **COMPRESSION),
            unit="z-scored pixel intensity", format="raw", rate=1.0 / tau,
            starting_time=0.0))

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
        data=H5DataIO(_stimulus_frames(stimset.x, T, (h, w), bytes_written), **COMPRESSION),
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
               institution: str | None = None, progress=None) -> str:
    """Write a recording as an NWB file (atomically: complete or absent).

    Parameters
    ----------
    recording_path : str or os.PathLike
        A recording (continuous or discrete mode).
    out_path : str or os.PathLike, optional
        Output file (default: the recording's name with ``.nwb``); its folder must exist.
    session_description, identifier, experimenter, institution : str, optional
        See :func:`build_nwbfile`.
    progress : callable, optional
        ``progress(done, total)`` in bytes (:func:`build_nwbfile`).

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
                                institution, progress)
        with atomic_output(out) as tmp, warnings.catch_warnings():
            # the temporary name ends in .tmp; the final one is checked above
            warnings.filterwarnings("ignore", message=".*does not end in '.nwb'")
            with NWBHDF5IO(tmp, mode="w") as io:
                io.write(nwbfile)
    return out
