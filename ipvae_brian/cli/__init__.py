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
import sys
import time

from ipvae_brian.cli.arguments import build_parser
from ipvae_brian.cli.progress import (COMPILE_ESTIMATE, ByteProgressBar,
                                      ComparisonProgressBars, LearningProgressBar,
                                      V1ProgressBar, progress_bar)

EXIT_INPUT_ERROR = 2
EXIT_INTERRUPTED = 130   # (SIGTERM: 143; see ipvae_brian.cli.interrupts)


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
                   lanes=args.lanes, workers=args.workers, scheduler=args.scheduler,
                   precision=args.precision)
    return RunConfig(**{**options, **fixed})


def output(args, path, *inputs) -> str:
    """``path`` checked as an output of this command (:func:`check_output_path`: never an
    input, an existing file replaced only with ``--overwrite``), and remembered as one of
    the files the command writes last (what an interrupt reports on)."""
    from ipvae_brian.models.atomic_file import check_output_path
    from ipvae_brian.stimuli.input_limits import input_file
    checked = check_output_path(path, [(what, input_file(source)) for what, source in inputs],
                                overwrite=getattr(args, "overwrite", False))
    args.final_outputs = [*getattr(args, "final_outputs", []), os.path.abspath(checked)]
    return checked


def folder_outputs(args, folder: str, stem: str, *inputs) -> None:
    """:func:`output` for a command's ``stem.csv``, ``.md`` and ``.png`` in ``folder`` (if
    the folder exists already; else it is created and holds nothing to replace)."""
    if os.path.isdir(folder):
        for ext in ("csv", "md", "png"):
            output(args, os.path.join(folder, f"{stem}.{ext}"), *inputs)


def check_sizes(args):
    from ipvae_brian.models.errors import SimulationInputError
    from ipvae_brian.models.memory import BYTES_PER_SYNAPSE, check_allocation
    if args.steps is not None and args.steps < 1:
        raise_input(f"--steps must be a positive integer, got {args.steps}")
    if getattr(args, "n", None) is not None and args.n < 1:
        raise_input(f"--n must be a positive integer, got {args.n}")
    if getattr(args, "latents", None) is not None:
        if args.latents < 1:
            raise_input(f"--latents must be a positive integer, got {args.latents}")
        check_allocation((BYTES_PER_SYNAPSE + 8.0) * args.latents ** 2,
                         f"--latents {args.latents:,}: the network's {args.latents:,}^2 "
                         f"lateral synapses", "use fewer neurons", SimulationInputError)


def check_learning_resume(args) -> None:
    """Refuse to resume ``learn --out`` written with other settings than these (data set,
    training and test stimuli; the seed, rule and size are checked by the library) unless
    ``--restart``: two trainings must not mix in one history."""
    from ipvae_brian.models.errors import SimulationInputError
    from ipvae_brian.stimuli.input_limits import check_regular_file
    from ipvae_brian.models.parameters import IPVAEParameters
    from ipvae_brian.stimuli import digits8, natural16
    check_sizes(args)
    if args.restart or not os.path.lexists(args.out):
        return
    check_regular_file(args.out, "--out", error=SimulationInputError)
    provenance = IPVAEParameters.load(args.out).provenance
    learning = provenance.get("learning") or {}
    splits = {"natural16": (natural16.SPLIT_SIZES["train"], natural16.SPLIT_SIZES["test"]),
              "digits8": (digits8.N_TRAIN, 1797 - digits8.N_TRAIN)}
    full = splits.get(args.stimuli, (None, None))
    asked = {"--stimuli": args.stimuli,
             "--n-train": min(args.n_train or full[0] or 0, full[0] or args.n_train or 0),
             "--n-test": min(args.n_test or full[1] or 0, full[1] or args.n_test or 0)}
    stored = {"--stimuli": provenance.get("stimuli"),
              "--n-train": learning.get("train_stimuli"),
              "--n-test": learning.get("test_stimuli")}
    differ = [f"{flag} {stored[flag]} there, {asked[flag]} now" for flag in asked
              if stored[flag] is not None and asked[flag] and stored[flag] != asked[flag]]
    if differ:
        raise_input(f"{args.out} holds a run begun with other settings ({'; '.join(differ)}); "
                    f"resuming would mix two trainings in one history: pass --restart to "
                    f"start over, or another --out")


