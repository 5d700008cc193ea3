"""Scale-out: a stimulus set simulated in chunks by Dask workers, streamed into one file.

A :class:`SimulationCluster` runs the chunks of a stimulus set on

- nothing but this process (``workers=1``, no scheduler): the network's engine directly
  (:func:`~ipvae_brian.models.engines.run_chunks`), and Dask is not even imported;
- a ``dask.distributed.LocalCluster`` of ``workers`` processes with one thread each
  (the default: as many as the machine has cores, capped at the number of chunks;
  one chunk runs in-process);
- an existing Dask cluster (``scheduler="tcp://host:8786"``, e.g. started by
  dask-jobqueue on SLURM or PBS), with whatever workers it has.

Each chunk is one task, :func:`simulate_chunk`: the worker builds the network of the
run's parameters and resolved :class:`~ipvae_brian.models.config.RunConfig` once (a
per-process cache; for the standalone engine the compiled program stays loaded, see
:mod:`ipvae_brian.models.engines.standalone`) and simulates its stimuli. Results come
back to the process that owns the output file and are yielded in stimulus order, so
:class:`~ipvae_brian.models.recording.RecordingWriter` streams them into the
one HDF5 file; workers never write it. At most a few chunks per worker are in flight,
which bounds the memory of out-of-order results.

Reproducibility: every count is drawn from a counter of (seed, stimulus index, step,
neuron) (:mod:`ipvae_brian.models.random_streams`), so the counts are
bit-for-bit identical whatever the number of workers, the chunk size, or which worker
ran which chunk. A worker that dies (killed, out of memory, node lost) loses its chunks
in flight; the scheduler reruns them on another worker (up to Dask's
``distributed.scheduler.allowed-failures``, 3 by default) and, since the streams do not
depend on the worker, the file is the same as an undisturbed run's.

Streaming mode (no reset between stimuli) is sequential by nature: each stimulus starts
from the previous one's final potential, so it always runs in this process.

Interrupts and clean-up: a local cluster works in a private scratch folder (Dask's
``local_directory`` and the workers' ``TMPDIR``, so Brian2's logs too), removed when the
cluster stops, whatever stopped it; it starts and stops with SIGINT and SIGTERM held
(:func:`signals_held`: half a cluster could not be cleaned up), and its worker
processes never see the Ctrl-C that a terminal sends to the whole process group: the
process that owns the file alone decides what an interrupt means, and stops them.

References
----------
Dask Development Team (2016), "Dask: library for dynamic task scheduling",
https://dask.org; dask.distributed documentation, "Futures" and "Resilience".
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import math
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from typing import Callable, Iterator

import numpy as np

from ipvae_brian.models.config import RunConfig, machine_cores
from ipvae_brian.models.engines import run_chunks
from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.network import ChunkResult, IPVAENetwork
from ipvae_brian.models.parameters import IPVAEParameters


def network_key(params: IPVAEParameters, config: RunConfig) -> str:
    """Digest of everything that defines a network: its configuration and parameter values."""
    h = hashlib.sha256(repr(dataclasses.astuple(config)).encode())
    for name in ("Phi", "log_sigma", "u0", "log_bias"):
        h.update(np.ascontiguousarray(getattr(params, name)).tobytes())
    h.update(repr((params.log_lr, params.c_u, params.c_du, params.u_floor)).encode())
    return h.hexdigest()[:20]


#: Seconds to wait for a ``--scheduler`` to answer before giving up with one line.
SCHEDULER_TIMEOUT_S = 10.0


@contextlib.contextmanager
def _dask_logs_silenced(silence: bool):
    """Raise Dask's stream handlers in this process to CRITICAL for the block (if
    ``silence``; Dask's own log lines are not for the user, see :meth:`DaskRunner._start`)."""
    if not silence:
        yield
        return
    from distributed.utils import silence_logging_cmgr
    with silence_logging_cmgr(logging.CRITICAL):
        yield


