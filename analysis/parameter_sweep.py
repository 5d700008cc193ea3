"""A parameter sweep: a grid of parameter values, one recording per point, one summary table.

    python run_sim.py sweep --params FILE --set eta=0.5,1,2 --set log_bias=-4,-3 \\
        --stimuli natural16:test --n 2000 --steps 64 --out sweep/

Every point of the grid (the Cartesian product of the ``--set`` axes, in the order
given) is simulated on the same stimuli and written to its own recording in the output
folder, named after the point (``eta=0.5_log_bias=-4.h5``). The summary table
(``summary.csv`` and ``summary.md``) lists, per point, the reconstruction quality R^2
of Phi z_T at the last bin (mean and median over stimuli), the fraction of zero counts
(last bin and all bins), the mean count per neuron per bin and the mean rate in Hz.

Resumable: a recording is only ever written complete (temporary file, renamed at the
end), so a point whose file exists is done. It is checked (format, and the settings it
was made with, stored in the file as ``sweep_settings``, including a digest of the
stimuli's pixels, so a stimulus file changed between runs is noticed) and skipped; a second
invocation of a finished sweep simulates nothing and only rewrites the summary. A file
made with other settings (another ``--n``, parameter file, seed, ...) is an error, not
silently replaced (``--overwrite`` simulates such points again).

Axes (``--set NAME=v1,v2,...``), see :data:`SWEEP_AXES`. Scalar values set every
neuron's entry of a per-neuron parameter (``log_bias``, ``u0``).

:func:`run_sweep` is the whole command as one call (:class:`SweepOptions` in, a
:class:`SweepResult` out); :class:`ParameterSweep` is the grid, its files and its table.

References
----------
Vafaii, Galor & Yates (2025), "Brain-like variational inference", arXiv:2410.19315
(R^2 and %-zeros as the summary of a code's quality and sparsity).
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import itertools
import json
import math
import os
import time
from typing import Callable

import numpy as np

from ipvae_brian.models.atomic_file import atomic_output
from ipvae_brian.models.config import THREADS_PER_SIMULATION, RunConfig
from ipvae_brian.models.errors import FileFormatError, ParameterError, SimulationInputError
from ipvae_brian.models.parameters import IPVAEParameters
from ipvae_brian.models.recording import Recording
from ipvae_brian.models.run_summary import summarise_recording
from ipvae_brian.models.shipped import parameter_pixel_counts, resolve_parameters
from ipvae_brian.models.simulation import Simulation
from ipvae_brian.stimuli import catalog

#: What each sweep axis sets.
SWEEP_AXES = {
    "eta": "step size eta of the membrane update (sets log_lr = log eta; > 0)",
    "log_lr": "log of the step size eta",
    "log_bias": "log of the bias b, the same for every neuron",
    "u0": "prior log-rate u0 (log counts per bin), the same for every neuron",
    "beta": "KL weight of the free energy (stored; it does not enter the inference "
            "dynamics, so it leaves the counts unchanged)",
    "c_u": "soft upper bound of u",
    "c_du": "soft upper bound of the per-bin change of u",
    "u_floor": "hard lower bound of u",
    "seed": "seed of the Poisson draws (random parameters keep the base --seed)",
    "latents": "K, the number of latent neurons (random parameters only)",
}

#: Axes whose values are integers.
_INTEGER_AXES = ("seed", "latents")

SUMMARY_COLUMNS = ("point", "r2_mean", "r2_median", "zeros_last_pct", "zeros_all_pct",
                   "mean_count", "rate_hz", "runaways", "n_stimuli", "status", "file")


def parse_axes(items) -> dict:
    """Parse ``--set`` items: ``["eta=0.5,1", "log_bias=-4"]`` -> ``{"eta": [0.5, 1.0],
    "log_bias": [-4.0]}``.

    Raises
    ------
    SimulationInputError
        Unknown name, repeated name, no or non-numeric or repeated values, or a value
        out of range (eta <= 0, latents < 1, seed < 0).
    """
    axes = {}
    for item in items or ():
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise SimulationInputError(f"--set expects NAME=v1,v2,..., got {item!r}")
        if name not in SWEEP_AXES:
            raise SimulationInputError(f"--set: unknown parameter {name!r}; allowed: "
                                       f"{', '.join(SWEEP_AXES)}")
        if name in axes:
            raise SimulationInputError(f"--set: {name} is given twice")
        values = []
        for token in (t.strip() for t in text.split(",")):
            try:
                value = float(token)
            except ValueError:
                raise SimulationInputError(f"--set {name}: {token!r} is not a number") from None
            if not math.isfinite(value):
                raise SimulationInputError(f"--set {name}: {token!r} is not finite")
            if name in _INTEGER_AXES:
                if value != int(value):
                    raise SimulationInputError(f"--set {name}: {token!r} is not an integer")
                value = int(value)
            values.append(value)
        if len(set(values)) != len(values):
            raise SimulationInputError(f"--set {name}: repeated values in {text!r}")
        bounds = {"eta": (0.0, "positive"), "latents": (0, "at least 1"),
                  "seed": (-1, "non-negative")}
        if name in bounds and any(v <= bounds[name][0] for v in values):
            raise SimulationInputError(f"--set {name}: values must be {bounds[name][1]}, got "
                                       f"{text}")
        axes[name] = values
    if not axes:
        raise SimulationInputError("give at least one axis: --set NAME=v1,v2,...")
    if "eta" in axes and "log_lr" in axes:
        raise SimulationInputError("--set eta and --set log_lr set the same parameter")
    return axes


def point_name(values: dict) -> str:
    """File stem of a point: ``eta=0.5_log_bias=-4`` (values in their shortest form)."""
    return "_".join(f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}"
                    for name, value in values.items())


def apply_point(params: IPVAEParameters, values: dict) -> IPVAEParameters:
    """The parameters of one point: ``params`` with the point's parameter axes set."""
    K = params.n_latents
    changes = {}
    for name, value in values.items():
        if name == "eta":
            changes["log_lr"] = math.log(value)
        elif name in ("log_bias", "u0"):
            changes[name] = np.full(K, float(value))
        elif name in ("log_lr", "beta", "c_u", "c_du", "u_floor"):
            changes[name] = float(value)
    try:
        return params.replace(**changes) if changes else params
    except ParameterError as exc:
        raise SimulationInputError(f"point {point_name(values)}: {exc}") from None


