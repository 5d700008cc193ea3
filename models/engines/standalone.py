"""The ``cpp_standalone`` engine of :class:`ipvae_brian.models.network.IPVAENetwork`.

Brian2's standalone device turns the network into a C++ program (OpenMP threads
over neurons). A :class:`StandaloneProgram` builds it once per shape into the
cache folder and reruns the same binary for every chunk of stimuli with
``device.run(run_args=...)`` (Brian2 >= 2.6), which replaces, without recompiling:

- the values of the drive ``TimedArray`` (one chunk of stimuli, padded with
  zero drive to the fixed chunk size; padded stimuli are discarded);
- the parameters: ``latents.u0``, ``latents.b``, ``latents.eta``, the clamps
  ``latents.c_u``, ``latents.c_du``, ``latents.u_floor`` and the lateral weights
  ``lateral.w``, so another parameter file of the same shape reuses the build (the
  learning schedule changes the clamps every minibatch);
- the random streams: the key of the seed and the index of the chunk's first
  stimulus (``stimulus_streams.stream_key`` and ``.stimulus``), from which every count's
  counter follows (see :mod:`ipvae_brian.models.random_streams`);
- in streaming mode the starting potential ``latents.u``.

Build once, run many times, in any number of processes:

- Building regenerates the code into the shared cache folder (Brian2 needs its
  objects to pass ``run_args`` and read the results back) but compiles only once per
  folder (:data:`COMPILED_MARKER`): a later build of the same shape takes about 0.3 s
  here. A file lock serialises processes building the same shape.
- The built program stays loaded in the process (one at a time: the standalone
  device is process-wide state), so later runs of the same shape, by this or
  another :class:`IPVAENetwork` of the same shape, skip the build entirely. This is
  what makes the build "once per worker" in :mod:`ipvae_brian.models.engines.distributed`.
- Each process runs its own copy of the binary and its static arrays in a private
  temporary folder: Brian2 writes every run's ``run_args`` arrays next to the program
  and deletes them afterwards, which would race between processes sharing a folder.

OpenMP threads busy-wait at their barriers: two standalone simulations on the same
cores slow each other down many times over (measured: 3 programs x 2 threads on 2
cores, over 50x). Run one at a time per set of cores, or give each one thread
(``threads=1``, ``IPVAE_THREADS=1``; the distributed runner does so and gets its
parallelism from processes). ``OMP_WAIT_POLICY=passive`` avoids the spinning but
made a single run 5x slower here.

References
----------
Stimberg, Goodman & Nowotny (2020), "Brian2GeNN / standalone" and the Brian2
documentation, "Computational methods and efficiency: standalone code generation,
multiple runs with run_args".
"""
from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
import time

import numpy as np

import brian2
from brian2 import TimedArray, prefs, set_device
from brian2.devices.device import get_device, reset_device
from brian2.utils.filelock import FileLock

from ipvae_brian.models.equations import (FEEDFORWARD_DRIVE, LATENT_EQUATIONS,
                                          LATERAL_MATRIX_PRODUCT, LATERAL_ON_PRE,
                                          MEMBRANE_UPDATE, POISSON_COUNTS,
                                          POISSON_COUNTS_FINISH,
                                          STIMULUS_ONSET_COUNT, STIMULUS_STREAM_EQUATIONS)
from ipvae_brian.models.functions import LATERAL_PRODUCT_CPP, LATERAL_PRODUCT_LANES_CPP
from ipvae_brian.models.lanes import groups, laned
from ipvae_brian.models.populations import LatentPopulation, float_precision
from ipvae_brian.models.random_streams import POISSON_FINISH_CPP, POISSON_HEAD_CPP

#: Changes whenever the generated program changes in a way the build key below cannot
#: see (e.g. the random streams), so that old builds in the cache are not reused.
#: 7: the precision (float64 or float32) is part of the build; the lateral product's
#: pointers take the network's floating-point type. 8: counts from the counter-based
#: generator (no reseeding).
PROGRAM_VERSION = 8

