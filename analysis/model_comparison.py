r"""Scores, table and rate-distortion figure of the model comparison (``compare-models``).

The run itself (training every model alike, then scoring it with this module) is
:func:`ipvae_brian.workflows.model_comparison.run_model_comparison`.

For every inference model (``models.inference``: the iP-VAE network and the
baselines), trained on the same data with the same budget:

- reconstruction quality R^2 (per patch, averaged; ``analysis.metrics.r_squared``) and
  the fraction of exactly zero codes (%-zeros) at chosen steps t (default 16, 128 and
  1,000), on natural16 patches of the training photographs (held out from training)
  and of the unseen test photographs, reported separately;
- lifetime and population sparseness (``analysis.sparseness``, the formula of docs/model.md)
  of the codes at the last step on the test photographs. The formula assumes
  non-negative responses; signed codes (iG-VAE, predictive coding, LCA) enter as
  magnitudes |z|, the activity of a neuron whatever its sign;
- digits8 linear read-out: a logistic regression on each digit's code summed over the
  read-out steps (standardised features), trained on digits8 train, scored on digits8
  test; the raw pixels give the reference row. The models see digits8 divided by the
  train pixels' std (:func:`unit_variance_scale`), except shipped iP-VAE parameters,
  which see the pixels they were fitted to.

The table has one row per model (each R^2 / %-zeros cell reads "train images / test
images"); it is written as CSV (one column per number) and Markdown. The figure
plots R^2 against %-zeros along t for each model, the rate-distortion view of the
paper (a sparser code is "cheaper"; up and right is better).

References
----------
Vafaii, Galor & Yates (2025), "Brain-like variational inference", arXiv:2410.19315
(R^2, %-zeros, sparseness, the rate-distortion figure, linear read-out).
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
#: Steps recorded for the rate-distortion curves (plus the table's).
CURVE_STEPS = (0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000)
#: The two natural16 evaluation sets, in table order.
IMAGE_SETS = ("train images", "test images")

#: The authors' published natural-patch results (van Hateren, K = 512; docs/model.md), drawn
#: for orientation only: other data, other training. t: (R^2, fraction of zeros).
AUTHORS_REFERENCE = {
    "iP-VAE": {16: (0.72, 0.37), 32: (0.78, 0.46), 64: (0.81, 0.58), 128: (0.83, 0.69),
               1000: (0.83, 0.77)},
    "iG-VAE": {16: (0.85, 0.0), 1000: (0.87, 0.0)},
    "iG-relu": {16: (0.77, 0.26), 1000: (0.82, 0.58)},
}

#: Line colour and marker of each model in the figure (others get the default cycle).
MODEL_STYLES = {"iP-VAE": ("#c0392b", "o"), "iG-VAE": ("#2471a3", "s"),
                "iG-relu": ("#17a589", "D"), "PC": ("#7d3c98", "^"), "LCA": ("#b9770e", "v")}


def recorded_steps(eval_steps=EVAL_STEPS) -> np.ndarray:
    """The steps to record for a run: the table's plus the curve's up to the last one."""
    eval_steps = sorted(int(t) for t in eval_steps)
    last = eval_steps[-1]
    return np.array(sorted(set(eval_steps) | {t for t in CURVE_STEPS if t <= last}))


@dataclasses.dataclass
class CodingScores:
    """One model's scores on one image set.

    Attributes
    ----------
    steps : ndarray, shape (R,)
        Recorded steps t.
    r2 : ndarray, shape (R,)
        Mean R^2 over patches at each step.
    zeros : ndarray, shape (R,)
        Fraction of exactly zero codes over patches and latents at each step.
    lifetime, population : float
        Mean lifetime sparseness over neurons and mean population sparseness over
        patches, of |z| at the last recorded step (NaN entries, i.e. neurons or patches
        with no activity at all, are left out of the mean).
    silent_neurons : int
        Neurons with no activity on any patch at the last step.
    n_patches : int
    """

    steps: np.ndarray
    r2: np.ndarray
    zeros: np.ndarray
    lifetime: float
    population: float
    silent_neurons: int
    n_patches: int

    def at(self, t: int, what: str) -> float:
        where = np.flatnonzero(self.steps == int(t))
        return float(getattr(self, what)[where[0]]) if where.size else float("nan")


def coding_scores(x: np.ndarray, result) -> CodingScores:
    """R^2 and %-zeros at every recorded step, sparseness at the last one.

    Parameters
    ----------
    x : ndarray, shape (N, M)
        The stimuli the model inferred.
    result : models.inference.InferenceResult
        Its output (states N x R x K).

    Examples
    --------
    >>> from ipvae_brian.models.inference import InferenceResult
    >>> x = np.array([[1.0, -1.0], [2.0, 0.0]])
    >>> res = InferenceResult(states=np.array([[[1.0, 0.0]], [[0.0, 2.0]]]), steps=np.array([5]),
    ...                       Phi=np.array([[1.0, 1.0], [-1.0, 0.0]]))
    >>> s = coding_scores(x, res)
    >>> float(s.r2[0]), float(s.zeros[0]), float(s.population)
    (1.0, 0.5, 1.0)
    """
    states = result.states
    r2 = np.array([np.nanmean(r_squared(x, states[:, i] @ result.Phi.T))
                   for i in range(states.shape[1])])
    zeros = np.mean(states == 0, axis=(0, 2))
    last = np.abs(states[:, -1])
    with np.errstate(all="ignore"):
        lifetime = lifetime_sparseness(last)
        population = population_sparseness(last)
    return CodingScores(steps=np.asarray(result.steps), r2=r2, zeros=zeros,
                        lifetime=float(np.nanmean(lifetime)) if np.isfinite(lifetime).any()
                        else float("nan"),
                        population=float(np.nanmean(population))
                        if np.isfinite(population).any() else float("nan"),
                        silent_neurons=int(np.count_nonzero(~last.any(axis=0))),
                        n_patches=int(x.shape[0]))


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
    from ipvae_brian.models.inference import InferenceResult
    names = list(sets)
    x = np.concatenate([np.asarray(sets[n], dtype=np.float64) for n in names])
    steps = np.asarray(steps)
    result = model.infer(x, int(steps.max()) + 1, seed=seed, record=steps, progress=progress)
    scores, first = {}, 0
    for name in names:
        n = len(sets[name])
        part = InferenceResult(states=result.states[first:first + n], steps=result.steps,
                               Phi=result.Phi)
        scores[name] = coding_scores(x[first:first + n], part)
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
    """Codes summed over steps t = 0 .. T-1, shape (N, K), inferred in batches (memory:
    batch x T x K floats at a time)."""
    total = np.zeros((x.shape[0], model.n_latents))
    for first in range(0, x.shape[0], batch_size):
        batch_seed = int(np.random.SeedSequence([seed, first]).generate_state(1)[0])
        result = model.infer(x[first:first + batch_size], steps, seed=batch_seed)
        total[first:first + batch_size] = result.states.sum(axis=1)
        if progress is not None:
            progress(min(first + batch_size, x.shape[0]))
    return total


@dataclasses.dataclass
class ModelRow:
    """One row of the comparison table.

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
    """

    model: str
    training: str
    scores: dict
    readout: float = float("nan")
    seconds: float = float("nan")


def _fmt(value: float, percent: bool = False) -> str:
    if not np.isfinite(value):
        return "-"
    return f"{100 * value:.0f}%" if percent else f"{value:.2f}"


def table_records(rows, eval_steps=EVAL_STEPS) -> list[dict]:
    """Flat records (one per model) with one key per number: the CSV's rows."""
    records = []
    for row in rows:
        rec = {"model": row.model}
        for t in eval_steps:
            for name in IMAGE_SETS:
                s = row.scores.get(name)
                key = name.replace(" ", "_")
                rec[f"r2_t{t}_{key}"] = s.at(t, "r2") if s else np.nan
                rec[f"zeros_t{t}_{key}"] = s.at(t, "zeros") if s else np.nan
        test = row.scores.get(IMAGE_SETS[1])
        rec["lifetime_sparseness"] = test.lifetime if test else np.nan
        rec["population_sparseness"] = test.population if test else np.nan
        rec["digits8_readout_accuracy"] = row.readout
        rec["training"] = row.training
        rec["seconds"] = row.seconds
        records.append(rec)
    return records


