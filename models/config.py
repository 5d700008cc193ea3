"""One frozen configuration of a simulation run, resolved once, used everywhere.

A :class:`RunConfig` says how the network runs (not what it computes: that is the
parameters): bins per stimulus, the clock (bin width and time step, in seconds), reset
or streaming, what is recorded, the engine and the lateral formulation, how the stimuli
are cut into chunks, and where the chunks run. The command line builds one from its
options, the Python API takes one, and the workers of a distributed run receive the
same object (it is picklable). :meth:`RunConfig.resolve` decides everything left on
"auto" for a run of N stimuli, once, with the reason; a resolved configuration is what
the network is built from and what a recording stores.

Time is in seconds everywhere in this configuration; the command line converts its
millisecond options once (:func:`seconds`), and the network makes Brian2 quantities of
them once.
"""
from __future__ import annotations

import dataclasses
import os

from ipvae_brian.models.errors import SimulationInputError

#: Nominal width tau of one time bin, in seconds. The discrete update does not depend on
#: it; it sets the time axis of recordings (spike times, rasters, PSTHs in seconds).
BIN_WIDTH_S = 0.025

#: The engines that run the same Brian2 network (see :mod:`ipvae_brian.models.engines`).
ENGINES = ("runtime", "standalone")

#: The two formulations of the lateral term
#: (:class:`~ipvae_brian.models.populations.LateralInhibition`).
LATERAL_PROPAGATIONS = ("synapses", "matrix")

#: The floating-point types the network can compute in (:attr:`RunConfig.precision`):
#: float64, what the 1e-10 equivalence tests check against the float64 reference, and
#: float32 (the drive, the weights, u, the lateral input; counts stay integers), checked
#: against a float32 reference to float32 tolerance and against float64 in distribution
#: (tests/test_float32_path.py).
PRECISIONS = ("float64", "float32")

#: Optional datasets a simulation can record besides the counts: the potentials u_t and
#: the reconstructions Phi z_t.
OPTIONAL_RECORDS = ("u", "recon")

#: ``engine="auto"`` uses cpp_standalone from this many simulation steps (stimuli x steps
#: x substeps); below it the one-time compilation (~10 s) would not pay off. The same
#: threshold picks the lateral product over event-driven synapses.
STANDALONE_MIN_BINS = 100_000

#: Largest number of count entries (stimuli x bins x neurons) simulated per
#: ``Network.run`` call (or standalone run); bounds the memory of one chunk (2 bytes per
#: entry in the count array, plus the spike events) while keeping the per-run overhead
#: small: at K = 512, T = 128 (1,024 stimuli per chunk) the standalone engine ran 20%
#: faster than with 256 per chunk, for ~1 GB peak memory.
CHUNK_ENTRIES = 2 ** 26

#: Count entries per task of a run (:meth:`RunConfig.resolve`): 2^24 (256 stimuli at
#: K = 512, T = 128; 32 MiB of counts to send back). Fixed, not derived from N, because
#: the standalone engine compiles one program per chunk size.
TASK_ENTRIES = 2 ** 24

#: Continuous mode also keeps every spike of a chunk (time, neuron, stimulus: 16 bytes
#: each, about 8 count entries' worth, and a bin often holds more than one spike), so one
#: count entry there counts as this many when chunks are sized: measured with the
#: shipped parameters (about 2.5 spikes per neuron and bin), N = 10,000 stimuli took 7.8x
#: the peak memory of N = 1,000 with unweighted entries.
SPIKE_ENTRY_WEIGHT = 16

#: Stimuli simulated side by side (``lanes``) where :meth:`RunConfig.resolve` may choose:
#: the lateral product then reads each tile of W once for all of them (at K = 512, T = 128
#: 16 lanes made the product 1.8x faster in float64, 5x in float32, than one stimulus at a
#: time, which streams all of W from memory every step).
LANES = 16

#: Threads of one simulation in a run of chunks: parallelism comes from processes (the
#: counts do not depend on the thread count: every count is drawn from its own counter).
THREADS_PER_SIMULATION = 1


def seconds(value, name: str = "time") -> float:
    """A time in seconds from a float (seconds) or a Brian2 quantity; the one conversion."""
    try:
        return float(value)   # a Brian2 Quantity of time converts to seconds
    except (TypeError, ValueError):
        raise SimulationInputError(f"{name} must be a time in seconds, got {value!r}") from None


