"""Scale-out: a stimulus set simulated in chunks by Dask workers, streamed into one file.

A :class:`SimulationCluster` runs the chunks of a stimulus set on

- nothing but this process (``workers=1``, no scheduler): :meth:`IPVAENetwork.run`
  directly, and Dask is not even imported;
- a ``dask.distributed.LocalCluster`` of ``workers`` processes with one thread each
  (the default: as many as the machine has cores, capped at the number of chunks;
  one chunk runs in-process);
- an existing Dask cluster (``scheduler="tcp://host:8786"``, e.g. started by
  dask-jobqueue on SLURM or PBS), with whatever workers it has.

Each chunk is one task, :func:`simulate_chunk`: the worker builds the network of
the run's :class:`NetworkSpec` once (a per-process cache; for the standalone engine
the compiled program stays loaded, see :mod:`models.standalone`) and simulates its
stimuli. Results come back to the process that owns the output file and are yielded
in stimulus order, so :class:`models.recording.RecordingWriter` streams them into the
one HDF5 file; workers never write it. At most a few chunks per worker are in flight,
which bounds the memory of out-of-order results.

Reproducibility: every stimulus draws from its own random stream, seeded from (seed,
stimulus index) at its onset (:mod:`models.network`), and every simulation uses one
thread (the standalone engine's draws depend on its thread count), so the counts are
bit-for-bit identical whatever the number of workers, the chunk size, or which worker
ran which chunk. A worker that dies (killed, out of memory, node lost) loses its chunks
in flight; the scheduler reruns them on another worker (up to Dask's
``distributed.scheduler.allowed-failures``, 3 by default) and, since the streams do not
depend on the worker, the file is the same as an undisturbed run's.

Streaming mode (no reset between stimuli) is sequential by nature: each stimulus starts
from the previous one's final potential, so it always runs in this process.

References
----------
Dask Development Team (2016), "Dask: library for dynamic task scheduling",
https://dask.org; dask.distributed documentation, "Futures" and "Resilience".
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import socket
import time
from typing import Callable, Iterator

import numpy as np

from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.network import LATERAL_PROPAGATIONS, ChunkResult, IPVAENetwork, chunk_entries
from ipvae_brian.models.parameters import IPVAEParameters

#: Count entries (stimuli x bins x neurons) per task by default: 2^24 (256 stimuli at
#: K = 512, T = 128; 32 MiB of counts to send back). Fixed, not derived from N, because
#: the standalone engine compiles one program per chunk size.
TASK_ENTRIES = 2 ** 24

#: Threads of one simulation: parallelism comes from processes (see module docstring).
THREADS_PER_SIMULATION = 1


def machine_cores() -> int:
    """Cores this process may use (the default number of local workers)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover (not Linux)
        return max(1, os.cpu_count() or 1)