#: g++ options of the program: Brian2's defaults without ``-fno-finite-math-only``. GCC 12
#: vectorises calls to exp and log1p (with glibc's vector math library) only under
#: ``-ffinite-math-only``: the membrane update (two exp and two log1p per neuron) ran 3x
#: faster. The network computes no infinities or NaNs; the infinite bounds of its clips are
#: constants that the comparisons fold, and the float64 equivalence tests hold to 1e-10.
COMPILE_ARGS = ("-w", "-O3", "-ffast-math", "-march=native", "-std=c++11")

#: Written into a build folder once its program has compiled, with the SHA-256 of the
#: binary; later builds of the same shape regenerate the code (Brian2 needs its objects)
#: but do not run make, unless the binary no longer matches (:func:`verified_build`).
COMPILED_MARKER = "compiled.ok"

_lock = threading.RLock()  # the standalone device (and os.chdir in its runs) is process-wide
_loaded: "StandaloneProgram | None" = None


@contextlib.contextmanager
def _compile_args(args):
    """Brian2's g++ options set to ``args`` for the block (a build), then restored."""
    previous = prefs.codegen.cpp.extra_compile_args_gcc
    prefs.codegen.cpp.extra_compile_args_gcc = list(args)
    try:
        yield
    finally:
        prefs.codegen.cpp.extra_compile_args_gcc = previous


def build_directory(net, chunk: int, threads: int) -> str:
    """Cache folder of the build for this network shape (shared across processes)."""
    p = net.params
    key = repr((PROGRAM_VERSION, brian2.__version__, p.n_latents, net.steps, net.substeps,
                chunk, net.movie, net.stream, net.record_u, net.draw_counts,
                net.lateral_inhibition, net.lateral, net.profile, threads, net.precision,
                float(net.bin_width), LATENT_EQUATIONS, MEMBRANE_UPDATE, POISSON_COUNTS,
                FEEDFORWARD_DRIVE, COMPILE_ARGS,
                STIMULUS_STREAM_EQUATIONS, STIMULUS_ONSET_COUNT, LATERAL_ON_PRE,
                LATERAL_MATRIX_PRODUCT, LATERAL_PRODUCT_CPP, POISSON_HEAD_CPP,
                POISSON_FINISH_CPP, POISSON_COUNTS_FINISH, net.lanes,
                LATERAL_PRODUCT_LANES_CPP))
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    root = os.path.dirname(prefs.codegen.runtime.cython.cache_dir)
    return os.path.join(root, "standalone", f"K{p.n_latents}_T{net.steps}_C{chunk}_{digest}")


def _digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(2 ** 20), b""):
            h.update(block)
    return h.hexdigest()


def verified_build(directory: str) -> bool:
    """True if the build folder holds a compiled program that is intact: the marker
    :data:`COMPILED_MARKER` exists and records the SHA-256 of ``main``, which matches.

    A damaged program (a truncated copy, a disk error, an interrupted write) would fail
    on every later run (``Exec format error``) while the marker claims it compiled; here
    it is removed with its marker, and the caller compiles again (make relinks it). A
    marker from before digests were recorded is trusted if ``main`` is an ELF or Mach-O
    executable, and gets the digest.
    """
    marker = os.path.join(directory, COMPILED_MARKER)
    binary = os.path.join(directory, "main")
    if not (os.path.exists(marker) and os.path.isfile(binary)):
        return False
    with open(marker) as f:
        recorded = [line.split()[1] for line in f if line.startswith("sha256 ")]
    actual = _digest(binary)
    if recorded and recorded[-1] == actual:
        return True
    if not recorded:
        with open(binary, "rb") as f:
            magic = f.read(4)
        if magic in (b"\x7fELF", b"\xcf\xfa\xed\xfe") and os.access(binary, os.X_OK):
            with open(marker, "a") as f:
                f.write(f"sha256 {actual}\n")
            return True
    for path in (marker, binary):
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
    return False


