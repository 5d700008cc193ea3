"""Recordings: what a simulation writes (HDF5), streamed chunk by chunk, and how to read it.

Layout (readable with plain h5py; every dataset has ``description`` and ``units``
attributes; the root has ``format = "ipvae-brian/recording"`` and
``format_version``)::

    /                      attrs: seed, random_generator, mode, precision, bin_width
                           (s), dt (s), steps, stream, n_stimuli, n_latents, n_pixels,
                           software and Brian2 versions, command_line, created
    /params/...            a copy of the parameters (see models.parameters)
    /stimuli/x             (N, M) images or (N, T, M) movies; attrs: generator, params
                           (JSON) and every scalar generator parameter, image_shape
    /stimuli/labels        (N,) optional
    /counts                (N, T, K) unsigned integers: spike counts z_t, chunked, gzip
    /u                     (N, T, K) float64 (float32 at precision float32), optional: u_t
                           the counts were drawn from
    /reconstructions       (N, T, M) float32, optional: x_hat_t = Phi z_t
    /spikes/{times, neurons, stimuli}   continuous mode: one entry per spike; times in
                           seconds from the onset of the spike's stimulus (stimulus n
                           starts at n T tau of the run when u is reset per stimulus)

The file is written under a temporary name in the output folder and renamed
when complete (:func:`ipvae_brian.models.atomic_file.atomic_output`).

Format versions: 1, the first; 2 adds the root attribute ``precision`` (float64 or
float32, the network's floating-point type; a version-1 file was float64) and stores
``/u`` in that type; 3: the counts are drawn from the counter-based generator named by the
root attribute ``random_generator``
(:data:`~ipvae_brian.models.random_streams.GENERATOR`; versions 1 and 2 drew from MT19937
reseeded at every stimulus onset, so the same seed gave other counts).
"""
from __future__ import annotations

import contextlib
import datetime
import json
import sys

import h5py
import numpy as np

from ipvae_brian.models.atomic_file import atomic_output
from ipvae_brian.models.errors import FileFormatError
from ipvae_brian.models.config import OPTIONAL_RECORDS
from ipvae_brian.models.network import ChunkResult
from ipvae_brian.models.parameters import IPVAEParameters, count_dtype, open_hdf5
from ipvae_brian.models.random_streams import GENERATOR
from ipvae_brian.stimuli.input_limits import CheckedDataset, check_dataset, read_dataset
from ipvae_brian.stimuli.stimulus_set import StimulusError, StimulusSet

RECORDING_FORMAT = "ipvae-brian/recording"
RECORDING_FORMAT_VERSION = 3


def _stimulus_attrs(params: dict) -> dict:
    """Generator parameters that HDF5 can hold as plain attributes (scalars, strings, lists)."""
    attrs = {}
    for key, value in params.items():
        if isinstance(value, (bool, int, float, str)):
            attrs[key] = value
        elif isinstance(value, (list, tuple)) and value and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            attrs[key] = np.asarray(value)
    return attrs


def write_stimuli(group: h5py.Group, stimuli: StimulusSet) -> None:
    """Write a :class:`StimulusSet` (pixels, labels, generator and parameters) into ``group``."""
    dims = "stimulus, frame, pixel" if stimuli.is_movie else "stimulus, pixel"
    x = group.create_dataset("x", data=stimuli.x, chunks=True, compression="gzip",
                             compression_opts=1, shuffle=True)
    x.attrs["description"] = (f"stimuli shown to the network ({dims}); pixels of an "
                              f"{stimuli.image_shape[0]} x {stimuli.image_shape[1]} image, "
                              f"flattened row-major")
    x.attrs["units"] = "z-scored pixel intensity"
    if stimuli.labels is not None:
        labels = group.create_dataset("labels", data=stimuli.labels)
        labels.attrs["description"] = "label or condition index of each stimulus"
        labels.attrs["units"] = "1"
    group.attrs["generator"] = stimuli.name
    group.attrs["params"] = json.dumps(stimuli.params)
    group.attrs["image_shape"] = np.asarray(stimuli.image_shape)
    for key, value in _stimulus_attrs(stimuli.params).items():
        group.attrs["param_" + key] = value
    group.attrs["description"] = "the stimuli, their generator and its parameters"