def format_table(rows, eval_steps=EVAL_STEPS) -> str:
    """The table as Markdown: R^2 and %-zeros cells read "train images / test images"."""
    head = (["model"] + [f"R² t={t}" for t in eval_steps] + [f"%0 t={t}" for t in eval_steps]
            + ["lifetime S", "population S", "digits8 read-out"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        train, test = (row.scores.get(name) for name in IMAGE_SETS)
        cells = [row.model]
        for what, percent in (("r2", False), ("zeros", True)):
            for t in eval_steps:
                cells.append("-" if train is None else
                             f"{_fmt(train.at(t, what), percent)} / "
                             f"{_fmt(test.at(t, what), percent)}")
        cells += [_fmt(test.lifetime) if test else "-", _fmt(test.population) if test else "-",
                  _fmt(row.readout, percent=True)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_csv(path, rows, eval_steps=EVAL_STEPS) -> str:
    """Write the table as CSV (atomically): one row per model, one column per number."""
    records = table_records(rows, eval_steps)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(records[0]), lineterminator="\n")
    writer.writeheader()
    for rec in records:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in rec.items()})
    with atomic_output(path) as tmp, open(tmp, "w") as f:
        f.write(buffer.getvalue())
    return os.fspath(path)


def write_markdown(path, rows, eval_steps=EVAL_STEPS, title: str = "Model comparison",
                   notes: list | None = None) -> str:
    """Write the table as Markdown with a title and notes below it (atomically)."""
    text = f"# {title}\n\n{format_table(rows, eval_steps)}\n"
    if notes:
        text += "\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    with atomic_output(path) as tmp, open(tmp, "w") as f:
        f.write(text)
    return os.fspath(path)