class StandaloneProgram:
    """The network of one shape compiled with ``cpp_standalone``, ready to run chunks.

    Parameters
    ----------
    net : IPVAENetwork
        Any network of the shape (its parameter values are only the build's defaults).
    chunk : int
        Stimuli per run (shorter runs are padded with zero drive).
    threads : int
        OpenMP threads (the counts do not depend on it: counter-based draws).

    With stimuli side by side (``net.lanes`` > 1) one run simulates ceil(chunk / lanes)
    groups of lanes stimuli, the drive laid out by :func:`~ipvae_brian.models.lanes.laned`.

    The network's ``precision`` is Brian2's default float type while the program is
    generated and compiled (:func:`~ipvae_brian.models.populations.float_precision`).

    Attributes
    ----------
    directory : str
        The shared build folder in the cache.
    run_directory : str
        This process's private copy of the binary, where it runs.
    build_s : float
        Seconds spent generating code and compiling (or finding nothing to compile).
    """

    def __init__(self, net, chunk: int, threads: int):
        self.chunk, self.threads = int(chunk), int(threads)
        self.lanes = net.lanes
        self.groups = groups(self.chunk, self.lanes)   # one run: groups of lanes side by side
        self.directory = build_directory(net, self.chunk, self.threads)
        self.rows = net.steps if net.movie else 1
        os.makedirs(os.path.dirname(self.directory), exist_ok=True)
        start = time.perf_counter()
        with FileLock(self.directory + ".lock"), float_precision(net.precision), \
                _compile_args(COMPILE_ARGS):
            set_device("cpp_standalone", directory=self.directory, build_on_run=False,
                       with_output=False)
            prefs.devices.cpp_standalone.openmp_threads = self.threads
            self.device = get_device()
            try:
                K = net.params.n_latents
                self.feedforward = TimedArray(
                    np.zeros((self.groups * self.rows, self.lanes * K)), dt=net.frame_dt(),
                    name="feedforward")
                self.objects = net.build_objects()
                self.monitors = net.monitors(self.objects.latents)
                self.objects.network.add(*self.monitors)
                self.objects.network.run(self.groups * net.steps * net.bin_width,
                                         namespace=net.namespace(self.feedforward, self.objects),
                                         profile=net.profile)
                # the code of a shape is the same in every build (the folder is named by
                # its key), but Brian2 writes main.cpp's clock initialisations in a
                # set's order, which differs between processes: make would rebuild and
                # relink main (about 1 s) every time. Compile once, then mark it done.
                marker = os.path.join(self.directory, COMPILED_MARKER)
                compiled = verified_build(self.directory)
                try:
                    self.device.build(directory=self.directory, compile=not compiled,
                                      run=False, with_output=False)
                except RuntimeError as exc:
                    # make killed by Ctrl-C (wait status 2 = SIGINT); Python ignores SIGINT
                    # while os.system waits, so this is the only trace of the interrupt
                    if "compilation failed (error code: 2)" in str(exc):
                        raise KeyboardInterrupt from None
                    raise
                if not compiled:
                    with open(marker, "w") as f:
                        f.write(f"compiled by process {os.getpid()} at {time.ctime()}\n"
                                f"sha256 {_digest(os.path.join(self.directory, 'main'))}\n")
                self.pre = np.asarray(self.objects.lateral.i[:])
                self.post = np.asarray(self.objects.lateral.j[:])
                self.run_directory = self._private_copy()
            except BaseException:
                self.device.reinit()
                raise
            finally:
                reset_device()
        self.build_s = time.perf_counter() - start

    def _private_copy(self) -> str:
        """Copy the binary and its static arrays to a private folder and run from there.

        The folder is removed when the program is unloaded or the process exits; folders
        left by processes that were killed (a lost Dask worker) are removed here."""
        _remove_folders_of_dead_processes()
        folder = tempfile.mkdtemp(prefix=f"{_RUN_FOLDER_PREFIX}{os.getpid()}-")
        shutil.copy2(os.path.join(self.directory, "main"), os.path.join(folder, "main"))
        shutil.copytree(os.path.join(self.directory, "static_arrays"),
                        os.path.join(folder, "static_arrays"),
                        ignore=shutil.ignore_patterns("init_*", "*.lock"))
        self.device.project_dir = folder
        return folder

    def run(self, net, drive: np.ndarray, first_stimulus: int, n: int, key: int,
            initial_u: np.ndarray | None = None, initial_z: np.ndarray | None = None):
        """Run one chunk: ``drive`` (chunk x rows, K) holds ``n`` real stimuli, then padding.

        Returns the :class:`~ipvae_brian.models.network.ChunkResult` and, in streaming mode, the
        final potential u (else None).
        """
        if _loaded is not self:
            raise RuntimeError("this standalone program was unloaded: another network shape "
                               "was built in this process since")
        p = net.params
        o = self.objects
        if self.lanes > 1:
            drive = laned(drive, self.lanes)
        run_args = {getattr(o.latents, name): value for name, value
                    in LatentPopulation.parameter_values(p, self.lanes).items()}
        run_args.update({self.feedforward: drive,
                         o.lateral.w: p.lateral_weights[self.post, self.pre],
                         o.streams.stream_key: key, o.streams.stimulus: first_stimulus})
        if initial_u is not None:
            run_args[o.latents.u] = initial_u
        if initial_z is not None:
            run_args[o.latents.z] = np.asarray(initial_z)
        self.device.run(run_args=run_args, results_directory="results", with_output=False)
        try:
            if net.profile:  # seconds per code object, summed over the chunks of the run
                for name, seconds in self.device.network_get_profiling_info(o.network):
                    net.profiling_info[name] = net.profiling_info.get(name, 0.0) + float(seconds)
            result = net.collect(first_stimulus, n, 0.0, *self.monitors)
            u = np.asarray(o.latents.u[:]) if net.stream else None
        finally:
            self.device.delete(code=False, data=False, run_args=True, directory=False,
                               force=True)
        return result, u

    def unload(self) -> None:
        """Forget the program's Brian2 state (the cache folder stays) and its private copy."""
        global _loaded
        if _loaded is self:
            _loaded = None
        self.device.reinit()
        shutil.rmtree(self.run_directory, ignore_errors=True)