def machine_cores() -> int:
    """Cores this process may use (the default number of local workers and of threads)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover (not Linux)
        return max(1, os.cpu_count() or 1)


def standalone_threads() -> int:
    """OpenMP threads of a standalone simulation left unset: ``$IPVAE_THREADS`` if set, else
    every core this process may use."""
    if os.environ.get("IPVAE_THREADS"):
        return max(1, int(os.environ["IPVAE_THREADS"]))
    return machine_cores()


def chunk_entries(steps: int, n_latents: int, record_u: bool, continuous: bool) -> int:
    """Weighted count entries of one stimulus, the unit in which chunks are sized."""
    return (steps * n_latents * (5 if record_u else 1)
            * (SPIKE_ENTRY_WEIGHT if continuous else 1))


def _lanes_refused(lanes: int, resolved: str = "") -> SimulationInputError:
    """The error for ``lanes`` > 1 where stimuli cannot run side by side
    (:meth:`RunConfig.lanes_possible`); ``resolved`` says what the run resolved to."""
    return SimulationInputError(
        f"--lanes {lanes}: stimuli side by side need the standalone engine, the lateral "
        f"product (--lateral matrix), discrete mode, drawn counts, no --stream and no "
        f"movies{resolved}")


def _positive_int(value, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise SimulationInputError(f"{name} must be a positive integer, got {value}")
    return int(value)


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """How a simulation runs: clock, reset, records, engine, chunks, workers.

    Parameters
    ----------
    steps : int
        T, time bins per stimulus (a movie's frame count).
    bin_width : float
        tau, the width of one bin, in seconds (a Brian2 quantity is converted).
    dt : float, optional
        Simulation time step in seconds. None (default): ``bin_width``, the discrete
        mode (one step per bin, the paper's algorithm). A divisor of ``bin_width``
        (e.g. 0.0005 for 25 ms bins) gives the continuous-time mode, with spike times.
    stream : bool
        False: u <- u0 at the onset of every stimulus. True: no reset; the stimuli (or
        movie frames) form one continuous input sequence.
    movie : bool
        The stimuli are movies (N x T x M, frame t drives bin t).
    record : tuple of str
        Optional records besides the counts (:data:`OPTIONAL_RECORDS`).
    engine : {"auto", "runtime", "standalone"}
        Brian2's runtime mode (Cython, in this process) or its ``cpp_standalone`` device
        (compiled once per shape, rerun per chunk); "auto" picks by the amount of work.
    lateral : {"auto", "synapses", "matrix"}
        Event-driven lateral synapses or one product per step over the synapses' weights.
    precision : {"float64", "float32"}
        Floating-point type of the network's variables (Brian2's
        ``core.default_float_dtype`` while it is built and run): the drive, the lateral
        weights, u and the lateral input; the counts are integers in both.
    chunk_size : int, optional
        Stimuli per chunk (one Brian2 run, one task); default by :meth:`resolve`.
    lanes : int, optional
        Stimuli simulated side by side in one network of lanes x K latent neurons, each
        stimulus in its own lane with its own random streams, the lateral weights stored
        once (the same counts as one at a time, in float64 the same numbers). Only with the
        standalone engine, the lateral product, discrete mode, drawn counts, no streaming
        and no movies (:meth:`lanes_possible`).
        None: :meth:`resolve` picks :data:`LANES` there, else 1.
    threads : int, optional
        OpenMP threads of one standalone simulation (default: ``$IPVAE_THREADS`` or every
        core; a resolved run uses :data:`THREADS_PER_SIMULATION`).
    pad_chunks : bool
        Compile every run for exactly ``chunk_size`` stimuli (shorter runs padded with zero
        drive), so that runs of any length reuse one build. Set by :meth:`resolve`.
    lateral_inhibition : bool
        False removes the lateral synapses (a control).
    draw_counts : bool
        False switches the Poisson draw off (tests inject counts).
    workers : int, optional
        Worker processes of a distributed run (None: one per core, capped by the chunks).
    scheduler : str, optional
        Address of a running Dask scheduler whose workers run the chunks.
    engine_reason, lateral_reason : str
        Why "auto" resolved as it did (set by :meth:`resolve`).

    Examples
    --------
    >>> config = RunConfig(steps=16).resolve(n_stimuli=10, n_latents=32)
    >>> config.engine, config.lateral, config.chunk_size, config.mode
    ('runtime', 'synapses', 10, 'discrete')
    >>> RunConfig(steps=16, dt=0.0005).substeps
    50
    """

    steps: int = 128
    bin_width: float = BIN_WIDTH_S
    dt: float | None = None
    stream: bool = False
    movie: bool = False
    record: tuple = ()
    engine: str = "auto"
    lateral: str = "auto"
    precision: str = "float64"
    chunk_size: int | None = None
    lanes: int | None = None
    threads: int | None = None
    pad_chunks: bool = False
    lateral_inhibition: bool = True
    draw_counts: bool = True
    workers: int | None = None
    scheduler: str | None = None
    engine_reason: str = dataclasses.field(default="", compare=False)
    lateral_reason: str = dataclasses.field(default="", compare=False)

    def __post_init__(self):
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        steps = _positive_int(self.steps, "--steps")
        set_("steps", steps)
        bin_width = seconds(self.bin_width, "the bin width")
        if not bin_width > 0 or bin_width == float("inf"):
            raise SimulationInputError(f"the bin width must be positive and finite, got "
                                       f"{bin_width:g} s")
        set_("bin_width", bin_width)
        dt = bin_width if self.dt is None else seconds(self.dt, "dt")
        ratio = bin_width / dt if dt > 0 else -1.0
        if ratio < 1 - 1e-9 or abs(ratio - round(ratio)) > 1e-6 * ratio:
            raise SimulationInputError(
                f"dt ({dt * 1e3:g} ms) must be positive and divide the bin width "
                f"({bin_width * 1e3:g} ms) a whole number of times")
        set_("dt", bin_width / round(ratio))
        record = tuple(self.record)
        unknown = [r for r in record if r not in OPTIONAL_RECORDS]
        if unknown:
            raise SimulationInputError(f"--record: unknown item(s) {', '.join(unknown)}; "
                                       f"allowed: {', '.join(OPTIONAL_RECORDS)}")
        set_("record", record)
        if self.engine not in ENGINES + ("auto",):
            raise SimulationInputError(f"unknown engine {self.engine!r}; allowed: "
                                       f"{', '.join(ENGINES)}, auto")
        if self.lateral not in LATERAL_PROPAGATIONS + ("auto",):
            raise SimulationInputError(f"unknown lateral propagation {self.lateral!r}; "
                                       f"allowed: {', '.join(LATERAL_PROPAGATIONS)}, auto")
        if self.precision not in PRECISIONS:
            raise SimulationInputError(f"unknown precision {self.precision!r}; allowed: "
                                       f"{', '.join(PRECISIONS)}")
        set_("chunk_size", _positive_int(self.chunk_size, "--chunk-size"))
        set_("lanes", _positive_int(self.lanes, "--lanes"))
        if (self.lanes or 1) > 1 and not self.lanes_possible():
            raise _lanes_refused(self.lanes)
        set_("threads", _positive_int(self.threads, "threads"))
        set_("workers", _positive_int(self.workers, "--workers"))
        if self.scheduler and self.workers is not None:
            raise SimulationInputError("--scheduler and --workers exclude each other (the "
                                       "cluster has its workers)")
        if not self.engine_reason:
            set_("engine_reason", f"{self.engine} engine requested")
        if not self.lateral_reason:
            set_("lateral_reason", f"{self.lateral} requested")

    # --- derived -----------------------------------------------------------------------

    @property
    def substeps(self) -> int:
        """Simulation steps per bin (1 in discrete mode)."""
        return int(round(self.bin_width / self.dt))

    @property
    def continuous(self) -> bool:
        return self.substeps > 1

    @property
    def mode(self) -> str:
        """"discrete" (dt = bin width) or "continuous" (dt < bin width)."""
        return "continuous" if self.continuous else "discrete"

    @property
    def record_u(self) -> bool:
        return "u" in self.record

    def lanes_possible(self, engine: str | None = None, lateral: str | None = None) -> bool:
        """Whether stimuli can run side by side (``lanes`` > 1) in this configuration, or
        with ``engine`` and ``lateral`` as resolved; an "auto" one counts as possible."""
        return ((engine or self.engine) in ("standalone", "auto")
                and (lateral or self.lateral) in ("matrix", "auto")
                and not self.continuous and not self.stream and not self.movie
                and self.draw_counts)

    def replace(self, **changes) -> "RunConfig":
        """A copy with some fields changed (validated again); a changed engine or lateral
        formulation gets a new reason unless one is given."""
        for name in ("engine", "lateral"):
            if name in changes and f"{name}_reason" not in changes:
                changes[f"{name}_reason"] = ""
        return dataclasses.replace(self, **changes)

    def entries_per_stimulus(self, n_latents: int) -> int:
        """Weighted count entries of one stimulus (:func:`chunk_entries`)."""
        return chunk_entries(self.steps, n_latents, self.record_u, self.continuous)

    def default_chunk_size(self, n_latents: int) -> int:
        """Stimuli per Brian2 run of an unresolved network: :data:`CHUNK_ENTRIES` entries."""
        return self.chunk_size or max(1, CHUNK_ENTRIES // self.entries_per_stimulus(n_latents))

    # --- resolution, once per run ----------------------------------------------------------

    def resolve(self, n_stimuli: int, n_latents: int) -> "RunConfig":
        """This configuration for a run of ``n_stimuli`` stimuli through ``n_latents`` neurons.

        Resolves ``engine="auto"`` (standalone from :data:`STANDALONE_MIN_BINS` simulation
        steps), ``lateral="auto"`` (the product from the same size), the chunk size (at
        most :data:`TASK_ENTRIES` count entries, at most :data:`CHUNK_ENTRIES`, at most
        N), padded chunks and one thread per simulation, with the reasons.
        """
        n_stimuli = _positive_int(n_stimuli, "the number of stimuli")
        bins = n_stimuli * self.steps * self.substeps
        big = bins >= STANDALONE_MIN_BINS
        changes = {"pad_chunks": True,
                   "threads": self.threads or THREADS_PER_SIMULATION}
        if self.engine == "auto":
            changes["engine"] = "standalone" if big else "runtime"
            changes["engine_reason"] = (
                f"auto: cpp_standalone for {bins:,} steps >= {STANDALONE_MIN_BINS:,} "
                f"(compiled once per shape, cached)" if big else
                f"auto: runtime for {bins:,} steps < {STANDALONE_MIN_BINS:,} (too little "
                f"work to pay for a compilation)")
        if self.lateral == "auto":
            changes["lateral"] = "matrix" if big else "synapses"
            changes["lateral_reason"] = (
                f"auto: the lateral synapses' weights applied as one product per step for "
                f"{bins:,} steps >= {STANDALONE_MIN_BINS:,} (the same multiply-adds as the "
                f"synaptic events, vectorised over contiguous columns of W instead of "
                f"visited one synapse at a time through index arrays); --lateral synapses "
                f"for event-driven synapses" if big else
                f"auto: event-driven synapses for {bins:,} steps < {STANDALONE_MIN_BINS:,}")
        engine, lateral = changes.get("engine", self.engine), changes.get("lateral", self.lateral)
        possible = self.lanes_possible(engine, lateral)
        if self.lanes is None:
            changes["lanes"] = min(LANES, n_stimuli) if possible else 1
        elif self.lanes > 1 and not possible:
            raise _lanes_refused(self.lanes, f" (resolved: {engine} engine, lateral {lateral})")
        if self.chunk_size is None:
            per_stimulus = self.entries_per_stimulus(n_latents)
            changes["chunk_size"] = min(max(1, TASK_ENTRIES // per_stimulus),
                                        max(1, CHUNK_ENTRIES // per_stimulus), n_stimuli)
        return self.replace(**changes)

    @property
    def resolved(self) -> bool:
        return (self.engine in ENGINES and self.lateral in LATERAL_PROPAGATIONS
                and self.chunk_size is not None)

    def recording_attrs(self) -> dict:
        """The root attributes a recording stores about how it was simulated."""
        return {"mode": self.mode, "engine": self.engine, "lateral": self.lateral,
                "precision": self.precision,
                "bin_width": self.bin_width, "bin_width_units": "s",
                "dt": self.dt, "dt_units": "s", "stream": bool(self.stream),
                "threads": self.threads or THREADS_PER_SIMULATION,
                "chunk_size": self.chunk_size, "lanes": self.lanes or 1}