@dataclasses.dataclass(frozen=True, eq=False)
class NetworkSpec:
    """Everything a worker needs to build the network: picklable, sent with every task.

    Attributes
    ----------
    params : IPVAEParameters
    steps : int
        T, bins per stimulus.
    engine : {"runtime", "standalone"}
        Resolved for the whole run (never "auto": a chunk alone would choose differently).
    chunk_size : int
        Stimuli per task.
    stream, movie, record_u, lateral_inhibition : bool
    lateral : {"synapses", "matrix"}
        How the lateral term is delivered (:class:`~models.network.LateralInhibition`),
        resolved for the whole run like the engine.
    bin_width, dt : float
        In seconds.
    threads : int
        Threads of one simulation (:data:`THREADS_PER_SIMULATION`).
    """

    params: IPVAEParameters
    steps: int
    engine: str
    chunk_size: int
    stream: bool = False
    movie: bool = False
    record_u: bool = False
    lateral_inhibition: bool = True
    lateral: str = "synapses"
    bin_width: float = 0.025
    dt: float = 0.025
    threads: int = THREADS_PER_SIMULATION

    def __post_init__(self):
        if self.engine not in ("runtime", "standalone"):
            raise SimulationInputError(f"a distributed run needs a resolved engine (runtime or "
                                       f"standalone), got {self.engine!r}")
        if self.lateral not in LATERAL_PROPAGATIONS:
            raise SimulationInputError(f"a distributed run needs a resolved lateral "
                                       f"propagation (synapses or matrix), got {self.lateral!r}")
        if int(self.chunk_size) != self.chunk_size or self.chunk_size < 1:
            raise SimulationInputError(f"--chunk-size must be a positive integer, got "
                                       f"{self.chunk_size}")

    @classmethod
    def from_network(cls, net: IPVAENetwork, n_stimuli: int,
                     chunk_size: int | None = None) -> "NetworkSpec":
        """The spec of ``net`` for a run of ``n_stimuli`` (resolves ``engine="auto"``).

        The default chunk size holds :data:`TASK_ENTRIES` count entries (at most the
        network's own chunk size, at most ``n_stimuli``).
        """
        if chunk_size is None:
            chunk_size = default_chunk_size(net, n_stimuli)
        return cls(params=net.params, steps=net.steps, engine=net.choose_engine(n_stimuli),
                   chunk_size=chunk_size, stream=net.stream, movie=net.movie,
                   record_u=net.record_u, lateral_inhibition=net.lateral_inhibition,
                   lateral=net.choose_lateral(n_stimuli),
                   bin_width=float(net.bin_width), dt=float(net.dt))

    def network(self) -> IPVAENetwork:
        """A new network for this spec (padded chunks: one build serves all its tasks)."""
        from brian2 import second
        return IPVAENetwork(self.params, self.steps, stream=self.stream, movie=self.movie,
                            bin_width=self.bin_width * second, dt=self.dt * second,
                            record_u=self.record_u, chunk_size=self.chunk_size,
                            engine=self.engine, lateral_inhibition=self.lateral_inhibition,
                            lateral=self.lateral,
                            threads=self.threads, pad_chunks=True)

    @property
    def key(self) -> str:
        """Digest of everything that defines the network (shape, engine, parameter values)."""
        digest = getattr(self, "_key", None)
        if digest is None:
            h = hashlib.sha256(repr((self.steps, self.engine, self.chunk_size, self.stream,
                                     self.movie, self.record_u, self.lateral_inhibition,
                                     self.lateral,
                                     self.bin_width, self.dt, self.threads)).encode())
            p = self.params
            for name in ("Phi", "log_sigma", "u0", "log_bias"):
                h.update(np.ascontiguousarray(getattr(p, name)).tobytes())
            h.update(repr((p.log_lr, p.c_u, p.c_du, p.u_floor)).encode())
            digest = h.hexdigest()[:20]
            object.__setattr__(self, "_key", digest)
        return digest


# --- the task, run by a worker ---------------------------------------------------------------

#: This process's networks, by :attr:`NetworkSpec.key` (a worker keeps the last few).
_networks: dict[str, IPVAENetwork] = {}
_NETWORKS_KEPT = 4


def _network_for(spec: NetworkSpec) -> tuple[IPVAENetwork, bool]:
    """The cached network of this spec in this process, or a new one. (network, cached?)"""
    net = _networks.get(spec.key)
    if net is not None:
        return net, True
    while len(_networks) >= _NETWORKS_KEPT:
        _networks.pop(next(iter(_networks)))
    net = _networks[spec.key] = spec.network()
    return net, False