def load_program(net, chunk: int, threads: int) -> tuple[StandaloneProgram, bool]:
    """The program for this shape: the one loaded in this process if it matches, else a new
    build (unloading the previous one). Returns (program, True if it was already loaded)."""
    global _loaded
    if _loaded is not None and _loaded.directory == build_directory(net, chunk, threads):
        return _loaded, True
    if _loaded is not None:
        _loaded.unload()
    _loaded = StandaloneProgram(net, chunk, threads)
    return _loaded, False


_RUN_FOLDER_PREFIX = "ipvae-standalone-"


def _remove_folders_of_dead_processes() -> None:
    """Remove the private run folders (``ipvae-standalone-PID-*``) of processes that are gone."""
    root = tempfile.gettempdir()
    for name in os.listdir(root):
        if not name.startswith(_RUN_FOLDER_PREFIX):
            continue
        pid = name[len(_RUN_FOLDER_PREFIX):].split("-")[0]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}") and os.path.isdir("/proc"):
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)


@atexit.register
def _unload_at_exit():
    if _loaded is not None:
        shutil.rmtree(_loaded.run_directory, ignore_errors=True)


def run_standalone(net, frames: np.ndarray, n_stimuli: int, key: int, progress,
                   initial_u, initial_z, first_stimulus: int = 0):
    """Simulate ``n_stimuli`` stimuli whose drive rows are ``frames``; yield ChunkResults.

    Parameters
    ----------
    net : IPVAENetwork
    frames : ndarray, shape (n_stimuli * rows, K)
        The drive, one row per stimulus (rows = 1) or per movie frame (rows = T).
    n_stimuli : int
    key : int
        :func:`ipvae_brian.models.random_streams.stream_key` of the seed.
    progress : callable or None
    initial_u, initial_z : ndarray or None
        See :meth:`IPVAENetwork.run`.
    first_stimulus : int
        Global index of the first stimulus (selects the random streams).
    """
    K = net.params.n_latents
    rows = net.steps if net.movie else 1
    chunk = net.chunk_rows(n_stimuli)
    threads = net.threads
    with _lock:
        program, reused = load_program(net, chunk, threads)
    net.timings = {"build_s": 0.0 if reused else program.build_s,
                   "directory": program.directory, "threads": threads,
                   "build_reused": reused}
    u = None
    if net.stream:
        u = net.params.u0 if initial_u is None else np.asarray(initial_u, dtype=float)
    for first in range(0, n_stimuli, chunk):
        n = min(chunk, n_stimuli - first)
        values = np.zeros((chunk * rows, K))
        values[:n * rows] = frames[first * rows:(first + n) * rows]
        with _lock:
            result, u = program.run(net, values, first_stimulus + first, n, key,
                                    initial_u=u, initial_z=initial_z)
        if progress is not None:
            progress(first + n)
        yield result