@contextlib.contextmanager
def signals_held():
    """Hold SIGINT and SIGTERM for the duration of the block, then deliver them.

    A local cluster interrupted while it starts or stops would leave worker processes
    that outlive the run and write into its scratch folder after it was removed. Meanwhile
    a signal is only recorded; when the block ends, the handlers that were there before
    (the command line's: exit 130 or 143) are put back and each signal received is raised
    again. SIGINT is also blocked in this thread meanwhile, so that the threads started
    in the block, and the worker processes they spawn, inherit it blocked. Only in the
    main thread (elsewhere Python delivers no signals to handlers anyway).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list = []
    previous = {s: signal.signal(s, lambda signum, frame: held.append(signum))
                for s in (signal.SIGINT, signal.SIGTERM)}
    masks = hasattr(signal, "pthread_sigmask")            # (not on Windows)
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if masks else None
    try:
        yield
    finally:
        if masks:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)   # a pending SIGINT: held now
        for s, handler in previous.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)
        for s in dict.fromkeys(held):
            signal.raise_signal(s)


# --- the task, run by a worker ---------------------------------------------------------------

#: This process's networks, by :func:`network_key` (a worker keeps the last few).
_networks: dict[str, IPVAENetwork] = {}
_NETWORKS_KEPT = 4


def network_for(params: IPVAEParameters, config: RunConfig) -> IPVAENetwork:
    """The network of these parameters and this resolved configuration in this process:
    built once and kept (for the standalone engine the compiled program stays loaded)."""
    key = network_key(params, config)
    net = _networks.get(key)
    if net is None:
        while len(_networks) >= _NETWORKS_KEPT:
            _networks.pop(next(iter(_networks)))
        net = _networks[key] = IPVAENetwork(params, config)
    return net


def simulate_chunk(params: IPVAEParameters, config: RunConfig, x: np.ndarray, first: int,
                   seed: int | None) -> tuple[ChunkResult, dict]:
    """The task: simulate stimuli ``first .. first + len(x) - 1`` of the set.

    Returns the :class:`ChunkResult` and where and how it ran (``pid``, ``host``,
    ``seconds``, ``build_s``: seconds the standalone engine spent building in this task,
    0 when the worker's build was reused, and always 0 for the runtime engine, whose
    compiled code comes from the shared Cython cache).
    """
    start = time.perf_counter()
    net = network_for(params, config)
    net.timings = {}
    (result,) = run_chunks(net, x, seed=seed, first_stimulus=first)
    return result, {"first": first, "n": len(x), "pid": os.getpid(),
                    "host": socket.gethostname(), "seconds": time.perf_counter() - start,
                    "build_s": net.timings.get("build_s", 0.0)}


# --- the cluster, seen from the process that owns the file -------------------------------------

class SimulationCluster:
    """Where the chunks run: in this process, a local Dask cluster, or an existing one.

    Use as a context manager (the local cluster is started on entry and stopped on exit).

    Parameters
    ----------
    workers : int, optional
        1: in this process, no Dask. N > 1: a LocalCluster of N processes x 1 thread.
        None (default): as many as the machine has cores, but no more than there are
        chunks (see :meth:`simulate`), and one chunk runs in-process.
        Ignored with ``scheduler``.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``): use its workers.
    stream : bool
        Streaming mode: always in this process (module docstring).
    n_chunks : int, optional
        Number of chunks of the coming run(s), to size the default local cluster.

    Attributes
    ----------
    history : list of dict
        One entry per chunk received (first, n, pid, host, seconds, build_s), in the
        order they were written.
    note : str or None
        Why the run is in-process although more workers were possible.

    Examples
    --------
    >>> config = RunConfig(steps=16).resolve(len(x), params.n_latents)  # doctest: +SKIP
    >>> with SimulationCluster(workers=2) as cluster:            # doctest: +SKIP
    ...     for chunk in cluster.simulate(params, config, x, seed=0):
    ...         writer.append(chunk)
    """

    def __init__(self, workers: int | None = None, scheduler: str | None = None,
                 stream: bool = False, n_chunks: int | None = None):
        if workers is not None and (int(workers) != workers or workers < 1):
            raise SimulationInputError(f"--workers must be a positive integer, got {workers}")
        self.scheduler = scheduler
        self.note = None
        if stream:
            if scheduler or (workers or 1) > 1:
                self.note = ("streaming mode (no reset) is sequential: each stimulus starts "
                             "from the previous one's potential, so it runs in this process")
            self.scheduler, workers = None, 1
        if workers is None and not self.scheduler:
            workers = max(1, min(machine_cores(), n_chunks or machine_cores()))
        self.workers = workers
        self.client = self._cluster = self._scratch = None
        self._entered = 0
        self.history: list[dict] = []

    @property
    def in_process(self) -> bool:
        return self.scheduler is None and self.workers == 1

    def __enter__(self):
        """Start the cluster (once: nested ``with`` blocks share it, e.g. a sweep's points)."""
        self._entered += 1
        if self.in_process or self.client is not None:
            return self
        try:
            self._start()
        except BaseException:
            self._entered -= 1
            self._stop()
            raise
        return self

    def _start(self):
        from distributed import Client, LocalCluster
        if self.scheduler:
            try:
                self.client = Client(self.scheduler, timeout=f"{SCHEDULER_TIMEOUT_S}s")
            except (OSError, TimeoutError, ValueError, TypeError) as exc:
                why = " ".join(str(exc).split()) or type(exc).__name__
                raise SimulationInputError(
                    f"--scheduler {self.scheduler!r}: no Dask scheduler answered within "
                    f"{SCHEDULER_TIMEOUT_S:g} s ({why}); check the address (tcp://host:port) "
                    f"and that the scheduler runs") from None
            return
        # multiprocessing starts its resource tracker the first time a process needs it,
        # and unblocks SIGINT in the thread that did (Python's bpo-33613): start it here,
        # before the block, so that the cluster's threads keep SIGINT blocked
        from multiprocessing import resource_tracker
        resource_tracker.ensure_running()
        with signals_held():
            self._scratch = tempfile.mkdtemp(prefix="ipvae-dask-")
            # Dask's own log lines are not for the user: failures reach this process as
            # exceptions, and an interrupted run's workers, stopped while they compute,
            # log their lost heartbeats at ERROR
            self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1,
                                         processes=True, dashboard_address=None,
                                         silence_logs=logging.CRITICAL,
                                         local_directory=self._scratch,
                                         scheduler_kwargs={"local_directory": self._scratch},
                                         env={"TMPDIR": self._scratch})
            self.client = Client(self._cluster)

    def __exit__(self, *exc):
        self._entered -= 1
        if self._entered > 0:
            return
        self._stop()

    def _stop(self):
        """Close the client and the local cluster, remove the scratch folder (signals held)."""
        client, cluster, scratch = self.client, self._cluster, self._scratch
        self.client = self._cluster = self._scratch = None
        if client is None and cluster is None and scratch is None:
            return
        # the cluster's silence_logs lasts only until its own close; a comm that a stopped
        # worker broke can still log (at INFO, with a traceback) while the scheduler shuts
        # down, so Dask stays silent here until client and cluster are closed
        with signals_held(), _dask_logs_silenced(cluster is not None):
            try:
                if client is not None:
                    client.close()
            finally:
                try:
                    if cluster is not None:
                        cluster.close()
                finally:
                    if scratch is not None:
                        shutil.rmtree(scratch, ignore_errors=True)

    def describe(self) -> str:
        """One line: where the chunks run."""
        if self.in_process:
            return "in this process (no Dask), 1 thread"
        if self.scheduler:
            return f"the Dask cluster at {self.scheduler}, 1 thread per task"
        return f"local Dask cluster: {self.workers} worker processes x 1 thread"

    def simulate(self, params: IPVAEParameters, config: RunConfig, x: np.ndarray,
                 seed: int | None, progress: Callable[[float], None] | None = None
                 ) -> Iterator[ChunkResult]:
        """Simulate the stimuli ``x`` (N x M or N x T x M); yield chunks in stimulus order.

        Parameters
        ----------
        params : IPVAEParameters
        config : RunConfig
            Resolved (:meth:`RunConfig.resolve`): every task runs it as it is.
        x : ndarray
        seed : int or None
            Seed of the random streams (None: fresh entropy, drawn once here).
        progress : callable, optional
            Called with the number of stimuli done (written in order) so far.
        """
        if not config.resolved:
            raise SimulationInputError("a run of chunks needs a resolved configuration "
                                       "(RunConfig.resolve)")
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1, np.uint32)[0])
        if self.in_process:
            yield from self._simulate_here(params, config, x, seed, progress)
        else:
            yield from self._simulate_on_cluster(params, config, x, seed, progress)

    def _simulate_here(self, params, config, x, seed, progress):
        start = time.perf_counter()
        net = network_for(params, config)
        for chunk in run_chunks(net, x, seed=seed, progress=progress):
            n = chunk.counts.shape[0]
            self.history.append({"first": chunk.first, "n": n, "pid": os.getpid(),
                                 "host": socket.gethostname(),
                                 "seconds": time.perf_counter() - start,
                                 "build_s": net.timings.get("build_s", 0.0)})
            start = time.perf_counter()
            yield chunk

    def _simulate_on_cluster(self, params, config, x, seed, progress):
        from distributed import as_completed
        N, size = x.shape[0], config.chunk_size
        key = network_key(params, config)[:8]
        firsts = list(range(0, N, size))
        futures = {}                 # future -> index of its chunk
        received = {}                # index -> (ChunkResult, info), waiting for its turn
        pending = as_completed()
        submitted = written = 0
        try:
            while written < len(firsts):
                if submitted < len(firsts):
                    window = max(4, 2 * len(self.client.nthreads()) + 2)
                while submitted < len(firsts) and submitted - written < window:
                    first = firsts[submitted]
                    future = self.client.submit(simulate_chunk, params, config,
                                                x[first:first + size], first, seed, pure=False,
                                                key=f"ipvae-chunk-{first}-{key}-"
                                                    f"{os.urandom(4).hex()}")
                    futures[future] = submitted
                    pending.add(future)
                    submitted += 1
                future = next(pending)
                index = futures.pop(future)
                received[index] = future.result()
                future.release()
                while written in received:
                    chunk, info = received.pop(written)
                    self.history.append(info)
                    written += 1
                    if progress is not None:
                        progress(chunk.first + chunk.counts.shape[0])
                    yield chunk
        finally:
            for future in futures:
                future.cancel()


def count_chunks(n_stimuli: int, chunk_size: int) -> int:
    """Number of tasks of a run."""
    return math.ceil(n_stimuli / chunk_size)


__all__ = ["SimulationCluster", "simulate_chunk", "network_for", "network_key",
           "count_chunks"]