def simulate_chunk(spec: NetworkSpec, x: np.ndarray, first: int,
                   seed: int | None) -> tuple[ChunkResult, dict]:
    """The task: simulate stimuli ``first .. first + len(x) - 1`` of the set.

    Returns the :class:`ChunkResult` and where and how it ran (``pid``, ``host``,
    ``seconds``, ``build_s``: seconds the standalone engine spent building in this task,
    0 when the worker's build was reused, and always 0 for the runtime engine, whose
    compiled code comes from the shared Cython cache).
    """
    start = time.perf_counter()
    net, _ = _network_for(spec)
    net.timings = {}
    (result,) = net.run(x, seed=seed, first_stimulus=first)
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
    >>> spec = NetworkSpec.from_network(net, len(x))            # doctest: +SKIP
    >>> with SimulationCluster(workers=2) as cluster:            # doctest: +SKIP
    ...     for chunk in cluster.simulate(spec, x, seed=0):
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
        self.client = self._cluster = None
        self.history: list[dict] = []

    @property
    def in_process(self) -> bool:
        return self.scheduler is None and self.workers == 1

    def __enter__(self):
        if self.in_process:
            return self
        import logging
        from distributed import Client, LocalCluster
        if self.scheduler:
            self.client = Client(self.scheduler, timeout="60s")
        else:
            self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1,
                                         processes=True, dashboard_address=None,
                                         silence_logs=logging.ERROR)
            self.client = Client(self._cluster)
        return self

    def __exit__(self, *exc):
        if self.client is not None:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()
        self.client = self._cluster = None

    def describe(self) -> str:
        """One line: where the chunks run."""
        if self.in_process:
            return "in this process (no Dask), 1 thread"
        if self.scheduler:
            return f"the Dask cluster at {self.scheduler}, 1 thread per task"
        return f"local Dask cluster: {self.workers} worker processes x 1 thread"

    def simulate(self, spec: NetworkSpec, x: np.ndarray, seed: int | None,
                 progress: Callable[[float], None] | None = None) -> Iterator[ChunkResult]:
        """Simulate the stimuli ``x`` (N x M or N x T x M); yield chunks in stimulus order.

        Parameters
        ----------
        spec : NetworkSpec
        x : ndarray
        seed : int or None
            Seed of the random streams (None: fresh entropy, drawn once here).
        progress : callable, optional
            Called with the number of stimuli done (written in order) so far.
        """
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1, np.uint32)[0])
        if self.in_process:
            yield from self._simulate_here(spec, x, seed, progress)
        else:
            yield from self._simulate_on_cluster(spec, x, seed, progress)

    def record(self, spec: NetworkSpec, stimuli, seed: int | None, path, attrs: dict,
               record=(), progress: Callable[[float], None] | None = None) -> None:
        """Simulate a :class:`~stimuli.stimulus_set.StimulusSet` into the recording ``path``.

        This process streams the chunks into the file in stimulus order
        (:class:`~models.recording.RecordingWriter`: it appears only when complete).
        ``attrs`` are its root attributes; ``threads`` and ``chunk_size`` are added.
        """
        from ipvae_brian.models.recording import RecordingWriter
        attrs = {**attrs, "threads": spec.threads, "chunk_size": spec.chunk_size}
        with RecordingWriter(path, spec.params, stimuli, spec.steps, attrs=attrs, record=record,
                             spikes=spec.dt < spec.bin_width) as writer:
            for chunk in self.simulate(spec, stimuli.x, seed, progress):
                writer.append(chunk)

    def _simulate_here(self, spec, x, seed, progress):
        start = time.perf_counter()
        net, _ = _network_for(spec)
        for chunk in net.run(x, seed=seed, progress=progress):
            n = chunk.counts.shape[0]
            self.history.append({"first": chunk.first, "n": n, "pid": os.getpid(),
                                 "host": socket.gethostname(),
                                 "seconds": time.perf_counter() - start,
                                 "build_s": net.timings.get("build_s", 0.0)})
            start = time.perf_counter()
            yield chunk

    def _simulate_on_cluster(self, spec, x, seed, progress):
        from distributed import as_completed
        N, size = x.shape[0], spec.chunk_size
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
                    future = self.client.submit(simulate_chunk, spec, x[first:first + size],
                                                first, seed, pure=False,
                                                key=f"ipvae-chunk-{first}-{spec.key[:8]}-"
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


def default_chunk_size(net: IPVAENetwork, n_stimuli: int) -> int:
    """Stimuli per task by default (see :meth:`NetworkSpec.from_network`)."""
    entries = chunk_entries(net.steps, net.params.n_latents, net.record_u, net.continuous)
    return min(max(1, TASK_ENTRIES // entries), net.chunk_size, n_stimuli)


def count_chunks(n_stimuli: int, chunk_size: int) -> int:
    """Number of tasks of a run."""
    return math.ceil(n_stimuli / chunk_size)


__all__ = ["NetworkSpec", "SimulationCluster", "simulate_chunk", "TASK_ENTRIES",
           "THREADS_PER_SIMULATION", "machine_cores", "default_chunk_size",
           "count_chunks"]
