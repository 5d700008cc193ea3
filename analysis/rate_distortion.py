r"""Rate-distortion over a sparsity knob, and the scikit-learn sparse-coding front.

A single operating point says little about a sparse code: a model with a larger
sparsity penalty is sparser and reconstructs worse. The comparison of
``compare-models`` (:mod:`ipvae_brian.workflows.model_comparison`) therefore trains
every sparse model at several values of its own knob (the iP-VAE's KL weight beta,
the iG-relu's drive toward silence b, the LCA's threshold lambda) and plots, at each
step t, R^2 against the fraction of zero codes, one point per knob value: a curve per
model. Each point is decoded two ways (:class:`analysis.model_comparison.CodingScores`):
from samples (solid) and from the mean / rate (dashed), each at its own %-zeros.

The reference is the front of classical sparse coding on the same data and budget
(:func:`sparse_coding_front`): scikit-learn's ``MiniBatchDictionaryLearning`` (K atoms,
one lasso penalty for learning), then the lasso codes of the test patches,

.. math::

    a^*(x) = \arg\min_a \tfrac12 \lVert x - D a \rVert^2 + \alpha \lVert a \rVert_1 ,

at several alphas (``sparse_encode``, coordinate descent; alpha in the units of the
LCA's threshold, whose fixed point is this lasso). With a fixed dictionary the residual
of the lasso grows with alpha, so R^2 falls along the front as its zeros rise.

References
----------
Vafaii, Galor & Yates (2025), arXiv:2410.19315 (R^2 against %-zeros as the
rate-distortion view).
Mairal, J., Bach, F., Ponce, J. & Sapiro, G. (2009). Online dictionary learning for
sparse coding. ICML (``MiniBatchDictionaryLearning``).
Pedregosa, F. et al. (2011). Scikit-learn: machine learning in Python. JMLR 12:2825-2830.
"""
from __future__ import annotations

import dataclasses
import os
import warnings

import numpy as np

from ipvae_brian.analysis.metrics import r_squared
from ipvae_brian.models.atomic_file import atomic_output

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

#: Lasso penalties alpha of the scikit-learn front (in units of the drive D^T x).
FRONT_ALPHAS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)


@dataclasses.dataclass
class KnobPoint:
    """One model trained and scored at one value of its sparsity knob.

    Attributes
    ----------
    model : str
    knob : str
        The knob's name ("beta", "b", "lambda"; "" for a model without one).
    value : float
        Its value (NaN without a knob).
    scores : analysis.model_comparison.CodingScores
        On the test photographs.
    minibatches : int
        Training minibatches (parameter updates).
    """

    model: str
    knob: str
    value: float
    scores: object
    minibatches: int


@dataclasses.dataclass
class FrontPoint:
    """The scikit-learn front at one lasso penalty: mean R^2 and the fraction of zeros."""

    alpha: float
    r2: float
    zeros: float


