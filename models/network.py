"""The iP-VAE as a Brian2 spiking network, in discrete bins or in continuous time.

Discrete mode (the paper's algorithm): one Brian2 time step is one time bin of
width tau (``bin_width``). In every bin the K latent neurons of a
:class:`LatentPopulation` draw integer spike counts from their membrane
potentials, the :class:`LateralInhibition` synapses carry each count to every
neuron, and the membrane potentials take one step of natural-gradient descent
on the free energy (docs/model.md; Vafaii, Galor & Yates 2025)::

    z_t     ~ Poisson(exp(u_t))                                   (counts of bin t)
    du_t    = eta * (Phi^T x / sigma^2 - (Phi^T diag(1/sigma^2) Phi) z_t - b)
    du_t   <- c_du - softplus(c_du - max(du_t, u_floor))           (floor, soft upper bound)
    v_t     = max(u_t + du_t, u_floor)                             (hard floor)
    u_{t+1} = v_t - softplus(v_t - c_u)                            (soft ceiling c_u)

Read as a spiking network, ``Phi^T x / sigma^2`` is a feed-forward current
I_ff (fixed while the stimulus is), and ``-(Phi^T diag(1/sigma^2) Phi)`` is the
K x K matrix W of lateral synapses (its diagonal is self-inhibition): every
spike of neuron j moves neuron i's input by W_ij. The prediction error
(x - Phi z) / sigma^2 is never sent as a signal.

Continuous mode: the same equation strings with a time step dt much smaller
than the bin (``dt = bin_width / n``). In each step a neuron fires
Poisson(exp(u) dt / tau) spikes, i.e. a Poisson process of rate exp(u) / tau;
every spike of neuron j moves u_i by eta W_ij at the end of the step in which
it occurs; between spikes u drifts by eta (I_ff - b) / tau per unit time. Over
one bin the expected change of u is therefore eta (I_ff - b + sum_j W_ij
E[z_j]), the discrete update, and the expected count is exp(u) per bin. The
two modes differ in the order of events within a bin: in discrete mode all
counts of a bin are drawn from u_t and act together at the end of the bin; in
continuous mode a spike early in the bin already inhibits (or excites) the
others for the rest of it, so the rates follow the dynamics within the bin.
The differences are O(dt/tau) per step plus this within-bin feedback, which is
small while eta |W| exp(u) << 1. The soft bounds are applied every step. The
bound on the change, c_du - softplus(c_du - du), pulls even a small du down by
about exp(du - c_du); applied tau/dt times per bin this pull would grow with
the number of steps, so in continuous mode that bound is shifted by
``bound_shift = log(tau / dt)`` (exactly 0 in discrete mode), which keeps its
pull per bin equal to the discrete mode's. The soft ceiling c_u pulls u down by
softplus(v - c_u) per bin, about exp(u - c_u) below c_u; continuous mode
applies (dt/tau) of that pull per step, so its pull per bin is the discrete
mode's (applied in full on every step it would be tau/dt times larger: 0.046
instead of 9e-4 per bin at u = 3, enough to lower the shipped natural16
parameters' counts by 12% at t = 8 and 34% at t = 64). Above c_u a pull
scaled by dt/tau only relaxes u toward c_u with time constant tau, so u is also
capped at c_u on every step: c_u stays a ceiling on the rate (exp(c_u) counts
per bin) in both modes (the cap is a no-op in discrete mode). The floor u_floor
bounds du of each step and u (``models/equations.py``).

Order of operations within one step (Brian2 scheduling slots):

=====================  ===============================================================
slot                   what happens
=====================  ===============================================================
``start``              at the onset of each stimulus: u <- u0 (not in streaming mode);
                       the stimulus and step that this step's random counters name
``before_thresholds``  z ~ Poisson(exp(u) dt / tau), the counts of this step (two passes)
``thresholds``         neurons with z > 0 emit a spike event (continuous mode records
                       the events with their z; only with event-driven synapses or in
                       continuous mode)
``before_synapses``    discrete mode records z of every neuron
``synapses``           the lateral input: each event adds w_ij z_j to ``lateral`` of
                       every neuron i, or (``lateral="matrix"``) one product per step
                       writes lateral_i = sum_j W_ij z_j for all i at once
``after_synapses``     the drive I_ff of this step, the membrane update, then
                       ``lateral`` <- 0
=====================  ===============================================================

The lateral term exploits the sparse counts (37% to 77% zeros in the paper): either
formulation costs (neurons with a non-zero count) x K multiply-adds per step, not K^2.

Many stimuli run back to back in one long ``Network.run`` per chunk (``Network.run``
costs ~0.2 s of ``gc.collect()`` per call): the drive of the chunk is a 2-D ``TimedArray``
(one row per stimulus, or per movie frame) and an operation resets u where the one-neuron
:class:`StimulusStreams` marks the first step of a stimulus, counted in steps of the one
clock (a second clock of T tau drifts apart from it in long standalone runs:
docs/model.md).

Random streams: the count of neuron k in step s of stimulus n (in the whole set) is
drawn from a hash of (seed key, n, s, k) (:mod:`~ipvae_brian.models.random_streams`), so
the counts do not depend on the chunks, lanes, engine, threads, processes or order. With
``lanes`` B > 1, B stimuli run side by side in B x K latents (:mod:`~ipvae_brian.models.lanes`).

Precision: ``RunConfig.precision`` (float64 or float32) is the type of the variables and of
the generated code (:func:`~ipvae_brian.models.populations.float_precision`, set around
every build and run); the counts are integers and time is float64 in both.
"""
from __future__ import annotations

