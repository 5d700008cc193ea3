r"""Scores and table of the model comparison (``compare-models``).

The run itself (training every model alike, then scoring it with this module) is
:func:`ipvae_brian.workflows.model_comparison.run_model_comparison`; the
rate-distortion curves over each model's sparsity knob and the scikit-learn front are
:mod:`analysis.rate_distortion`.

For every inference model (``models.inference``: the iP-VAE network and the
baselines), trained on the same data with the same budget, its code decoded two ways
(``InferenceResult.sample_code``: the iP-VAE's counts, the Gaussian models' sample
f(z_t), the deterministic codes of PC and LCA; ``InferenceResult.mean_code``: exp(u_t),
f(mu_t), the same deterministic codes):

- reconstruction quality R^2 (per patch, averaged; ``analysis.metrics.r_squared``) and
  the fraction of exactly zero codes (%-zeros) at chosen steps t (default 16, 128 and
  1,000), from samples and from the mean, on natural16 patches of the unseen test
  photographs, and R^2 from samples on held-out patches of the training photographs;
- lifetime and population sparseness (``analysis.sparseness``, the formula of docs/model.md)
  of the sample codes at the last step on the test photographs. The formula assumes
  non-negative responses; signed codes (iG-VAE, predictive coding, LCA) enter as
  magnitudes |z|, the activity of a neuron whatever its sign;
- digits8 linear read-out: a logistic regression on each digit's sample code summed
  over the read-out steps (standardised features), trained on digits8 train, scored on
  digits8 test; the raw pixels give the reference row. The models see digits8 divided
  by the train pixels' std (:func:`unit_variance_scale`).

The table has one row per model; each R^2 / %-zeros cell reads "from samples / from the
mean". It is written as CSV (one column per number) and Markdown.

References
----------
Vafaii, Galor & Yates (2025), "Brain-like variational inference", arXiv:2410.19315
(R^2, %-zeros, sparseness, linear read-out).
Vinje, W. E. & Gallant, J. L. (2000). Science 287:1273-1276 (sparseness).
"""
from __future__ import annotations

import csv
import dataclasses
import io
import os

import numpy as np


from ipvae_brian.analysis.metrics import r_squared
from ipvae_brian.analysis.sparseness import lifetime_sparseness, population_sparseness
from ipvae_brian.models.atomic_file import atomic_output

#: Steps at which the table reports R^2 and %-zeros.
EVAL_STEPS = (16, 128, 1000)
#: The two natural16 evaluation sets, in table order.
IMAGE_SETS = ("train images", "test images")

@dataclasses.dataclass
class CodingScores:
    """One model's scores on one image set, its code decoded two ways.

    "From samples" decodes :attr:`models.inference.InferenceResult.sample_code` (the
    iP-VAE's counts z_t, the Gaussian models' f(z_t), the deterministic codes of PC and
    the LCA); "from the mean" decodes ``mean_code`` (exp(u_t), f(mu_t), the same
    deterministic code). Each way's %-zeros is that of the code it decodes.

    Attributes
    ----------
    steps : ndarray, shape (R,)
        Recorded steps t.
    r2, zeros : ndarray, shape (R,)
        From samples: mean R^2 over patches, and the fraction of exactly zero codes over
        patches and latents, at each step.
    r2_mean, zeros_mean : ndarray, shape (R,)
        The same from the mean / rate code.
    lifetime, population : float
        Mean lifetime sparseness over neurons and mean population sparseness over
        patches, of |sample code| at the last recorded step (NaN entries, i.e. neurons or
        patches with no activity at all, are left out of the mean).
    silent_neurons : int
        Neurons with no activity on any patch at the last step (sample code).
    n_patches : int
    runaways : ndarray, shape (R,), int
        Patches left out of the R^2 and %-zeros of each step because the model's code ran
        away there (``InferenceModel.ran_away``: the iP-VAE's counts at half its rate
        ceiling; 0 for the other models).
    """

    steps: np.ndarray
    r2: np.ndarray
    zeros: np.ndarray
    lifetime: float
    population: float
    silent_neurons: int
    n_patches: int
    r2_mean: np.ndarray | None = None
    zeros_mean: np.ndarray | None = None
    runaways: np.ndarray | None = None

    def at(self, t: int, what: str) -> float:
        """The score ``what`` ("r2", "zeros", "r2_mean", "zeros_mean", "runaways") at step
        t (NaN if t was not recorded)."""
        where = np.flatnonzero(self.steps == int(t))
        values = getattr(self, what)
        return float(values[where[0]]) if where.size and values is not None else float("nan")