def stimuli_digest(stimuli) -> str:
    """Short digest of the stimuli's content (pixels, shape and labels): a point is
    complete only if its recording was made from the same pixels, not only the same spec
    (a stimulus file can change between runs)."""
    h = hashlib.sha256(repr(stimuli.x.shape).encode())
    h.update(np.ascontiguousarray(stimuli.x).tobytes())
    if stimuli.labels is not None:
        h.update(np.ascontiguousarray(stimuli.labels).tobytes())
    return h.hexdigest()[:16]


def parameters_digest(params: IPVAEParameters) -> str:
    """Short digest of the parameter values (to recognise a recording's parameters)."""
    h = hashlib.sha256()
    for name in ("Phi", "log_sigma", "u0", "log_bias"):
        h.update(np.ascontiguousarray(getattr(params, name)).tobytes())
    h.update(repr((params.log_lr, params.c_u, params.c_du, params.u_floor,
                   params.beta)).encode())
    return h.hexdigest()[:16]


@dataclasses.dataclass
class SweepPoint:
    """One point of the grid.

    Attributes
    ----------
    values : dict
        Axis name -> value, in the order of the axes.
    name : str
        File stem (:func:`point_name`).
    path : str
        Its recording.
    params : IPVAEParameters
    seed : int
        Seed of its Poisson draws.
    settings : dict
        Everything its counts depend on (stored in the file as ``sweep_settings``).
    status : str
        "to simulate", "complete" (found, checked) or "simulated".
    """

    values: dict
    name: str
    path: str
    params: IPVAEParameters
    seed: int
    settings: dict
    status: str = "to simulate"


