"""Command line of the iP-VAE spiking-network simulator.

    python run_sim.py simulate [--stimuli SPEC] [--params FILE | --random-params] ...
    python run_sim.py stimuli [NAME --preview out.png]
    python run_sim.py sweep --set eta=0.5,1,2 --set log_bias=-4,-3 ... --out sweep/

This file only wires the parts together (stimuli -> models -> recording ->
analysis); the model lives in ``models/``. Run any command with ``--help``.
Errors in the input are reported on one line on stderr with exit status 2;
an interrupted run (Ctrl-C) exits with 130 and leaves no output file.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from ipvae_brian.cli.progress import V1ProgressBar, progress_bar

EXIT_INPUT_ERROR = 2
EXIT_INTERRUPTED = 130


# --- simulate ------------------------------------------------------------------------------

def load_stimuli(spec: str, n: int | None, seed: int):
    from ipvae_brian.stimuli import catalog
    return catalog.load(spec, n=n, seed=seed)


def load_parameters(args, n_pixels: int):
    """Parameters from ``--params``, ``--random-params``, or the shipped default."""
    from ipvae_brian.models.shipped import resolve_parameters
    params, source, note = resolve_parameters(n_pixels, args.params, args.random_params,
                                              args.latents, args.seed)
    if note:
        say(args, note)
    return params, source


def raise_input(message: str):
    from ipvae_brian.models.errors import SimulationInputError
    raise SimulationInputError(message)


def say(args, message: str):
    if not getattr(args, "quiet", False):
        print(message, flush=True)


def parse_record(text: str) -> tuple:
    from ipvae_brian.models.recording import OPTIONAL_RECORDS
    items = tuple(s.strip() for s in text.split(",") if s.strip()) if text else ()
    unknown = [s for s in items if s not in OPTIONAL_RECORDS]
    if unknown:
        raise_input(f"--record: unknown item(s) {', '.join(unknown)}; allowed: "
                    f"{', '.join(OPTIONAL_RECORDS)}")
    return items


def check_scale_out_options(args):
    if args.workers is not None and args.workers < 1:
        raise_input(f"--workers must be a positive integer, got {args.workers}")
    if args.chunk_size is not None and args.chunk_size < 1:
        raise_input(f"--chunk-size must be a positive integer, got {args.chunk_size}")
    if args.scheduler and args.workers is not None:
        raise_input("--scheduler and --workers exclude each other (the cluster has its workers)")


def cmd_simulate(args) -> int:
    import numpy as np
    from brian2 import ms
    from ipvae_brian.analysis.metrics import fraction_zeros, r_squared
    from ipvae_brian.models.atomic_file import check_output_path
    from ipvae_brian.models.distributed import NetworkSpec, SimulationCluster, count_chunks
    from ipvae_brian.models.network import IPVAENetwork
    from ipvae_brian.models.recording import RecordingWriter

    check_scale_out_options(args)
    if args.steps is not None and args.steps < 1:
        raise_input(f"--steps must be a positive integer, got {args.steps}")
    if args.n is not None and args.n < 1:
        raise_input(f"--n must be a positive integer, got {args.n}")
    if args.bin_width <= 0:
        raise_input(f"--bin-width must be positive, got {args.bin_width} ms")
    dt = args.bin_width if args.mode == "discrete" else args.dt
    if args.mode == "discrete" and args.dt is not None and args.dt != args.bin_width:
        raise_input("--dt is for --mode continuous (in discrete mode one step is one bin)")
    if args.mode == "continuous":
        dt = 0.5 if args.dt is None else args.dt
        ratio = args.bin_width / dt if dt > 0 else -1
        if dt <= 0 or ratio < 1 or abs(ratio - round(ratio)) > 1e-6 * ratio:
            raise_input(f"--dt must be positive and divide --bin-width ({args.bin_width:g} ms) "
                        f"a whole number of times, got {dt:g} ms")
    out = check_output_path(args.out)
    record = parse_record(args.record)
    stimuli = load_stimuli(args.stimuli, args.n, args.seed)
    params, params_source = load_parameters(args, stimuli.n_pixels)
    if stimuli.n_pixels != params.n_pixels:
        raise_input(f"the stimuli have {stimuli.n_pixels} pixels but the dictionary Phi has "
                    f"{params.n_pixels} rows (M) (parameters: {params_source}): they must match")
    steps = args.steps or stimuli.n_frames or 128
    N, K = stimuli.n_stimuli, params.n_latents
    network = IPVAENetwork(params, steps, stream=args.stream, movie=stimuli.is_movie,
                           bin_width=args.bin_width * ms, dt=dt * ms, record_u="u" in record,
                           engine=args.engine, lateral=args.lateral)
    network.check_stimuli(stimuli.x)
    engine = network.choose_engine(N)
    lateral = network.choose_lateral(N)
    spec = NetworkSpec.from_network(network, N, chunk_size=args.chunk_size)
    cluster = SimulationCluster(args.workers, args.scheduler, stream=args.stream,
                                n_chunks=count_chunks(N, spec.chunk_size))
    say(args, f"Simulating {N:,} stimuli ({stimuli.name}, {stimuli.image_shape[0]}x"
              f"{stimuli.image_shape[1]} pixels{', movies' if stimuli.is_movie else ''}) x "
              f"{steps} bins through K = {K} neurons\n"
              f"  mode {args.mode}, bin {args.bin_width:g} ms"
              f"{f', dt {dt:g} ms' if network.continuous else ''}, "
              f"{'streaming (no reset)' if args.stream else 'u reset to u0 for every stimulus'}"
              f", seed {args.seed}\n"
              f"  engine: {engine} ({network.engine_reason})\n"
              f"  lateral term: {lateral} ({network.lateral_reason})\n"
              f"  workers: {cluster.describe()}; {count_chunks(N, spec.chunk_size):,} "
              f"chunk(s) of up to {spec.chunk_size:,} stimuli"
              f"{f' ({cluster.note})' if cluster.note else ''}\n"
              f"  parameters: {params_source}\n"
              f"  records: counts{', spikes' if network.continuous else ''}"
              f"{''.join(', ' + r for r in record)} -> {out}\n"
              f"  (the first run of a network shape compiles its code, 10-30 s; later runs "
              f"reuse it)")
    attrs = {"seed": args.seed, "mode": network.mode, "engine": engine, "lateral": lateral,
             "bin_width": float(args.bin_width) / 1e3,
             "bin_width_units": "s", "dt": float(dt) / 1e3, "dt_units": "s",
             "stream": bool(args.stream), "params_source": str(params_source),
             "command_line": args.command_line, "threads": spec.threads,
             "chunk_size": spec.chunk_size}
    start = time.perf_counter()
    last_x = stimuli.x[:, -1] if stimuli.is_movie else stimuli.x
    r2_sum = zeros_last = zeros_all = total_counts = 0.0
    r2_defined = 0  # R^2 is undefined for a constant stimulus (e.g. a blank frame)
    r2_values, runaways = [], 0
    ceiling = 0.5 * np.exp(params.c_u)  # counts this large mean u reached the soft bound c_u
    with cluster, RecordingWriter(out, params, stimuli, steps, attrs=attrs, record=record,
                                  spikes=network.continuous) as writer, \
            progress_bar(N, args.quiet) as bar:
        for chunk in cluster.simulate(spec, stimuli.x, args.seed, progress=bar.update_to):
            writer.append(chunk)
            n = chunk.counts.shape[0]
            x_hat = chunk.counts[:, -1].astype(np.float64) @ params.Phi.T
            r2 = r_squared(last_x[chunk.first:chunk.first + n], x_hat)
            r2_sum += np.nansum(r2)
            r2_defined += int(np.count_nonzero(np.isfinite(r2)))
            r2_values.append(r2)
            runaways += int(np.count_nonzero(chunk.counts.max(axis=(1, 2)) >= ceiling))
            zeros_last += fraction_zeros(chunk.counts[:, -1]) * n
            zeros_all += fraction_zeros(chunk.counts) * n
            total_counts += float(chunk.counts.sum(dtype=np.float64))
    wall = time.perf_counter() - start
    size = os.path.getsize(out) / 2 ** 20
    rate = total_counts / (N * steps * K)
    median = float(np.nanmedian(np.concatenate(r2_values))) if r2_defined else np.nan
    if r2_defined == N:
        r2_text = (f"the mean R^2 of the reconstruction Phi z_t is {r2_sum / N:.3f} "
                   f"(median {median:.3f})")
    elif r2_defined:
        r2_text = (f"the mean R^2 of the reconstruction Phi z_t is {r2_sum / r2_defined:.3f} "
                   f"(median {median:.3f}, over the {r2_defined:,} non-constant stimuli)")
    else:
        r2_text = "R^2 is undefined (every stimulus is constant there)"
    say(args, f"Done: {N:,} stimuli x {steps} bins x {K} neurons in {wall:.1f} s "
              f"({N * steps / wall:,.0f} stimulus-bins/s). At the last bin (t = {steps - 1}) "
              f"{r2_text} and "
              f"{100 * zeros_last / N:.1f}% of counts are zero ({100 * zeros_all / N:.1f}% over "
              f"all bins; mean {rate:.3f} spikes per neuron per bin). "
              + (f"{runaways:,} stimuli ran away to the rate ceiling exp(c_u) (counts >= "
                 f"{ceiling:,.0f} in a bin): the dynamics are unstable for them. "
                 if runaways else "No stimulus ran away to the rate ceiling. ") +
              f"Wrote {out} ({size:.1f} MiB).")
    return 0


# --- sweep -----------------------------------------------------------------------------------

def cmd_sweep(args) -> int:
    import argparse as _argparse
    import dataclasses
    from ipvae_brian.analysis.parameter_sweep import ParameterSweep, parse_axes
    from ipvae_brian.models.distributed import NetworkSpec, SimulationCluster, count_chunks
    from ipvae_brian.models.network import IPVAENetwork

    check_scale_out_options(args)
    axes = parse_axes(args.set)
    if "latents" in axes and args.params:
        raise_input("--set latents needs random parameters; a --params file fixes K")
    if args.steps is not None and args.steps < 1:
        raise_input(f"--steps must be a positive integer, got {args.steps}")
    if args.n is not None and args.n < 1:
        raise_input(f"--n must be a positive integer, got {args.n}")
    stimuli = load_stimuli(args.stimuli, args.n, args.seed)
    steps = args.steps or stimuli.n_frames or 128
    sources, cache = {}, {}

    def parameters(K):
        if K not in cache:
            point_args = _argparse.Namespace(**{**vars(args), "latents": K or args.latents})
            cache[K], sources[K] = load_parameters(point_args, stimuli.n_pixels)
            if cache[K].n_pixels != stimuli.n_pixels:
                raise_input(f"the stimuli have {stimuli.n_pixels} pixels but the dictionary Phi "
                            f"has {cache[K].n_pixels} rows (M): they must match")
        return cache[K]

    sweep = ParameterSweep(axes, args.out, parameters, args.stimuli, stimuli, steps, args.seed,
                           settings={"engine": args.engine, "mode": "discrete",
                                     "bin_width": 0.025, "threads": 1})
    points, todo = sweep.points, sweep.to_simulate
    N = stimuli.n_stimuli
    say(args, f"Sweep over {' x '.join(f'{k} ({len(v)})' for k, v in axes.items())} = "
              f"{len(points)} points, each {N:,} stimuli ({stimuli.name}) x {steps} bins, "
              f"into {os.path.join(args.out, '')}\n  {len(points) - len(todo)} complete "
              f"already (checked, skipped), {len(todo)} to simulate")
    start = time.perf_counter()
    if todo:
        os.makedirs(args.out, exist_ok=True)
        first = IPVAENetwork(todo[0].params, steps, movie=stimuli.is_movie, engine=args.engine,
                             lateral=args.lateral)
        first.check_stimuli(stimuli.x)
        spec = NetworkSpec.from_network(first, N, chunk_size=args.chunk_size)
        cluster = SimulationCluster(args.workers, args.scheduler,
                                    n_chunks=count_chunks(N, spec.chunk_size))
        say(args, f"  engine: {spec.engine} ({first.engine_reason}); lateral term: "
                  f"{spec.lateral} ({first.lateral_reason}); workers: "
                  f"{cluster.describe()}; {count_chunks(N, spec.chunk_size):,} chunk(s) per "
                  f"point")
        with cluster:
            for i, point in enumerate(todo):
                point_spec = dataclasses.replace(spec, params=point.params)
                attrs = {**sweep.recording_attrs(point), "mode": "discrete",
                         "engine": point_spec.engine, "lateral": point_spec.lateral,
                         "bin_width": 0.025,
                         "bin_width_units": "s", "dt": 0.025, "dt_units": "s",
                         "stream": False, "command_line": args.command_line,
                         "params_source": str(sources.get(point.values.get("latents"), ""))}
                say(args, f"[{i + 1}/{len(todo)}] {point.name}")
                with progress_bar(N, args.quiet) as bar:
                    cluster.record(point_spec, stimuli, point.seed, point.path, attrs,
                                   progress=bar.update_to)
                point.status = "simulated"
    else:
        say(args, f"  all {len(points)} points are complete: nothing to simulate")
    rows = sweep.summarise()
    csv_path, md_path = sweep.write_summary(rows)
    width = max(len(r["point"]) for r in rows)
    for r in rows:
        say(args, f"  {r['point']:<{width}}  R^2 {r['r2_mean']:.3f} (median "
                  f"{r['r2_median']:.3f}), {r['zeros_last_pct']:.1f}% zeros at the last bin, "
                  f"{r['mean_count']:.3f} spikes/neuron/bin ({r['rate_hz']:.2f} Hz)  "
                  f"[{r['status']}]")
    say(args, f"Done: {len(todo)} point(s) simulated in {time.perf_counter() - start:.1f} s, "
              f"{len(points) - len(todo)} reused. Summary: {csv_path}, {md_path}")
    return 0


# --- stimuli -------------------------------------------------------------------------------

def cmd_stimuli(args) -> int:
    from ipvae_brian.stimuli import catalog
    if args.name is None:
        rows = catalog.available()
        width = max(len(r["name"]) for r in rows)
        for r in rows:
            print(f"{r['name']:<{width}}  {r['kind']:<9}  {r['size']}")
            print(f"{'':<{width}}  {r['description']}")
            if r.get("parameters"):
                print(f"{'':<{width}}  parameters: {r['parameters']}")
        return 0
    stimuli = catalog.load(args.name, n=args.n, seed=args.seed)
    print(f"{stimuli.name}: {stimuli.n_stimuli:,} stimuli, {stimuli.image_shape[0]}x"
          f"{stimuli.image_shape[1]} pixels"
          f"{f', {stimuli.n_frames} frames each' if stimuli.is_movie else ''}; "
          f"pixel mean {stimuli.x.mean():.3f}, std {stimuli.x.std():.3f}")
    if args.preview:
        from ipvae_brian.analysis.stimulus_figures import plot_stimulus_preview
        from ipvae_brian.models.atomic_file import check_output_path
        plot_stimulus_preview(stimuli, check_output_path(args.preview))
        print(f"wrote {args.preview}")
    return 0


# --- plot ----------------------------------------------------------------------------------

def cmd_plot(args) -> int:
    import time as _time
    from ipvae_brian.analysis.raster import plot_raster, save_figure
    from ipvae_brian.models.atomic_file import check_output_path
    out = check_output_path(args.out)
    start = _time.perf_counter()
    fig = plot_raster(args.file, stimulus=args.stimulus, neurons=args.neurons, sort=args.sort,
                      psth_bin_width=None if args.psth_bin is None else args.psth_bin / 1e3)
    save_figure(fig, out)
    print(f"wrote {out}: raster of stimulus {args.stimulus}, {len(fig.raster_order)} neurons "
          f"sorted by {args.sort}, {fig.raster_spike_count:,} spikes "
          f"({_time.perf_counter() - start:.1f} s)")
    return 0


# --- export --------------------------------------------------------------------------------

def cmd_export(args) -> int:
    from ipvae_brian.analysis.nwb_export import default_nwb_path, export_nwb
    out = export_nwb(args.file, args.out or default_nwb_path(args.file),
                     experimenter=args.experimenter, institution=args.institution)
    print(f"wrote {out} (NWB: units with spike times on the session axis, the stimulus as "
          f"an ImageSeries, one trial per stimulus)")
    return 0


# --- V1 experiments ------------------------------------------------------------------------

#: The experiments of ``analysis.experiments`` (EXPERIMENT_NAMES), in the order compare-v1 runs.
V1_EXPERIMENTS = ("orientation", "f1f0", "contrast", "size", "cross-orientation", "rf",
                  "moving-bar", "natural")


def load_v1_parameters(args):
    """``--params``, else the shipped natural16 parameters, else random K = 512 (said so)."""
    from ipvae_brian.models.parameters import IPVAEParameters
    from ipvae_brian.models.shipped import default_parameters_path
    if args.params:
        return IPVAEParameters.load(args.params), args.params
    path = default_parameters_path(256)
    if path is not None:
        return IPVAEParameters.load(path), path
    print(f"note: no --params given and no shipped natural16 parameters yet: using RANDOM "
          f"parameters (M = 256, K = 512, seed {args.seed}, the authors' initialisation); the "
          f"results describe an untrained network", flush=True)
    return (IPVAEParameters.random(256, 512, seed=args.seed),
            f"random (M = 256, K = 512, seed {args.seed})")


def v1_context(args, progress):
    from ipvae_brian.analysis.experiment_runner import ExperimentContext, ProgressReporter
    params, source = load_v1_parameters(args)
    out_dir = os.path.abspath(args.out_dir)
    if not os.path.isdir(out_dir):
        if not os.path.isdir(os.path.dirname(out_dir)):
            raise_input(f"--out-dir {args.out_dir!r}: its parent folder does not exist")
        os.makedirs(out_dir)
    return ExperimentContext(params=params, params_source=str(source), out_dir=out_dir,
                             seed=args.seed, quick=args.quick, engine=args.engine,
                             progress=progress or ProgressReporter(),
                             command_line=args.command_line)


def print_experiment_result(result):
    from ipvae_brian.analysis.experiment_runner import describe_summary
    print(f"{result.name}: {result.n_responsive} of {result.n_neurons} neurons responsive, "
          f"{result.n_analysed} analysed ({result.wall_s:.1f} s)")
    for key, values in result.per_neuron.items():
        print(f"  {key:<34} {describe_summary(values)}")
    for key, values in result.population.items():
        if key in ("population_sparseness", "r_sc"):
            print(f"  {key:<34} {describe_summary(values)}")
    for key, value in result.summary.items():
        print(f"  {key:<34} {value:.4g}" if isinstance(value, float) else
              f"  {key:<34} {value}")
    for note in result.notes:
        print(f"  note: {note}")
    print("  wrote " + ", ".join(result.files))


def cmd_experiment(args) -> int:
    from ipvae_brian.analysis.experiments import check_experiment, estimated_work, run_experiment
    start = time.perf_counter()
    ctx = v1_context(args, None)
    check_experiment(args.name, ctx)
    work = estimated_work(args.name, ctx)
    print(f"Experiment {args.name}: K = {ctx.n_latents} neurons, {ctx.side}x{ctx.side} "
          f"stimuli, {'quick' if args.quick else 'default'} protocol (analysis/experiments.py), "
          f"engine {args.engine}, seed {args.seed}\n  parameters: {ctx.params_source}\n"
          f"  about {work:,.0f} simulated bins; output in {ctx.out_dir}", flush=True)
    progress = V1ProgressBar(work)
    ctx.progress = progress
    try:
        progress.start(args.name, work)
        result = run_experiment(args.name, ctx)
        progress.finish()
    finally:
        progress.close()
    print_experiment_result(result)
    print(f"Done in {time.perf_counter() - start:.1f} s.")
    return 0


def cmd_compare_v1(args) -> int:
    from ipvae_brian.analysis.experiments import EXPERIMENT_NAMES, check_experiment, estimated_work, \
        run_experiment
    from ipvae_brian.analysis.v1_comparison import (build_rows, comparison_figure, count_inside,
                                        text_table, write_csv, write_markdown)
    start = time.perf_counter()
    ctx = v1_context(args, None)
    for name in EXPERIMENT_NAMES:
        check_experiment(name, ctx)
    estimates = {name: estimated_work(name, ctx if name == "orientation" else
                                      _with_preferences(ctx)) for name in EXPERIMENT_NAMES}
    total = sum(estimates.values())
    print(f"Comparing the model with V1: {len(EXPERIMENT_NAMES)} experiments "
          f"({', '.join(EXPERIMENT_NAMES)}), K = {ctx.n_latents} neurons, {ctx.side}x{ctx.side} "
          f"stimuli, {'quick' if args.quick else 'default'} protocols, engine {args.engine}, "
          f"seed {args.seed}\n  parameters: {ctx.params_source}\n"
          f"  about {total:,.0f} simulated bins; recordings, figures and the table go to "
          f"{ctx.out_dir}", flush=True)
    progress = V1ProgressBar(total)
    ctx.progress = progress
    results = {}
    try:
        for name in EXPERIMENT_NAMES:
            progress.start(name, estimates[name])
            results[name] = run_experiment(name, ctx)
            progress.finish()
    finally:
        progress.close()
    for name in EXPERIMENT_NAMES:
        print_experiment_result(results[name])
    rows = build_rows(results)
    header = (f"Model vs V1 ({ctx.params_source}; K = {ctx.n_latents}; seed {args.seed}; "
              f"{'quick' if args.quick else 'default'} protocols)")
    paths = [write_csv(rows, os.path.join(ctx.out_dir, "v1_comparison.csv")),
             write_markdown(rows, os.path.join(ctx.out_dir, "v1_comparison.md"),
                            "## " + header),
             comparison_figure(rows, os.path.join(ctx.out_dir, "v1_comparison.png"), header)]
    print()
    print(text_table(rows))
    inside, outside, missing = count_inside(rows)
    print(f"\nInside the V1 range: {inside} of {len(rows)} statistics; outside: {outside}; "
          f"no data: {missing}. Wall time {time.perf_counter() - start:.0f} s. "
          f"Wrote {', '.join(paths)}.")
    return 0


def _with_preferences(ctx):
    """A context copy that claims the grating preferences exist (for work estimates)."""
    import dataclasses
    return dataclasses.replace(ctx, shared={"grating_preferences": None})


# --- compare-models ------------------------------------------------------------------------

#: compare-models sizes: (default, with --quick)
COMPARE_SIZES = {"latents": (512, 64), "steps": ([16, 128, 1000], [4, 16]),
                 "train_patches": (20_000, 1_000), "epochs": (1, 1), "train_steps": (16, 8),
                 "batch_size": (200, 200), "n_test": (500, 40), "readout_steps": (128, 8),
                 "digits_epochs": (10, 1)}


def parse_int_list(values, option: str) -> list:
    """Positive integers from ``16 128 1000`` or ``16,128,1000``, sorted, unique."""
    items = [v.strip() for value in values for v in str(value).split(",") if v.strip()]
    try:
        numbers = sorted({int(v) for v in items})
    except ValueError:
        raise_input(f"{option} takes positive integers, got {' '.join(map(str, values))!r}")
    if not numbers or numbers[0] < 1:
        raise_input(f"{option} takes positive integers, got {' '.join(map(str, values))!r}")
    return numbers


def cmd_compare_models(args) -> int:
    import numpy as np
    from tqdm import tqdm
    from ipvae_brian.analysis import model_comparison as mc
    from ipvae_brian.analysis.linear_readout import readout_accuracy
    from ipvae_brian.learning import model_training as mt
    from ipvae_brian.models.atomic_file import check_output_path
    from ipvae_brian.stimuli import catalog
    from ipvae_brian.stimuli.natural16 import SPLIT_SIZES

    start = time.perf_counter()
    pick = lambda name: COMPARE_SIZES[name][1 if args.quick else 0]  # noqa: E731
    size = {name: getattr(args, name) if getattr(args, name) is not None else pick(name)
            for name in COMPARE_SIZES}
    size["steps"] = parse_int_list(size["steps"], "--steps")
    for name, value in size.items():
        if name != "steps" and (not isinstance(value, int) or value < 1):
            raise_input(f"--{name.replace('_', '-')} must be a positive integer, got {value}")
    if args.stimuli != "natural16":
        raise_input(f"--stimuli {args.stimuli!r}: compare-models runs on natural16 (patches of "
                    f"training and of unseen test photographs); no other set has both")
    K, n_test, seed = size["latents"], size["n_test"], args.seed
    available = SPLIT_SIZES["train"]
    if n_test + size["train_patches"] > available:
        raise_input(f"--n-test ({n_test:,}) + --train-patches ({size['train_patches']:,}) "
                    f"exceed the {available:,} natural16 train patches")
    if n_test > SPLIT_SIZES["test"]:
        raise_input(f"--n-test ({n_test:,}) exceeds the {SPLIT_SIZES['test']:,} natural16 "
                    f"test patches")
    if not os.path.isdir(args.out_dir):
        check_output_path(args.out_dir)            # the parent folder must exist
        os.makedirs(args.out_dir)
    paths = {k: check_output_path(os.path.join(args.out_dir, f"model_comparison.{k}"))
             for k in ("csv", "md", "png")}
    train_split = catalog.load("natural16:train").x
    eval_sets = {"train images": train_split[:n_test],
                 "test images": catalog.load("natural16:test", n=n_test).x}
    x_train = train_split[n_test:]
    digits = {split: catalog.load(f"digits8:{split}", n=None if not args.quick else
                                  {"train": 300, "test": 150}[split]) for split in ("train", "test")}
    digits_scale = mc.unit_variance_scale(digits["train"].x)   # natural16 is z-scored
    budget = mt.TrainingBudget(size["train_patches"], size["epochs"], size["train_steps"],
                               size["batch_size"])
    digits_budget = mt.TrainingBudget(digits["train"].n_stimuli, size["digits_epochs"],
                                      size["train_steps"], size["batch_size"])
    record = mc.recorded_steps(size["steps"])
    ipvae = (mt.ipvae_source(train_split.shape[1], K, seed, engine=args.engine),
             mt.ipvae_source(digits["train"].n_pixels, K, seed, engine=args.engine))
    entries = [("iP-VAE", *ipvae)] + [
        (a.name, a, b) for a, b in zip(mt.baseline_models(train_split.shape[1], K, seed),
                                        mt.baseline_models(digits["train"].n_pixels, K, seed))]
    print(f"Comparing {len(entries)} inference models ({', '.join(e[0] for e in entries)}) on "
          f"natural16, K = {K} latents, seed {seed}{' (quick sizes)' if args.quick else ''}\n"
          f"  training (baselines, and the iP-VAE unless shipped): {budget.describe()}; "
          f"digits8: {digits_budget.describe()}\n"
          f"  iP-VAE natural16: {ipvae[0].description}\n"
          f"  iP-VAE digits8: {ipvae[1].description}\n"
          f"  evaluation: R^2 and %-zeros at t = {', '.join(map(str, size['steps']))} on "
          f"{n_test:,} held-out patches of the train photographs and {n_test:,} of the test "
          f"photographs (--n-test; one run of {record[-1] + 1:,} steps each); digits8 read-out "
          f"on codes summed over {size['readout_steps']} steps\n"
          f"  the iP-VAE runs as the Brian2 network (engine {args.engine}); baselines in numpy. "
          f"Output: {args.out_dir}", flush=True)

    def bar(total, desc, unit):
        return tqdm(total=total, desc=desc, unit=unit, leave=False, position=1,
                    dynamic_ncols=True, file=sys.stdout)

    def advance(b, offset=0):
        return lambda done: b.update(offset + int(done) - b.n)

    rows, notes = [], []
    outer = tqdm(total=len(entries), desc="models", unit="model", position=0,
                 dynamic_ncols=True, file=sys.stdout)
    try:
        for name, natural_entry, digits_entry in entries:
            t0 = time.perf_counter()
            phases = []
            outer.set_postfix_str(name)
            with bar(budget.n_updates, f"{name}: train natural16", "step") as b:
                model, note, history = mt.train_for_comparison(
                    natural_entry, x_train, budget, seed=seed, progress=advance(b))
            phases.append(time.perf_counter())
            with bar(2 * n_test, f"{name}: evaluate", "patch") as b:
                scores = mc.natural_scores(model, eval_sets, record, seed=seed + 1,
                                           progress=advance(b))
            phases.append(time.perf_counter())
            # shipped parameters see the pixels they were fitted to, the others unit variance
            shipped = isinstance(digits_entry, mt.IPVAESource) and not digits_entry.needs_training
            digit_x = {split: digits[split].x / (1.0 if shipped else digits_scale)
                       for split in ("train", "test")}
            with bar(digits_budget.n_updates, f"{name}: train digits8", "step") as b:
                digit_model, digit_note, _ = mt.train_for_comparison(
                    digits_entry, digit_x["train"], digits_budget, seed=seed,
                    progress=advance(b))
            n_digits = digits["train"].n_stimuli + digits["test"].n_stimuli
            with bar(n_digits, f"{name}: digits8 read-out", "digit") as b:
                codes = {split: mc.summed_codes(
                    digit_model, digit_x[split], size["readout_steps"], seed=seed + 2,
                    progress=advance(b, 0 if split == "train" else digits["train"].n_stimuli))
                    for split in ("train", "test")}
            accuracy = readout_accuracy(codes["train"], digits["train"].labels,
                                           codes["test"], digits["test"].labels)
            rows.append(mc.ModelRow(name, note, scores, accuracy, time.perf_counter() - t0))
            notes.append(f"{name}: natural16 {note}; digits8 {digit_note}; "
                         f"settings {model.describe()}")
            if history and np.isfinite(history[-1].get("r2_last", np.nan)):
                notes[-1] += (f"; last training minibatch R^2 {history[-1]['r2_last']:.2f} "
                              f"at t = {budget.steps - 1}")
            phases = np.diff([t0, *phases, time.perf_counter()])
            tqdm.write(f"  {name}: done in {sum(phases):.0f} s (training {phases[0]:.0f} s, "
                       f"evaluation {phases[1]:.0f} s, digits8 {phases[2]:.0f} s; "
                       f"test-image R^2 at t = {size['steps'][-1]}: "
                       f"{scores['test images'].at(size['steps'][-1], 'r2'):.3f})",
                       file=sys.stdout)
            outer.update(1)
    finally:
        outer.close()
    rows.append(mc.ModelRow("pixels", "raw pixels (no model)", {}, readout_accuracy(
        digits["train"].x, digits["train"].labels, digits["test"].x, digits["test"].labels)))
    wall = time.perf_counter() - start
    notes = ([f"R² and %-zeros cells read 'train images / test images': {n_test:,} natural16 "
              f"patches of the training photographs (held out from training) and {n_test:,} "
              f"of the unseen test photographs. Step t = 0 is the code before any update.",
              f"Lifetime and population sparseness (model.md formula, analysis.sparseness) of "
              f"|code| at t = {size['steps'][-1]} on the test photographs; digits8 read-out: "
              f"logistic regression on codes summed over t = 0..{size['readout_steps'] - 1}, "
              f"trained on digits8 train, scored on digits8 test; the models see the digits "
              f"divided by the train pixels' std ({digits_scale:.3f}, unit variance as "
              f"natural16), shipped parameters the raw pixels.",
              f"K = {K}, seed {seed}, wall time {wall / 60:.1f} min. Command: "
              f"{args.command_line}"] + notes)
    mc.write_csv(paths["csv"], rows, size["steps"])
    mc.write_markdown(paths["md"], rows, size["steps"], notes=notes,
                      title=f"Inference models on natural16 (K = {K})")
    mc.plot_rate_distortion(rows, paths["png"], size["steps"])
    print("\n" + mc.format_table(rows, size["steps"]) + "\n")
    for note in notes:
        print(f"- {note}")
    print(f"\nDone: {len(entries)} models in {wall / 60:.1f} min. Wrote {paths['csv']}, "
          f"{paths['md']} and {paths['png']}.")
    return 0


# --- learn and evaluate --------------------------------------------------------------------

def training_sets(spec: str, n_train: int | None, n_test: int | None, seed: int):
    """Train and test StimulusSets of a data set with splits (``natural16``, ``digits8``)."""
    name = spec.split(":", 1)[0]
    if ":" in spec:
        raise_input(f"--stimuli names a data set with train and test splits (e.g. {name}); "
                    f"learning uses both, so give no split (got {spec!r})")
    from ipvae_brian.stimuli import catalog
    if name not in ("natural16", "digits8"):
        raise_input(f"--stimuli {spec!r}: learning needs a data set with train and test "
                    f"splits; allowed: natural16, digits8")
    return (catalog.load(f"{name}:train", n=n_train, seed=seed),
            catalog.load(f"{name}:test", n=n_test, seed=seed))


def cmd_learn(args) -> int:
    import numpy as np
    from tqdm import tqdm
    from ipvae_brian.analysis.dictionary_structure import plot_dictionary
    from ipvae_brian.learning import alternation
    from ipvae_brian.models.atomic_file import check_output_path
    from ipvae_brian.models.parameters import IPVAEParameters

    if args.epochs < 1:
        raise_input(f"--epochs must be a positive integer, got {args.epochs}")
    out = check_output_path(args.out)
    train, test = training_sets(args.stimuli, args.n_train, args.n_test, args.seed)
    rule = alternation.LearningRule(steps=args.steps, batch_size=args.batch_size,
                                    column_norm=args.column_norm,
                                    dictionary_step=args.dictionary_step,
                                    stability_margin=args.stability_margin,
                                    decay_every=args.decay_every)
    history = []
    if os.path.exists(out) and not args.restart:
        params = IPVAEParameters.load(out)
        learning = params.provenance.get("learning")
        if not learning or learning.get("seed") != args.seed or \
                alternation.rule_from_provenance(params.provenance) != rule:
            raise_input(f"{out} exists but was not written by `learn` with the same seed and "
                        f"rule; pass --restart to overwrite it, or another --out")
        if params.n_latents != args.latents or params.n_pixels != train.n_pixels:
            raise_input(f"{out} holds K = {params.n_latents}, M = {params.n_pixels}; asked for "
                        f"K = {args.latents}, M = {train.n_pixels}; pass --restart")
        history = learning["history"]
        say(args, f"Resuming {out} after epoch {len(history)} of {args.epochs}")
    else:
        probe = train.x[:rule.probe_size]
        params = alternation.initial_parameters(train.n_pixels, args.latents, rule, args.seed,
                                                probe)
        params = params.replace(provenance={**params.provenance,
                                            "command_line": args.command_line,
                                            "stimuli": args.stimuli})
    n_batches = max(1, train.n_stimuli // rule.batch_size)
    say(args, f"Learning K = {args.latents} neurons on {train.name} ({train.n_stimuli:,} train, "
              f"{test.n_stimuli:,} test stimuli, {train.image_shape[0]}x{train.image_shape[1]} "
              f"pixels): {args.epochs} epochs of {n_batches} minibatches x {rule.batch_size} "
              f"stimuli x {rule.steps} bins, seed {args.seed}\n"
              f"  rule: column norm {rule.column_norm}, dictionary step {rule.dictionary_step}, "
              f"eta from the stability margin {rule.stability_margin}, b = exp({rule.log_bias})\n"
              f"  the Brian2 network simulates every minibatch ({args.engine} engine); "
              f"parameters are saved to {out} after every epoch (rerun to resume)")
    header = (f"{'epoch':>5} {'F train':>9} {'F test':>9} {'R2 test':>8} {'zeros':>6} "
              f"{'runaway':>7} {'eta':>6} {'sigma':>6} {'u0 med':>6} {'s':>6}")
    if history:
        say(args, header)
        for h in history:
            say(args, _epoch_line(h))
    bar = None if args.quiet else tqdm(total=(args.epochs - len(history)) * n_batches,
                                       unit="batch", desc="learning", file=sys.stdout,
                                       dynamic_ncols=True)
    printed = [bool(history)]

    def progress(epoch, done):
        if bar is not None:
            bar.n = (epoch - len_start) * n_batches + done
            bar.refresh()

    def on_epoch(p, hist):
        p.save(out)
        if not printed[0]:
            (bar.write if bar is not None else print)(header)
            printed[0] = True
        if not args.quiet:
            (bar.write if bar is not None else print)(_epoch_line(hist[-1]))

    len_start = len(history)
    simulate = alternation.brian_simulator(rule.steps, engine=args.engine)
    try:
        params = alternation.learn(params, train.x, test.x, rule, args.epochs, args.seed,
                                   simulate, history=history, on_epoch=on_epoch,
                                   progress=progress)
    finally:
        if bar is not None:
            bar.close()
    figure = os.path.splitext(out)[0] + "_dictionary.png"
    plot_dictionary(params.Phi, train.image_shape, figure,
                    usage=np.exp(params.u0),
                    title=f"Phi of {out} (sorted by prior rate exp(u0))")
    last = params.provenance["learning"]["history"][-1]
    say(args, f"Done: {len(params.provenance['learning']['history'])} epochs; test free "
              f"energy {last['free_energy_test']:.2f} nats per stimulus and bin, R^2 at the last "
              f"training bin {last['r2_test']:.3f}, {100 * last['zeros_test']:.1f}% zeros. Wrote "
              f"{out} and {figure}. Evaluate with: python run_sim.py evaluate --params {out}")
    return 0


def _epoch_line(h: dict) -> str:
    return (f"{h['epoch']:>5} {h['free_energy_train']:>9.2f} {h['free_energy_test']:>9.2f} "
            f"{h['r2_test']:>8.3f} {100 * h['zeros_test']:>5.1f}% "
            f"{h['runaways_train'] + h['runaways_test']:>7} {h['eta']:>6.3f} "
            f"{h['sigma_mean']:>6.3f} {h['u0_median']:>6.2f} {h['seconds']:>6.0f}")


def cmd_evaluate(args) -> int:
    import numpy as np
    from ipvae_brian.analysis.dictionary_structure import fraction_localised
    from ipvae_brian.analysis.inference_quality import PAPER_BINS, PAPER_IPVAE, QualityByBin, \
        plot_quality_by_bin
    from ipvae_brian.models.atomic_file import check_output_path
    from ipvae_brian.models.network import IPVAENetwork

    if args.steps < 1:
        raise_input(f"--steps must be a positive integer, got {args.steps}")
    figure = check_output_path(args.figure) if args.figure else None
    stimuli = load_stimuli(args.stimuli, args.n, args.seed)
    args.random_params, args.latents = False, 512
    params, source = load_parameters(args, stimuli.n_pixels)
    if stimuli.n_pixels != params.n_pixels:
        raise_input(f"the stimuli have {stimuli.n_pixels} pixels but the dictionary Phi has "
                    f"{params.n_pixels} rows (M) (parameters: {source}): they must match")
    if args.readout and (stimuli.labels is None or not stimuli.name.endswith(":test")):
        raise_input(f"--readout needs the test split of a labelled data set (e.g. "
                    f"digits8:test), got {stimuli.name!r}")
    net = IPVAENetwork(params, args.steps, movie=stimuli.is_movie, engine=args.engine)
    net.check_stimuli(stimuli.x)
    engine = net.choose_engine(stimuli.n_stimuli)
    lateral = net.choose_lateral(stimuli.n_stimuli)
    summed = []       # counts summed over bins, the read-out's features (with --readout)
    say(args, f"Evaluating {source} on {stimuli.n_stimuli:,} stimuli ({stimuli.name}) x "
              f"{args.steps} bins, K = {params.n_latents}, discrete mode, exact Poisson counts, "
              f"seed {args.seed}; engine {engine} ({net.engine_reason}); lateral term "
              f"{lateral} ({net.lateral_reason})")
    quality = QualityByBin(params.Phi, args.steps)
    start = time.perf_counter()
    with progress_bar(stimuli.n_stimuli, args.quiet) as bar:
        for chunk in net.run(stimuli.x, seed=args.seed, progress=bar.update_to):
            quality.add(stimuli.x[chunk.first:chunk.first + chunk.counts.shape[0]], chunk.counts)
            if args.readout:
                summed.append(chunk.counts.sum(axis=1, dtype=float))
    bins = sorted(set(PAPER_BINS) | set(args.at or ()))
    print(f"{'t':>5} {'R^2':>7} {'zeros':>7} {'rate':>7}   paper (R^2 / zeros)")
    for row in quality.table(bins):
        ref = PAPER_IPVAE.get(row["t"])
        ref_text = f"{ref[0]:.2f} / {100 * ref[1]:.0f}%" if ref else ""
        print(f"{row['t']:>5} {row['r2']:>7.3f} {100 * row['zeros']:>6.1f}% {row['rate']:>7.3f}"
              f"   {ref_text}")
    localised = fraction_localised(params.Phi)
    say(args, f"{100 * localised:.1f}% of the dictionary's columns are localised (top 20% of "
              f"pixels hold >= 70% of the squared weight). {time.perf_counter() - start:.0f} s.")
    if figure:
        plot_quality_by_bin(quality.r2, quality.zeros, figure,
                            title=f"{os.path.basename(str(source))} on {stimuli.name}")
        say(args, f"wrote {figure}")
    if args.readout:
        linear_readout_report(args, net, stimuli, np.concatenate(summed))
    return 0


def linear_readout_report(args, net, test, test_features):
    """Logistic read-out of the counts summed over bins vs raw pixels (train -> test split).

    ``test_features`` are the evaluated test stimuli's counts summed over bins; the train
    split runs through the same network and seed."""
    from ipvae_brian.analysis.linear_readout import readout_accuracy
    name = test.name.split(":", 1)[0]
    train = load_stimuli(f"{name}:train", None, args.seed)
    counts, _ = net.simulate(train.x, seed=args.seed)
    codes = readout_accuracy(counts.sum(axis=1, dtype=float), train.labels, test_features,
                             test.labels)
    pixels = readout_accuracy(train.x, train.labels, test.x, test.labels)
    print(f"Linear read-out (logistic regression, trained on {train.n_stimuli:,} {name} train "
          f"stimuli, scored on {test.n_stimuli:,} test stimuli): counts summed over "
          f"{args.steps} bins {100 * codes:.1f}%, raw pixels {100 * pixels:.1f}%")


# --- the parser ----------------------------------------------------------------------------

class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default, unless it has none worth showing (None, False, "")."""

    def _get_help_string(self, action):
        if action.default in (None, False, "") or action.default is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    fmt = HelpFormatter
    parser = argparse.ArgumentParser(
        prog="run_sim.py", description="The iterative Poisson VAE (Vafaii, Galor & Yates 2025) "
        "as a Brian2 spiking network.", formatter_class=fmt)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add_input_arguments(p):
        """Options shared by simulate and sweep: stimuli, parameters, T, seed, engine."""
        p.add_argument("--stimuli", default="natural16:test", metavar="SPEC",
                       help="a stimulus set from the catalogue (see `run_sim.py stimuli`), e.g. "
                       "natural16:test, digits8:train, grating:orientation=45,sf=0.1,"
                       "contrast=0.5; or a file: .npy (N x M or N x T x M) or HDF5 (dataset "
                       "/stimuli/x or /x)")
        p.add_argument("--n", type=int, default=None,
                       help="use only the first N stimuli of the set (default: all)")
        p.add_argument("--params", metavar="FILE",
                       help="parameter file (HDF5, /params); default: the shipped parameters "
                       "for the stimulus size (16 x 16: natural16_K512.h5, 8 x 8: digits8.h5), "
                       "random ones for other sizes (said so)")
        p.add_argument("--random-params", action="store_true",
                       help="use seeded random parameters (the authors' initialisation)")
        p.add_argument("--latents", type=int, default=512,
                       help="K, the number of latent neurons, for random parameters")
        p.add_argument("--steps", type=int, default=None,
                       help="T, bins per stimulus (default: 128, or a movie's frame count)")
        p.add_argument("--seed", type=int, default=0,
                       help="seed of the Poisson draws (and of random parameters and noise "
                       "stimuli)")
        p.add_argument("--engine", choices=("auto", "standalone", "runtime"), default="auto",
                       help="Brian2 execution: standalone = cpp_standalone compiled once per "
                       "network shape (cached) and rerun per chunk; runtime = Brian2 runtime "
                       "with Cython; auto = standalone for >= 100,000 steps")
        p.add_argument("--lateral", choices=("auto", "synapses", "matrix"), default="auto",
                       help="how the lateral synapses deliver sum_j W_ij z_j: synapses = "
                       "event-driven (each spiking neuron's synapses, one by one); matrix = "
                       "one vectorised product of the synapses' weights with the counts per "
                       "step (same numbers, 2-4x faster at K = 512); auto = matrix for "
                       ">= 100,000 steps")
        p.add_argument("--quiet", action="store_true", help="print nothing but errors")

    sim = sub.add_parser(
        "simulate", formatter_class=fmt, help="run the network on stimuli and record the counts",
        description="Run the network for T bins on each stimulus and write an HDF5 recording "
        "(counts N x T x K, optional u and reconstructions, the parameters and the stimuli).")
    add_input_arguments(sim)
    sim.add_argument("--stream", action="store_true",
                     help="do not reset u to u0 between stimuli: one continuous input sequence")
    sim.add_argument("--record", default="", metavar="LIST",
                     help="extra datasets to record, comma-separated: u (membrane potentials), "
                     "recon (reconstructions Phi z_t)")
    sim.add_argument("--mode", choices=("discrete", "continuous"), default="discrete",
                     help="discrete: one time step per bin (the paper's algorithm); "
                     "continuous: steps of --dt within each bin, spikes as a Poisson process "
                     "with rate exp(u)/tau, spike times recorded")
    sim.add_argument("--bin-width", type=float, default=25.0, metavar="MS",
                     help="width tau of one bin in ms")
    sim.add_argument("--dt", type=float, default=None, metavar="MS",
                     help="time step of the continuous mode in ms (default 0.5); must divide "
                     "--bin-width")
    sim.add_argument("--out", default="recording.h5", metavar="FILE.h5",
                     help="output recording (written to a temporary file, renamed when complete)")
    add_scale_out_arguments(sim)
    sim.set_defaults(func=cmd_simulate)

    sweep = sub.add_parser(
        "sweep", formatter_class=fmt, help="simulate a grid of parameter values",
        description="Simulate the same stimuli for every point of a grid of parameter values "
        "(--set NAME=v1,v2,... per axis): one recording per point in the --out folder, named "
        "after the point, and a summary table (summary.csv, summary.md) of R^2 at the last "
        "bin, %-zeros and rates. Resumable: points whose recording is complete are checked "
        "and skipped. Discrete mode, u reset for every stimulus.")
    sweep.add_argument("--set", action="append", metavar="NAME=V1,V2,...", required=True,
                       help="an axis of the grid; NAME is one of eta, log_lr, log_bias, u0, "
                       "beta, c_u, c_du, u_floor (parameters; log_bias and u0 the same for "
                       "every neuron), seed (of the draws), latents (K, random parameters)")
    add_input_arguments(sweep)
    sweep.add_argument("--out", default="sweep", metavar="FOLDER",
                       help="output folder (created; its parent must exist)")
    add_scale_out_arguments(sweep)
    sweep.set_defaults(func=cmd_sweep)

    stim = sub.add_parser("stimuli", formatter_class=fmt,
                          help="list the stimulus sets, or describe and preview one",
                          description="Without NAME: list the available stimulus sets and "
                          "generators with their sizes. With NAME: load it and print its size; "
                          "--preview draws a figure of examples.")
    stim.add_argument("name", nargs="?", metavar="NAME", help="a stimulus spec, e.g. natural16:test")
    stim.add_argument("--preview", metavar="OUT.png", help="write a figure of examples")
    stim.add_argument("--n", type=int, default=None, help="use the first N stimuli")
    stim.add_argument("--seed", type=int, default=0, help="seed of random generators")
    stim.set_defaults(func=cmd_stimuli)

    plot = sub.add_parser("plot", formatter_class=fmt, help="figures of a recording",
                          description="Figures of a recording. Targets: raster (spike raster "
                          "of one stimulus, with the stimulus above and the PSTH below).")
    plot_targets = plot.add_subparsers(dest="target", required=True, metavar="TARGET")
    raster = plot_targets.add_parser(
        "raster", formatter_class=fmt, help="spike raster of one stimulus",
        description="Spike raster of one stimulus: the stimulus above (movies: a strip of "
        "frames along the time axis), the raster (one row per neuron, sorted), and the PSTH "
        "(mean rate of the shown neurons, spikes/s) below; time in seconds from the stimulus "
        "onset. Discrete-mode recordings have no spike times: each bin's count is drawn as "
        "ticks spread evenly within the bin, and the figure says so.")
    raster.add_argument("file", metavar="FILE.h5", help="a recording (run_sim.py simulate)")
    raster.add_argument("--stimulus", type=int, default=0,
                        help="index of the stimulus, 0 to N - 1 (default 0)")
    raster.add_argument("--neurons", default=None, metavar="SEL",
                        help="neurons to show: a range such as 0:64 (end excluded), a list "
                        "such as 3,17,42, or both (0:8,12); default: all")
    raster.add_argument("--sort", choices=("first-spike", "rate", "index"),
                        default="first-spike",
                        help="row order, top to bottom: first-spike time (earliest first), "
                        "spike count (highest first), or neuron index")
    raster.add_argument("--psth-bin", type=float, default=None, metavar="MS",
                        help="PSTH bin width in ms (default: the recording's bin width)")
    raster.add_argument("--out", default="raster.png", metavar="FILE",
                        help="output figure, 200 dpi; format from the suffix (.png, .pdf, .svg)")
    raster.set_defaults(func=cmd_plot)

    export = sub.add_parser(
        "export", formatter_class=fmt, help="write a recording in a format ephys tools read",
        description="Write a recording as Neurodata Without Borders (NWB): a Units table with "
        "every neuron's spike times on one session time axis (stimulus n starts at n T tau), "
        "the stimulus as an ImageSeries (one frame per bin), and one trial per stimulus. "
        "Needs pynwb (pip install 'ipvae-brian[nwb]').")
    export.add_argument("file", metavar="FILE.h5", help="a recording (run_sim.py simulate)")
    export.add_argument("--to", choices=("nwb",), required=True, help="output format")
    export.add_argument("--out", default=None, metavar="FILE.nwb",
                        help="output file (default: FILE with the suffix .nwb)")
    export.add_argument("--experimenter", default=None, metavar="NAME",
                        help="who ran the simulation (NWB metadata)")
    export.add_argument("--institution", default=None, help="where (NWB metadata)")
    export.set_defaults(func=cmd_export)

    def add_v1_arguments(p, out_default):
        p.add_argument("--params", metavar="FILE",
                       help="parameter file (HDF5, /params); default: the shipped natural16 "
                       "parameters (models/data/natural16_K512.h5)")
        p.add_argument("--out-dir", default=out_default, metavar="DIR",
                       help="folder for the recordings (.h5) and figures (.png); created if "
                       "its parent exists")
        p.add_argument("--seed", type=int, default=0,
                       help="root seed of the Poisson draws and noise stimuli (and of random "
                       "parameters)")
        p.add_argument("--quick", action="store_true",
                       help="small protocol sizes (a smoke test, seconds per experiment at "
                       "small K; the statistics are then rough)")
        p.add_argument("--engine", choices=("runtime", "standalone", "auto"), default="runtime",
                       help="Brian2 execution (see simulate --help); runtime needs no "
                       "per-shape compilation, which pays off for the many small blocks here")

    experiment = sub.add_parser(
        "experiment", formatter_class=fmt, help="run one V1 experiment on the network",
        description="Run one V1 experiment (protocols in analysis/experiments.py): generate "
        "its stimuli at the parameters' image size (sqrt(M) x sqrt(M)), run the network, write "
        "its recordings and a figure to --out-dir, and print the per-neuron statistics.")
    experiment.add_argument("name", choices=V1_EXPERIMENTS, metavar="NAME",
                            help="one of: " + ", ".join(V1_EXPERIMENTS))
    add_v1_arguments(experiment, "v1_experiments")
    experiment.set_defaults(func=cmd_experiment)

    compare = sub.add_parser(
        "compare-v1", formatter_class=fmt, help="run every V1 experiment and compare with V1",
        description="Run all V1 experiments and print the table of the 14 statistics of "
        "docs/ephys_reference.md: the model's median and IQR across neurons, the V1 value, "
        "the test, whether the model is inside, and the source; also written as "
        "v1_comparison.csv, v1_comparison.md and v1_comparison.png (V1 ranges shaded).")
    add_v1_arguments(compare, "v1_comparison")
    compare.set_defaults(func=cmd_compare_v1)

    models_cmp = sub.add_parser(
        "compare-models", formatter_class=fmt,
        help="train the iP-VAE and the baseline models alike and compare them",
        description="Train the iP-VAE (Brian2 network; shipped learned parameters when they "
        "match K) and the baselines (iG-VAE, iG-relu, predictive coding, LCA; numpy) on the "
        "same natural16 data with the same budget (patches x epochs x T), then print one "
        "table: R^2 and %-zeros at each --steps t on held-out patches of the training "
        "photographs and on the unseen test photographs, lifetime and population "
        "sparseness, and the digits8 linear read-out accuracy (each model also trained on "
        "digits8; raw pixels as reference). Writes model_comparison.csv, .md and .png (R^2 "
        "against %-zeros along t) to --out-dir. Deterministic for a seed.")
    models_cmp.add_argument("--stimuli", default="natural16", choices=("natural16",),
                            help="the data set (natural16: train and test photographs)")
    models_cmp.add_argument("--latents", type=int, default=None, metavar="K",
                            help="K, latents of every model (default 512; 64 with --quick)")
    models_cmp.add_argument("--steps", nargs="+", default=None, metavar="T",
                            help="steps t at which the table reports R^2 and %%-zeros, e.g. "
                            "16 128 1000 (the default; 4 16 with --quick); the evaluation runs "
                            "max(t) + 1 steps")
    models_cmp.add_argument("--train-patches", type=int, default=None, metavar="N",
                            help="natural16 training patches per epoch (default 20,000; 1,000 "
                            "with --quick)")
    models_cmp.add_argument("--epochs", type=int, default=None, metavar="E",
                            help="passes over the training patches (default 1)")
    models_cmp.add_argument("--train-steps", type=int, default=None, metavar="T",
                            help="inference steps per training patch (default 16, the "
                            "authors' T; 8 with --quick)")
    models_cmp.add_argument("--batch-size", type=int, default=None, metavar="B",
                            help="patches per dictionary step (default 200)")
    models_cmp.add_argument("--n-test", type=int, default=None, metavar="N",
                            help="evaluation patches per image set, held out from training "
                            "(default 500; 40 with --quick): the t = 1,000 horizon through "
                            "Brian2 is what limits it")
    models_cmp.add_argument("--readout-steps", type=int, default=None, metavar="T",
                            help="steps whose codes are summed for the digits8 read-out "
                            "(default 128; 8 with --quick)")
    models_cmp.add_argument("--digits-epochs", type=int, default=None, metavar="E",
                            help="passes over the 1,200 digits8 training images (default 10, "
                            "i.e. 60 dictionary steps; 1 with --quick)")
    models_cmp.add_argument("--seed", type=int, default=0,
                            help="seed of the initial dictionaries, minibatch order and every "
                            "model's random draws (default 0)")
    models_cmp.add_argument("--engine", choices=("auto", "standalone", "runtime"),
                            default="auto", help="Brian2 engine of the iP-VAE (see simulate "
                            "--help)")
    models_cmp.add_argument("--out-dir", default="model_comparison", metavar="DIR",
                            help="folder for the CSV, Markdown and figure (created if its "
                            "parent exists)")
    models_cmp.add_argument("--quick", action="store_true",
                            help="small sizes for a smoke test (K = 64, 1,000 training patches, "
                            "40 evaluation patches per set, t = 4 and 16, 300/150 digits)")
    models_cmp.set_defaults(func=cmd_compare_models)

    learn = sub.add_parser(
        "learn", formatter_class=fmt, help="fit the parameters offline from recorded counts",
        description="Learn the parameters by alternating: the Brian2 network simulates a "
        "minibatch of training stimuli, its counts are recorded, and Phi (a per-neuron Newton "
        "step of the free energy, columns at a fixed norm), u0 (mean posterior rate), sigma "
        "(residual variance) and eta (stability rule) are fitted to them (learning/alternation.py). "
        "Saves after every epoch; rerunning the same command resumes from the last epoch.")
    learn.add_argument("--stimuli", default="natural16", metavar="DATASET",
                       help="data set with train and test splits: natural16 or digits8")
    learn.add_argument("--latents", type=int, default=512, help="K, the number of neurons")
    learn.add_argument("--epochs", type=int, default=4, help="total passes over the train set")
    learn.add_argument("--out", default="params.h5", metavar="FILE.h5",
                       help="parameter file (written after every epoch; resumed if it exists)")
    learn.add_argument("--seed", type=int, default=0,
                       help="seed of the initialisation, minibatch order and Poisson draws")
    learn.add_argument("--n-train", type=int, default=None, metavar="N",
                       help="use the first N training stimuli (default: all)")
    learn.add_argument("--n-test", type=int, default=1000, metavar="N",
                       help="test stimuli evaluated after every epoch")
    learn.add_argument("--steps", type=int, default=32, help="T, bins per training stimulus")
    learn.add_argument("--batch-size", type=int, default=200,
                       help="stimuli per minibatch (one simulation and one Phi step each)")
    learn.add_argument("--column-norm", type=float, default=0.1,
                       help="norm of every dictionary column (sets the rates)")
    learn.add_argument("--dictionary-step", type=float, default=0.05,
                       help="epsilon of the per-neuron Newton step on Phi")
    learn.add_argument("--decay-every", type=int, default=250, metavar="J",
                       help="the Phi step after j minibatches is epsilon / (1 + j // J); the "
                       "default 250 is one natural16 epoch of 200-stimulus minibatches")
    learn.add_argument("--stability-margin", type=float, default=1.5,
                       help="kappa of the step-size rule: eta = kappa / (largest feed-forward "
                       "drive over a probe of training stimuli); the map diverges at 2")
    learn.add_argument("--engine", choices=("auto", "standalone", "runtime"),
                       default="standalone", help="Brian2 execution (see simulate --help)")
    learn.add_argument("--restart", action="store_true",
                       help="start again even if --out holds an earlier run")
    learn.add_argument("--quiet", action="store_true", help="print nothing but errors")
    learn.set_defaults(func=cmd_learn)

    evaluate = sub.add_parser(
        "evaluate", formatter_class=fmt, help="R^2 and %%-zeros against the bin t",
        description="Run the network (discrete mode, exact Poisson counts) on a stimulus set "
        "and print the mean R^2 of the reconstruction Phi z_t and the fraction of zero counts "
        "at t = 0, 8, 16, 32, 64, 128 (and 1000, if simulated), beside the authors' published "
        "values.")
    evaluate.add_argument("--params", metavar="FILE",
                          help="parameter file (default: the shipped one for the stimulus size)")
    evaluate.add_argument("--stimuli", default="natural16:test", metavar="SPEC",
                          help="stimulus set (see simulate --help)")
    evaluate.add_argument("--n", type=int, default=None, help="first N stimuli (default: all)")
    evaluate.add_argument("--steps", type=int, default=129,
                          help="bins per stimulus (129 reaches t = 128)")
    evaluate.add_argument("--at", type=lambda s: [int(v) for v in s.split(",")], default=None,
                          metavar="T,T,...", help="further bins to print")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the Poisson draws")
    evaluate.add_argument("--engine", choices=("auto", "standalone", "runtime"), default="auto",
                          help="Brian2 execution (see simulate --help)")
    evaluate.add_argument("--figure", default=None, metavar="FILE.png",
                          help="also draw R^2 and %%-zeros against t")
    evaluate.add_argument("--readout", action="store_true",
                          help="also the linear read-out: logistic regression on the counts "
                          "summed over bins, trained on the train split of a labelled data "
                          "set (e.g. --stimuli digits8:test), against raw pixels")
    evaluate.add_argument("--quiet", action="store_true", help="print only the table")
    evaluate.set_defaults(func=cmd_evaluate)
    return parser


def add_scale_out_arguments(parser):
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="worker processes of a local Dask cluster, 1 thread each; 1 = in "
                        "this process without Dask (default: one per core, at most one per "
                        "chunk). The counts are the same for any N")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="use a running Dask cluster (e.g. tcp://host:8786, started with "
                        "dask-jobqueue) instead of a local one")
    parser.add_argument("--chunk-size", type=int, default=None, metavar="STIMULI",
                        help="stimuli per task (default: 2^24 counts' worth, e.g. 256 at "
                        "K = 512, T = 128); the counts do not depend on it")


def _terminate(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.command_line = " ".join(["run_sim.py", *argv])
    signal.signal(signal.SIGTERM, _terminate)
    from ipvae_brian.models.errors import SimulationInputError
    from ipvae_brian.stimuli.stimulus_set import StimulusError
    try:
        return args.func(args)
    except (SimulationInputError, StimulusError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt:
        print("interrupted: no output file was written", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
