r"""The model comparison (``compare-models``) as one call: train alike, score, write.

:func:`run_model_comparison` trains the iP-VAE (the Brian2 network, learned by
``learning.alternation``) and the numpy baselines (``models.baselines``: iG-VAE,
iG-relu, predictive coding, LCA) on the same natural16 training patches with the same
budget (``learning.model_training.TrainingBudget``: the same patches, minibatches,
batch size B and bins T; one parameter update per minibatch for every model), and
scores every model's code decoded two ways, from samples and from the mean / rate
(``analysis.model_comparison``). Every sparse model is trained at each value of its
own sparsity knob (``learning.model_training.SPARSITY_KNOBS``: the iP-VAE's beta,
the iG-relu's b, the LCA's lambda) for its rate-distortion curve, drawn with the
scikit-learn sparse-coding front learned on the same patches with the same number of
minibatches (``analysis.rate_distortion``). For every model and knob value:

1. train on natural16 (seed ``seed``; baselines: ``train_dictionary`` from one random
   unit-norm dictionary; iP-VAE: ``train_ipvae``);
2. infer the test photographs' patches in one run of max(t) + 1 steps and score R^2 and
   %-zeros at each t, both ways (seed ``seed + 1``); at the knob's default value also
   the held-out patches of the training photographs, sparseness, and
3. the digits8 read-out: train again on digits8 (divided by the train pixels' std) with
   the same B and T, and read the digits out from sample codes summed over the read-out
   steps (seed ``seed + 2``; ``readout_accuracy``).

Every step is seeded, so the tables' numbers are the same for a seed (the "seconds"
column aside). The module imports both :mod:`learning` and :mod:`analysis`, which is
why it lives here and not in either of them.

References
----------
Vafaii, Galor & Yates (2025), "Brain-like variational inference", arXiv:2410.19315
(the metrics and the rate-distortion view); ``docs/learning.md`` (training the
baselines alike); ``docs/data.md`` (natural16 and digits8).
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from typing import Callable, Sequence

import numpy as np

from ipvae_brian.models.errors import SimulationInputError

#: Sizes of the comparison, option name -> (default, with ``quick``).
COMPARISON_SIZES = {"latents": (512, 32), "steps": ([16, 128, 1000], [2, 8]),
                    "train_patches": (10_000, 200), "epochs": (1, 1),
                    "train_steps": (16, 4), "batch_size": (200, 100), "n_test": (500, 20),
                    "readout_steps": (128, 4), "digits_epochs": (10, 1)}
#: digits8 images per split with ``quick`` (None: the whole split otherwise).
QUICK_DIGITS = {"train": 200, "test": 100}
#: Stimuli of the iP-VAE's per-epoch history (held out from training and evaluation).
HISTORY_STIMULI = (100, 10)
#: The output files in ``out_dir``.
OUTPUT_FILES = {"csv": "model_comparison.csv", "md": "model_comparison.md",
                "png": "model_comparison.png", "curves": "rate_distortion.csv"}


def parse_int_list(values, option: str) -> list[int]:
    """Positive integers from ``16 128 1000`` or ``16,128,1000``, sorted, unique.

    Parameters
    ----------
    values : sequence of str or int
        The words given, each possibly a comma-separated list.
    option : str
        The option's name for the error message (e.g. ``"--steps"``).

    Returns
    -------
    list of int

    Raises
    ------
    SimulationInputError
        A word that is not an integer, or a number below 1.

    Examples
    --------
    >>> parse_int_list(["128,16", 1000, "16"], "--steps")
    [16, 128, 1000]
    """
    items = [v.strip() for value in values for v in str(value).split(",") if v.strip()]
    message = f"{option} takes positive integers, got {' '.join(map(str, values))!r}"
    try:
        numbers = sorted({int(v) for v in items})
    except ValueError:
        raise SimulationInputError(message) from None
    if not numbers or numbers[0] < 1:
        raise SimulationInputError(message)
    return numbers


@dataclasses.dataclass(frozen=True)
class ModelComparisonOptions:
    """What to compare and how much work each model gets; the options of ``compare-models``.

    Sizes left at None take their default from :data:`COMPARISON_SIZES` (the small
    column with ``quick``); :meth:`sizes` resolves and checks them.

    Parameters
    ----------
    stimuli : str
        The data set; only "natural16" has both training and unseen test photographs.
    latents : int, optional
        K, the latents of every model.
    steps : sequence of int or str, optional
        The steps t at which the table reports R^2 and %-zeros (``16 128 1000`` or
        ``"16,128,1000"``); the evaluation runs max(t) + 1 steps.
    train_patches, epochs, train_steps, batch_size : int, optional
        The natural16 training budget of every model and knob value: patches per epoch x
        epochs x T, in minibatches of B (``learning.model_training.TrainingBudget``);
        ``train_patches`` must be a multiple of B and T at least 2.
    n_test : int, optional
        Evaluation patches per image set, held out from training.
    readout_steps : int, optional
        Steps whose codes are summed for the digits8 read-out.
    digits_epochs : int, optional
        Passes over the digits8 training images.
    seed : int
        Seed of the initial dictionaries, minibatch order and every model's draws.
    engine : {"auto", "standalone", "runtime"}
        Brian2 engine of the iP-VAE.
    out_dir : str
        Folder for ``model_comparison.csv``, ``.md``, ``.png`` and ``rate_distortion.csv``
        (created if its parent exists).
    quick : bool
        Small default sizes for a smoke test (200 / 100 digits, two knob values per sparse
        model: its default and its last sweep value).
    command_line : str
        The command that asked for the run, quoted in the table's notes.
    """

    stimuli: str = "natural16"
    latents: int | None = None
    steps: Sequence | None = None
    train_patches: int | None = None
    epochs: int | None = None
    train_steps: int | None = None
    batch_size: int | None = None
    n_test: int | None = None
    readout_steps: int | None = None
    digits_epochs: int | None = None
    seed: int = 0
    engine: str = "auto"
    out_dir: str = "model_comparison"
    quick: bool = False
    command_line: str = ""

    def sizes(self) -> dict:
        """Every size of :data:`COMPARISON_SIZES`, given or default, checked.

        Returns
        -------
        dict
            Option name -> positive int; ``"steps"`` -> sorted list of positive ints.

        Raises
        ------
        SimulationInputError
            A size that is not a positive integer (the message names its option,
            ``--train-patches`` for ``train_patches``), T below 2, or training patches
            that are not whole minibatches.
        """
        column = 1 if self.quick else 0
        size = {name: getattr(self, name) if getattr(self, name) is not None
                else defaults[column] for name, defaults in COMPARISON_SIZES.items()}
        size["steps"] = parse_int_list(size["steps"], "--steps")
        for name, value in size.items():
            if name != "steps" and (not isinstance(value, int) or value < 1):
                raise SimulationInputError(f"--{name.replace('_', '-')} must be a positive "
                                           f"integer, got {value}")
        if size["train_steps"] < 2:
            raise SimulationInputError(f"--train-steps must be at least 2 (the iP-VAE's "
                                       f"learning window), got {size['train_steps']}")
        if size["train_patches"] % size["batch_size"]:
            raise SimulationInputError(
                f"--train-patches ({size['train_patches']:,}) must be a multiple of "
                f"--batch-size ({size['batch_size']}): every model gets the same whole "
                f"minibatches")
        return size

    def knob_values(self, model: str) -> tuple:
        """The knob values a sparse model is trained at, its default first (with
        ``quick``: the default and the sweep's last value)."""
        from ipvae_brian.learning.model_training import SPARSITY_KNOBS
        _, values, default = SPARSITY_KNOBS[model]
        values = (values[-1],) if self.quick else values
        return (default,) + tuple(v for v in values if v != default)


@dataclasses.dataclass
class ModelComparisonResult:
    """What :func:`run_model_comparison` produced.

    Attributes
    ----------
    rows : list of analysis.model_comparison.ModelRow
        One per model at its default knob value, in table order, then the raw-pixel
        reference row.
    points : list of analysis.rate_distortion.KnobPoint
        Every model at every knob value (test photographs).
    front : tuple
        The scikit-learn front: (list of FrontPoint, minibatches).
    notes : list of str
        The notes under the table (data, metrics, how each model was trained).
    table : str
        The table as Markdown (``analysis.model_comparison.format_table``).
    paths : dict
        ``"csv"``, ``"md"``, ``"png"``, ``"curves"`` -> the file written.
    seconds : float
        Wall time of the whole comparison.
    """

    rows: list
    points: list
    front: tuple
    notes: list
    table: str
    paths: dict
    seconds: float


class ComparisonProgress:
    """How :func:`run_model_comparison` reports progress; this base class shows nothing.

    A terminal front end (``ipvae_brian.cli.progress.ComparisonProgressBars``) draws one
    bar over the models and one over the phase of the current model.
    """

    def start(self, n_models: int) -> None:
        """The comparison of ``n_models`` models begins."""

    def model(self, name: str) -> None:
        """Model ``name`` is next."""

    @contextlib.contextmanager
    def phase(self, total: int, description: str, unit: str):
        """One phase of a model (training, evaluation, read-out) of ``total`` units.

        Yields
        ------
        callable
            Called with the number of units done so far.
        """
        yield lambda done: None

    def model_done(self) -> None:
        """The current model is finished."""

    def close(self) -> None:
        """The loop over the models is over (also after an error)."""



def _check_data_sizes(stimuli: str, n_test: int, train_patches: int, history: int) -> None:
    """natural16 only, and enough patches in its splits for the evaluation and training."""
    from ipvae_brian.stimuli.natural16 import SPLIT_SIZES
    if stimuli != "natural16":
        raise SimulationInputError(
            f"--stimuli {stimuli!r}: compare-models runs on natural16 (patches of training "
            f"and of unseen test photographs); no other set has both")
    available = SPLIT_SIZES["train"]
    if n_test + train_patches + history > available:
        raise SimulationInputError(
            f"--n-test ({n_test:,}) + --train-patches ({train_patches:,}) exceed the "
            f"{available:,} natural16 train patches (less {history} for the iP-VAE's history)")
    if n_test > SPLIT_SIZES["test"]:
        raise SimulationInputError(f"--n-test ({n_test:,}) exceeds the "
                                   f"{SPLIT_SIZES['test']:,} natural16 test patches")


def _output_paths(out_dir: str) -> dict:
    """Create ``out_dir`` if its parent exists; the checked paths of the outputs."""
    from ipvae_brian.models.atomic_file import check_output_path
    if not os.path.isdir(out_dir):
        check_output_path(out_dir)            # the parent folder must exist
        os.makedirs(out_dir)
    return {k: check_output_path(os.path.join(out_dir, name)) for k, name in OUTPUT_FILES.items()}


#: How each model's settings differ from the authors' (Vafaii et al. 2025 and their code),
#: or whose settings it takes: the table's notes.
SETTINGS_NOTES = {
    "iP-VAE": "the authors' initialisation (u0 ~ U[-6, -4], b = exp(-3), eta = 1, sigma = 1) "
              "and clamp schedule (c_u = c_du rising from 2 to 10); Phi, sigma, u0, b and eta "
              "learned; differs: objective is the free energy with the exact Poisson KL "
              "(docs/learning.md), not the authors' loss, fitted on recorded counts",
    "iG-VAE": "the authors' clamps (7, 3) on the changes of (mu, log s) and their learned "
              "prior; differs: no state clamp (theirs (7, 2) holds s near 0.5 with a fixed "
              "unit-norm Phi), sigma = 1 and b = 0 fixed (they learn both, b from exp(-3)), "
              "eta = min(1/L, 0.2/max||Phi_k||^2) (they learn it from 1), Hebbian "
              "dictionary steps",
    "iG-relu": "as the iG-VAE, but the prior fixed at N(0, 1) (a learned one silenced every "
               "unit) and b swept (they learn b from exp(-3) = 0.05)",
    "PC": "Rao & Ballard (1999), one linear level, Gaussian prior N(0, 1), step 1/L",
    "LCA": "Rozell et al. (2008), soft threshold lambda swept, step h = min(1, 1/L)",
}


def _describe_point(name: str, knob: str, value) -> str:
    return f"{name} ({knob} = {value:g})" if knob else name


def run_model_comparison(options: ModelComparisonOptions,
                         progress: ComparisonProgress | None = None,
                         report: Callable[[str], None] | None = None) -> ModelComparisonResult:
    """Train the iP-VAE and the baselines alike, score them both ways, write the tables
    and the rate-distortion figure.

    Parameters
    ----------
    options : ModelComparisonOptions
    progress : ComparisonProgress, optional
        Told when each training point (model and knob value) and each of its phases starts
        and advances.
    report : callable, optional
        Called with each line of text to show: the plan before the run, one line per
        finished point, then the tables, their notes and where the files went.

    Returns
    -------
    ModelComparisonResult

    Raises
    ------
    SimulationInputError
        Bad sizes, another data set than natural16, more patches than natural16 has, or
        an output folder whose parent does not exist; raised before anything is written.
    """
    from ipvae_brian.analysis import model_comparison as mc
    from ipvae_brian.analysis import rate_distortion as rd
    from ipvae_brian.analysis.linear_readout import readout_accuracy
    from ipvae_brian.learning import model_training as mt
    from ipvae_brian.stimuli import catalog

    progress = progress if progress is not None else ComparisonProgress()
    report = report if report is not None else (lambda text: None)
    start = time.perf_counter()
    size = options.sizes()
    K, n_test, seed, steps = size["latents"], size["n_test"], options.seed, size["steps"]
    B, T = size["batch_size"], size["train_steps"]
    n_history = HISTORY_STIMULI[1 if options.quick else 0]
    _check_data_sizes(options.stimuli, n_test, size["train_patches"], n_history)
    paths = _output_paths(options.out_dir)
    train_split = catalog.load("natural16:train").x
    eval_sets = {"train images": train_split[:n_test],
                 "test images": catalog.load("natural16:test", n=n_test).x}
    x_train = train_split[n_test:n_test + size["train_patches"]]
    x_history = train_split[n_test + size["train_patches"]:][:n_history]
    digits = {split: catalog.load(f"digits8:{split}",
                                  n=QUICK_DIGITS[split] if options.quick else None)
              for split in ("train", "test")}
    digits_scale = mc.unit_variance_scale(digits["train"].x)   # natural16 is z-scored
    n_digits = max(1, digits["train"].n_stimuli // B) * B
    digit_x = {split: digits[split].x / digits_scale for split in ("train", "test")}
    budget = mt.TrainingBudget(size["train_patches"], size["epochs"], T, B)
    digits_budget = mt.TrainingBudget(n_digits, size["digits_epochs"], T, B)
    Phi0 = {"natural": mt.random_dictionary(x_train.shape[1], K, 1.0, seed=seed),
            "digits": mt.random_dictionary(digit_x["train"].shape[1], K, 1.0, seed=seed)}
    plan = [(name, *(mt.SPARSITY_KNOBS[name][:1] if name in mt.SPARSITY_KNOBS else ("",)),
             value) for name in mt.COMPARISON_MODELS
            for value in (options.knob_values(name) if name in mt.SPARSITY_KNOBS else (None,))]
    record = np.array(steps)
    report(f"Comparing {len(mt.COMPARISON_MODELS)} inference models "
           f"({', '.join(mt.COMPARISON_MODELS)}) on natural16, K = {K} latents, seed {seed}"
           f"{' (quick sizes)' if options.quick else ''}; {len(plan)} trainings "
           f"(sparse models at each value of their knob: "
           f"{'; '.join(f'{m} {k[0]} = ' + ', '.join(f'{v:g}' for v in options.knob_values(m)) for m, k in mt.SPARSITY_KNOBS.items())})\n"
           f"  every model and knob value: {budget.describe()}; digits8 (default knob "
           f"only): {digits_budget.describe()}\n"
           f"  evaluation: R^2 and %-zeros at t = {', '.join(map(str, steps))}, decoded from "
           f"samples and from the mean / rate, on {n_test:,} patches of the unseen test "
           f"photographs (and {n_test:,} held-out patches of the training photographs at "
           f"the default knob; one run of {record[-1] + 1:,} steps); digits8 read-out on "
           f"sample codes summed over {size['readout_steps']} steps\n"
           f"  the iP-VAE runs as the Brian2 network (engine {options.engine}); baselines in "
           f"numpy. Output: {options.out_dir}")

    def train(name, value, x, this_budget, Phi, done):
        """One model trained at one knob value: (model, history, minibatches)."""
        if name == "iP-VAE":
            history_x = x_history if x is x_train else digit_x["test"][:n_history]
            return mt.train_ipvae(K, x, this_budget, value, history_x, seed=seed,
                                  engine=options.engine, progress=done)
        model, history = mt.train_dictionary(mt.baseline_model(name, Phi, value), x,
                                             this_budget, seed=seed, progress=done)
        return model, history, this_budget.n_updates

    rows, points, notes = [], [], []
    progress.start(len(plan) + 1)
    try:
        for name, knob, value in plan:
            t0 = time.perf_counter()
            label = _describe_point(name, knob, value)
            default = value is None or value == mt.SPARSITY_KNOBS[name][2]
            progress.model(label)
            with progress.phase(budget.n_updates, f"{label}: train", "minibatch") as done:
                model, history, minibatches = train(name, value, x_train, budget,
                                                    Phi0["natural"], done)
            sets = eval_sets if default else {"test images": eval_sets["test images"]}
            with progress.phase(sum(map(len, sets.values())), f"{label}: evaluate",
                                "patch") as done:
                scores = mc.natural_scores(model, sets, record, seed=seed + 1, progress=done)
            points.append(rd.KnobPoint(name, knob, np.nan if value is None else float(value),
                                       scores["test images"], minibatches))
            accuracy = np.nan
            if default:
                with progress.phase(digits_budget.n_updates, f"{label}: train digits8",
                                    "minibatch") as done:
                    digit_model = train(name, value, digit_x["train"][:n_digits],
                                        digits_budget, Phi0["digits"], done)[0]
                n_all = digits["train"].n_stimuli + digits["test"].n_stimuli
                with progress.phase(n_all, f"{label}: digits8 read-out", "digit") as done:
                    offsets = {"train": 0, "test": digits["train"].n_stimuli}
                    codes = {split: mc.summed_codes(
                        digit_model, digit_x[split], size["readout_steps"], seed=seed + 2,
                        progress=lambda n, first=offsets[split]: done(first + int(n)))
                        for split in ("train", "test")}
                accuracy = readout_accuracy(codes["train"], digits["train"].labels,
                                            codes["test"], digits["test"].labels)
                rows.append(mc.ModelRow(name, budget.describe(), scores, accuracy,
                                        time.perf_counter() - t0,
                                        f"{knob} = {value:g}" if knob else "", minibatches))
                setting = (mt.describe_ipvae_rule(mt.ipvae_rule(budget, value))
                           if name == "iP-VAE" else
                           ", ".join(f"{k} {v}" for k, v in model.describe().items()
                                     if k not in ("model", "n_pixels", "n_latents")))
                notes.append(f"{name}: {minibatches:,} minibatches of {B} natural16 patches "
                             f"(x T = {T} bins), {digits_budget.n_updates:,} of digits8; "
                             f"{setting}. Authors' settings: {SETTINGS_NOTES[name]}.")
            last = scores["test images"]
            report(f"  {label}: done in {time.perf_counter() - t0:.0f} s ({minibatches} "
                   f"minibatches); test R^2 at t = {steps[-1]}: {last.at(steps[-1], 'r2'):.3f} "
                   f"from samples, {last.at(steps[-1], 'r2_mean'):.3f} from the mean, "
                   f"{100 * last.at(steps[-1], 'zeros'):.0f}% zeros")
            progress.model_done()
        progress.model("scikit-learn front")
        with progress.phase(1, "scikit-learn dictionary learning", "fit") as done:
            front = rd.sparse_coding_front(x_train, eval_sets["test images"], K, B,
                                           size["epochs"], seed=seed)
            done(1)
        progress.model_done()
    finally:
        progress.close()
    if front[1] != budget.n_updates:
        raise RuntimeError(f"scikit-learn took {front[1]} minibatches, the budget "
                           f"{budget.n_updates}")
    rows.append(mc.ModelRow("pixels", "raw pixels (no model)", {}, readout_accuracy(
        digits["train"].x, digits["train"].labels, digits["test"].x, digits["test"].labels)))
    wall = time.perf_counter() - start
    notes = ([f"Budget of every model and knob value (the same patches in the same "
              f"minibatches, one parameter update each): {budget.describe()}; the "
              f"scikit-learn front: MiniBatchDictionaryLearning on the same patches, "
              f"{front[1]:,} minibatches of {B} (lasso alpha 1 while learning).",
              f"Cells read 'decoded from samples / from the mean': samples are the "
              f"iP-VAE's counts z_t, the Gaussian models' f(z_t) with z_t ~ N(mu_t, s_t^2) "
              f"(as the authors evaluate), and the deterministic codes of PC and LCA (their "
              f"own samples and means); the mean is the iP-VAE's rate exp(u_t) (Phi exp(u_t)) "
              f"and the Gaussian models' f(mu_t). %-zeros is that of the code decoded. "
              f"Patches whose iP-VAE counts reached half the rate ceiling exp(c_u) at a step "
              f"ran away (the criterion of learning.alternation's evaluation): left out of "
              f"that step's numbers and counted in 'ran away'. "
              f"{n_test:,} patches of the unseen natural16 test photographs; the train-image "
              f"column: {n_test:,} held-out patches of the training photographs, from "
              f"samples. Step t = 0 is the code before any update.",
              f"Lifetime and population sparseness (docs/model.md, analysis.sparseness) of "
              f"|sample code| at t = {steps[-1]} on the test photographs; digits8 read-out: "
              f"logistic regression on sample codes summed over t = 0..{size['readout_steps'] - 1}, "
              f"each model trained on digits8 train divided by its pixels' std "
              f"({digits_scale:.3f}) with the budget above, scored on digits8 test.",
              f"K = {K}, seed {seed}, wall time {wall / 60:.1f} min. Command: "
              f"{options.command_line}"] + notes)
    table = mc.format_table(rows, steps)
    curves = rd.format_rate_distortion_table(points, front, steps)
    mc.write_csv(paths["csv"], rows, steps)
    mc.write_records_csv(paths["curves"], rd.rate_distortion_records(points, front, steps))
    mc.write_markdown(paths["md"], (
        f"# Inference models on natural16 (K = {K})\n\n{table}\n\n"
        + "\n".join(f"- {n}" for n in notes)
        + f"\n\n## Rate-distortion over each model's sparsity knob (test photographs)\n\n"
        f"Cells: R² (%-zeros).\n\n{curves}\n"))
    rd.plot_rate_distortion(points, front, steps, paths["png"])
    report("\n" + table + "\n")
    for note in notes:
        report(f"- {note}")
    report("\n" + curves + "\n")
    report(f"\nDone: {len(plan)} trainings in {wall / 60:.1f} min. Wrote "
           f"{', '.join(paths.values())}.")
    return ModelComparisonResult(rows=rows, points=points, front=front, notes=notes,
                                 table=table, paths=paths, seconds=wall)
