"""The options of the ``ipvae`` command: one subparser per command, with its help.

Declarations only: :func:`ipvae_brian.cli.main` dispatches on ``args.command`` to the
command's function. Defaults that belong to the library come from it (the bin width from
:data:`~ipvae_brian.models.config.BIN_WIDTH_S`, the learning rule's settings from
:class:`~ipvae_brian.learning.alternation.LearningRule`, the experiments' names from their
registry).
"""
from __future__ import annotations

import argparse

from ipvae_brian.models.config import BIN_WIDTH_S, LANES
from ipvae_brian.models.run_summary import LATE_READOUT


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default, unless it has none worth showing (None, False, "")."""

    def _get_help_string(self, action):
        if action.default in (None, False, "") or action.default is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


ENGINE_HELP = ("Brian2 execution: standalone = cpp_standalone compiled once per network shape "
               "(cached) and rerun per chunk; runtime = Brian2 runtime with Cython; auto = "
               "standalone for >= 100,000 steps")


class Parser(argparse.ArgumentParser):
    """Reports a refused option on one line of stderr (exit status 2), without the usage."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} "
                     f"--help)\n")


#: Seeds are stored as 64-bit integers in recordings and parameter files.
MAX_SEED = 2 ** 63 - 1


def seed_value(text: str) -> int:
    """A ``--seed``: a whole number from 0 to 2^63 - 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{text} is out of range; allowed 0 to {MAX_SEED}")
    return value


OVERWRITE_HELP = "replace existing output files (default: refuse to)"


def build_parser() -> argparse.ArgumentParser:
    from ipvae_brian import __version__
    from ipvae_brian.analysis.experiments import EXPERIMENT_NAMES
    from ipvae_brian.learning.alternation import LearningRule
    parser = Parser(
        prog="run_sim.py", formatter_class=HelpFormatter, description="The iterative Poisson "
        "VAE (Vafaii, Galor & Yates 2025) as a Brian2 spiking network.")
    parser.add_argument("--version", action="version", version=f"ipvae-brian {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, help, description):
        return sub.add_parser(name, formatter_class=HelpFormatter, help=help,
                              description=description)

    def engine(p, default="auto", help=ENGINE_HELP):
        p.add_argument("--engine", choices=("auto", "standalone", "runtime"), default=default,
                       help=help)

    def seed(p, help="seed of the Poisson draws"):
        p.add_argument("--seed", type=seed_value, default=0, help=help)

    def overwrite(p, help=OVERWRITE_HELP):
        p.add_argument("--overwrite", action="store_true", help=help)

    def quiet(p, help="print nothing but errors"):
        p.add_argument("--quiet", action="store_true", help=help)

    def inputs(p):  # simulate and sweep
        p.add_argument("--stimuli", default="natural16:test", metavar="SPEC",
                       help="a stimulus set from the catalogue (see `run_sim.py stimuli`), e.g. "
                       "natural16:test, digits8:train, grating:orientation=45,sf=0.1,"
                       "contrast=0.5; or a file: .npy or HDF5 (dataset /stimuli/x or /x) of "
                       "images N x M or N x H x W, or movies N x T x M or N x T x H x W "
                       "(see --stimulus-layout)")
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
        p.add_argument("--stimulus-layout", choices=("images", "movies"), default=None,
                       help="how a stimulus file's 3-D array N x A x B is read: images of "
                       "A x B pixels or movies of A frames of B pixels (default: the one the "
                       "parameters and --steps fit; an array both fit is refused)")
        seed(p, "seed of the Poisson draws (and of random parameters and noise stimuli)")
        engine(p)
        p.add_argument("--lateral", choices=("auto", "synapses", "matrix"), default="auto",
                       help="how the lateral synapses deliver sum_j W_ij z_j: synapses = "
                       "event-driven; matrix = one vectorised product of the synapses' weights "
                       "with the counts per step (same numbers, 2-4x faster at K = 512); auto "
                       "= matrix for >= 100,000 steps")
        quiet(p)

    def scale_out(p):
        p.add_argument("--workers", type=int, default=None, metavar="N",
                       help="worker processes of a local Dask cluster, 1 thread each; 1 = in "
                       "this process without Dask (default: one per core, at most one per "
                       "chunk). The counts are the same for any N")
        p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="use a running Dask cluster (e.g. tcp://host:8786, started with "
                       "dask-jobqueue) instead of a local one")
        p.add_argument("--chunk-size", type=int, default=None, metavar="STIMULI",
                       help="stimuli per task (default: 2^24 counts' worth, e.g. 256 at "
                       "K = 512, T = 128); the counts do not depend on it")

    sim = command("simulate", "run the network on stimuli and record the counts",
                  "Run the network for T bins on each stimulus and write an HDF5 recording "
                  "(counts N x T x K, optional u and reconstructions, the parameters and the "
                  "stimuli).")
    inputs(sim)
    sim.add_argument("--stream", action="store_true",
                     help="do not reset u to u0 between stimuli: one continuous input sequence")
    sim.add_argument("--record", default="", metavar="LIST",
                     help="extra datasets to record, comma-separated: u (membrane potentials), "
                     "recon (reconstructions Phi z_t)")
    sim.add_argument("--precision", choices=("float64", "float32"), default="float32",
                     help="floating-point type of the network's drive, lateral weights and "
                     "potentials u (the counts are integers in both). float32 (the command's "
                     "default: 1.12x faster on the main job, R^2 and zeros equal to float64's "
                     "within sampling error) is checked against a float32 reference and "
                     "against float64 in distribution; float64 (the default of the Python "
                     "API's RunConfig, and of learn and evaluate) is what the equivalence "
                     "tests check to 1e-10. Recorded in the file")
    sim.add_argument("--mode", choices=("discrete", "continuous"), default="discrete",
                     help="discrete: one time step per bin (the paper's algorithm); continuous: "
                     "steps of --dt within each bin, spikes as a Poisson process with rate "
                     "exp(u)/tau, spike times recorded")
    sim.add_argument("--bin-width", type=float, default=BIN_WIDTH_S * 1e3, metavar="MS",
                     help="width tau of one bin in ms")
    sim.add_argument("--dt", type=float, default=None, metavar="MS",
                     help="time step of the continuous mode in ms (default 0.5); must divide "
                     "--bin-width")
    overwrite(sim)
    sim.add_argument("--out", default="recording.h5", metavar="FILE.h5",
                     help="output recording (written to a temporary file, renamed when complete)")
    scale_out(sim)
    sim.add_argument("--lanes", type=int, default=None, metavar="B",
                     help="stimuli simulated side by side in one network (standalone "
                     f"engine, lateral matrix, discrete mode; default {LANES} there, else 1); "
                     "the counts do not depend on it")

    sweep = command("sweep", "simulate a grid of parameter values",
                    "Simulate the same stimuli for every point of a grid of parameter values "
                    "(--set NAME=v1,v2,... per axis): one recording per point in --out, and "
                    "summary.csv / summary.md (R^2 at the last bin, %%-zeros, rates). "
                    "Resumable: complete points are checked and skipped. Discrete mode.")
    sweep.add_argument("--set", action="append", metavar="NAME=V1,V2,...", required=True,
                       help="an axis of the grid; NAME is one of eta, log_lr, log_bias, u0, "
                       "beta, c_u, c_du, u_floor (parameters; log_bias and u0 the same for "
                       "every neuron), seed (of the draws), latents (K, random parameters)")
    inputs(sweep)
    overwrite(sweep, "simulate again the points whose recordings in --out were made with "
              "other settings or other stimuli (default: refuse)")
    sweep.add_argument("--out", default="sweep", metavar="FOLDER",
                       help="output folder (created; its parent must exist)")
    scale_out(sweep)

    stim = command("stimuli", "list the stimulus sets, or describe and preview one",
                   "Without NAME: list the stimulus sets and generators with their sizes. With "
                   "NAME: load it and print its size; --preview draws examples.")
    stim.add_argument("name", nargs="?", metavar="NAME", help="a stimulus spec, e.g. natural16:test")
    overwrite(stim)
    stim.add_argument("--preview", metavar="OUT.png", help="write a figure of examples")
    stim.add_argument("--n", type=int, default=None, help="use the first N stimuli")
    seed(stim, "seed of random generators")

    plot = sub.add_parser("plot", formatter_class=HelpFormatter, help="figures of a recording",
                          description="Figures of a recording. Targets: raster, "
                          "reconstruction, potentials, dictionary, receptive-fields, tuning.")
    targets = plot.add_subparsers(dest="target", required=True, metavar="TARGET")
    raster = targets.add_parser(
        "raster", formatter_class=HelpFormatter, help="spike raster of one stimulus",
        description="Spike raster of one stimulus: the stimulus above, one row per neuron "
        "(sorted, labelled with neuron ids), the PSTH (spikes/s) below; time in s from the "
        "stimulus onset. Discrete-mode "
        "recordings have no spike times: a bin's count is drawn as ticks spread evenly within "
        "the bin, and the figure says so.")
    raster.add_argument("file", metavar="FILE.h5", help="a recording (run_sim.py simulate)")
    raster.add_argument("--stimulus", type=int, default=0,
                        help="index of the stimulus, 0 to N - 1 (default 0)")
    raster.add_argument("--neurons", default=None, metavar="SEL",
                        help="neurons to show: a range such as 0:64 (end excluded), a list "
                        "such as 3,17,42, or both (0:8,12); default: all")
    raster.add_argument("--sort", choices=("first-spike", "rate", "index"), default="first-spike",
                        help="row order, top to bottom: first-spike time, spike count (highest "
                        "first), or neuron index")
    raster.add_argument("--psth-bin", type=float, default=None, metavar="MS",
                        help="PSTH bin width in ms (default: the recording's bin width)")
    overwrite(raster)
    raster.add_argument("--out", default="raster.png", metavar="FILE",
                        help="output figure, 200 dpi; format from the suffix (.png, .pdf, .svg)")
    for name, text, extra in (
            ("reconstruction", "the stimulus, Phi z_t at chosen bins t, and R^2 over t "
             "(from the counts and the recording's parameters)", ("stimulus", "times")),
            ("potentials", "membrane potentials u_t of chosen neurons over one stimulus "
             "(needs simulate --record u)", ("stimulus", "neurons")),
            ("dictionary", "the dictionary Phi, one tile per neuron, sorted by mean count", ()),
            ("receptive-fields", "spike-triggered average of chosen neurons beside their "
             "dictionary columns (a recording of noise stimuli, e.g. white_noise)",
             ("neurons",)),
            ("tuning", "mean rate against a stimulus parameter of a grid of conditions (e.g. "
             "grating:orientation=0/45/90/135, or a V1 experiment's recordings)",
             ("neurons", "parameter"))):
        p = targets.add_parser(name, formatter_class=HelpFormatter, help=text,
                               description=text[0].upper() + text[1:] + ".")
        p.add_argument("file", metavar="FILE.h5", help="a recording (run_sim.py simulate)")
        if "stimulus" in extra:
            p.add_argument("--stimulus", type=int, default=0, help="index of the stimulus")
        if "times" in extra:
            p.add_argument("--times", default=None, metavar="T,T,...",
                           type=lambda v: [int(t) for t in v.split(",")],
                           help="bins t whose reconstruction is shown (default: 0, T/8, T/2, "
                           "T - 1)")
        if "neurons" in extra:
            p.add_argument("--neurons", default="0:8" if name == "potentials" else None,
                           metavar="SEL", help="neurons: a range such as 0:8 or a list such "
                           "as 3,17,42" + ("" if name == "potentials" else
                                           " (default: the most active / most tuned 8)"))
        if "parameter" in extra:
            p.add_argument("--parameter", default=None, metavar="NAME",
                           help="grid parameter on the x axis (default: the first varied)")
        overwrite(p)
        p.add_argument("--out", default=f"{name}.png", metavar="FILE",
                       help="output figure, 200 dpi; format from the suffix")

    export = command("export", "write a recording in a format ephys tools read",
                     "Write a recording as NWB: what was simulated (discrete mode: the counts "
                     "per bin, binned with their bin width; continuous mode: the spike times, "
                     "stimulus n starting at n T tau), u and Phi z_t when recorded, the "
                     "dictionary, the stimulus as an ImageSeries, one trial per stimulus. "
                     "Needs pynwb (pip install 'ipvae-brian[nwb]').")
    export.add_argument("file", metavar="FILE.h5", help="a recording (run_sim.py simulate)")
    export.add_argument("--to", choices=("nwb",), required=True, help="output format")
    overwrite(export)
    export.add_argument("--out", default=None, metavar="FILE.nwb",
                        help="output file (default: FILE with the suffix .nwb)")
    export.add_argument("--experimenter", default=None, metavar="NAME",
                        help="who ran the simulation (NWB metadata)")
    export.add_argument("--institution", default=None, help="where (NWB metadata)")

    def v1_options(p, out_dir):
        p.add_argument("--params", metavar="FILE", help="parameter file (HDF5); default: the "
                       "shipped natural16 parameters (models/data/natural16_K512.h5)")
        if out_dir in ("v1_experiments", "v1_comparison"):   # (compare-ephys: its own)
            overwrite(p, "replace the files of an earlier run in --out-dir (the "
                      "experiments' recordings and figures" + (
                          ", v1_comparison.csv, .md and .png" if out_dir == "v1_comparison"
                          else "") + "; default: refuse)")
        p.add_argument("--out-dir", default=out_dir, metavar="DIR", help="folder for the "
                       "recordings and figures; created if its parent exists")
        seed(p, "root seed of the Poisson draws and noise stimuli (and of random parameters)")
        p.add_argument("--quick", action="store_true", help="small protocol sizes (a smoke "
                       "test; the statistics are then rough)")
        engine(p, "runtime", "Brian2 execution (see simulate --help); runtime needs no "
               "per-shape compilation, which pays off for the many small blocks here")

    experiment = command(
        "experiment", "run one V1 experiment on the network",
        "Run one V1 experiment (protocols in analysis/experiments/) at the parameters' image "
        "size, write its recordings and a figure to --out-dir, print per-neuron statistics.")
    experiment.add_argument("name", choices=EXPERIMENT_NAMES, metavar="NAME",
                            help="one of: " + ", ".join(EXPERIMENT_NAMES))
    v1_options(experiment, "v1_experiments")
    v1_options(command("compare-v1", "run every V1 experiment and compare "
                       "with V1", "Run all V1 experiments and print the table of the 14 "
                       "statistics of docs/ephys_reference.md (model median and IQR, the V1 "
                       "value, the test, inside or not, the source); also written as "
                       "v1_comparison.csv, .md and .png."), "v1_comparison")
    ephys = command(
        "compare-ephys", "compare the model with your own recording, statistic by statistic",
        "Read spike trains and trials from RECORDING (NWB: Units + trials or epochs table; "
        "or any file Neo reads), run the model on the recording's protocol where its trial "
        "columns name it (orientation / contrast / size gratings, white noise, natural "
        "images with --images), else on the default natural-patch protocol, measure both "
        "with the same functions (rates, Fano, ISI CV/LV, r_sc, sparseness, PSTH, tuning) "
        "and print model vs recording: median [IQR], n, KS test and Cliff's delta; also "
        "written as ephys_comparison.csv, .md and .png.")
    ephys.add_argument("recording", metavar="RECORDING", help="an NWB file or a file Neo "
                       "reads (e.g. NIX)")
    ephys.add_argument("--units", default=None, metavar="SEL", help="units by position, "
                       "e.g. 0:40 or 3,7,9 (default all)")
    ephys.add_argument("--trials", default=None, metavar="SEL", help="trials by position, "
                       "e.g. 0:200 (default all)")
    ephys.add_argument("--trials-table", default=None, metavar="NAME", help="the intervals "
                       "table (NWB) or Epoch (Neo) of the trials (default: trials, else "
                       "epochs, else the only one)")
    ephys.add_argument("--window", type=float, nargs=2, default=None, metavar=("T0", "T1"),
                       help="counting window, s from each trial's start (default 0 to the "
                       "shortest trial); the model counts in a window of the same length")
    ephys.add_argument("--bin-width", type=float, default=25.0, metavar="MS",
                       help="PSTH bin width, ms (both sides)")
    ephys.add_argument("--images", default=None, metavar="FILE", help="the natural images "
                       "the trials' image_index column refers to (a stimulus file)")
    ephys.add_argument("--model-trials", type=int, default=10, metavar="N",
                       help="most model trials per condition")
    ephys.add_argument("--substeps", type=int, default=10, metavar="S",
                       help="model time steps per 25 ms bin (continuous time, for spike "
                       "times)")
    overwrite(ephys, "replace the ephys_comparison.csv, .md and .png in --out-dir "
              "(default: refuse)")
    v1_options(ephys, "ephys_comparison")

    models = command(
        "compare-models",
        "train the iP-VAE and the baseline models alike and compare them",
        "Train the iP-VAE (Brian2, learning.alternation) and the baselines (iG-VAE, "
        "iG-relu, predictive coding, LCA) on the same natural16 patches with the same "
        "budget (patches, minibatches, B, T), each sparse model at every value of its "
        "sparsity knob (iP-VAE beta, iG-relu b, LCA lambda); tabulate R^2 and %%-zeros at "
        "each --steps t decoded from samples and from the mean / rate, sparseness and the "
        "digits8 linear read-out, and draw the rate-distortion curves with the "
        "scikit-learn sparse-coding front; writes model_comparison.csv, .md, .png and "
        "rate_distortion.csv to --out-dir. Deterministic for a seed.")
    models.add_argument("--stimuli", default="natural16", choices=("natural16",),
                        help="the data set (natural16: train and test photographs)")
    for flag, metavar, text in (
            ("--latents", "K", "K, latents of every model (default 512; 32 with --quick)"),
            ("--train-patches", "N", "training patches per epoch, a multiple of --batch-size "
             "(default 10,000; 200 quick)"),
            ("--epochs", "E", "passes over the training patches (default 1)"),
            ("--train-steps", "T", "inference steps (bins) per training patch, at least 2 "
             "(default 16; 4 quick)"),
            ("--batch-size", "B", "patches per parameter update (default 200; 100 quick)"),
            ("--n-test", "N", "evaluation patches per image set (default 500; 20 quick)"),
            ("--readout-steps", "T", "steps summed for the digits8 read-out (default 128; 4 "
             "quick)"),
            ("--digits-epochs", "E", "passes over the digits8 training images (default 10; 1 "
             "quick)")):
        models.add_argument(flag, type=int, default=None, metavar=metavar, help=text)
    models.add_argument("--steps", nargs="+", default=None, metavar="T",
                        help="steps t of the table, e.g. 16 128 1000 (the default; 2 8 with "
                        "--quick); the evaluation runs max(t) + 1 steps")
    seed(models, "seed of the dictionaries, minibatch order and every model's draws")
    engine(models, help="Brian2 engine of the iP-VAE (see simulate --help)")
    overwrite(models, "replace the model_comparison.csv, .md, .png and rate_distortion.csv "
              "in --out-dir "
              "(default: refuse)")
    models.add_argument("--out-dir", default="model_comparison", metavar="DIR",
                        help="folder for the CSV, Markdown and figure")
    models.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")

    learn = command(
        "learn", "fit the parameters offline from recorded counts",
        "Learn the parameters by alternating: the Brian2 network simulates a minibatch of "
        "training stimuli, and Phi, sigma, u0, b and eta take one step down the gradient of "
        "the free energy of its recorded counts (learning/alternation.py, docs/learning.md). "
        "Saves after every epoch; rerunning the same command resumes. With --from, one "
        "offline fit to a recording instead.")
    learn.add_argument("--stimuli", default="natural16", metavar="DATASET",
                       help="data set with train and test splits: natural16 or digits8")
    learn.add_argument("--latents", type=int, default=512, help="K, the number of neurons")
    learn.add_argument("--epochs", type=int, default=4, help="total passes over the train set")
    learn.add_argument("--out", default="params.h5", metavar="FILE.h5",
                       help="parameter file (written after every epoch; resumed if it exists)")
    seed(learn, "seed of the initialisation, minibatch order and Poisson draws")
    learn.add_argument("--n-train", type=int, default=None, metavar="N",
                       help="use the first N training stimuli (default: all)")
    learn.add_argument("--n-test", type=int, default=1000, metavar="N",
                       help="test stimuli evaluated after every epoch")
    rule = LearningRule()
    for flag, kind, text in (
            ("--steps", int, "T, bins simulated per training stimulus"),
            ("--window", int, "consecutive recorded bins in the objective of one step"),
            ("--batch-size", int, "stimuli per minibatch (one simulation and one Adam step)"),
            ("--beta", float, "weight of the KL term of the free energy: the sparsity knob"),
            ("--dictionary-rate", float, "Adam step size of Phi"),
            ("--parameter-rate", float, "Adam step size of log sigma, u0, log b and log eta"),
            ("--decay", int, "the step sizes after j minibatches are divided by 1 + j / D"),
            ("--clamp-start", float, "c_u = c_du at the start"),
            ("--clamp-final", float, "c_u = c_du after --release minibatches"),
            ("--release", int, "minibatches over which the clamps rise to 10"),
            ("--column-norm", float, "norm of the columns of the initial random dictionary")):
        learn.add_argument(flag, type=kind, help=text,
                           default=getattr(rule, flag[2:].replace("-", "_")))
    learn.add_argument("--one-step", dest="propagate", action="store_false",
                       help="one-step teacher forcing: every bin's potential one update from "
                       "the recorded one (default: the counts held fixed and the potentials "
                       "propagated through each window)")
    learn.add_argument("--search-every", type=int, default=0, metavar="N",
                       help="after every N minibatches, one closed-loop step on a common factor "
                       "of b and on eta: the factors (b: 1/4 to 4, eta: 1/2 to 2) whose network "
                       "has the lowest free energy on the probe (learning/closed_loop_search.py; "
                       "default 0: never)")
    learn.add_argument("--tile", action="store_true",
                       help="windows tiling all --steps bins (the mean free energy over every "
                       "bin, gradient truncated at each window's start); default: the onset "
                       "window and one later window drawn at random")
    learn.add_argument("--calibrate", action="store_true",
                       help="after the last epoch, set b to c times the Poisson-noise price "
                       "||Phi_k / sigma||^2 / 2 and scale eta, c and the factor of eta chosen "
                       "by the lowest closed-loop free energy on held-out training stimuli "
                       "(learning/closed_loop_search.py); rerunning a finished run with it "
                       "calibrates it without learning again")
    learn.add_argument("--noise-price", type=float, default=None, metavar="C",
                       help="with --calibrate: b = C x the Poisson-noise price, given instead "
                       "of searched (the knob of the late code's sparsity: after the "
                       "transient b alone prices a spike); only eta is then chosen")
    learn.add_argument("--validation", type=int, default=1000, metavar="N",
                       help="held-out stimuli of --calibrate: the last N of the train split "
                       "(default 1000; they must come after the --n-train learned from)")
    learn.add_argument("--from", dest="recording", default=None, metavar="RECORDING.h5",
                       help="instead of the alternation: one offline fit of the parameters "
                       "to the counts and potentials of a recording written by `simulate "
                       "--record u` (starting from the parameters that made it)")
    learn.add_argument("--iterations", type=int, default=200, metavar="N",
                       help="Adam steps of the --from fit (full batch)")
    engine(learn, "standalone", "Brian2 execution (see simulate --help)")
    learn.add_argument("--restart", "--overwrite", action="store_true", dest="restart",
                       help="start again even if --out holds an earlier run (without it, "
                       "an --out written with other settings is refused)")
    quiet(learn)

    evaluate = command(
        "evaluate", "R^2 and %%-zeros against the bin t",
        "Run the network (discrete mode, exact Poisson counts) on a stimulus set and print the "
        "mean R^2 of Phi z_t and the fraction of zero counts at t = 0, 8, 16, 32, 64, 128 (and "
        "1000, if simulated), beside the authors' published values.")
    evaluate.add_argument("--params", metavar="FILE",
                          help="parameter file (default: the shipped one for the stimulus size)")
    evaluate.add_argument("--stimuli", default="natural16:test", metavar="SPEC",
                          help="stimulus set (see simulate --help)")
    evaluate.add_argument("--n", type=int, default=None, help="first N stimuli (default: all)")
    evaluate.add_argument("--steps", type=int, default=LATE_READOUT + 1,
                          help=f"bins per stimulus ({LATE_READOUT + 1} reaches t = "
                               f"{LATE_READOUT})")
    evaluate.add_argument("--at", type=lambda s: [int(v) for v in s.split(",")], default=None,
                          metavar="T,T,...", help="further bins to print")
    seed(evaluate)
    engine(evaluate, help="Brian2 execution (see simulate --help)")
    overwrite(evaluate)
    evaluate.add_argument("--figure", default=None, metavar="FILE.png",
                          help="also draw R^2 and %%-zeros against t")
    evaluate.add_argument("--readout", action="store_true",
                          help="also the linear read-out (logistic regression on the counts "
                          "summed over bins) of a labelled set, e.g. digits8:test, against "
                          "raw pixels")
    quiet(evaluate, "print only the table")
    return parser
