"""The figure of the V1 comparison: one panel per statistic, the V1 range shaded.

The rows come from :func:`analysis.v1_comparison.build_rows`; the figure is written
by :func:`analysis.v1_comparison.run_v1_comparison`.
"""
from __future__ import annotations

import math

import numpy as np
from matplotlib.patches import Rectangle
from matplotlib.ticker import NullFormatter

from ipvae_brian.analysis.experiment_figures import (FONT_LABEL, FONT_SMALL, FONT_TITLE,
                                                     new_figure, style)
from ipvae_brian.analysis.raster import save_figure
from ipvae_brian.analysis.bootstrap import finite_values

#: Shade of the V1 range in the figure.
V1_COLOR = "#9ecae1"


def comparison_figure(rows, path, title: str = "", counts=(0, 0, 0)) -> str:
    """One panel per statistic: the model's distribution, the V1 range shaded.

    ``counts`` is (inside, outside, without data) of the rows (``count_inside``).
    """
    n = len(rows)
    cols = 4
    nrows = math.ceil((n + 1) / cols)
    fig = new_figure(13.0, 2.75 * nrows + 0.4)
    grid = fig.add_gridspec(nrows, cols, wspace=0.42, hspace=0.95)
    for i, row in enumerate(rows):
        ax = fig.add_subplot(grid[i // cols, i % cols])
        values = row.values if row.plot_values is None else finite_values(row.plot_values)
        lo, hi = row.shade
        mark = {True: "inside", False: "OUTSIDE", None: "no data"}[row.inside]
        style(ax, row.xlabel, row.sample)
        ax.set_title(f"{i + 1}. {row.statistic}\n({mark})", fontsize=FONT_SMALL + 0.5)
        if values.size == 0:
            ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center",
                    fontsize=FONT_LABEL, color="0.4")
            if lo is not None:
                ax.set_xlim(lo - 0.1 * abs(hi - lo) - 0.05, hi + 0.1 * abs(hi - lo) + 0.05)
                ax.axvspan(lo, hi, color=V1_COLOR, alpha=0.6, lw=0)
            continue
        if row.log:
            positive = values[values > 0]
            if positive.size:
                edges = np.logspace(np.log10(positive.min()) - 0.05,
                                    np.log10(positive.max()) + 0.05, 25)
                ax.set_xscale("log")
                ax.xaxis.set_minor_formatter(NullFormatter())
                ax.hist(positive, bins=edges, color="0.45", edgecolor="white", zorder=2)
        else:
            span = [values.min(), values.max()]
            if lo is not None:
                span = [min(span[0], lo), max(span[1], hi)]
            width = span[1] - span[0] or 1.0
            edges = np.linspace(span[0] - 0.02 * width, span[1] + 0.02 * width, 25)
            ax.hist(values, bins=edges, color="0.45", edgecolor="white", zorder=2)
        if lo is not None:
            left = lo if not row.log or lo > 0 else ax.get_xlim()[0]
            ax.axvspan(left, hi, color=V1_COLOR, alpha=0.6, lw=0, zorder=1)
            if row.shade_note:
                ax.text(left, 0.97, f" shaded: {row.shade_note}",
                        transform=ax.get_xaxis_transform(), ha="left", va="top",
                        fontsize=FONT_SMALL, color="#08519c", zorder=4)
        if not row.log:
            ax.axvline(np.median(values), color="k", ls="--", lw=1.0, zorder=3)
    ax = fig.add_subplot(grid[(n) // cols, n % cols:])
    ax.axis("off")
    inside, outside, missing = counts
    ax.add_patch(Rectangle((0.02, 0.62), 0.08, 0.12, transform=ax.transAxes, color=V1_COLOR,
                           alpha=0.6))
    ax.text(0.13, 0.68, "V1 range (docs/ephys_reference.md)", transform=ax.transAxes,
            va="center", fontsize=FONT_SMALL)
    ax.plot([0.02, 0.10], [0.48, 0.48], "k--", transform=ax.transAxes, lw=1.0)
    ax.text(0.13, 0.48, "model median", transform=ax.transAxes, va="center",
            fontsize=FONT_SMALL)
    ax.text(0.02, 0.22, f"inside: {inside} of {len(rows)}, outside: {outside}, "
            f"no data: {missing}", transform=ax.transAxes, fontsize=FONT_LABEL)
    if title:
        fig.suptitle(title, fontsize=FONT_TITLE, y=0.995)
    fig.subplots_adjust(top=1 - 0.95 / fig.get_figheight())
    return save_figure(fig, path)
