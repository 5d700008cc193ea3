"""What every V1 experiment shares: running a block of stimuli, the result, the base class.

An *experiment* shows the network one or more *blocks* of stimuli. Each block
is run by :func:`run_block`: the network (discrete bins, or continuous time for
spike timing) is built for the block's shape, the stimuli run in chunks, every
chunk is streamed into a recording (``models.recording.RecordingWriter``,
written atomically) and reduced on the fly to what the analysis needs: the
spike count of every stimulus and neuron in a response window, and optionally
the counts of every bin. A neuron's *response* to a stimulus is its spike count
in that window, averaged over repeats (a rate in spikes/s when printed).

Units: one bin is tau = 25 ms (the simulator's default bin width), so a count
c over n bins is a rate of c / (n tau) spikes/s.
"""
from __future__ import annotations

import dataclasses
import json

import numpy as np

from ipvae_brian.analysis.experiments.context import ExperimentContext
# the simulator's default bin width tau in seconds: it sets every rate in spikes/s
from ipvae_brian.models.config import BIN_WIDTH_S
from ipvae_brian.stimuli.stimulus_set import StimulusSet

#: A neuron is "responsive" in an experiment if its mean rate at its preferred condition,
#: in the response window, reaches this many spikes/s (0.125 counts per 25 ms bin).
RESPONSIVE_RATE_HZ = 5.0
#: Relative cost of one bin in continuous mode per time step within the bin, against one
#: discrete bin (measured with the runtime engine at K = 512: 50 steps per bin cost ~4 bins).
CONTINUOUS_COST_PER_STEP = 0.08


@dataclasses.dataclass
class BlockResult:
    """What one block of stimuli produced.

    Attributes
    ----------
    name : str
    path : str
        The recording file.
    window_counts : ndarray, shape (N, K), float64
        Spike count of every stimulus and neuron summed over the response window.
    window_bins : int
        Number of bins in the window.
    counts : ndarray, shape (N, T, K), or None
        Counts of every bin (if kept).
    n_runaway : int
        Stimuli during which some neuron reached the rate ceiling (counts >= exp(c_u) / 2
        in a bin): the dynamics were unstable for them.
    wall_s : float
    """

    name: str
    path: str
    window_counts: np.ndarray
    window_bins: int
    counts: np.ndarray | None
    n_runaway: int
    wall_s: float

    @property
    def window_rates(self) -> np.ndarray:
        """Window counts as rates, spikes/s, shape (N, K)."""
        return self.window_counts / (self.window_bins * BIN_WIDTH_S)


def block_cost(n_stimuli: int, steps: int, substeps: int = 1) -> float:
    """Work of a block in bin units (continuous bins weighted by their steps)."""
    weight = 1.0 if substeps == 1 else CONTINUOUS_COST_PER_STEP * substeps
    return float(n_stimuli * steps * weight)


