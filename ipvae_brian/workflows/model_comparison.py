r"""The model comparison (``compare-models``) as one call: train alike, score, write.

:func:`run_model_comparison` trains the iP-VAE (the Brian2 network; its shipped
learned parameters when they match K) and the numpy baselines (``models.baselines``:
iG-VAE, iG-relu, predictive coding, LCA) on the same natural16 patches with the same
budget (``learning.model_training``), scores every model on held-out patches of the
training photographs and on the unseen test photographs, trains each model again on
digits8 for a linear read-out, and writes one table (CSV and Markdown) and the
rate-distortion figure (``analysis.model_comparison``). For every model, in order:

1. train its dictionary on natural16 (``train_for_comparison``, seed ``seed``);
2. infer both evaluation sets in one run of max(t) + 1 steps and score R^2, %-zeros
   and sparseness (``natural_scores``, seed ``seed + 1``);
3. train it on digits8 (divided by the train pixels' std, except shipped iP-VAE
   parameters) and read the digits out from codes summed over the read-out steps
   (``summed_codes``, seed ``seed + 2``; ``readout_accuracy``).

Every step is seeded, so the table's numbers are the same for a seed (the "seconds"
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
COMPARISON_SIZES = {"latents": (512, 64), "steps": ([16, 128, 1000], [4, 16]),
                    "train_patches": (20_000, 1_000), "epochs": (1, 1),
                    "train_steps": (16, 8), "batch_size": (200, 200), "n_test": (500, 40),
                    "readout_steps": (128, 8), "digits_epochs": (10, 1)}
#: digits8 images per split with ``quick`` (None: the whole split otherwise).
QUICK_DIGITS = {"train": 300, "test": 150}
#: The output files, ``<out_dir>/model_comparison.<suffix>``.
OUTPUT_SUFFIXES = ("csv", "md", "png")


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
        The natural16 training budget: patches per epoch x epochs x T, in minibatches
        of B (``learning.model_training.TrainingBudget``).
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
        Folder for ``model_comparison.csv``, ``.md`` and ``.png`` (created if its parent
        exists).
    quick : bool
        Small default sizes for a smoke test (and 300 / 150 digits).
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
            ``--train-patches`` for ``train_patches``).
        """
        column = 1 if self.quick else 0
        size = {name: getattr(self, name) if getattr(self, name) is not None
                else defaults[column] for name, defaults in COMPARISON_SIZES.items()}
        size["steps"] = parse_int_list(size["steps"], "--steps")
        for name, value in size.items():
            if name != "steps" and (not isinstance(value, int) or value < 1):
                raise SimulationInputError(f"--{name.replace('_', '-')} must be a positive "
                                           f"integer, got {value}")
        return size


@dataclasses.dataclass
class ModelComparisonResult:
    """What :func:`run_model_comparison` produced.

    Attributes
    ----------
    rows : list of analysis.model_comparison.ModelRow
        One per model in table order, then the raw-pixel reference row.
    notes : list of str
        The notes under the table (data, metrics, how each model was trained).
    table : str
        The table as Markdown (``analysis.model_comparison.format_table``).
    paths : dict
        ``"csv"``, ``"md"``, ``"png"`` -> the file written.
    seconds : float
        Wall time of the whole comparison.
    """

    rows: list
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


def _check_data_sizes(stimuli: str, n_test: int, train_patches: int) -> None:
    """natural16 only, and enough patches in its splits for the evaluation and training."""
    from ipvae_brian.stimuli.natural16 import SPLIT_SIZES
    if stimuli != "natural16":
        raise SimulationInputError(
            f"--stimuli {stimuli!r}: compare-models runs on natural16 (patches of training "
            f"and of unseen test photographs); no other set has both")
    available = SPLIT_SIZES["train"]
    if n_test + train_patches > available:
        raise SimulationInputError(
            f"--n-test ({n_test:,}) + --train-patches ({train_patches:,}) exceed the "
            f"{available:,} natural16 train patches")
    if n_test > SPLIT_SIZES["test"]:
        raise SimulationInputError(f"--n-test ({n_test:,}) exceeds the "
                                   f"{SPLIT_SIZES['test']:,} natural16 test patches")


