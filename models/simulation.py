"""The one simulate-then-write loop: stimuli through the network into a recording.

Every consumer runs stimuli through this loop: the ``simulate`` command, the parameter
sweeps, the V1 experiments, learning and the Python API. A :class:`Simulation` checks
the stimuli against the parameters once, resolves the :class:`RunConfig` once (engine,
lateral formulation, chunks), says where its chunks will run, and then runs: chunks come
back in stimulus order from the engine (in this process or from Dask workers), each is
appended to the recording (if a file is asked for), added to the :class:`RunSummary`,
kept in memory (if asked for) and handed to ``on_chunk``.

Conventions: t counts membrane updates (counts at bin t are drawn from u_t); the
recording holds the integer counts of every bin; the summary decodes them as Phi z_t.

Examples
--------
>>> from ipvae_brian.models import IPVAEParameters
>>> params = IPVAEParameters.random(16, 8, seed=0)
>>> result = simulate(params, np.zeros((3, 16)), RunConfig(steps=4), seed=1)
>>> result.counts.shape, result.config.engine
((3, 4, 8), 'runtime')
"""
from __future__ import annotations

import dataclasses
import time
from typing import Callable

import numpy as np

from ipvae_brian.models.config import RunConfig
from ipvae_brian.models.engines.distributed import SimulationCluster, count_chunks
from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.network import ChunkResult, configure_brian
from ipvae_brian.models.parameters import IPVAEParameters
from ipvae_brian.models.recording import RecordingWriter
from ipvae_brian.models.run_summary import RunSummary
from ipvae_brian.models.memory import check_run_memory
from ipvae_brian.models.stimulus_array import check_drive, check_run_stimuli
from ipvae_brian.stimuli.stimulus_file import square_image_shape
from ipvae_brian.stimuli.stimulus_set import StimulusSet


@dataclasses.dataclass
class SimulationResult:
    """What :meth:`Simulation.run` returns.

    Attributes
    ----------
    config : RunConfig
        The resolved configuration the run used.
    summary : RunSummary
        R^2 at the last bin, zeros, mean count, runaways, wall time.
    path : str or None
        The recording written, if any.
    counts : ndarray, shape (N, T, K), or None
        The counts, if kept in memory (``keep=True``).
    u : ndarray, shape (N, T, K), or None
        The potentials u_t, if kept and recorded (``"u"`` in ``config.record``).
    spike_times, spike_neurons, spike_stimuli : ndarray or None
        Continuous mode, if kept: every spike's time (s from its stimulus's onset),
        neuron and stimulus.
    history : list of dict
        Where each chunk ran (:attr:`SimulationCluster.history`).
    params : IPVAEParameters or None
        The parameters of the run (for decoding, figures and exports of the result).
    stimuli : StimulusSet or None
        The stimuli of the run.
    """

    config: RunConfig
    summary: RunSummary
    path: str | None = None
    counts: np.ndarray | None = None
    u: np.ndarray | None = None
    spike_times: np.ndarray | None = None
    spike_neurons: np.ndarray | None = None
    spike_stimuli: np.ndarray | None = None
    history: list = dataclasses.field(default_factory=list)
    params: IPVAEParameters | None = None
    stimuli: StimulusSet | None = None


def as_stimulus_set(stimuli, config: RunConfig | None = None) -> StimulusSet:
    """A :class:`StimulusSet` from a set or a bare array (N, M) or movies (N, T, M)."""
    if isinstance(stimuli, StimulusSet):
        return stimuli
    x = np.asarray(stimuli)
    if x.ndim not in (2, 3):
        raise SimulationInputError(f"stimuli must be N x M (images) or N x T x M (movies), "
                                   f"got shape {x.shape}")
    return StimulusSet("array", x, square_image_shape(x.shape[-1]))