def cmd_simulate(args) -> int:
    from ipvae_brian.models.atomic_file import check_output_path
    from ipvae_brian.models.simulation import Simulation
    from ipvae_brian.models.shipped import parameter_pixel_counts, resolve_parameters
    from ipvae_brian.stimuli import catalog
    from ipvae_brian.stimuli.stimulus_file import describe_layout
    check_sizes(args)
    out = output(args, args.out, ("--stimuli", args.stimuli), ("--params", args.params))
    pixels, required = parameter_pixel_counts(args.params, args.random_params)
    stimuli = catalog.load(args.stimuli, n=args.n, seed=args.seed, layout=args.stimulus_layout,
                           pixels=pixels, pixels_required=required, steps=args.steps)
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
              f"{params.n_latents} neurons, seed {args.seed}\n"
              f"{'  ' + describe_layout(stimuli) + chr(10) if describe_layout(stimuli) else ''}"
              f"{simulation.describe()}\n"
              f"  precision: {c.precision}\n"
              f"  parameters: {params_source}\n  records: counts"
              f"{', spikes' if c.continuous else ''}{''.join(', ' + r for r in c.record)} -> "
              f"{out}\n  (the first run of a network shape compiles its code: "
              f"{COMPILE_ESTIMATE.get(c.engine, 'up to 2 min')} with the {c.engine} engine on "
              f"2 cores; later runs reuse it)")
    with progress_bar(stimuli.n_stimuli, args.quiet, engine=c.engine) as bar:
        result = simulation.run(args.seed, out, progress=bar.update_to,
                                attrs={"params_source": str(params_source),
                                       "command_line": args.command_line})
    size = os.path.getsize(out) / 2 ** 20
    say(args, f"Done: {result.summary.describe()}Wrote {out} ({size:.1f} MiB).")
    return 0



def cmd_sweep(args) -> int:
    from ipvae_brian.analysis.parameter_sweep import SweepOptions, run_sweep
    args.final_outputs = [os.path.abspath(os.path.join(args.out, f"summary.{ext}"))
                          for ext in ("csv", "md")]
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
        plot_stimulus_preview(stimuli, output(args, args.preview, ("NAME", args.name)))
        print(f"wrote {args.preview}")
    return 0



def cmd_plot(args) -> int:
    from ipvae_brian.analysis import recording_figures as figures
    from ipvae_brian.analysis.raster import plot_raster, save_figure
    out = output(args, args.out, ("FILE", args.file))
    start = time.perf_counter()
    if args.target != "raster":
        fig = {"reconstruction": lambda: figures.plot_reconstruction(
                   args.file, args.stimulus, args.times),
               "potentials": lambda: figures.plot_potentials(args.file, args.stimulus,
                                                             args.neurons),
               "dictionary": lambda: figures.plot_dictionary_of(args.file),
               "receptive-fields": lambda: figures.plot_receptive_fields(args.file, args.neurons),
               "tuning": lambda: figures.plot_tuning(args.file, args.parameter, args.neurons),
               }[args.target]()
        save_figure(fig, out)
        print(f"wrote {out}: {args.target} of {args.file} "
              f"({time.perf_counter() - start:.1f} s)")
        return 0
    fig = plot_raster(args.file, stimulus=args.stimulus, neurons=args.neurons, sort=args.sort,
                      psth_bin_width=None if args.psth_bin is None else args.psth_bin / 1e3)
    save_figure(fig, out)
    print(f"wrote {out}: raster of stimulus {args.stimulus}, {len(fig.raster_order)} neurons "
          f"sorted by {args.sort}, {fig.raster_spike_count:,} spikes "
          f"({time.perf_counter() - start:.1f} s)")
    return 0



def cmd_export(args) -> int:
    from ipvae_brian.analysis.nwb_export import default_nwb_path, export_nwb
    start = time.perf_counter()
    with ByteProgressBar("writing NWB") as bar:
        out = export_nwb(args.file, output(args, args.out or default_nwb_path(args.file),
                                           ("FILE", args.file)),
                         experimenter=args.experimenter, institution=args.institution,
                         progress=bar.update_to)
    print(f"wrote {out} ({os.path.getsize(out) / 2 ** 20:.1f} MiB in "
          f"{time.perf_counter() - start:.1f} s; NWB: the counts per bin (discrete mode) or "
          f"the spike times (continuous), u and Phi z_t when recorded, the dictionary, the "
          f"stimulus as an ImageSeries, one trial per stimulus)")
    return 0



