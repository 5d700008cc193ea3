"""What every V1 experiment shares: the stimulus geometry, running a block of stimuli, progress.

An *experiment* (``analysis.experiments``) shows the network one or more *blocks*
of stimuli. Each block is run by :func:`run_block`: the network (discrete bins,
or continuous time for spike timing) is built for the block's shape, the
stimuli run in chunks, every chunk is streamed into a recording
(``models.recording.RecordingWriter``, written atomically) and reduced on the
fly to what the analysis needs: the spike count of every stimulus and neuron in
a response window, and optionally the counts of every bin.

Stimuli are drawn at the parameters' image size: M pixels must form a square
image of side sqrt(M) (16 x 16 for M = 256, 8 x 8 for M = 64); any K works.

Units: one bin is tau = 25 ms (the simulator's default bin width), so a count
c over n bins is a rate of c / (n tau) spikes/s.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import time
import zlib
import numpy as np

from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.parameters import IPVAEParameters
from ipvae_brian.stimuli.stimulus_set import StimulusSet

#: Width tau of one bin, seconds (the simulator's default; it sets every rate in spikes/s).
BIN_WIDTH_S = 0.025
#: A neuron is "responsive" in an experiment if its mean rate at its preferred condition,
#: in the response window, reaches this many spikes/s (0.125 counts per 25 ms bin).
RESPONSIVE_RATE_HZ = 5.0
#: Relative cost of one bin in continuous mode per time step within the bin, against one
#: discrete bin (measured with the runtime engine at K = 512: 50 steps per bin cost ~4 bins).
CONTINUOUS_COST_PER_STEP = 0.08
#: Largest side of the natural-image patches the project ships (natural16).
NATURAL_SIDE = 16


def stimulus_side(params: IPVAEParameters) -> int:
    """Side of the square stimulus images that fit the parameters (sqrt(M)).

    Raises
    ------
    SimulationInputError
        If M is not a perfect square of at least 4 x 4 pixels.
    """
    m = params.n_pixels
    side = math.isqrt(m)
    if side * side != m or side < 4:
        raise SimulationInputError(
            f"the parameters have M = {m} pixels, which is not a square image of at least "
            f"4 x 4: the V1 experiments draw square stimuli of side sqrt(M) (e.g. M = 256 for "
            f"16 x 16 patches, M = 64 for 8 x 8)")
    return side


def check_natural_side(params: IPVAEParameters) -> int:
    """The image side for natural-image stimuli: at most 16 (central crops of natural16).

    Raises
    ------
    SimulationInputError
        If M is not square or its side exceeds the 16 x 16 natural16 patches.
    """
    side = stimulus_side(params)
    if side > NATURAL_SIDE:
        raise SimulationInputError(
            f"the parameters have M = {params.n_pixels} pixels ({side} x {side}) but the "
            f"natural images ship as {NATURAL_SIDE} x {NATURAL_SIDE} patches (natural16): the "
            f"natural experiment needs M <= {NATURAL_SIDE ** 2} (smaller sides use central "
            f"crops)")
    return side


class ProgressReporter:
    """Receives the work done (in bin units) and the current activity; does nothing itself.

    ``run_sim.py`` subclasses it with a tqdm bar. ``advance`` is called with the number of
    simulated bins (continuous-mode bins weighted by their cost), ``describe`` with a short
    text of what runs now.
    """

    def advance(self, units: float) -> None:
        pass

    def describe(self, text: str) -> None:
        pass


@dataclasses.dataclass
class ExperimentContext:
    """Everything an experiment needs besides its protocol.

    Attributes
    ----------
    params : IPVAEParameters
    params_source : str
        Where the parameters came from (file path, or "random (seed s)").
    out_dir : str
        Folder for recordings and figures (must exist).
    seed : int
        Root seed: every block draws from a stream derived from (seed, block name).
    quick : bool
        Small protocol sizes (tests, smoke runs).
    engine : str
        Brian2 engine for the network ("runtime", "standalone" or "auto").
    progress : ProgressReporter
    command_line : str
        Stored in every recording.
    shared : dict
        Results one experiment leaves for the next (e.g. grating preferences), so that
        ``compare-v1`` measures them once.
    protocol_overrides : dict
        Protocol fields to change (``analysis.experiments.Protocol``), e.g. for tests.
    """

    params: IPVAEParameters
    params_source: str
    out_dir: str
    seed: int = 0
    quick: bool = False
    engine: str = "runtime"
    progress: ProgressReporter = dataclasses.field(default_factory=ProgressReporter)
    command_line: str = ""
    shared: dict = dataclasses.field(default_factory=dict)
    protocol_overrides: dict = dataclasses.field(default_factory=dict)

    @property
    def side(self) -> int:
        return stimulus_side(self.params)

    @property
    def n_latents(self) -> int:
        return self.params.n_latents

    def path(self, name: str) -> str:
        return os.path.join(self.out_dir, name)

    def block_seed(self, block: str) -> int:
        """Seed of one block, derived from (seed, block name)."""
        state = np.random.SeedSequence([int(self.seed), zlib.crc32(block.encode())])
        return int(state.generate_state(1, np.uint32)[0])


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
    from brian2 import second
    from ipvae_brian.models.network import IPVAENetwork
    from ipvae_brian.models.recording import RecordingWriter

    first, last = window
    if not 0 <= first < last <= steps:
        raise ValueError(f"response window {window} does not fit in {steps} bins")
    params = ctx.params
    bin_width = BIN_WIDTH_S * second
    dt = bin_width / substeps if substeps > 1 else None
    network = IPVAENetwork(params, steps, stream=stream, movie=stimuli.is_movie,
                           bin_width=bin_width, dt=dt, engine=ctx.engine)
    engine = network.choose_engine(stimuli.n_stimuli)
    path = ctx.path(name + ".h5")
    seed = ctx.block_seed(name)
    attrs = {"seed": seed, "root_seed": int(ctx.seed), "mode": network.mode, "engine": engine,
             "bin_width": BIN_WIDTH_S, "bin_width_units": "s",
             "dt": float(network.dt), "dt_units": "s", "stream": bool(stream),
             "params_source": str(ctx.params_source), "experiment_block": name,
             "response_window_bins": np.asarray(window),
             "protocol": json.dumps(protocol or {}),
             "command_line": ctx.command_line}
    N, K = stimuli.n_stimuli, params.n_latents
    window_counts = np.zeros((N, K))
    counts_all = np.zeros((N, steps, K), dtype=np.uint16 if params.c_u <= 10 else np.uint32) \
        if keep_counts else None
    ceiling = 0.5 * np.exp(params.c_u)
    runaway = 0
    unit = block_cost(1, steps, substeps)
    done = [0.0]

    def report(n_done: float):
        ctx.progress.advance((n_done - done[0]) * unit)
        done[0] = n_done

    ctx.progress.describe(f"{name} ({N:,} stimuli x {steps} bins"
                          f"{', continuous' if substeps > 1 else ''})")
    start = time.perf_counter()
    with RecordingWriter(path, params, stimuli, steps, attrs=attrs,
                         spikes=network.continuous) as writer:
        for chunk in network.run(stimuli.x, seed=seed, progress=report):
            writer.append(chunk)
            n = chunk.counts.shape[0]
            rows = slice(chunk.first, chunk.first + n)
            window_counts[rows] = chunk.counts[:, first:last].sum(axis=1, dtype=np.float64)
            if keep_counts:
                counts_all[rows] = chunk.counts
            runaway += int(np.count_nonzero(chunk.counts.max(axis=(1, 2)) >= ceiling))
    report(float(N))
    return BlockResult(name=name, path=path, window_counts=window_counts,
                       window_bins=last - first, counts=counts_all, n_runaway=runaway,
                       wall_s=time.perf_counter() - start)


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


def receptive_field_centres(params: IPVAEParameters) -> np.ndarray:
    """Centre of every neuron's projective field: the centroid of Phi_k^2 over the pixels.

    Returns
    -------
    ndarray, shape (K, 2)
        (x, y) in pixels from the image centre, x rightward and y upward (the stimulus
        convention of ``stimuli.conditions.pixel_coordinates``).
    """
    side = stimulus_side(params)
    c = (side - 1) / 2.0
    rows, cols = np.mgrid[0:side, 0:side].astype(np.float64)
    x, y = (cols - c).ravel(), (c - rows).ravel()
    energy = params.Phi ** 2
    total = energy.sum(axis=0)
    total = np.where(total > 0, total, 1.0)
    return np.stack([x @ energy / total, y @ energy / total], axis=1)


def nearest_centre(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest of ``centres`` (C, 2) for each of ``points`` (K, 2)."""
    d = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=-1)
    return np.argmin(d, axis=1)


def summarise(values) -> dict:
    """Median, quartiles and count of the finite values (NaN when there are none)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"median": float("nan"), "q1": float("nan"), "q3": float("nan"), "n": 0}
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    return {"median": float(med), "q1": float(q1), "q3": float(q3), "n": int(v.size)}


def describe_summary(values, unit: str = "", digits: int = 3) -> str:
    """``median [q1, q3] (n = ...)`` of the finite values, for printing."""
    s = summarise(values)
    if s["n"] == 0:
        return "no data (n = 0)"
    fmt = f"{{:.{digits}g}}"
    u = f" {unit}" if unit else ""
    return (f"{fmt.format(s['median'])}{u} [IQR {fmt.format(s['q1'])} to "
            f"{fmt.format(s['q3'])}] (n = {s['n']})")