class Simulation:
    """One run of stimuli through the network: checked, resolved, ready to run.

    Parameters
    ----------
    params : IPVAEParameters
    stimuli : StimulusSet or ndarray
        Images (N, M) or movies (N, T, M); movies need ``config.steps`` frames.
    config : RunConfig, optional
        Default ``RunConfig()`` (T = 128, discrete mode, engine and lateral "auto"); the
        ``movie`` flag is taken from the stimuli. Resolved here for N stimuli.
    cluster : SimulationCluster, optional
        Where the chunks run, shared by several simulations (a sweep's points); default:
        one made from ``config.workers`` / ``config.scheduler`` for this run.

    Attributes
    ----------
    config : RunConfig
        Resolved.
    cluster : SimulationCluster
    """

    def __init__(self, params: IPVAEParameters, stimuli, config: RunConfig | None = None,
                 cluster: SimulationCluster | None = None):
        configure_brian()      # (a cache folder that cannot be used is refused here)
        self.params = params
        self.stimuli = as_stimulus_set(stimuli)
        config = (config or RunConfig()).replace(movie=self.stimuli.is_movie)
        check_run_stimuli(self.stimuli.x, params.n_pixels, config.movie, config.steps)
        self.config = config.resolve(self.stimuli.n_stimuli, params.n_latents)
        c = self.config
        check_run_memory(self.stimuli.n_stimuli, c.steps, params.n_latents, params.n_pixels,
                         c.chunk_size, movie=c.movie, record_u=c.record_u,
                         substeps=c.substeps)
        check_drive(self.stimuli.x, params)
        self.n_chunks = count_chunks(self.stimuli.n_stimuli, self.config.chunk_size)
        self.cluster = cluster or SimulationCluster(
            self.config.workers, self.config.scheduler, stream=self.config.stream,
            n_chunks=self.n_chunks)

    def describe(self) -> str:
        """Lines saying how the run will go: mode, engine, lateral term, workers, chunks."""
        c = self.config
        return (f"  mode {c.mode}, bin {c.bin_width * 1e3:g} ms"
                f"{f', dt {c.dt * 1e3:g} ms' if c.continuous else ''}, "
                f"{'streaming (no reset)' if c.stream else 'u reset to u0 for every stimulus'}"
                f"\n  engine: {c.engine} ({c.engine_reason})\n"
                f"  lateral term: {c.lateral} ({c.lateral_reason})\n"
                f"  workers: {self.cluster.describe()}; {self.n_chunks:,} chunk(s) of up to "
                f"{c.chunk_size:,} stimuli"
                f"{f' ({self.cluster.note})' if self.cluster.note else ''}")

    def run(self, seed: int | None = 0, out: str | None = None, attrs: dict | None = None,
            progress: Callable[[float], None] | None = None, keep: bool | None = None,
            on_chunk: Callable[[ChunkResult], None] | None = None) -> SimulationResult:
        """Simulate; write ``out`` (if given), summarise, keep in memory (if asked).

        Parameters
        ----------
        seed : int or None
            Seed of the Poisson draws: stimulus n draws from a stream seeded by (seed, n),
            so the counts do not depend on chunks or workers. None: fresh entropy.
        out : str, optional
            Recording file; written under a temporary name and renamed when complete.
        attrs : dict, optional
            Extra root attributes of the recording (the configuration's and the seed are
            added).
        progress : callable, optional
            Called with the number of stimuli done.
        keep : bool, optional
            Keep counts (and u, spikes) in memory; default: only when ``out`` is None.
        on_chunk : callable, optional
            Called with every :class:`ChunkResult`, in stimulus order.
        """
        keep = out is None if keep is None else keep
        stimuli, c = self.stimuli, self.config
        summary = RunSummary(self.params, c.steps)
        kept: list[ChunkResult] = []
        attrs = {"seed": seed, **c.recording_attrs(), **(attrs or {})}
        start = time.perf_counter()
        with self.cluster, _maybe_writer(out, self.params, stimuli, c, attrs) as writer:
            for chunk in self.cluster.simulate(self.params, c, stimuli.x, seed, progress):
                if writer is not None:
                    writer.append(chunk)
                summary.add(chunk.counts, stimuli.x[chunk.first:chunk.first + len(chunk.counts)])
                if keep:
                    kept.append(chunk)
                if on_chunk is not None:
                    on_chunk(chunk)
        summary.wall_s = time.perf_counter() - start
        result = SimulationResult(config=c, summary=summary, path=out,
                                  history=list(self.cluster.history), params=self.params,
                                  stimuli=stimuli)
        if keep and kept:
            result.counts = np.concatenate([k.counts for k in kept])
            if kept[0].u is not None:
                result.u = np.concatenate([k.u for k in kept])
            if kept[0].spike_times is not None:
                result.spike_times = np.concatenate([k.spike_times for k in kept])
                result.spike_neurons = np.concatenate([k.spike_neurons for k in kept])
                result.spike_stimuli = np.concatenate([k.spike_stimuli for k in kept])
        return result


class _maybe_writer:
    """A :class:`RecordingWriter` for ``out``, or nothing when no file is asked for."""

    def __init__(self, out, params, stimuli, config: RunConfig, attrs: dict):
        self.writer = None if out is None else RecordingWriter(
            out, params, stimuli, config.steps, attrs=attrs, record=config.record,
            spikes=config.continuous)

    def __enter__(self):
        return None if self.writer is None else self.writer.__enter__()

    def __exit__(self, *exc):
        return None if self.writer is None else self.writer.__exit__(*exc)


def simulate(params: IPVAEParameters, stimuli, config: RunConfig | None = None, *,
             seed: int | None = 0, out: str | None = None, **run_options) -> SimulationResult:
    """Simulate stimuli through the network (:class:`Simulation`, then :meth:`Simulation.run`).

    Parameters
    ----------
    params : IPVAEParameters
    stimuli : StimulusSet or ndarray, shape (N, M) or (N, T, M)
    config : RunConfig, optional
    seed : int or None
    out : str, optional
        Write a recording (HDF5) there.
    **run_options
        ``attrs``, ``progress``, ``keep``, ``on_chunk`` of :meth:`Simulation.run`.

    Returns
    -------
    SimulationResult
    """
    return Simulation(params, stimuli, config).run(seed=seed, out=out, **run_options)


__all__ = ["Simulation", "SimulationResult", "simulate", "as_stimulus_set"]