def read_stimuli(group: h5py.Group) -> StimulusSet:
    """Inverse of :func:`write_stimuli`."""
    source = group.file.filename
    labels = (read_dataset(group, "labels", source, error=FileFormatError)
              if "labels" in group else None)
    try:
        params = json.loads(group.attrs["params"])
    except (TypeError, ValueError) as exc:
        raise FileFormatError(f"{source}: /stimuli attribute params is not JSON ({exc})") \
            from None
    return StimulusSet(name=str(group.attrs["generator"]), x=read_dataset(group, "x", source,
                                                                  error=FileFormatError),
                       image_shape=tuple(int(s) for s in group.attrs["image_shape"]),
                       params=params, labels=labels)


class RecordingWriter:
    """Stream a simulation into a recording file, chunk by chunk.

    Use as a context manager: the file appears under ``path`` only if the
    ``with`` block ends without an exception (Ctrl-C included).

    Parameters
    ----------
    path : str
        Final file name; its folder must exist.
    params : IPVAEParameters
    stimuli : StimulusSet
    steps : int
        T, bins per stimulus.
    attrs : dict
        Root attributes (seed, mode, precision, bin_width, dt, stream, command_line, ...);
        ``precision = "float32"`` stores ``/u`` as float32.
    record : iterable of str
        Optional datasets: ``"u"`` and/or ``"recon"``.
    spikes : bool
        Continuous mode: also store every spike (``/spikes``).

    Examples
    --------
    >>> with RecordingWriter(path, params, stimuli, steps=16, attrs={"seed": 0}) as w:  # doctest: +SKIP
    ...     for chunk in network.run(stimuli.x, seed=0):
    ...         w.append(chunk)

    :func:`ipvae_brian.models.simulation.simulate` does this (``out=path``).
    """

    def __init__(self, path, params: IPVAEParameters, stimuli: StimulusSet, steps: int,
                 attrs: dict | None = None, record=(), spikes: bool = False):
        unknown = set(record) - set(OPTIONAL_RECORDS)
        if unknown:
            raise FileFormatError(f"unknown --record item(s) {sorted(unknown)}; allowed: "
                                  f"{', '.join(OPTIONAL_RECORDS)}")
        self.path = path
        self.params = params
        self.stimuli = stimuli
        self.steps = int(steps)
        self.attrs = dict(attrs or {})
        self.record = tuple(record)
        self.spikes = spikes
        self._stack = contextlib.ExitStack()
        self.file = None
        self.n_written = 0

    def __enter__(self):
        tmp = self._stack.enter_context(atomic_output(self.path))
        self.file = self._stack.enter_context(h5py.File(tmp, "w"))
        self._write_header()
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None and self.n_written != self.stimuli.n_stimuli:
            exc = FileFormatError(f"recording incomplete: {self.n_written} of "
                                  f"{self.stimuli.n_stimuli} stimuli written")
            self._stack.__exit__(type(exc), exc, None)
            raise exc
        return self._stack.__exit__(exc_type, exc, tb)

    def _write_header(self):
        import brian2
        from ipvae_brian import __version__
        f, p = self.file, self.params
        N, T, K, M = self.stimuli.n_stimuli, self.steps, p.n_latents, p.n_pixels
        f.attrs["format"] = RECORDING_FORMAT
        f.attrs["format_version"] = RECORDING_FORMAT_VERSION
        f.attrs["random_generator"] = GENERATOR
        f.attrs["software_version"] = __version__
        f.attrs["brian2_version"] = brian2.__version__
        f.attrs["created"] = datetime.datetime.now(datetime.timezone.utc).isoformat()
        f.attrs["command_line"] = " ".join(sys.argv)  # the caller's attrs may override it
        f.attrs["steps"] = T
        f.attrs["n_stimuli"] = N
        f.attrs["n_latents"] = K
        f.attrs["n_pixels"] = M
        for key, value in self.attrs.items():
            f.attrs[key] = value
        p.write_group(f.create_group("params"))
        write_stimuli(f.create_group("stimuli"), self.stimuli)
        chunk_rows = max(1, min(N, 2 ** 20 // max(1, T * K)))
        counts = f.create_dataset("counts", shape=(N, T, K), dtype=count_dtype(p),
                                  chunks=(chunk_rows, T, K), compression="gzip",
                                  compression_opts=1, shuffle=True)
        counts.attrs["description"] = ("spike counts z_t of every latent neuron in every bin "
                                       "(stimulus, bin, neuron)")
        counts.attrs["units"] = "spikes per bin"
        if "u" in self.record:
            u_dtype = np.float32 if self.attrs.get("precision") == "float32" else np.float64
            u = f.create_dataset("u", shape=(N, T, K), dtype=u_dtype,
                                 chunks=(chunk_rows, T, K), compression="gzip",
                                 compression_opts=1)
            u.attrs["description"] = ("membrane potential u_t (log firing rate) from which "
                                      "the counts of bin t were drawn (stimulus, bin, neuron)")
            u.attrs["units"] = "log(spikes per bin)"
        if "recon" in self.record:
            rows = max(1, min(N, 2 ** 20 // max(1, T * M)))
            r = f.create_dataset("reconstructions", shape=(N, T, M), dtype=np.float32,
                                 chunks=(rows, T, M), compression="gzip", compression_opts=1,
                                 shuffle=True)
            r.attrs["description"] = ("reconstruction x_hat_t = Phi z_t of bin t (stimulus, "
                                      "bin, pixel), stored as float32")
            r.attrs["units"] = "z-scored pixel intensity"
        if self.spikes:
            g = f.create_group("spikes")
            g.attrs["description"] = ("every spike of the continuous-time mode; a step with "
                                      "z > 1 holds z spikes at the same time")
            for name, dtype, units, description in (
                    ("times", np.float64, "s", "spike time from the onset of its stimulus "
                     "(start of the time step it fell in)"),
                    ("neurons", np.uint32, "1", "index of the latent neuron that spiked"),
                    ("stimuli", np.uint32, "1", "index of the stimulus it was shown")):
                d = g.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype,
                                     chunks=(2 ** 16,), compression="gzip", compression_opts=1)
                d.attrs["description"] = description
                d.attrs["units"] = units

    def append(self, chunk: ChunkResult) -> None:
        """Write the next chunk of results (chunks arrive in stimulus order)."""
        if chunk.first != self.n_written:
            raise FileFormatError(f"chunk starts at stimulus {chunk.first}, expected "
                                  f"{self.n_written}")
        sl = slice(chunk.first, chunk.first + chunk.counts.shape[0])
        self.file["counts"][sl] = chunk.counts
        if "u" in self.record:
            self.file["u"][sl] = chunk.u
        if "recon" in self.record:
            self.file["reconstructions"][sl] = chunk.counts @ self.params.Phi.T
        if self.spikes:
            g = self.file["spikes"]
            for name, values in (("times", chunk.spike_times), ("neurons", chunk.spike_neurons),
                                 ("stimuli", chunk.spike_stimuli)):
                d = g[name]
                d.resize((d.shape[0] + values.shape[0],))
                d[d.shape[0] - values.shape[0]:] = values
        self.n_written = sl.stop


class Recording:
    """A recording opened for reading; datasets are read lazily (h5py).

    Examples
    --------
    >>> with Recording.open("run.h5") as rec:  # doctest: +SKIP
    ...     counts = rec.counts[:10]          # (10, T, K)
    ...     print(rec.params.n_latents, rec.attrs["seed"])
    """

    def __init__(self, file: h5py.File, path: str):
        self.file = file
        self.path = path
        try:
            self.params = IPVAEParameters.read_group(file["params"], source=path)
            self.stimuli = read_stimuli(file["stimuli"])
            self.counts = CheckedDataset(
                check_dataset(file, "counts", path, error=FileFormatError), path,
                FileFormatError)
        except (KeyError, OSError, StimulusError) as exc:
            file.close()
            raise FileFormatError(f"{path}: incomplete or corrupt recording: {exc}") from None
        except FileFormatError:
            file.close()
            raise
        self.attrs = dict(file.attrs)
        self.u = (CheckedDataset(check_dataset(file, "u", path, error=FileFormatError), path,
                                 FileFormatError) if "u" in file else None)
        self.reconstructions = (CheckedDataset(check_dataset(file, "reconstructions", path,
                                                              error=FileFormatError),
                                                path, FileFormatError)
                                if "reconstructions" in file else None)
        self.spikes = file["spikes"] if "spikes" in file else None

    @classmethod
    def open(cls, path) -> "Recording":
        """Open a recording file; a clear :class:`FileFormatError` if it is not one."""
        f = open_hdf5(str(path), expected_formats=(RECORDING_FORMAT,))
        return cls(f, str(path))

    def close(self):
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