def run_block(ctx: ExperimentContext, name: str, stimuli: StimulusSet, steps: int,
              window: tuple[int, int], *, stream: bool = False, substeps: int = 1,
              keep_counts: bool = False, protocol: dict | None = None) -> BlockResult:
    """Simulate one block of stimuli, write its recording, reduce its counts.

    Parameters
    ----------
    ctx : ExperimentContext
    name : str
        Block name; the recording is ``<out_dir>/<name>.h5``.
    stimuli : StimulusSet
        Images (N x M, each shown for ``steps`` bins) or movies (N x T x M).
    steps : int
        T, bins per stimulus (a movie's frame count).
    window : (int, int)
        First and one-past-last bin of the response window within each stimulus.
    stream : bool
        No reset of u between stimuli (one continuous sequence).
    substeps : int
        1: discrete bins; n > 1: continuous time with dt = tau / n (spike times recorded).
    keep_counts : bool
        Also return the counts of every bin.
    protocol : dict, optional
        JSON-serialisable protocol description, stored as the recording's ``protocol``
        attribute.

    Returns
    -------
    BlockResult
    """
    from ipvae_brian.models.config import RunConfig
    from ipvae_brian.models.simulation import Simulation

    first, last = window
    if not 0 <= first < last <= steps:
        raise ValueError(f"response window {window} does not fit in {steps} bins")
    params = ctx.params
    # in this process: an experiment is many small blocks, each too small for a cluster
    config = RunConfig(steps=steps, bin_width=BIN_WIDTH_S, stream=stream,
                       dt=BIN_WIDTH_S / substeps if substeps > 1 else None,
                       engine=ctx.engine, workers=1)
    simulation = Simulation(params, stimuli, config)
    seed = ctx.block_seed(name)
    attrs = {"root_seed": int(ctx.seed), "params_source": str(ctx.params_source),
             "experiment_block": name, "response_window_bins": np.asarray(window),
             "protocol": json.dumps(protocol or {}), "command_line": ctx.command_line}
    N, K = stimuli.n_stimuli, params.n_latents
    window_counts = np.zeros((N, K))
    unit = block_cost(1, steps, substeps)
    done = [0.0]

    def report(n_done: float):
        ctx.progress.advance((n_done - done[0]) * unit)
        done[0] = n_done

    def reduce(chunk):
        rows = slice(chunk.first, chunk.first + chunk.counts.shape[0])
        window_counts[rows] = chunk.counts[:, first:last].sum(axis=1, dtype=np.float64)

    ctx.progress.describe(f"{name} ({N:,} stimuli x {steps} bins"
                          f"{', continuous' if substeps > 1 else ''})")
    path = ctx.path(name + ".h5")
    result = simulation.run(seed, out=path, attrs=attrs, progress=report, keep=keep_counts,
                            on_chunk=reduce)
    report(float(N))
    return BlockResult(name=name, path=path, window_counts=window_counts,
                       window_bins=last - first, counts=result.counts,
                       n_runaway=result.summary.runaways, wall_s=result.summary.wall_s)


def repeat_stimuli(stimuli: StimulusSet, repeats: int) -> StimulusSet:
    """The set shown ``repeats`` times in a row (all conditions, then all again, ...).

    ``labels`` keep the condition index; ``params["repeats"]`` records the count.
    """
    if repeats == 1:
        return stimuli
    labels = np.arange(stimuli.n_stimuli) if stimuli.labels is None else stimuli.labels
    reps = (repeats,) + (1,) * (stimuli.x.ndim - 1)
    return dataclasses.replace(stimuli, x=np.tile(stimuli.x, reps),
                               labels=np.tile(labels, repeats),
                               params={**stimuli.params, "repeats": int(repeats)})


def stack_stimuli(name: str, parts: list, image_shape, conditions: dict,
                  description: str) -> StimulusSet:
    """One StimulusSet from several (each one condition or more), with compact provenance.

    Parameters
    ----------
    name : str
        Generator name (e.g. ``"drifting_grating"``).
    parts : list of StimulusSet
        Sets of the same kind (images or movies of equal length).
    image_shape : (int, int)
    conditions : dict of str -> list
        Per-stimulus values of the varied parameters (one entry per stimulus of the
        result), stored as JSON in ``params["conditions"]`` (rounded to 6 digits).
    description : str
        What the set is, for the recording.

    Returns
    -------
    StimulusSet
        The parts' stimuli in order, labelled 0 .. N - 1.
    """
    x = np.concatenate([p.x for p in parts])
    compact = {k: [None if v is None else round(float(v), 6) for v in values]
               for k, values in conditions.items()}
    common = dict(parts[0].params)
    for key in ("grid", "grid_order", "spec") + tuple(conditions):
        common.pop(key, None)
    params = {**common, "conditions": compact, "description": description}
    return StimulusSet(name=name, x=x, image_shape=tuple(image_shape), params=params,
                       labels=np.arange(x.shape[0]))