def plot_rate_distortion(rows, path=None, eval_steps=EVAL_STEPS, reference: bool = True):
    """R^2 against %-zeros along t, one curve per model; one panel per image set.

    Markers sit at the recorded steps t >= 1 (t = 0 is the starting code, all zeros for
    the models that start at 0); the table's steps are labelled on each curve.
    With ``reference`` the authors' published van Hateren points (docs/model.md) are drawn
    as grey open symbols on the test-image panel, for orientation only.

    Returns
    -------
    matplotlib.figure.Figure
        Also saved to ``path`` (200 dpi, format from the suffix) if given.
    """
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 4.4), sharey=True, layout="constrained")
    models = [r for r in rows if r.scores]
    for ax, name in zip(axes, IMAGE_SETS):
        for row in models:
            s = row.scores[name]
            color, marker = MODEL_STYLES.get(row.model, (None, "o"))
            shown = s.steps >= 1      # t = 0: the starting code, all zeros for most models
            line, = ax.plot(100 * s.zeros[shown], s.r2[shown], marker=marker, ms=4, lw=1.4,
                            color=color, label=row.model if ax is axes[0] else None)
            labels = []          # [x, y, text]; points closer than 2% / 0.02 share a label
            for t in eval_steps:
                i = np.flatnonzero(s.steps == t)
                if not i.size:
                    continue
                x, y = 100 * s.zeros[i[0]], s.r2[i[0]]
                if labels and abs(labels[-1][0] - x) < 2 and abs(labels[-1][1] - y) < 0.02:
                    labels[-1][2] += f", {t}"
                else:
                    labels.append([x, y, f"{t}"])
            for x, y, text in labels:
                ax.annotate(text, (x, y), fontsize=7, xytext=(3, -9), textcoords="offset points",
                            color=line.get_color())
        if reference and name == IMAGE_SETS[1]:
            for k, (model, points) in enumerate(AUTHORS_REFERENCE.items()):
                ts = sorted(points)
                ax.plot([100 * points[t][1] for t in ts], [points[t][0] for t in ts],
                        ls=":", lw=0.9, color="0.55", marker=MODEL_STYLES[model][1], ms=5,
                        mfc="none")
                if k == 0:   # one legend entry for the reference, on the first panel's handles
                    axes[0].plot([], [], ls=":", lw=0.9, color="0.55", marker="o", ms=5,
                                 mfc="none", label="authors, van Hateren (other data)")
        ax.set_title(f"natural16, {name}", fontsize=11)
        ax.set_xlabel("zero codes (%)", fontsize=10)
        ax.set_xlim(-3, 103)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=9)
    axes[0].set_ylabel("reconstruction R² (mean over patches)", fontsize=10)
    low = min([np.nanmin(r.scores[n].r2[r.scores[n].steps >= 1]) for r in models
               for n in IMAGE_SETS if np.any(r.scores[n].steps >= 1)] + [0.0])
    axes[0].set_ylim(max(low, -0.5) - 0.05, 1.02)
    fig.suptitle("Rate-distortion along inference steps t (labels: t)", fontsize=11)
    fig.legend(loc="outside lower center", ncol=len(models) + 1, fontsize=9, frameon=False)
    if path is not None:
        suffix = os.path.splitext(os.fspath(path))[1].lstrip(".").lower() or "png"
        with atomic_output(path) as tmp:
            fig.savefig(tmp, format=suffix, dpi=200)
    return fig