class ParameterSweep:
    """The grid of a sweep, its recordings and its summary.

    Parameters
    ----------
    axes : dict
        From :func:`parse_axes`.
    out : str
        Output folder (created if missing; its parent must exist).
    parameters : callable
        ``parameters(K)`` -> the base :class:`IPVAEParameters` (K is the point's
        ``latents`` value, or None without that axis).
    stimuli_spec : str
        The stimulus set (part of the settings a recording is checked against).
    stimuli : StimulusSet
    steps : int
    seed : int
        Base seed (of the draws, unless ``seed`` is an axis).
    settings : dict
        Further settings every recording must match (engine, bin width, ...).

    Raises
    ------
    SimulationInputError
        If a recording in ``out`` was made with other settings, or is not a recording.
    """

    def __init__(self, axes: dict, out: str, parameters, stimuli_spec: str, stimuli,
                 steps: int, seed: int, settings: dict | None = None,
                 overwrite: bool = False):
        self.axes = axes
        self.overwrite = overwrite
        self.out = os.fspath(out)
        parent = os.path.dirname(os.path.abspath(self.out))
        if os.path.exists(self.out) and not os.path.isdir(self.out):
            raise SimulationInputError(f"--out {self.out!r} is a file; the sweep writes a folder")
        if not os.path.isdir(parent):
            raise SimulationInputError(f"the folder {parent!r} of --out does not exist")
        self.stimuli = stimuli
        self.steps = int(steps)
        self.points = []
        digest = stimuli_digest(stimuli)
        for combination in itertools.product(*axes.values()):
            values = dict(zip(axes, combination))
            params = apply_point(parameters(values.get("latents")), values)
            point_seed = int(values.get("seed", seed))
            name = point_name(values)
            point_settings = {"stimuli": stimuli_spec, "n_stimuli": stimuli.n_stimuli,
                              "stimuli_digest": digest,
                              "steps": self.steps, "seed": point_seed,
                              "n_latents": params.n_latents,
                              "parameters": parameters_digest(params), **(settings or {}),
                              "point": values}
            self.points.append(SweepPoint(values=values, name=name,
                                          path=os.path.join(self.out, name + ".h5"),
                                          params=params, seed=point_seed,
                                          settings=point_settings))
        for point in self.points:
            self._check_existing(point)

    @property
    def to_simulate(self) -> list:
        return [p for p in self.points if p.status == "to simulate"]

    def _check_existing(self, point: SweepPoint) -> None:
        from ipvae_brian.models.atomic_file import same_file
        if not os.path.lexists(point.path):
            return
        source = self.stimuli.params.get("path")
        if source and same_file(point.path, source):
            raise SimulationInputError(f"{point.path} is the stimulus file of this sweep: "
                                       f"simulating the point would destroy it; choose "
                                       f"another --out")
        try:
            self._check_recording(point)
        except SimulationInputError:
            if not self.overwrite:
                raise
            return                     # --overwrite: simulated again, replaced when done
        point.status = "complete"

    def _check_recording(self, point: SweepPoint) -> None:
        try:
            with Recording.open(point.path) as rec:
                stored = rec.attrs.get("sweep_settings")
        except FileFormatError as exc:
            raise SimulationInputError(f"{point.path} exists but is not a readable recording "
                                       f"({exc}); remove it to simulate this point") from None
        if stored is None:
            raise SimulationInputError(f"{point.path} exists but was not written by a sweep; "
                                       f"remove it or choose another --out")
        stored = json.loads(stored)
        expected = json.loads(json.dumps(point.settings))
        if stored != expected:
            differ = sorted(k for k in set(stored) | set(expected)
                            if stored.get(k) != expected.get(k))
            if {"stimuli", "n_stimuli"} & set(differ) and "stimuli_digest" in differ:
                differ.remove("stimuli_digest")
            elif "stimuli_digest" in differ:
                differ[differ.index("stimuli_digest")] = ("stimuli_digest: the stimuli's "
                                                          "pixels changed")
            raise SimulationInputError(
                f"{point.path} exists but was made with other settings (differs in: "
                f"{', '.join(differ)}); pass --overwrite to simulate it again, or choose "
                f"another --out")

    def recording_attrs(self, point: SweepPoint) -> dict:
        """Root attributes of a point's recording (besides the writer's own)."""
        attrs = {"seed": point.seed, "sweep_settings": json.dumps(point.settings),
                 "sweep_point": point.name}
        for name, value in point.values.items():
            attrs["sweep_" + name] = value
        return attrs

    def summarise(self) -> list:
        """One row per point (:data:`SUMMARY_COLUMNS` plus the axis values), from the files."""
        rows = []
        for point in self.points:
            row = {"point": point.name, **point.values, **summarise_recording(point.path),
                   "status": point.status, "file": os.path.basename(point.path)}
            rows.append(row)
        return rows

    def write_summary(self, rows) -> tuple:
        """Write ``summary.csv`` and ``summary.md`` in the output folder; return their paths."""
        columns = ["point", *self.axes, *[c for c in SUMMARY_COLUMNS if c != "point"]]
        csv_path = os.path.join(self.out, "summary.csv")
        md_path = os.path.join(self.out, "summary.md")
        with atomic_output(csv_path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            for row in rows:
                writer.writerow({c: _format(row[c]) for c in columns})
        with atomic_output(md_path) as tmp, open(tmp, "w") as f:
            f.write(summary_markdown(rows, columns))
        return csv_path, md_path


def _format(value) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def summary_markdown(rows, columns) -> str:
    """The summary as a Markdown table, with a legend of the columns."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_format(row[c]) for c in columns) + " |")
    legend = (
        "\nr2_mean, r2_median: R^2 of the reconstruction Phi z_T at the last bin, over the "
        "stimuli (constant stimuli, whose R^2 is undefined, are left out). zeros_last_pct, "
        "zeros_all_pct: percentage of zero counts at the last bin and over all bins. "
        "mean_count: spikes per neuron per bin; rate_hz: the same per second (divided by "
        "the bin width). runaways: stimuli whose counts reached half the rate ceiling "
        "exp(c_u) in some bin. status: simulated now, or complete (found and checked, not "
        "simulated again).\n")
    return "\n".join(lines) + "\n" + legend


# --- the sweep as one call ---------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class SweepOptions:
    """What to sweep and how to run it (the options of ``run_sim.py sweep``).

    Attributes
    ----------
    axes : sequence of str
        ``NAME=v1,v2,...`` items, one per axis (:func:`parse_axes`).
    out : str
        Output folder (created; its parent must exist).
    stimuli : str
        Stimulus spec (:func:`ipvae_brian.stimuli.catalog.load`).
    n : int, optional
        Use only the first N stimuli.
    params : str, optional
        Base parameter file; None: the shipped parameters for the stimulus size.
    random_params : bool
        Seeded random base parameters (needed for a ``latents`` axis).
    latents : int
        K of random parameters (unless ``latents`` is an axis).
    steps : int, optional
        T, bins per stimulus (default 128, or a movie's frame count).
    stimulus_layout : {"images", "movies"}, optional
        How a stimulus file's 3-D array is read
        (:func:`~ipvae_brian.stimuli.stimulus_file.choose_layout`).
    seed : int
        Base seed of the draws and of random parameters.
    engine, lateral : str
        As :class:`~ipvae_brian.models.config.RunConfig`'s.
    workers, scheduler, chunk_size : optional
        Where and in what pieces the chunks run (:class:`RunConfig`).
    overwrite : bool
        Simulate again (and replace) the points whose recordings were made with other
        settings or stimuli; without it they are an error.
    command_line : str
        Stored in every recording.
    """

    axes: tuple
    out: str = "sweep"
    stimuli: str = "natural16:test"
    n: int | None = None
    params: str | None = None
    random_params: bool = False
    latents: int = 512
    steps: int | None = None
    stimulus_layout: str | None = None
    seed: int = 0
    engine: str = "auto"
    lateral: str = "auto"
    workers: int | None = None
    scheduler: str | None = None
    chunk_size: int | None = None
    overwrite: bool = False
    command_line: str = ""


@dataclasses.dataclass
class SweepResult:
    """What :func:`run_sweep` did.

    Attributes
    ----------
    rows : list of dict
        The summary table (:meth:`ParameterSweep.summarise`), one row per point.
    csv_path, md_path : str
        The summary files.
    simulated, reused : int
        Points simulated now, and points found complete and kept.
    seconds : float
        Wall time of the simulations.
    """

    rows: list
    csv_path: str
    md_path: str
    simulated: int
    reused: int
    seconds: float

    def describe(self) -> str:
        """One line per point (R^2, zeros, rate, status) and a closing line."""
        width = max(len(r["point"]) for r in self.rows)
        lines = [f"  {r['point']:<{width}}  R^2 {r['r2_mean']:.3f} (median "
                 f"{r['r2_median']:.3f}), {r['zeros_last_pct']:.1f}% zeros at the last bin, "
                 f"{r['mean_count']:.3f} spikes/neuron/bin ({r['rate_hz']:.2f} Hz)  "
                 f"[{r['status']}]" for r in self.rows]
        lines.append(f"Done: {self.simulated} point(s) simulated in {self.seconds:.1f} s, "
                     f"{self.reused} reused. Summary: {self.csv_path}, {self.md_path}")
        return "\n".join(lines)


def _no_progress_bar(total: int):
    return contextlib.nullcontext(None)


def run_sweep(options: SweepOptions, report: Callable[[str], None] | None = None,
              progress_bar: Callable | None = None) -> SweepResult:
    """Simulate every point of the grid not yet complete, then write the summary table.

    Parameters
    ----------
    options : SweepOptions
    report : callable, optional
        Called with each line of news (the grid, the engine, the point being simulated).
    progress_bar : callable, optional
        ``progress_bar(n_stimuli)`` -> a context manager around one point's simulation
        whose value has ``update_to(stimuli_done)`` (e.g.
        :class:`ipvae_brian.cli.progress.progress_bar`).

    Returns
    -------
    SweepResult

    Raises
    ------
    SimulationInputError
        Bad options, stimuli or parameters, or a recording in ``out`` made with other
        settings.
    """
    report = report or (lambda message: None)
    progress_bar = progress_bar or _no_progress_bar
    # the run's options are checked first (workers, scheduler, chunk size)
    config = RunConfig(engine=options.engine, lateral=options.lateral,
                       chunk_size=options.chunk_size, workers=options.workers,
                       scheduler=options.scheduler)
    axes = parse_axes(options.axes)
    if "latents" in axes and options.params:
        raise SimulationInputError("--set latents needs random parameters; a --params file "
                                   "fixes K")
    if options.steps is not None and options.steps < 1:
        raise SimulationInputError(f"--steps must be a positive integer, got {options.steps}")
    if options.n is not None and options.n < 1:
        raise SimulationInputError(f"--n must be a positive integer, got {options.n}")
    pixels, required = parameter_pixel_counts(options.params, options.random_params)
    stimuli = catalog.load(options.stimuli, n=options.n, seed=options.seed,
                           layout=options.stimulus_layout, pixels=pixels,
                           pixels_required=required, steps=options.steps)
    steps = options.steps or stimuli.n_frames or 128
    config = config.replace(steps=steps)
    sources, cache = {}, {}

    def parameters(K):
        if K not in cache:
            cache[K], sources[K], note = resolve_parameters(
                stimuli.n_pixels, options.params, options.random_params, K or options.latents,
                options.seed)
            if note:
                report(note)
            if cache[K].n_pixels != stimuli.n_pixels:
                raise SimulationInputError(
                    f"the stimuli have {stimuli.n_pixels} pixels but the dictionary Phi has "
                    f"{cache[K].n_pixels} rows (M): they must match")
        return cache[K]

    sweep = ParameterSweep(axes, options.out, parameters, options.stimuli, stimuli, steps,
                           options.seed, settings={"engine": options.engine,
                                                   "mode": config.mode,
                                                   "bin_width": config.bin_width,
                                                   "threads": THREADS_PER_SIMULATION},
                           overwrite=options.overwrite)
    points, todo = sweep.points, sweep.to_simulate
    N = stimuli.n_stimuli
    report(f"Sweep over {' x '.join(f'{k} ({len(v)})' for k, v in axes.items())} = "
           f"{len(points)} points, each {N:,} stimuli ({stimuli.name}) x {steps} bins, "
           f"into {os.path.join(options.out, '')}\n  {len(points) - len(todo)} complete "
           f"already (checked, skipped), {len(todo)} to simulate")
    start = time.perf_counter()
    if todo:
        os.makedirs(options.out, exist_ok=True)
        first = Simulation(todo[0].params, stimuli, config)
        c = first.config
        report(f"  engine: {c.engine} ({c.engine_reason}); lateral term: {c.lateral} "
               f"({c.lateral_reason}); workers: {first.cluster.describe()}; "
               f"{first.n_chunks:,} chunk(s) per point")
        with first.cluster:
            for i, point in enumerate(todo):
                attrs = {**sweep.recording_attrs(point), "command_line": options.command_line,
                         "params_source": str(sources.get(point.values.get("latents"), ""))}
                report(f"[{i + 1}/{len(todo)}] {point.name}")
                with progress_bar(N) as bar:
                    _simulate_point(first, point, attrs,
                                    progress=None if bar is None else bar.update_to)
                point.status = "simulated"
    else:
        report(f"  all {len(points)} points are complete: nothing to simulate")
    rows = sweep.summarise()
    csv_path, md_path = sweep.write_summary(rows)
    return SweepResult(rows=rows, csv_path=csv_path, md_path=md_path, simulated=len(todo),
                       reused=len(points) - len(todo), seconds=time.perf_counter() - start)


def _simulate_point(first: Simulation, point: SweepPoint, attrs: dict, progress=None) -> None:
    """Simulate one point into its recording, with the first point's resolved
    configuration and cluster (the one place a sweep simulates)."""
    Simulation(point.params, first.stimuli, first.config, cluster=first.cluster).run(
        point.seed, point.path, attrs=attrs, progress=progress)