def responsive(rates: np.ndarray, threshold_hz: float = RESPONSIVE_RATE_HZ) -> np.ndarray:
    """Boolean mask of neurons whose rate (spikes/s) reaches the threshold."""
    rates = np.asarray(rates, dtype=np.float64)
    return np.isfinite(rates) & (rates >= threshold_hz)


def nan_per_neuron(k: int) -> np.ndarray:
    """A per-neuron statistic before it is measured: K NaNs, shape (K,)."""
    return np.full(k, np.nan)


def sample_neurons(ctx: ExperimentContext, mask: np.ndarray, limit: int,
                   name: str) -> np.ndarray:
    """Indices of at most ``limit`` neurons of ``mask``, drawn at random (seeded), sorted."""
    idx = np.flatnonzero(mask)
    if idx.size > limit:
        rng = np.random.default_rng(ctx.block_seed(name + "-sample"))
        idx = np.sort(rng.choice(idx, size=limit, replace=False))
    return idx


def runaway_notes(blocks) -> list:
    """One note per block in which some stimulus drove a neuron to the rate ceiling."""
    notes = []
    for b in blocks:
        if b.n_runaway:
            notes.append(f"{b.n_runaway} stimuli of block {b.name} drove some neuron to the rate "
                         f"ceiling (counts >= exp(c_u) / 2 in a bin, where the soft clamp c_u "
                         f"limits the rate; with c_u = 10 this means unstable dynamics); their "
                         f"responses are included")
    return notes


@dataclasses.dataclass
class ExperimentResult:
    """What an experiment measured.

    Attributes
    ----------
    name : str
    per_neuron : dict of str -> ndarray, shape (K,)
        Per-neuron statistics, NaN for neurons not analysed.
    population : dict of str -> ndarray
        Other samples (e.g. population sparseness per stimulus, r_sc per pair).
    summary : dict of str -> float
        Scalars (fit results of a distribution, counts, ...).
    n_neurons : int
        K.
    n_responsive : int
        Neurons that passed the experiment's response criterion.
    n_analysed : int
        Neurons whose statistics were computed.
    files : list of str
        Recordings and the figure written.
    notes : list of str
        What the reader should know (criteria, runaways, skipped steps).
    wall_s : float
    """

    name: str
    per_neuron: dict
    population: dict
    summary: dict
    n_neurons: int
    n_responsive: int
    n_analysed: int
    files: list
    notes: list
    wall_s: float = 0.0


class Experiment:
    """One V1 experiment: a protocol that shows the network stimuli and measures statistics.

    Each module of ``analysis.experiments`` defines a subclass and one instance of it,
    ``EXPERIMENT``, which the registry (``analysis.experiments.get_experiment``) looks up
    by :attr:`name`.
    """

    #: The experiment's name on the command line and in the file names it writes.
    name: str = ""
    #: Its blocks, each written as the recording ``<out_dir>/<block>.h5``; empty: one
    #: block named as the experiment (:meth:`output_files`).
    blocks: tuple = ()

    def output_files(self) -> list:
        """Names of the files the experiment may write in its output folder: the
        recordings of its blocks and its figure ``<name>.png`` (the commands refuse to
        replace existing ones without ``--overwrite``, before anything runs)."""
        return [f"{block}.h5" for block in self.blocks or (self.name,)] + [f"{self.name}.png"]

    def check(self, ctx: ExperimentContext) -> None:
        """Raise SimulationInputError if the experiment cannot run with these parameters.

        The default asks for square stimuli (``ctx.side``).
        """
        _ = ctx.side

    def estimated_work(self, ctx: ExperimentContext) -> float:
        """Upper estimate of the simulation work in bin units (for progress bars)."""
        raise NotImplementedError

    def run(self, ctx: ExperimentContext) -> ExperimentResult:
        """Show the stimuli, write the recordings and the figure, measure the statistics."""
        raise NotImplementedError
