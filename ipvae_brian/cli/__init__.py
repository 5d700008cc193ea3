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


def run_config(args, steps: int, **fixed):
    """The RunConfig of ``simulate``-like options (milliseconds converted once, here)."""
    from ipvae_brian.models.config import RunConfig
    if args.mode == "discrete" and args.dt is not None and args.dt != args.bin_width:
        raise_input("--dt is for --mode continuous (in discrete mode one step is one bin)")
    dt = None if args.mode == "discrete" else (0.5 if args.dt is None else args.dt)
    record = tuple(s.strip() for s in (args.record or "").split(",") if s.strip())
    if args.bin_width <= 0:
        raise_input(f"--bin-width must be positive, got {args.bin_width} ms")
    options = dict(steps=steps, bin_width=args.bin_width / 1e3,
                   dt=None if dt is None else dt / 1e3, stream=args.stream, record=record,
                   engine=args.engine, lateral=args.lateral, chunk_size=args.chunk_size,
                   workers=args.workers, scheduler=args.scheduler)
    return RunConfig(**{**options, **fixed})


def check_sizes(args):
    if args.steps is not None and args.steps < 1:
        raise_input(f"--steps must be a positive integer, got {args.steps}")
    if args.n is not None and args.n < 1:
        raise_input(f"--n must be a positive integer, got {args.n}")


def cmd_simulate(args) -> int:
    from ipvae_brian.models.atomic_file import check_output_path
    from ipvae_brian.models.simulation import Simulation
    check_sizes(args)
    out = check_output_path(args.out)
    stimuli = load_stimuli(args.stimuli, args.n, args.seed)
    params, params_source = load_parameters(args, stimuli.n_pixels)
    steps = args.steps or stimuli.n_frames or 128
    simulation = Simulation(params, stimuli, run_config(args, steps))
    c = simulation.config
    say(args, f"Simulating {stimuli.n_stimuli:,} stimuli ({stimuli.name}, "
              f"{stimuli.image_shape[0]}x{stimuli.image_shape[1]} pixels"
              f"{', movies' if stimuli.is_movie else ''}) x {steps} bins through K = "
              f"{params.n_latents} neurons, seed {args.seed}\n{simulation.describe()}\n"
              f"  parameters: {params_source}\n  records: counts"
              f"{', spikes' if c.continuous else ''}{''.join(', ' + r for r in c.record)} -> "
              f"{out}\n  (the first run of a network shape compiles its code, 10-30 s; later "
              f"runs reuse it)")
    with progress_bar(stimuli.n_stimuli, args.quiet) as bar:
        result = simulation.run(args.seed, out, progress=bar.update_to,
                                attrs={"params_source": str(params_source),
                                       "command_line": args.command_line})
    size = os.path.getsize(out) / 2 ** 20
    say(args, f"Done: {result.summary.describe()}Wrote {out} ({size:.1f} MiB).")
    return 0


# --- sweep -----------------------------------------------------------------------------------

def cmd_sweep(args) -> int:
    import dataclasses
    from ipvae_brian.analysis.parameter_sweep import SweepOptions, run_sweep
    names = {field.name for field in dataclasses.fields(SweepOptions)}
    options = SweepOptions(**{k: v for k, v in vars(args).items() if k in names}, axes=args.set)
    result = run_sweep(options, report=lambda message: say(args, message),
                       progress_bar=lambda total: progress_bar(total, args.quiet))
    say(args, result.describe())
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

def experiment_context(args):
    from ipvae_brian.analysis.experiments.context import make_experiment_context
    return make_experiment_context(args.params, args.out_dir, seed=args.seed, quick=args.quick,
                                   engine=args.engine, command_line=args.command_line)


def cmd_experiment(args) -> int:
    from ipvae_brian.analysis.experiments import (describe_experiment_run, planned_work,
                                                  run_experiments)
    from ipvae_brian.analysis.experiments.report import format_experiment_result
    start = time.perf_counter()
    ctx = experiment_context(args)
    plan = planned_work([args.name], ctx)
    print(describe_experiment_run(args.name, ctx, plan[args.name]), flush=True)
    with V1ProgressBar(plan[args.name]) as progress:
        result = run_experiments(plan, ctx, progress)[args.name]
    print(format_experiment_result(result))
    print(f"Done in {time.perf_counter() - start:.1f} s.")
    return 0