def _decoded_scores(x: np.ndarray, code: np.ndarray, Phi: np.ndarray, keep: np.ndarray):
    """Mean R^2 of Phi code and the fraction of zero codes over the kept patches, per
    recorded step (NaN where none is kept)."""
    r2, zeros = np.full(code.shape[1], np.nan), np.full(code.shape[1], np.nan)
    for i in range(code.shape[1]):
        if keep[:, i].any():
            part = code[keep[:, i], i]
            r2[i] = np.nanmean(r_squared(x[keep[:, i]], part @ Phi.T))
            zeros[i] = np.mean(part == 0)
    return r2, zeros


def coding_scores(x: np.ndarray, result, ran_away: np.ndarray | None = None) -> CodingScores:
    """R^2 and %-zeros at every recorded step, from samples and from the mean, and the
    sparseness of the sample code at the last step.

    Parameters
    ----------
    x : ndarray, shape (N, M)
        The stimuli the model inferred.
    result : models.inference.InferenceResult
        Its output (codes N x R x K).
    ran_away : ndarray of bool, shape (N, R), optional
        Patches to leave out of each step's R^2 and %-zeros (counted in ``runaways``).

    Examples
    --------
    >>> from ipvae_brian.models.inference import InferenceResult
    >>> x = np.array([[1.0, -1.0], [2.0, 0.0]])
    >>> res = InferenceResult(states=np.array([[[1.0, 0.0]], [[0.0, 2.0]]]), steps=np.array([5]),
    ...                       Phi=np.array([[1.0, 1.0], [-1.0, 0.0]]))
    >>> s = coding_scores(x, res)
    >>> float(s.r2[0]), float(s.zeros[0]), float(s.population), float(s.r2_mean[0])
    (1.0, 0.5, 1.0, 1.0)
    """
    shape = result.sample_code.shape[:2]
    keep = np.ones(shape, bool) if ran_away is None else ~np.asarray(ran_away, bool)
    r2, zeros = _decoded_scores(x, result.sample_code, result.Phi, keep)
    if result.means is None and result.samples is None:
        r2_mean, zeros_mean = r2, zeros          # a deterministic code is its own mean
    else:
        r2_mean, zeros_mean = _decoded_scores(x, result.mean_code, result.Phi, keep)
    last = np.abs(result.sample_code[:, -1])
    with np.errstate(all="ignore"):
        lifetime = lifetime_sparseness(last)
        population = population_sparseness(last)
    return CodingScores(steps=np.asarray(result.steps), r2=r2, zeros=zeros,
                        lifetime=float(np.nanmean(lifetime)) if np.isfinite(lifetime).any()
                        else float("nan"),
                        population=float(np.nanmean(population))
                        if np.isfinite(population).any() else float("nan"),
                        silent_neurons=int(np.count_nonzero(~last.any(axis=0))),
                        n_patches=int(x.shape[0]), r2_mean=r2_mean, zeros_mean=zeros_mean,
                        runaways=np.count_nonzero(~keep, axis=0))


def natural_scores(model, sets: dict, steps, seed: int = 0, progress=None) -> dict:
    """Infer all evaluation sets in one run (one network build for the iP-VAE) and score
    each: {set name: :class:`CodingScores`}.

    Parameters
    ----------
    model : models.inference.InferenceModel
    sets : dict
        Name -> stimuli (N_i, M).
    steps : sequence of int
        The steps to record (see :func:`recorded_steps`); the run lasts max(steps) + 1.
    seed : int
    progress : callable, optional
        Called with the number of stimuli done (of all sets together).
    """
    names = list(sets)
    x = np.concatenate([np.asarray(sets[n], dtype=np.float64) for n in names])
    steps = np.asarray(steps)
    result = model.infer(x, int(steps.max()) + 1, seed=seed, record=steps, progress=progress)
    ran_away = model.ran_away(result)
    scores, first = {}, 0
    for name in names:
        n = len(sets[name])
        scores[name] = coding_scores(x[first:first + n], result.part(first, first + n),
                                     None if ran_away is None else ran_away[first:first + n])
        first += n
    return scores


def unit_variance_scale(x_train: np.ndarray) -> float:
    """The one scalar that gives the training pixels unit variance: their std (ddof 0).

    The comparison divides digits8 (pixels in [0, 1], std 0.43) by it, so that the
    scale-dependent defaults of the models (likelihood sigma = 1, prior N(0, 1), LCA
    threshold 1) mean the same as on natural16, which ``docs/data.md`` z-scores. Not
    centred: the background stays 0, the pixels non-negative.

    Examples
    --------
    >>> unit_variance_scale(np.array([[0.0, 2.0], [0.0, 2.0]]))
    1.0
    """
    return float(np.std(np.asarray(x_train, dtype=np.float64)))


