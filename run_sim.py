#!/usr/bin/env python
"""Command line of the iP-VAE spiking-network simulator.

    python run_sim.py simulate [--stimuli SPEC] [--params FILE | --random-params] ...
    python run_sim.py stimuli [NAME --preview out.png]

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

EXIT_INPUT_ERROR = 2
EXIT_INTERRUPTED = 130


# --- simulate ------------------------------------------------------------------------------

def load_stimuli(spec: str, n: int | None, seed: int):
    """A StimulusSet from a file path or a catalogue spec (``natural16:test``, ``grating:...``)."""
    from stimuli.stimulus_file import load_stimulus_file
    if os.path.splitext(spec)[1].lower() in (".npy", ".h5", ".hdf5") or os.path.exists(spec):
        stimuli = load_stimulus_file(spec)
        return stimuli if n is None else stimuli.head(n)
    from stimuli import catalog
    return catalog.load(spec, n=n, seed=seed)


def load_parameters(args, n_pixels: int):
    """Parameters from ``--params``, ``--random-params``, or the shipped default."""
    from models.parameters import IPVAEParameters
    from models.shipped import default_parameters_path
    if args.params and args.random_params:
        raise_input("--params and --random-params exclude each other")
    if args.random_params:
        return IPVAEParameters.random(n_pixels, args.latents, seed=args.seed), \
            f"random (seed {args.seed}, K = {args.latents})"
    path = args.params or default_parameters_path(n_pixels)
    if path is None:
        say(args, f"note: no --params given and no shipped parameters for M = {n_pixels} "
                  f"pixels; using random parameters (seed {args.seed}, K = {args.latents})")
        return IPVAEParameters.random(n_pixels, args.latents, seed=args.seed), \
            f"random (seed {args.seed}, K = {args.latents})"
    return IPVAEParameters.load(path), path


def raise_input(message: str):
    from models.errors import SimulationInputError
    raise SimulationInputError(message)


def say(args, message: str):
    if not getattr(args, "quiet", False):
        print(message, flush=True)


def parse_record(text: str) -> tuple:
    from models.recording import OPTIONAL_RECORDS
    items = tuple(s.strip() for s in text.split(",") if s.strip()) if text else ()
    unknown = [s for s in items if s not in OPTIONAL_RECORDS]
    if unknown:
        raise_input(f"--record: unknown item(s) {', '.join(unknown)}; allowed: "
                    f"{', '.join(OPTIONAL_RECORDS)}")
    return items


def cmd_simulate(args) -> int:
    import numpy as np
    from brian2 import ms
    from analysis.metrics import fraction_zeros, r_squared
    from models.atomic_file import check_output_path
    from models.network import IPVAENetwork
    from models.recording import RecordingWriter

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
                           engine=args.engine)
    network.check_stimuli(stimuli.x)
    engine = network.choose_engine(N)
    say(args, f"Simulating {N:,} stimuli ({stimuli.name}, {stimuli.image_shape[0]}x"
              f"{stimuli.image_shape[1]} pixels{', movies' if stimuli.is_movie else ''}) x "
              f"{steps} bins through K = {K} neurons\n"
              f"  mode {args.mode}, bin {args.bin_width:g} ms"
              f"{f', dt {dt:g} ms' if network.continuous else ''}, "
              f"{'streaming (no reset)' if args.stream else 'u reset to u0 for every stimulus'}"
              f", seed {args.seed}\n"
              f"  engine: {engine} ({network.engine_reason})\n"
              f"  parameters: {params_source}\n"
              f"  records: counts{', spikes' if network.continuous else ''}"
              f"{''.join(', ' + r for r in record)} -> {out}\n"
              f"  (the first run of a network shape compiles its code, 10-30 s; later runs "
              f"reuse it)")
    attrs = {"seed": args.seed, "mode": network.mode, "engine": engine, "bin_width": float(args.bin_width) / 1e3,
             "bin_width_units": "s", "dt": float(dt) / 1e3, "dt_units": "s",
             "stream": bool(args.stream), "params_source": str(params_source),
             "command_line": args.command_line}
    start = time.perf_counter()
    last_x = stimuli.x[:, -1] if stimuli.is_movie else stimuli.x
    r2_sum = zeros_last = zeros_all = total_counts = 0.0
    r2_defined = 0  # R^2 is undefined for a constant stimulus (e.g. a blank frame)
    r2_values, runaways = [], 0
    ceiling = 0.5 * np.exp(params.c_u)  # counts this large mean u reached the soft bound c_u
    with RecordingWriter(out, params, stimuli, steps, attrs=attrs, record=record,
                         spikes=network.continuous) as writer, \
            progress_bar(N, args.quiet) as bar:
        for chunk in network.run(stimuli.x, seed=args.seed, progress=bar.update_to):
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


class progress_bar:
    """A tqdm bar over stimuli (with time left), or nothing when quiet."""

    def __init__(self, total: int, quiet: bool):
        self.total, self.quiet, self.bar = total, quiet, None

    def __enter__(self):
        if not self.quiet:
            from tqdm import tqdm
            self.bar = tqdm(total=self.total, unit="stim", dynamic_ncols=True,
                            desc="simulating", file=sys.stdout)
        return self

    def update_to(self, done: float):
        if self.bar is not None:
            self.bar.n = round(done, 1)
            self.bar.refresh()

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()


# --- stimuli -------------------------------------------------------------------------------

def cmd_stimuli(args) -> int:
    from stimuli import catalog
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
        from analysis.stimulus_figures import plot_stimulus_preview
        from models.atomic_file import check_output_path
        plot_stimulus_preview(stimuli, check_output_path(args.preview))
        print(f"wrote {args.preview}")
    return 0


# --- plot ----------------------------------------------------------------------------------

def cmd_plot(args) -> int:
    import time as _time
    from analysis.raster import plot_raster, save_figure
    from models.atomic_file import check_output_path
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
    from analysis.nwb_export import default_nwb_path, export_nwb
    out = export_nwb(args.file, args.out or default_nwb_path(args.file),
                     experimenter=args.experimenter, institution=args.institution)
    print(f"wrote {out} (NWB: units with spike times on the session axis, the stimulus as "
          f"an ImageSeries, one trial per stimulus)")
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
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sim = sub.add_parser(
        "simulate", formatter_class=fmt, help="run the network on stimuli and record the counts",
        description="Run the network for T bins on each stimulus and write an HDF5 recording "
        "(counts N x T x K, optional u and reconstructions, the parameters and the stimuli).")
    sim.add_argument("--stimuli", default="natural16:test", metavar="SPEC",
                     help="a stimulus set from the catalogue (see `run_sim.py stimuli`), e.g. "
                     "natural16:test, digits8:train, grating:orientation=45,sf=0.1,contrast=0.5; "
                     "or a file: .npy (N x M or N x T x M) or HDF5 (dataset /stimuli/x or /x)")
    sim.add_argument("--n", type=int, default=None,
                     help="simulate only the first N stimuli of the set (default: all)")
    sim.add_argument("--params", metavar="FILE",
                     help="parameter file (HDF5, /params); default: the shipped parameters for "
                     "the stimulus size, or random ones if none ship")
    sim.add_argument("--random-params", action="store_true",
                     help="use seeded random parameters (the authors' initialisation)")
    sim.add_argument("--latents", type=int, default=512,
                     help="K, the number of latent neurons, for random parameters")
    sim.add_argument("--steps", type=int, default=None,
                     help="T, bins per stimulus (default: 128, or a movie's frame count)")
    sim.add_argument("--seed", type=int, default=0,
                     help="seed of the Poisson draws (and of random parameters and noise stimuli)")
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
    sim.add_argument("--engine", choices=("auto", "standalone", "runtime"), default="auto",
                     help="Brian2 execution: standalone = cpp_standalone compiled once per "
                     "network shape (cached) and rerun per chunk, OpenMP on all cores; runtime = "
                     "Brian2 runtime with Cython; auto = standalone for >= 100,000 steps")
    sim.add_argument("--quiet", action="store_true", help="print nothing but errors")
    sim.set_defaults(func=cmd_simulate)

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
    return parser


def _terminate(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.command_line = " ".join(["run_sim.py", *argv])
    signal.signal(signal.SIGTERM, _terminate)
    from models.errors import SimulationInputError
    from stimuli.stimulus_set import StimulusError
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