def sparse_coding_front(x_train: np.ndarray, x_test: np.ndarray, n_latents: int,
                        batch_size: int, epochs: int = 1, alphas=FRONT_ALPHAS,
                        fit_alpha: float = 1.0, seed: int = 0):
    """Dictionary learning and lasso codes of scikit-learn: the classical front.

    Parameters
    ----------
    x_train : ndarray, shape (N, M)
        Training patches (the same the models train on).
    x_test : ndarray, shape (N', M)
        Patches to code and score.
    n_latents : int
        K, atoms of the dictionary.
    batch_size, epochs : int
        The budget: ``epochs`` passes in minibatches of ``batch_size`` (one dictionary
        update each, as the models get).
    alphas : sequence of float
        Lasso penalties of the front's points.
    fit_alpha : float
        The penalty used while learning the dictionary.
    seed : int

    Returns
    -------
    points : list of FrontPoint
        In the order of ``alphas``.
    minibatches : int
        Dictionary updates made (``n_steps_``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((60, 8))
    >>> front, steps = sparse_coding_front(x, x[:20], 8, batch_size=20, alphas=(0.1, 1.0))
    >>> steps, front[0].r2 > front[1].r2, front[0].zeros < front[1].zeros
    (3, True, True)
    """
    from sklearn.decomposition import MiniBatchDictionaryLearning, sparse_encode
    learner = MiniBatchDictionaryLearning(
        n_components=int(n_latents), alpha=float(fit_alpha), batch_size=int(batch_size),
        max_iter=int(epochs), fit_algorithm="cd", random_state=int(seed), shuffle=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # coordinate descent's convergence warnings
        learner.fit(np.asarray(x_train, dtype=np.float64))
        D = learner.components_
        points = []
        for alpha in alphas:
            codes = sparse_encode(x_test, D, algorithm="lasso_cd", alpha=float(alpha),
                                  max_iter=2000)
            points.append(FrontPoint(float(alpha), float(np.nanmean(r_squared(x_test,
                                                                                codes @ D))),
                                     float(np.mean(codes == 0))))
    return points, int(learner.n_steps_)


def rate_distortion_records(points, front, eval_steps) -> list[dict]:
    """Flat records, one per (model, knob value, t) and one per front point: the CSV."""
    records = []
    for p in points:
        for t in eval_steps:
            records.append({"model": p.model, "knob": p.knob or "-", "value": p.value,
                            "t": int(t), "r2_sample": p.scores.at(t, "r2"),
                            "r2_mean": p.scores.at(t, "r2_mean"),
                            "zeros_sample": p.scores.at(t, "zeros"),
                            "zeros_mean": p.scores.at(t, "zeros_mean"),
                            "runaways": int(p.scores.at(t, "runaways")),
                            "minibatches": p.minibatches})
    for f in front[0] if front else []:
        records.append({"model": "sklearn lasso", "knob": "alpha", "value": f.alpha,
                        "t": "-", "r2_sample": f.r2, "r2_mean": f.r2, "zeros_sample": f.zeros,
                        "zeros_mean": f.zeros, "runaways": 0, "minibatches": front[1]})
    return records


def format_rate_distortion_table(points, front, eval_steps) -> str:
    """Markdown: one row per model and knob value; cells "R^2 (%-zeros)" from samples and
    from the mean at each t ("[n ran away]": patches left out); the front's rows at the
    end (a lasso code is deterministic)."""
    head = (["model", "knob"] + [f"t={t} samples" for t in eval_steps]
            + [f"t={t} mean" for t in eval_steps])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def cell(r2, zeros, runaways=0):
        text = "-" if not np.isfinite(r2) else f"{r2:.2f} ({100 * zeros:.0f}%)"
        return text + (f" [{int(runaways)} ran away]" if runaways else "")
    for p in points:
        knob = f"{p.knob} = {p.value:g}" if p.knob else "-"
        cells = [p.model, knob]
        for suffix in ("", "_mean"):
            cells += [cell(p.scores.at(t, "r2" + suffix), p.scores.at(t, "zeros" + suffix),
                           p.scores.at(t, "runaways")) for t in eval_steps]
        lines.append("| " + " | ".join(cells) + " |")
    for f in front[0] if front else []:
        lines.append("| " + " | ".join(["sklearn lasso", f"alpha = {f.alpha:g}"]
                                       + [cell(f.r2, f.zeros)] * (2 * len(eval_steps))) + " |")
    return "\n".join(lines)


def plot_rate_distortion(points, front, eval_steps, path=None, reference: bool = True,
                         title: str = "natural16 test photographs"):
    """R^2 against %-zeros over each model's knob, one panel per step t.

    Solid lines with filled markers: decoded from samples; dashed with open markers:
    from the mean / rate. Models without a knob are single points. Black: the
    scikit-learn front (the same in every panel: a lasso code has no t). Grey dotted,
    open: the authors' published van Hateren points at that t, for orientation.

    Returns
    -------
    matplotlib.figure.Figure
        Also saved to ``path`` (200 dpi, format from the suffix) if given.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    steps = list(eval_steps)
    fig, axes = plt.subplots(1, len(steps), figsize=(4.0 * len(steps) + 0.6, 4.6),
                             sharey=True, layout="constrained", squeeze=False)
    axes = axes[0]
    models = list(dict.fromkeys(p.model for p in points))
    low = 0.0
    for ax, t in zip(axes, steps):
        for model in models:
            mine = sorted((p for p in points if p.model == model),
                          key=lambda p: (np.nan_to_num(p.value), p.value))
            color, marker = MODEL_STYLES.get(model, ("0.3", "o"))
            for suffix, style, face in (("", "-", color), ("_mean", "--", "none")):
                x = [100 * p.scores.at(t, "zeros" + suffix) for p in mine]
                y = [p.scores.at(t, "r2" + suffix) for p in mine]
                ax.plot(x, y, ls=style, lw=1.3, color=color, marker=marker, ms=5, mfc=face)
                low = min([low] + [v for v in y if np.isfinite(v)])
        if front:
            ax.plot([100 * f.zeros for f in front[0]], [f.r2 for f in front[0]], color="k",
                    lw=1.3, marker="x", ms=5)
        if reference:
            for model, by_t in AUTHORS_REFERENCE.items():
                if t in by_t:
                    r2, zeros = by_t[t]
                    ax.plot([100 * zeros], [r2], ls="none", marker=MODEL_STYLES[model][1],
                            ms=7, mfc="none", mec="0.55")
        ax.set_title(f"R² against %-zeros at t = {t}", fontsize=11)
        ax.set_xlabel("zero codes (%)", fontsize=10)
        ax.set_xlim(-3, 103)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=9)
    axes[0].set_ylabel("reconstruction R² (mean over patches)", fontsize=10)
    axes[0].set_ylim(max(low, -0.5) - 0.05, 1.02)
    handles = [Line2D([], [], color=MODEL_STYLES.get(m, ("0.3", "o"))[0],
                      marker=MODEL_STYLES.get(m, ("0.3", "o"))[1], ms=5, label=m)
               for m in models]
    handles += [Line2D([], [], color="0.3", ls="-", label="decoded from samples"),
                Line2D([], [], color="0.3", ls="--", marker="o", mfc="none", ms=5,
                       label="decoded from the mean / rate")]
    if front:
        handles.append(Line2D([], [], color="k", marker="x", ms=5,
                              label="scikit-learn lasso front"))
    if reference:
        handles.append(Line2D([], [], ls="none", marker="o", mfc="none", mec="0.55", ms=7,
                              label="authors, van Hateren (other data)"))
    fig.legend(handles=handles, loc="outside lower center",
               ncol=min(5 if len(steps) >= 3 else 3, len(handles)),
               fontsize=9, frameon=False)
    fig.suptitle(f"Rate-distortion over each model's sparsity knob ({title})", fontsize=11)
    if path is not None:
        suffix = os.path.splitext(os.fspath(path))[1].lstrip(".").lower() or "png"
        with atomic_output(path) as tmp:
            fig.savefig(tmp, format=suffix, dpi=200)
    return fig