def cmd_compare_v1(args) -> int:
    from ipvae_brian.analysis.experiments import EXPERIMENT_NAMES, planned_work
    from ipvae_brian.analysis.experiments.report import format_experiment_result
    from ipvae_brian.analysis.v1_comparison import (comparison_verdict, describe_comparison_run,
                                                    run_v1_comparison, text_table)
    start = time.perf_counter()
    ctx = experiment_context(args)
    plan = planned_work(EXPERIMENT_NAMES, ctx)
    print(describe_comparison_run(ctx, plan), flush=True)
    with V1ProgressBar(sum(plan.values())) as progress:
        rows, paths, results = run_v1_comparison(ctx, progress, plan)
    print("\n".join(format_experiment_result(r) for r in results.values()))
    print("\n" + text_table(rows))
    print("\n" + comparison_verdict(rows, paths, time.perf_counter() - start))
    return 0


# --- compare-models ------------------------------------------------------------------------

def cmd_compare_models(args) -> int:
    import dataclasses
    from ipvae_brian.cli.progress import ComparisonProgressBars
    from ipvae_brian.workflows.model_comparison import (ModelComparisonOptions,
                                                        run_model_comparison)
    names = {field.name for field in dataclasses.fields(ModelComparisonOptions)}
    options = ModelComparisonOptions(**{k: v for k, v in vars(args).items() if k in names})
    bars = ComparisonProgressBars()
    run_model_comparison(options, progress=bars, report=bars.write)
    return 0


# --- learn and evaluate --------------------------------------------------------------------

def cmd_learn(args) -> int:
    import dataclasses
    import numpy as np
    from ipvae_brian.analysis.dictionary_structure import plot_dictionary
    from ipvae_brian.cli.progress import LearningProgressBar
    from ipvae_brian.learning.training_run import LearningOptions, epoch_line, run_learning
    names = {field.name for field in dataclasses.fields(LearningOptions)}
    options = LearningOptions(**{k: v for k, v in vars(args).items() if k in names})

    def on_epoch(record, header):
        if header:  # (shown even with --quiet, as it always was)
            bar.write(header)
        if not args.quiet:
            bar.write(epoch_line(record))
    with LearningProgressBar(args.quiet) as bar:
        result = run_learning(options, report=lambda message: say(args, message),
                              progress=bar.update_to, on_epoch=on_epoch)
    plot_dictionary(result.params.Phi, result.image_shape, result.dictionary_figure,
                    usage=np.exp(result.params.u0),
                    title=f"Phi of {result.path} (sorted by prior rate exp(u0))")
    say(args, result.describe(result.dictionary_figure))
    return 0


def cmd_evaluate(args) -> int:
    import dataclasses
    from ipvae_brian.analysis.evaluation import (EvaluationOptions, readout_versus_pixels,
                                                 run_evaluation)
    names = {field.name for field in dataclasses.fields(EvaluationOptions)}
    options = EvaluationOptions(**{k: v for k, v in vars(args).items() if k in names})
    evaluation = run_evaluation(options, report=lambda message: say(args, message),
                                progress_bar=lambda total: progress_bar(total, args.quiet))
    print(evaluation.table())
    say(args, evaluation.dictionary_line())
    if evaluation.figure:
        say(args, f"wrote {evaluation.figure}")
    if options.readout:
        print(readout_versus_pixels(evaluation).describe())
    return 0


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
    from ipvae_brian import __version__
    parser.add_argument("--version", action="version", version=f"ipvae-brian {__version__}")
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
        description="Run one V1 experiment (protocols in analysis/experiments/): generate "
        "its stimuli at the parameters' image size (sqrt(M) x sqrt(M)), run the network, write "
        "its recordings and a figure to --out-dir, and print the per-neuron statistics.")
    from ipvae_brian.analysis.experiments import EXPERIMENT_NAMES
    experiment.add_argument("name", choices=EXPERIMENT_NAMES, metavar="NAME",
                            help="one of: " + ", ".join(EXPERIMENT_NAMES))
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