def _output_paths(out_dir: str) -> dict:
    """Create ``out_dir`` if its parent exists; the checked paths of the three outputs."""
    from ipvae_brian.models.atomic_file import check_output_path
    if not os.path.isdir(out_dir):
        check_output_path(out_dir)            # the parent folder must exist
        os.makedirs(out_dir)
    return {k: check_output_path(os.path.join(out_dir, f"model_comparison.{k}"))
            for k in OUTPUT_SUFFIXES}


def run_model_comparison(options: ModelComparisonOptions,
                         progress: ComparisonProgress | None = None,
                         report: Callable[[str], None] | None = None) -> ModelComparisonResult:
    """Train the iP-VAE and the baselines alike, score them, write the table and figure.

    Parameters
    ----------
    options : ModelComparisonOptions
    progress : ComparisonProgress, optional
        Told when each model and each of its phases starts and advances.
    report : callable, optional
        Called with each line of text to show: the plan before the run, one line per
        finished model, then the table, its notes and where the files went.

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
    from ipvae_brian.analysis.linear_readout import readout_accuracy
    from ipvae_brian.learning import model_training as mt
    from ipvae_brian.stimuli import catalog

    progress = progress if progress is not None else ComparisonProgress()
    report = report if report is not None else (lambda text: None)
    start = time.perf_counter()
    size = options.sizes()
    K, n_test, seed = size["latents"], size["n_test"], options.seed
    _check_data_sizes(options.stimuli, n_test, size["train_patches"])
    paths = _output_paths(options.out_dir)
    train_split = catalog.load("natural16:train").x
    eval_sets = {"train images": train_split[:n_test],
                 "test images": catalog.load("natural16:test", n=n_test).x}
    x_train = train_split[n_test:]
    digits = {split: catalog.load(f"digits8:{split}",
                                  n=QUICK_DIGITS[split] if options.quick else None)
              for split in ("train", "test")}
    digits_scale = mc.unit_variance_scale(digits["train"].x)   # natural16 is z-scored
    budget = mt.TrainingBudget(size["train_patches"], size["epochs"], size["train_steps"],
                               size["batch_size"])
    digits_budget = mt.TrainingBudget(digits["train"].n_stimuli, size["digits_epochs"],
                                      size["train_steps"], size["batch_size"])
    record = mc.recorded_steps(size["steps"])
    ipvae = (mt.ipvae_source(train_split.shape[1], K, seed, engine=options.engine),
             mt.ipvae_source(digits["train"].n_pixels, K, seed, engine=options.engine))
    entries = [("iP-VAE", *ipvae)] + [
        (a.name, a, b) for a, b in zip(mt.baseline_models(train_split.shape[1], K, seed),
                                        mt.baseline_models(digits["train"].n_pixels, K, seed))]
    report(f"Comparing {len(entries)} inference models ({', '.join(e[0] for e in entries)}) "
           f"on natural16, K = {K} latents, seed {seed}"
           f"{' (quick sizes)' if options.quick else ''}\n"
           f"  training (baselines, and the iP-VAE unless shipped): {budget.describe()}; "
           f"digits8: {digits_budget.describe()}\n"
           f"  iP-VAE natural16: {ipvae[0].description}\n"
           f"  iP-VAE digits8: {ipvae[1].description}\n"
           f"  evaluation: R^2 and %-zeros at t = {', '.join(map(str, size['steps']))} on "
           f"{n_test:,} held-out patches of the train photographs and {n_test:,} of the test "
           f"photographs (--n-test; one run of {record[-1] + 1:,} steps each); digits8 "
           f"read-out on codes summed over {size['readout_steps']} steps\n"
           f"  the iP-VAE runs as the Brian2 network (engine {options.engine}); baselines in "
           f"numpy. Output: {options.out_dir}")

    rows, notes = [], []
    progress.start(len(entries))
    try:
        for name, natural_entry, digits_entry in entries:
            t0 = time.perf_counter()
            phases = []
            progress.model(name)
            with progress.phase(budget.n_updates, f"{name}: train natural16", "step") as done:
                model, note, history = mt.train_for_comparison(
                    natural_entry, x_train, budget, seed=seed, progress=done)
            phases.append(time.perf_counter())
            with progress.phase(2 * n_test, f"{name}: evaluate", "patch") as done:
                scores = mc.natural_scores(model, eval_sets, record, seed=seed + 1,
                                           progress=done)
            phases.append(time.perf_counter())
            # shipped parameters see the pixels they were fitted to, the others unit variance
            shipped = isinstance(digits_entry, mt.IPVAESource) and not digits_entry.needs_training
            digit_x = {split: digits[split].x / (1.0 if shipped else digits_scale)
                       for split in ("train", "test")}
            with progress.phase(digits_budget.n_updates, f"{name}: train digits8",
                                "step") as done:
                digit_model, digit_note, _ = mt.train_for_comparison(
                    digits_entry, digit_x["train"], digits_budget, seed=seed, progress=done)
            n_digits = digits["train"].n_stimuli + digits["test"].n_stimuli
            with progress.phase(n_digits, f"{name}: digits8 read-out", "digit") as done:
                offsets = {"train": 0, "test": digits["train"].n_stimuli}
                codes = {split: mc.summed_codes(
                    digit_model, digit_x[split], size["readout_steps"], seed=seed + 2,
                    progress=lambda n, first=offsets[split]: done(first + int(n)))
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
            report(f"  {name}: done in {sum(phases):.0f} s (training {phases[0]:.0f} s, "
                   f"evaluation {phases[1]:.0f} s, digits8 {phases[2]:.0f} s; "
                   f"test-image R^2 at t = {size['steps'][-1]}: "
                   f"{scores['test images'].at(size['steps'][-1], 'r2'):.3f})")
            progress.model_done()
    finally:
        progress.close()
    rows.append(mc.ModelRow("pixels", "raw pixels (no model)", {}, readout_accuracy(
        digits["train"].x, digits["train"].labels, digits["test"].x, digits["test"].labels)))
    wall = time.perf_counter() - start
    notes = ([f"R² and %-zeros cells read 'train images / test images': {n_test:,} natural16 "
              f"patches of the training photographs (held out from training) and {n_test:,} "
              f"of the unseen test photographs. Step t = 0 is the code before any update.",
              f"Lifetime and population sparseness (docs/model.md formula, "
              f"analysis.sparseness) of |code| at t = {size['steps'][-1]} on the test "
              f"photographs; digits8 read-out: logistic regression on codes summed over "
              f"t = 0..{size['readout_steps'] - 1}, trained on digits8 train, scored on "
              f"digits8 test; the models see the digits divided by the train pixels' std "
              f"({digits_scale:.3f}, unit variance as natural16), shipped parameters the raw "
              f"pixels.",
              f"K = {K}, seed {seed}, wall time {wall / 60:.1f} min. Command: "
              f"{options.command_line}"] + notes)
    mc.write_csv(paths["csv"], rows, size["steps"])
    mc.write_markdown(paths["md"], rows, size["steps"], notes=notes,
                      title=f"Inference models on natural16 (K = {K})")
    mc.plot_rate_distortion(rows, paths["png"], size["steps"])
    table = mc.format_table(rows, size["steps"])
    report("\n" + table + "\n")
    for note in notes:
        report(f"- {note}")
    report(f"\nDone: {len(entries)} models in {wall / 60:.1f} min. Wrote {paths['csv']}, "
           f"{paths['md']} and {paths['png']}.")
    return ModelComparisonResult(rows=rows, notes=notes, table=table, paths=paths,
                                 seconds=wall)