import dataclasses
import os
import types
from typing import Callable, Iterator

import numpy as np

import brian2
from brian2 import (Network, SpikeMonitor, StateMonitor, TimedArray, linked_var, prefs,
                    second)

from ipvae_brian.models.config import RunConfig, standalone_threads
from ipvae_brian.models.equations import (FEEDFORWARD_DRIVE, MEMBRANE_UPDATE, POISSON_COUNTS,
                                          POISSON_COUNTS_FINISH, STIMULUS_ONSET_RESET)
from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.functions import softplus
from ipvae_brian.models.lanes import groups, unlaned
from ipvae_brian.models.parameters import IPVAEParameters, count_dtype
from ipvae_brian.models.populations import (LatentPopulation, LateralInhibition,
                                            StimulusStreams, float_precision)
from ipvae_brian.models.random_streams import poisson_finish, poisson_head, stream_key
from ipvae_brian.models.stimulus_array import check_run_stimuli


@dataclasses.dataclass
class ChunkResult:
    """What the network produced for a block of consecutive stimuli.

    Attributes
    ----------
    first : int
        Index of the chunk's first stimulus in the whole set.
    counts : ndarray, shape (n, T, K), unsigned int
        Spike counts z_t per bin (in continuous mode: the spikes falling in each bin).
    u : ndarray, shape (n, T, K), float64 (float32 at that precision), or None
        Membrane potentials u_t at the start of every bin (if recorded).
    spike_times : ndarray, shape (S,), float64, or None
        Continuous mode: time of every spike in seconds from the start of its
        stimulus (the start of the dt step it fell in); None in discrete mode.
    spike_neurons, spike_stimuli : ndarray, shape (S,), or None
        Neuron index and (global) stimulus index of every spike.
    """

    first: int
    counts: np.ndarray
    u: np.ndarray | None = None
    spike_times: np.ndarray | None = None
    spike_neurons: np.ndarray | None = None
    spike_stimuli: np.ndarray | None = None


def configure_brian(cache_dir: str | None = None) -> None:
    """Brian2 preferences for this package: one shared on-disk code cache, quiet logs.

    The Cython cache folder is ``$IPVAE_CACHE_DIR/brian2-cython`` (default
    ``~/.cache/ipvae-brian/brian2-cython``) so that every process, test and CI job
    reuses the same compiled code (a cold compile takes ~20 s). Also switches off Brian2's
    own Ctrl-C handling (``core.stop_on_keyboard_interrupt``): an interrupt raises
    ``KeyboardInterrupt``.
    """
    if cache_dir is None:
        root = os.environ.get("IPVAE_CACHE_DIR") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "ipvae-brian")
        cache_dir = os.path.join(root, "brian2-cython")
    try:
        os.makedirs(cache_dir, exist_ok=True)
    except OSError as exc:
        raise SimulationInputError(
            f"cannot use {cache_dir!r} as the compiled-code cache ({exc.strerror}); set "
            f"IPVAE_CACHE_DIR to a writable folder") from None
    if not os.access(cache_dir, os.W_OK):
        raise SimulationInputError(f"the compiled-code cache {cache_dir!r} is not writable; "
                                   f"set IPVAE_CACHE_DIR to a writable folder")
    prefs.codegen.runtime.cython.cache_dir = cache_dir
    # Ctrl-C raises KeyboardInterrupt (the command line exits 130 with nothing written)
    # instead of Brian2's "stop after this step", which returns truncated monitors
    prefs.core.stop_on_keyboard_interrupt = False
    prefs.codegen.runtime.cython.multiprocess_safe = True
    brian2.BrianLogger.log_level_error()  # warnings surface as our own messages instead