def experiment_outputs(args, names) -> None:
    """:func:`output` for every file the V1 experiments ``names`` may write in --out-dir
    (recordings and figures, checked before anything runs); if the folder does not exist
    yet there is nothing to replace, and they are only remembered as the final outputs."""
    from ipvae_brian.analysis.experiments import planned_outputs
    for name in planned_outputs(names):
        path = os.path.join(args.out_dir, name)
        if os.path.isdir(args.out_dir):
            output(args, path, ("--params", args.params))
        else:
            args.final_outputs = [*args.final_outputs, os.path.abspath(path)]


def experiment_context(args):
    from ipvae_brian.analysis.experiments.context import make_experiment_context
    return make_experiment_context(args.params, args.out_dir, seed=args.seed, quick=args.quick,
                                   engine=args.engine, command_line=args.command_line)


def cmd_experiment(args) -> int:
    from ipvae_brian.analysis.experiments import (describe_experiment_run, planned_work,
                                                  run_experiments)
    from ipvae_brian.analysis.experiments.report import format_experiment_result
    start = time.perf_counter()
    experiment_outputs(args, [args.name])
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
    experiment_outputs(args, EXPERIMENT_NAMES)
    folder_outputs(args, args.out_dir, "v1_comparison", ("--params", args.params))
    ctx = experiment_context(args)
    plan = planned_work(EXPERIMENT_NAMES, ctx)
    print(describe_comparison_run(ctx, plan), flush=True)
    with V1ProgressBar(sum(plan.values())) as progress:
        rows, paths, results = run_v1_comparison(ctx, progress, plan)
    print("\n".join(format_experiment_result(r) for r in results.values()))
    print("\n" + text_table(rows))
    print("\n" + comparison_verdict(rows, paths, time.perf_counter() - start))
    return 0



def cmd_compare_ephys(args) -> int:
    from ipvae_brian.analysis.ephys_comparison import run_ephys_comparison, text_table
    from ipvae_brian.analysis.ephys_recording import read_ephys, trial_spikes
    start = time.perf_counter()
    if args.bin_width <= 0 or args.model_trials < 2 or args.substeps < 2:
        raise_input("--bin-width must be positive, --model-trials and --substeps at least 2")
    recording = read_ephys(args.recording, units=args.units, trials=args.trials,
                           table=args.trials_table)
    ts = trial_spikes(recording, args.window, args.bin_width / 1e3)
    images = None
    if args.images:
        from ipvae_brian.stimuli.stimulus_file import load_stimulus_file
        images = load_stimulus_file(args.images)
    folder_outputs(args, args.out_dir, "ephys_comparison", ("RECORDING", args.recording))
    ctx = experiment_context(args)
    say(args, f"Recording {recording.source}: {recording.n_units} units, "
              f"{recording.n_trials} trials in {ts.n_conditions} conditions (columns: "
              f"{', '.join(recording.columns) or 'none'})")
    rows, paths, header = run_ephys_comparison(ts, ctx.out_dir, ctx, images=images,
                                               max_trials=args.model_trials,
                                               substeps=args.substeps,
                                               source=recording.source,
                                               progress=V1ProgressBar)
    print(text_table(rows, header))
    print(f"\nWall time {time.perf_counter() - start:.0f} s. Wrote {', '.join(paths)}.")
    return 0


def cmd_compare_models(args) -> int:
    from ipvae_brian.workflows.model_comparison import (ModelComparisonOptions,
                                                        run_model_comparison)
    folder_outputs(args, args.out_dir, "model_comparison")
    if os.path.isdir(args.out_dir):
        output(args, os.path.join(args.out_dir, "rate_distortion.csv"))
    bars = ComparisonProgressBars()
    run_model_comparison(options(ModelComparisonOptions, args), progress=bars,
                         report=bars.write)
    return 0



def cmd_learn_from_recording(args) -> int:
    """``learn --from RECORDING``: one offline fit to a recording's counts and potentials."""
    from ipvae_brian.learning.adam import step_sizes
    from ipvae_brian.learning.recording_fit import fit_recording_file
    args.overwrite = args.restart
    out = output(args, args.out, ("--from", args.recording))
    say(args, f"Fitting the parameters of {args.recording} to its recorded counts and "
              f"potentials: {args.iterations} full-batch Adam steps on the free energy")
    result = fit_recording_file(args.recording, args.iterations,
                                step_sizes(args.dictionary_rate, args.parameter_rate),
                                propagate=args.propagate, command_line=" ".join(sys.argv))
    result.params.save(out)
    before, after = result.objectives[0], result.objectives[-1]
    say(args, f"free energy of the recording: {before:.3f} -> {after:.3f} nats per stimulus "
              f"and bin ({after - before:+.3f}); wrote {out}")
    return 0


