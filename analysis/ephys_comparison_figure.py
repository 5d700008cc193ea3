"""The figure of ``compare-ephys``: model and recording distributions overlaid, one panel each.

Every panel shows the two samples of one statistic as step histograms on common
bins, each normalised to its own sample size (fractions, so that 512 model neurons
and 40 recorded units compare), with both medians as vertical lines and the test in
the title; a last panel shows the population PSTH of each side (each unit's PSTH
over its mean rate, averaged over units) against time from the window's start.
"""
from __future__ import annotations

import numpy as np

from ipvae_brian.models.atomic_file import atomic_output

MODEL_COLOUR, RECORDING_COLOUR = "tab:blue", "tab:orange"


def comparison_figure(rows, path, title: str, psth: dict | None = None,
                      caption: str = "") -> str:
    """Write the figure (PNG) atomically and return its path.

    Parameters
    ----------
    rows : list of analysis.ephys_comparison.EphysRow
    path : str
    title : str
    psth : dict, optional
        ``{"model": (t, r), "recording": (t, r)}`` from ``trial_statistics.mean_psth``.
    caption : str
        Windows and bin widths of both sides, printed under the title.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    n = len(rows) + (1 if psth else 0)
    cols = min(4, max(n, 1))
    nrows = int(np.ceil(n / cols)) if n else 1
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.3 * nrows + 0.8),
                             squeeze=False)
    for ax, row in zip(axes.flat, rows):
        both = np.concatenate([row.model.values, row.recording.values])
        if both.size == 0:
            ax.text(0.5, 0.5, "no data", ha="center", transform=ax.transAxes)
        else:
            lo, hi = np.percentile(both, [0.5, 99.5])
            bins = np.linspace(lo, hi if hi > lo else lo + 1, 25)
            for sample, colour, name in ((row.model, MODEL_COLOUR, "model"),
                                         (row.recording, RECORDING_COLOUR, "recording")):
                v = np.clip(sample.values, bins[0], bins[-1])
                if v.size:
                    ax.hist(v, bins, weights=np.full(v.size, 1 / v.size), histtype="step",
                            color=colour, lw=1.6, label=f"{name} (n = {v.size})")
                    ax.axvline(np.median(sample.values), color=colour, ls="--", lw=1)
            ax.legend(fontsize=7)
        unit = f" ({row.unit})" if row.unit else ""
        ax.set_xlabel(row.statistic + unit, fontsize=8)
        ax.set_ylabel("fraction", fontsize=8)
        short = ("not enough data" if row.test is None else
                 f"KS D {row.test['ks']:.2f}, p {row.test['p']:.2g}, delta "
                 f"{row.test['delta']:+.2f}")
        ax.set_title(short, fontsize=8)
    used = len(rows)
    if psth:
        ax = axes.flat[used]
        for name, colour in (("model", MODEL_COLOUR), ("recording", RECORDING_COLOUR)):
            if name in psth and len(psth[name][0]):
                t, r = psth[name]
                ax.step(t - t[0], r, where="post", color=colour, label=name)
        ax.set_xlabel("time from window start (s)", fontsize=8)
        ax.set_ylabel("PSTH / mean rate", fontsize=8)
        ax.set_title("population PSTH shape", fontsize=8)
        ax.legend(fontsize=7)
        used += 1
    for ax in list(axes.flat)[used:]:
        ax.axis("off")
    fig.suptitle(title + ("\n" + caption if caption else ""), fontsize=9)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path