class IPVAENetwork:
    """The iP-VAE as a Brian2 network, run over many stimuli in chunks.

    This class builds the Brian2 objects of the model (:meth:`build_objects`), their
    monitors and namespace, and runs them in this process with Brian2's runtime device
    (:meth:`run`, Cython code generation). The ``cpp_standalone`` engine and the
    distributed runner (:mod:`ipvae_brian.models.engines`) run the same objects; they
    import this class, never the reverse. :func:`ipvae_brian.models.engines.run_chunks`
    runs a network on the engine its configuration names.

    Parameters
    ----------
    params : IPVAEParameters
    config : RunConfig or int, optional
        How the network runs (:class:`~ipvae_brian.models.config.RunConfig`); an int is
        taken as ``steps``, T, the number of bins per stimulus.
    **options
        Fields of :class:`RunConfig` that replace those of ``config`` (``steps``,
        ``stream``, ``movie``, ``bin_width``, ``dt``, ``record``, ``record_u``,
        ``chunk_size``, ``engine``, ``lateral``, ``threads``, ...). ``record_u=True`` is
        short for adding "u" to ``record``.

    Examples
    --------
    >>> net = IPVAENetwork(IPVAEParameters.random(64, 32, seed=1), steps=16)
    >>> counts, _ = net.simulate(np.zeros((3, 64)), seed=0)
    >>> counts.shape
    (3, 16, 32)
    """

    def __init__(self, params: IPVAEParameters, config: RunConfig | int | None = None,
                 **options):
        if isinstance(config, RunConfig):
            base = config
        else:
            base = RunConfig() if config is None else RunConfig(steps=config)
        record_u = options.pop("record_u", None)
        if record_u is not None:
            record = tuple(r for r in options.get("record", base.record) if r != "u")
            options["record"] = record + (("u",) if record_u else ())
        self.config = base.replace(**options) if options else base
        configure_brian()
        self.params = params
        #: standalone engine: seconds spent building (code generation + compilation)
        self.timings = {}
        #: time every code object (see :meth:`profiling_summary`)
        self.profile = False
        #: standalone engine with :attr:`profile`: seconds per code object, summed over runs
        self.profiling_info = {}

    # the configuration's fields, as the network's own (read-only) attributes
    steps = property(lambda self: self.config.steps)
    stream = property(lambda self: self.config.stream)
    movie = property(lambda self: self.config.movie)
    record_u = property(lambda self: self.config.record_u)
    substeps = property(lambda self: self.config.substeps)
    continuous = property(lambda self: self.config.continuous)
    mode = property(lambda self: self.config.mode)
    engine = property(lambda self: self.config.engine)
    lateral = property(lambda self: self.config.lateral)
    precision = property(lambda self: self.config.precision)
    lanes = property(lambda self: self.config.lanes or 1)    # stimuli side by side
    lateral_inhibition = property(lambda self: self.config.lateral_inhibition)
    draw_counts = property(lambda self: self.config.draw_counts)
    pad_chunks = property(lambda self: self.config.pad_chunks)
    engine_reason = property(lambda self: self.config.engine_reason)
    lateral_reason = property(lambda self: self.config.lateral_reason)

    @property
    def bin_width(self):
        """tau as a Brian2 quantity."""
        return self.config.bin_width * second

    @property
    def dt(self):
        """The simulation time step as a Brian2 quantity."""
        return self.config.dt * second

    @property
    def chunk_size(self) -> int:
        """Stimuli per Brian2 run: the configuration's, else :data:`CHUNK_ENTRIES` entries."""
        return self.config.default_chunk_size(self.params.n_latents)

    @property
    def threads(self) -> int:
        """Threads of one simulation: 1 for the runtime engine; for the standalone engine
        the configuration's ``threads``, else ``$IPVAE_THREADS`` or every core."""
        if self.engine == "runtime":
            return 1
        if self.config.threads is not None:
            return self.config.threads
        return standalone_threads()

    def resolve(self, n_stimuli: int) -> RunConfig:
        """Resolve the configuration for a run of ``n_stimuli`` (engine, lateral, chunks)
        where it says "auto", keeping what it fixes; returns the resolved configuration."""
        if self.engine == "auto" or self.lateral == "auto":
            resolved = self.config.resolve(n_stimuli, self.params.n_latents)
            self.config = self.config.replace(
                engine=resolved.engine, lateral=resolved.lateral,
                engine_reason=resolved.engine_reason, lateral_reason=resolved.lateral_reason)
        return self.config

    def build_objects(self) -> types.SimpleNamespace:
        """The Brian2 objects of the network, created in whatever device is active.

        Returns a namespace with ``latents``, ``lateral``, ``streams`` (the
        :class:`StimulusStreams`), the operations ``poisson_counts`` and ``poisson_finish``
        (the draw's two passes), ``feedforward_drive``, ``membrane_update`` and (unless
        streaming) ``onset_reset``, and the ``network`` holding them all (monitors are
        added per run), with variables of the configuration's ``precision``.
        """
        if self.lateral == "auto":
            raise RuntimeError('resolve lateral="auto" with resolve(n_stimuli) before building')
        with float_precision(self.precision):   # the variables' and the code's type
            o = types.SimpleNamespace()
            o.latents = LatentPopulation(   # spike events: only for synapses or spike times
                self.params, self.bin_width, dt=self.dt, lanes=self.lanes,
                spike_events=self.lateral == "synapses" or self.continuous)
            o.lateral = LateralInhibition(o.latents, self.params, propagation=self.lateral,
                                          lanes=self.lanes)
            o.lateral.active = self.lateral_inhibition
            o.streams = StimulusStreams(self.steps, self.bin_width, dt=self.dt,
                                        lanes=self.lanes)
            for name in ("onset", "stream_key", "stream_stimulus", "stream_step"):
                setattr(o.latents, name, linked_var(o.streams, name))   # shared: scalars
            o.poisson_counts = o.latents.run_regularly(
                POISSON_COUNTS, when="before_thresholds", name="poisson_counts")
            o.poisson_finish = o.latents.run_regularly(
                POISSON_COUNTS_FINISH, when="before_thresholds", order=1, name="poisson_finish")
            o.poisson_counts.active = o.poisson_finish.active = self.draw_counts
            o.feedforward_drive = o.latents.run_regularly(     # just before the update
                FEEDFORWARD_DRIVE, when="after_synapses", order=-1, name="feedforward_drive")
            o.membrane_update = o.latents.run_regularly(
                MEMBRANE_UPDATE, when="after_synapses", name="membrane_update")
            o.network = Network(o.latents, o.lateral, o.streams, o.streams.onset_count,
                                o.poisson_counts, o.poisson_finish, o.feedforward_drive,
                                o.membrane_update)
            if o.lateral.product is not None:
                o.lateral.product.operation.active = self.lateral_inhibition
                o.network.add(o.lateral.product, o.lateral.product.operation)
            o.onset_reset = None
            if not self.stream:
                o.onset_reset = o.latents.run_regularly(       # every step, after the streams
                    STIMULUS_ONSET_RESET, when="start", name="stimulus_onset_reset")
                o.network.add(o.onset_reset)
        return o

    def build_for_stimuli(self, x: np.ndarray, seed: int | None = 0,
                          first_stimulus: int = 0) -> types.SimpleNamespace:
        """The Brian2 objects set up to run the stimuli ``x`` in your own Brian2 script.

        :meth:`build_objects` plus the drive, the seed and the namespace, set as
        :meth:`run` sets them. Add monitors, groups and synapses to ``objects.network``,
        change a variable (``objects.latents.eta``), then run it for
        ``objects.duration`` with ``namespace=objects.namespace``.

        Parameters
        ----------
        x : ndarray, shape (N, M), or (N, T, M) for movies
        seed : int or None
            Seed of the Poisson draws (None: fresh entropy).
        first_stimulus : int
            Index of ``x[0]`` in a larger set (selects the random streams).

        Returns
        -------
        types.SimpleNamespace
            The objects of :meth:`build_objects`, and ``feedforward`` (the drive),
            ``namespace`` (:meth:`namespace`), ``duration`` (N T tau), ``n_stimuli``.

        Notes
        -----
        The conventions (kept here; a script doing it by hand must keep them):
        the equations read the drive Phi^T x / sigma^2 as ``feedforward(t - t_chunk,
        i)``: a ``TimedArray`` named ``feedforward``, one row per stimulus held for its
        T bins (``dt = T * bin_width``; movies: one row per frame, ``dt = bin_width``),
        ``t_chunk`` = 0, the start of the run. The constants and functions the
        equations name come from ``run(..., namespace=...)``, not from globals. Seeding:
        ``streams.stream_key = stream_key(seed)``, ``streams.stimulus`` = the index of
        ``x[0]``; each stimulus draws from its own stream, so the counts equal
        :meth:`run`'s. Stimulus n occupies [n T tau, (n + 1) T tau), u <- u0 at its
        onset (unless streaming). t counts updates: the counts of bin t are drawn from
        u_t, the potential after t updates, which a ``StateMonitor`` of ``u`` with
        ``when="before_thresholds", order=-1`` records (:meth:`monitors`).

        Examples
        --------
        >>> from brian2 import StateMonitor
        >>> net = IPVAENetwork(IPVAEParameters.random(16, 8, seed=0), steps=4)
        >>> objects = net.build_for_stimuli(np.zeros((2, 16)), seed=1)
        >>> u = StateMonitor(objects.latents, "u", record=True, when="before_thresholds",
        ...                  order=-1)
        >>> objects.network.add(u)
        >>> objects.network.run(objects.duration, namespace=objects.namespace)
        >>> u.u.shape                    # (K, N T): u_t of every neuron and bin
        (8, 8)
        """
        frames, key = self.prepare(x, seed, first_stimulus=first_stimulus)
        o = self.build_objects()
        o.n_stimuli = len(frames) // (self.steps if self.movie else 1)
        o.feedforward = TimedArray(frames, dt=self.frame_dt(), name="feedforward")
        o.streams.stream_key = key
        o.streams.stimulus = int(first_stimulus)
        o.namespace = self.namespace(o.feedforward, o)
        o.duration = o.n_stimuli * self.steps * self.bin_width
        return o

    def _create_objects(self) -> None:
        """Runtime engine: build the objects and keep them as attributes of the network."""
        o = self.build_objects()
        self.latents, self.lateral_synapses, self.streams = o.latents, o.lateral, o.streams
        self.objects = o
        self.poisson_counts, self.membrane_update = o.poisson_counts, o.membrane_update
        self.onset_reset, self.network = o.onset_reset, o.network

    def monitors(self, latents: LatentPopulation) -> list:
        """The counts and, if asked, u at the start of every bin.

        Discrete mode records the counts z of every neuron and bin as they are (a
        ``StateMonitor``, 4 bytes per neuron and bin, stored in (bin, neuron) order, which
        is the layout of :attr:`ChunkResult.counts`); continuous mode records the spike
        events with their z (a ``SpikeMonitor``: time, neuron and count, 16 bytes per
        event, but the steps are short and most counts are zero). At the shipped
        parameters' density (about half the counts non-zero) the dense record is 2.4x
        fewer bytes to write and read back than the events, and 1.4x faster overall.
        """
        if self.continuous:
            monitors = [SpikeMonitor(latents, variables=["z"], name="counts_monitor")]
        else:
            monitors = [StateMonitor(latents, "z", record=True, when="before_synapses",
                                     name="counts_monitor")]
        if self.record_u:
            monitors.append(StateMonitor(latents, "u", record=True,
                                         when="before_thresholds", order=-1,
                                         dt=self.bin_width, name="u_monitor"))
        return monitors

    def namespace(self, feedforward: TimedArray, objects: types.SimpleNamespace) -> dict:
        """Names the equation strings use besides the groups' own variables."""
        names = {"feedforward": feedforward, "softplus": softplus, "tau": self.bin_width,
                 "bound_shift": float(np.log(self.substeps)),
                 "poisson_head": poisson_head, "poisson_finish": poisson_finish}
        if objects.lateral.product is not None:
            names["lateral_product"] = objects.lateral.product.function
        return names

    def frame_dt(self):
        """Duration of one row of the drive TimedArray: a bin (movies) or a stimulus."""
        return self.bin_width if self.movie else self.steps * self.bin_width

    def chunk_rows(self, n_stimuli: int) -> int:
        """Stimuli per run as compiled (shorter runs are padded): the chunk size with
        ``pad_chunks``, else min(chunk size, ``n_stimuli``)."""
        return self.chunk_size if self.pad_chunks else min(self.chunk_size, n_stimuli)

    def check_stimuli(self, x: np.ndarray) -> np.ndarray:
        """Validate a stimulus array against the parameters and the mode; return it as float64."""
        return check_run_stimuli(x, self.params.n_pixels, self.movie, self.steps)

    def prepare(self, x: np.ndarray, seed: int | None, initial_u: np.ndarray | None = None,
                first_stimulus: int = 0) -> tuple[np.ndarray, int]:
        """Check a run's inputs, resolve "auto", and compute the drive; for every engine.

        Returns
        -------
        frames : ndarray, shape (N * rows, K), of the network's precision
            The feed-forward drive Phi^T x / sigma^2, one row per stimulus (rows = 1) or
            per movie frame (rows = T): the rows of the drive ``TimedArray``.
        key : int
            :func:`~ipvae_brian.models.random_streams.stream_key` of the seed.
        """
        x = self.check_stimuli(x)
        if initial_u is not None and not self.stream:
            raise SimulationInputError("initial_u is only used in streaming mode (no reset)")
        if int(first_stimulus) != first_stimulus or first_stimulus < 0:
            raise SimulationInputError(f"first_stimulus must be a non-negative integer, got "
                                       f"{first_stimulus}")
        self.resolve(x.shape[0])
        drive = np.asarray(self.params.feedforward_drive(x), dtype=self.precision)  # rounded
        return drive.reshape(-1, self.params.n_latents), stream_key(seed)

    def run(self, x: np.ndarray, seed: int | None = None,
            progress: Callable[[float], None] | None = None,
            initial_u: np.ndarray | None = None,
            initial_z: np.ndarray | None = None,
            first_stimulus: int = 0) -> Iterator[ChunkResult]:
        """Simulate the stimuli in this process, yielding one :class:`ChunkResult` per chunk.

        This is the runtime engine (Brian2's runtime device with Cython);
        :func:`ipvae_brian.models.engines.run_chunks` runs the network on the engine its
        configuration names, the standalone one included.

        Parameters
        ----------
        x : ndarray, shape (N, M), or (N, T, M) for movies
        seed : int, optional
            Seed of the Poisson draws. Stimulus n draws from its own counter-based
            stream of (seed, n) (:mod:`~ipvae_brian.models.random_streams`), so the same
            seed gives the same counts bit for bit, whatever the engine, the threads,
            the chunk size or the split of the set over processes. None: fresh entropy.
        progress : callable, optional
            Called with the number of stimuli of ``x`` done so far (a float).
        initial_u : ndarray, shape (K,), optional
            Streaming mode only: the potential at the start (default u0).
        initial_z : ndarray, shape (K,), optional
            With ``draw_counts=False``: the counts the network uses in every step.
        first_stimulus : int
            Index of ``x[0]`` in the whole stimulus set, when ``x`` is one part of it:
            it selects the random streams, and ``ChunkResult.first`` and the spikes'
            stimulus indices count from it.
        """
        if self.engine == "standalone":
            raise SimulationInputError(
                "IPVAENetwork.run runs Brian2's runtime device in this process; run a "
                "standalone configuration with ipvae_brian.models.engines.run_chunks (or "
                "ipvae_brian.models.simulation.simulate)")
        if self.engine == "auto":
            self.config = self.config.replace(
                engine="runtime", engine_reason="IPVAENetwork.run: Brian2's runtime device")
        frames, key = self.prepare(x, seed, initial_u, first_stimulus)
        rows = self.steps if self.movie else 1
        n_stimuli = len(frames) // rows
        if not hasattr(self, "latents"):
            self._create_objects()
        if self.stream:
            self.latents.u = self.params.u0 if initial_u is None else initial_u
        if initial_z is not None:
            self.latents.z = initial_z
        self.streams.stream_key = key
        chunk = self.chunk_rows(n_stimuli)
        for first in range(0, n_stimuli, self.chunk_size):
            n = min(self.chunk_size, n_stimuli - first)
            # Brian2 compiles the TimedArray's name and number of rows into the Cython
            # code: one fixed name, and padding to a fixed length, keep it one compiled
            # module per shape (an unnamed one per chunk recompiled every new chunk)
            values = np.zeros((chunk * rows, self.params.n_latents))
            values[:n * rows] = frames[first * rows:(first + n) * rows]
            feedforward = TimedArray(values, dt=self.frame_dt(), name="feedforward")
            self.streams.stimulus = first_stimulus + first
            self.latents.t_chunk = self.network.t
            monitors = self.monitors(self.latents)
            self.network.add(*monitors)
            t_chunk = float(self.network.t)
            report = None if progress is None else self._progress_report(progress, first, n)
            try:
                with float_precision(self.precision):   # code generated at run time
                    self.network.run(n * self.steps * self.bin_width,
                                     namespace=self.namespace(feedforward, self.objects),
                                     report=report, report_period=1 * brian2.second,
                                     profile=self.profile)
            finally:
                self.network.remove(*monitors)
            result = self.collect(first_stimulus + first, n, t_chunk, *monitors)
            if progress is not None:
                progress(first + n)
            yield result

    @staticmethod
    def _progress_report(progress, first: int, n: int):
        """Brian2 ``report`` callback turning a chunk's completed fraction into stimuli done."""
        def report(elapsed, completed, start, duration):
            progress(first + completed * n)
        return report

    def collect(self, first, n, t_chunk, counts_monitor, u_monitor=None) -> ChunkResult:
        """Turn a chunk's monitors into counts per bin (and spike times, u).

        Bins after the chunk's ``n`` stimuli (padding of a fixed-size standalone chunk)
        are dropped.
        """
        K, T, sub, B = self.params.n_latents, self.steps, self.substeps, self.lanes
        G = groups(n, B)               # lanes: B stimuli per group, side by side
        if not self.continuous:        # z of every bin and neuron, (bins, B K), as recorded
            z = np.asarray(counts_monitor.variables["z"].get_value())[:G * T]
            counts = unlaned(z, G, T, B, K)[:n].astype(count_dtype(self.params))
        else:                          # spike events with their z
            t = np.asarray(counts_monitor.t_)
            step = np.rint((t - t_chunk if t_chunk else t) / float(self.dt)).astype(np.int64)
            cut = int(np.searchsorted(step, n * T * sub))   # events come in time order
            step = step[:cut]
            neuron, z = np.asarray(counts_monitor.i)[:cut], np.asarray(counts_monitor.z)[:cut]
            flat = (step // sub) * K + neuron                # into counts (n, T, K), flattened
            counts = np.bincount(flat, weights=z, minlength=n * T * K).reshape(n, T, K)
            counts = counts.astype(count_dtype(self.params))
        u = None
        if u_monitor is not None:
            u = np.asarray(u_monitor.variables["u"].get_value())[:G * T]
            u = unlaned(u, G, T, B, K)[:n]
        if not self.continuous:
            return ChunkResult(first=first, counts=counts, u=u)
        # a step with z > 1 holds z spikes at the same time (the start of the step)
        step, neuron = np.repeat(step, z), np.repeat(neuron, z)
        stimulus = step // (sub * T)
        times = (step - stimulus * sub * T) * float(self.dt)
        return ChunkResult(first=first, counts=counts, u=u, spike_times=times,
                           spike_neurons=neuron.astype(np.uint32),
                           spike_stimuli=(stimulus + first).astype(np.uint32))

    def profiling_summary(self, show: int = 12) -> str:
        """Time per code object of the runs so far (set :attr:`profile` before them)."""
        if self.engine == "runtime" or not self.profiling_info:
            return str(brian2.profiling_summary(self.network, show=show))
        total = sum(self.profiling_info.values())
        rows = sorted(self.profiling_info.items(), key=lambda item: -item[1])[:show]
        return "\n".join(f"{name:<44s}{seconds:8.2f} s {100 * seconds / total:8.2f} %"
                         for name, seconds in rows)

    def simulate(self, x: np.ndarray, seed: int | None = None, **kwargs):
        """All counts (and u if recorded) at once: ``(counts (N,T,K), u (N,T,K) or None)``.

        Convenience for small sets in this process (runtime engine); use :meth:`run` to
        stream large ones to a file.
        """
        return concatenate_chunks(self.run(x, seed=seed, **kwargs))


def concatenate_chunks(chunks) -> tuple[np.ndarray, np.ndarray | None]:
    """The counts (N, T, K) and u (N, T, K, or None) of a run's chunks, in one piece each."""
    chunks = list(chunks)
    counts = np.concatenate([c.counts for c in chunks])
    u = np.concatenate([c.u for c in chunks]) if chunks[0].u is not None else None
    return counts, u