def cmd_learn(args) -> int:
    import numpy as np
    from ipvae_brian.analysis.dictionary_structure import plot_dictionary
    from ipvae_brian.learning.training_run import LearningOptions, epoch_line, run_learning
    if args.recording is not None:
        return cmd_learn_from_recording(args)
    check_learning_resume(args)
    args.final_outputs = [os.path.abspath(args.out)]

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
    if args.figure:
        output(args, args.figure, ("--params", args.params), ("--stimuli", args.stimuli))
    evaluation = run_evaluation(options(EvaluationOptions, args),
                                report=lambda message: say(args, message),
                                progress_bar=lambda total: progress_bar(total, args.quiet))
    print(evaluation.table())
    print(evaluation.silence_line())
    say(args, evaluation.dictionary_line())
    if evaluation.figure:
        say(args, f"wrote {evaluation.figure}")
    if args.readout:
        print(readout_versus_pixels(evaluation).describe())
    return 0


#: The function of each command (``args.command``; see :mod:`ipvae_brian.cli.arguments`).
COMMANDS = {"simulate": cmd_simulate, "sweep": cmd_sweep, "stimuli": cmd_stimuli,
            "plot": cmd_plot, "export": cmd_export, "experiment": cmd_experiment,
            "compare-v1": cmd_compare_v1, "compare-ephys": cmd_compare_ephys,
            "compare-models": cmd_compare_models,
            "learn": cmd_learn, "evaluate": cmd_evaluate}


def main(argv=None) -> int:
    """Run one command; exit status 0, 2 for bad input (one line on stderr), 130 for Ctrl-C
    and 143 for SIGTERM (:mod:`ipvae_brian.cli.interrupts`). Without ``argv`` (the program:
    ``sys.argv``) the process is taken to exit when it returns: a signal that comes then
    leaves the status as it is."""
    from ipvae_brian.cli.interrupts import handling_interrupts
    exiting = argv is None
    argv = sys.argv[1:] if argv is None else list(argv)
    with handling_interrupts(exiting=exiting) as received:
        try:
            args = build_parser().parse_args(argv)
            args.command_line = " ".join(["run_sim.py", *argv])
            args.final_outputs = []
            received["args"] = args
            return COMMANDS[args.command](args)
        except SystemExit as exc:      # --help, --version, or an option argparse refused
            return exc.code if isinstance(exc.code, int) else EXIT_INPUT_ERROR
        except BaseException as exc:   # noqa: B902 (each kind is sorted out, or re-raised)
            code, line = failure(exc, locals().get("args"), received)
            print(line, file=sys.stderr)
            return code


def failure(exc: BaseException, args, received: dict) -> tuple[int, str]:
    """The exit status and the one line of stderr for an exception that ended a command.

    An interrupt (or anything that followed one, such as a child process killed by the
    same Ctrl-C) is reported by :func:`~ipvae_brian.cli.interrupts.interrupted_exit`; bad
    input, a full disk and an exhausted memory by one line and status 2. Anything else
    is a bug and keeps its traceback.
    """
    import errno
    from ipvae_brian.cli.interrupts import interrupted_exit
    from ipvae_brian.models.atomic_file import completed_outputs
    from ipvae_brian.models.errors import SimulationInputError
    from ipvae_brian.stimuli.stimulus_set import StimulusError
    if received["signal"] is not None or isinstance(exc, KeyboardInterrupt):
        return interrupted_exit(exc, getattr(args, "final_outputs", []), completed_outputs)
    text = " ".join(str(exc).split())
    if isinstance(exc, (SimulationInputError, StimulusError)):
        return EXIT_INPUT_ERROR, f"error: {text}"
    if isinstance(exc, OSError) and (exc.errno in (errno.ENOSPC, errno.EDQUOT)
                                     or "No space left on device" in text):
        where = f" writing {exc.filename}" if getattr(exc, "filename", None) else ""
        outputs = ", ".join(getattr(args, "final_outputs", []) or ["the output"])
        return EXIT_INPUT_ERROR, (f"error: no space left on the device{where} ({text}); "
                                  f"nothing was written under {outputs}: free some space "
                                  f"and run again")
    if isinstance(exc, MemoryError):
        return EXIT_INPUT_ERROR, (f"error: out of memory ({text or 'MemoryError'}); make "
                                  f"the run smaller (fewer stimuli, --steps, --latents or "
                                  f"--chunk-size)")
    raise exc


if __name__ == "__main__":
    sys.exit(main())