def summed_codes(model, x: np.ndarray, steps: int, seed: int, batch_size: int = 300,
                 progress=None) -> np.ndarray:
    """Sample codes summed over steps t = 0 .. T-1, shape (N, K), inferred in batches
    (memory: batch x T x K floats at a time)."""
    total = np.zeros((x.shape[0], model.n_latents))
    for first in range(0, x.shape[0], batch_size):
        batch_seed = int(np.random.SeedSequence([seed, first]).generate_state(1)[0])
        result = model.infer(x[first:first + batch_size], steps, seed=batch_seed)
        total[first:first + batch_size] = result.sample_code.sum(axis=1)
        if progress is not None:
            progress(min(first + batch_size, x.shape[0]))
    return total


@dataclasses.dataclass
class ModelRow:
    """One row of the comparison table (a model at its default sparsity knob).

    Attributes
    ----------
    model : str
        Label (``"iP-VAE"``, ``"iG-VAE"``, ..., ``"pixels"``).
    training : str
        Where its dictionary came from (budget, shipped file, ...).
    scores : dict
        Image set name -> :class:`CodingScores` (empty for the pixel row).
    readout : float
        digits8 test accuracy (NaN if not measured).
    seconds : float
        Wall time spent on this model (training and evaluation).
    knob : str
        Its sparsity knob and value, e.g. ``"beta = 1"`` ("" for none).
    minibatches : int
        Training minibatches (parameter updates) on natural16 (0: none, e.g. shipped).
    """

    model: str
    training: str
    scores: dict
    readout: float = float("nan")
    seconds: float = float("nan")
    knob: str = ""
    minibatches: int = 0


def _fmt(value: float, percent: bool = False) -> str:
    if not np.isfinite(value):
        return "-"
    return f"{100 * value:.0f}%" if percent else f"{value:.2f}"


def table_records(rows, eval_steps=EVAL_STEPS) -> list[dict]:
    """Flat records (one per model) with one key per number: the CSV's rows. Scores on
    the test photographs, from samples and from the mean, plus R^2 from samples on the
    held-out patches of the training photographs."""
    records = []
    for row in rows:
        rec = {"model": row.model, "knob": row.knob}
        train, test = (row.scores.get(name) for name in IMAGE_SETS)
        for what in ("r2", "r2_mean", "zeros", "zeros_mean"):
            for t in eval_steps:
                rec[f"{what}_t{t}"] = test.at(t, what) if test else np.nan
        for t in eval_steps:
            rec[f"runaways_t{t}"] = int(test.at(t, "runaways")) if test else 0
        for t in eval_steps:
            rec[f"r2_t{t}_train_images"] = train.at(t, "r2") if train else np.nan
        rec["lifetime_sparseness"] = test.lifetime if test else np.nan
        rec["population_sparseness"] = test.population if test else np.nan
        rec["digits8_readout_accuracy"] = row.readout
        rec["minibatches"] = row.minibatches
        rec["training"] = row.training
        rec["seconds"] = row.seconds
        records.append(rec)
    return records


def format_table(rows, eval_steps=EVAL_STEPS) -> str:
    """The table as Markdown: R^2 and %-zeros cells read "from samples / from the mean"
    (test photographs; patches whose code ran away left out, counted per t in "ran
    away"); the train-image column gives R^2 from samples at the last t."""
    last = eval_steps[-1]
    head = (["model", "knob"] + [f"R² t={t}" for t in eval_steps]
            + [f"%0 t={t}" for t in eval_steps]
            + ["ran away (of N)", f"R² t={last} train img.", "lifetime S", "population S",
               "digits8 read-out", "minibatches"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        train, test = (row.scores.get(name) for name in IMAGE_SETS)
        cells = [row.model, row.knob or "-"]
        for what, percent in (("r2", False), ("zeros", True)):
            for t in eval_steps:
                cells.append("-" if test is None else
                             f"{_fmt(test.at(t, what), percent)} / "
                             f"{_fmt(test.at(t, what + '_mean'), percent)}")
        cells.append("-" if test is None else " / ".join(
            str(int(test.at(t, "runaways"))) for t in eval_steps) + f" (of {test.n_patches})")
        cells += [_fmt(train.at(last, "r2")) if train else "-",
                  _fmt(test.lifetime) if test else "-", _fmt(test.population) if test else "-",
                  _fmt(row.readout, percent=True),
                  f"{row.minibatches:,}" if row.minibatches else "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_records_csv(path, records: list) -> str:
    """Write flat records (dicts with the same keys) as CSV, atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(records[0]), lineterminator="\n")
    writer.writeheader()
    for rec in records:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in rec.items()})
    with atomic_output(path) as tmp, open(tmp, "w") as f:
        f.write(buffer.getvalue())
    return os.fspath(path)


def write_csv(path, rows, eval_steps=EVAL_STEPS) -> str:
    """Write the table as CSV (atomically): one row per model, one column per number."""
    return write_records_csv(path, table_records(rows, eval_steps))


def write_markdown(path, text: str) -> str:
    """Write Markdown text (the tables and their notes), atomically."""
    with atomic_output(path) as tmp, open(tmp, "w") as f:
        f.write(text)
    return os.fspath(path)
