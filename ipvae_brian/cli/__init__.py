"""The ``ipvae`` command (``run_sim.py`` and ``python -m ipvae_brian`` are the same program).

    ipvae simulate [--stimuli SPEC] [--params FILE | --random-params] ... --out run.h5
    ipvae stimuli [NAME --preview out.png]
    ipvae sweep --set eta=0.5,1,2 --set log_bias=-4,-3 ... --out sweep/

It only wires: parse the options, build the library's configuration (a
:class:`~ipvae_brian.models.config.RunConfig` or a command's options dataclass), call one
library function per command and print what it returns; terminal progress bars are in
:mod:`ipvae_brian.cli.progress`. Run any command with ``--help``. Bad input is reported on
one line on stderr with exit status 2; Ctrl-C exits with 130 and leaves no output file.
"""
from __future__ import annotations

import dataclasses
import os
import signal
import sys
import time

from ipvae_brian.cli.arguments import build_parser
from ipvae_brian.cli.progress import (ComparisonProgressBars, LearningProgressBar,
                                      V1ProgressBar, progress_bar)

EXIT_INPUT_ERROR = 2
EXIT_INTERRUPTED = 130


def say(args, message: str):
    if not getattr(args, "quiet", False):
        print(message, flush=True)


def raise_input(message: str):
    from ipvae_brian.models.errors import SimulationInputError
    raise SimulationInputError(message)


def options(cls, args, **extra):
    """An options dataclass of the library filled from the parsed arguments of its fields."""
    names = {field.name for field in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in vars(args).items() if k in names}, **extra)


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
    from ipvae_brian.models.shipped import resolve_parameters
    from ipvae_brian.stimuli import catalog
    check_sizes(args)
    out = check_output_path(args.out)
    stimuli = catalog.load(args.stimuli, n=args.n, seed=args.seed)
    params, params_source, note = resolve_parameters(
        stimuli.n_pixels, args.params, args.random_params, args.latents, args.seed)
    if note:
        say(args, note)
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



def cmd_sweep(args) -> int:
    from ipvae_brian.analysis.parameter_sweep import SweepOptions, run_sweep
    result = run_sweep(options(SweepOptions, args, axes=args.set),
                       report=lambda message: say(args, message),
                       progress_bar=lambda total: progress_bar(total, args.quiet))
    say(args, result.describe())
    return 0



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



def cmd_plot(args) -> int:
    from ipvae_brian.analysis.raster import plot_raster, save_figure
    from ipvae_brian.models.atomic_file import check_output_path
    out = check_output_path(args.out)
    start = time.perf_counter()
    fig = plot_raster(args.file, stimulus=args.stimulus, neurons=args.neurons, sort=args.sort,
                      psth_bin_width=None if args.psth_bin is None else args.psth_bin / 1e3)
    save_figure(fig, out)
    print(f"wrote {out}: raster of stimulus {args.stimulus}, {len(fig.raster_order)} neurons "
          f"sorted by {args.sort}, {fig.raster_spike_count:,} spikes "
          f"({time.perf_counter() - start:.1f} s)")
    return 0



def cmd_export(args) -> int:
    from ipvae_brian.analysis.nwb_export import default_nwb_path, export_nwb
    out = export_nwb(args.file, args.out or default_nwb_path(args.file),
                     experimenter=args.experimenter, institution=args.institution)
    print(f"wrote {out} (NWB: units with spike times on the session axis, the stimulus as "
          f"an ImageSeries, one trial per stimulus)")
    return 0



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



def cmd_compare_models(args) -> int:
    from ipvae_brian.workflows.model_comparison import (ModelComparisonOptions,
                                                        run_model_comparison)
    bars = ComparisonProgressBars()
    run_model_comparison(options(ModelComparisonOptions, args), progress=bars,
                         report=bars.write)
    return 0



def cmd_learn(args) -> int:
    import numpy as np
    from ipvae_brian.analysis.dictionary_structure import plot_dictionary
    from ipvae_brian.learning.training_run import LearningOptions, epoch_line, run_learning

    def on_epoch(record, header):
        if header:  # (shown even with --quiet, as it always was)
            bar.write(header)
        if not args.quiet:
            bar.write(epoch_line(record))
    with LearningProgressBar(args.quiet) as bar:
        result = run_learning(options(LearningOptions, args),
                              report=lambda message: say(args, message),
                              progress=bar.update_to, on_epoch=on_epoch)
    plot_dictionary(result.params.Phi, result.image_shape, result.dictionary_figure,
                    usage=np.exp(result.params.u0),
                    title=f"Phi of {result.path} (sorted by prior rate exp(u0))")
    say(args, result.describe(result.dictionary_figure))
    return 0


def cmd_evaluate(args) -> int:
    from ipvae_brian.analysis.evaluation import (EvaluationOptions, readout_versus_pixels,
                                                 run_evaluation)
    evaluation = run_evaluation(options(EvaluationOptions, args),
                                report=lambda message: say(args, message),
                                progress_bar=lambda total: progress_bar(total, args.quiet))
    print(evaluation.table())
    say(args, evaluation.dictionary_line())
    if evaluation.figure:
        say(args, f"wrote {evaluation.figure}")
    if args.readout:
        print(readout_versus_pixels(evaluation).describe())
    return 0


def _terminate(signum, frame):
    raise KeyboardInterrupt


#: The function of each command (``args.command``; see :mod:`ipvae_brian.cli.arguments`).
COMMANDS = {"simulate": cmd_simulate, "sweep": cmd_sweep, "stimuli": cmd_stimuli,
            "plot": cmd_plot, "export": cmd_export, "experiment": cmd_experiment,
            "compare-v1": cmd_compare_v1, "compare-models": cmd_compare_models,
            "learn": cmd_learn, "evaluate": cmd_evaluate}


def main(argv=None) -> int:
    """Run one command; exit status 0, 2 for bad input (one line on stderr), 130 for Ctrl-C."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.command_line = " ".join(["run_sim.py", *argv])
    signal.signal(signal.SIGTERM, _terminate)
    from ipvae_brian.models.errors import SimulationInputError
    from ipvae_brian.stimuli.stimulus_set import StimulusError
    try:
        return COMMANDS[args.command](args)
    except (SimulationInputError, StimulusError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt:
        print("interrupted: no output file was written", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
