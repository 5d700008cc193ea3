"""Figures of the V1 experiments (one multi-panel figure per experiment).

Drawn on matplotlib's Agg canvas without pyplot's global state, fonts of at least
9 pt, axes labelled with units, saved atomically at 200 dpi with
``bbox_inches="tight"`` (:func:`analysis.raster.save_figure`) so no label is clipped.
"""
from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullFormatter

from ipvae_brian.analysis.moving_bar_response import plot_direction_polar
from ipvae_brian.analysis.raster import save_figure
from ipvae_brian.models.config import BIN_WIDTH_S

FONT_SMALL, FONT_LABEL, FONT_TITLE = 9.0, 10.0, 10.5
#: Colours of example neurons.
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
          "#17becf")


def new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def style(ax, xlabel=None, ylabel=None, title=None):
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=FONT_LABEL)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=FONT_LABEL)
    if title:
        ax.set_title(title, fontsize=FONT_TITLE)
    ax.tick_params(labelsize=FONT_SMALL)
    for side in ("top", "right"):
        if side in ax.spines:
            ax.spines[side].set_visible(False)


def no_data(ax, text="no data"):
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center",
            fontsize=FONT_LABEL, color="0.4")


def histogram(ax, values, xlabel, title=None, bins=20, range_=None, log=False, vline=None):
    """Histogram of the finite values (number of neurons), median marked."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    style(ax, xlabel, "neurons", title)
    if v.size == 0:
        no_data(ax)
        return
    if log:
        v = v[v > 0]
        if v.size == 0:
            no_data(ax, "no positive values")
            return
        lo, hi = v.min(), v.max()
        edges = np.logspace(np.log10(lo) - 0.05, np.log10(hi) + 0.05, bins + 1)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
    else:
        edges = np.histogram_bin_edges(v, bins=bins, range=range_)
    ax.hist(v, bins=edges, color="0.55", edgecolor="white")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    med = float(np.median(v))
    ax.axvline(med, color="k", lw=1.2, ls="--")
    stats = f"median {med:.3g} (dashed), n = {v.size}"
    ax.set_title(f"{title}\n{stats}" if title else stats, fontsize=FONT_SMALL if not title
                 else FONT_TITLE)
    if vline is not None:
        ax.axvline(vline, color="#d62728", lw=1.0)


def _examples(mask_or_keys, score, n):
    idx = np.asarray(list(mask_or_keys), dtype=int)
    if idx.size == 0:
        return idx
    order = np.argsort(-np.asarray(score)[idx], kind="stable")
    return idx[order[:n]]


def empty_figure(path, name, why):
    fig = new_figure(5.0, 2.0)
    ax = fig.add_subplot(111)
    ax.axis("off")
    ax.text(0.5, 0.5, f"{name}: {why}", ha="center", va="center", wrap=True,
            fontsize=FONT_LABEL)
    save_figure(fig, path)


def orientation_figure(path, directions, curves, per_neuron, resp):
    fig = new_figure(12.0, 3.0)
    axes = fig.subplots(1, 4, gridspec_kw={"wspace": 0.55})
    ax = axes[0]
    style(ax, "drift direction (deg)", "rate / peak rate", "example tuning curves")
    examples = _examples(np.flatnonzero(resp), curves.max(axis=1), 5)
    for color, k in zip(COLORS, examples):
        c = curves[k]
        ax.plot(directions, c / c.max(), marker="o", ms=3, color=color, label=f"#{k}")
    if examples.size:
        ax.legend(fontsize=FONT_SMALL - 1, frameon=False, loc="upper left",
                  bbox_to_anchor=(1.0, 1.0))
        ax.set_xticks([0, 90, 180, 270, 360])
    else:
        no_data(ax, "no responsive neuron")
    histogram(axes[1], per_neuron["circular_variance"], "circular variance",
              range_=(0, 1))
    histogram(axes[2], per_neuron["bandwidth"], "bandwidth at 1/\u221a2 (deg)", range_=(0, 90))
    histogram(axes[3], per_neuron["osi"], "OSI", range_=(0, 1))
    save_figure(fig, path)


def f1f0_figure(path, ratio, examples, tf):
    fig = new_figure(8.0, 3.0)
    axes = fig.subplots(1, 2, gridspec_kw={"wspace": 0.35})
    ax = axes[0]
    style(ax, "time in window (s)", "rate (spikes/s)", "PSTH at the preferred grating")
    keys = _examples(list(examples), np.nan_to_num(ratio), 4)
    for color, k in zip(COLORS, keys):
        trace = examples[int(k)]
        t = np.arange(trace.size) * BIN_WIDTH_S
        ax.plot(t, trace, color=color, label=f"#{k}: F1/F0 {ratio[k]:.2f}")
    if keys.size:
        ax.legend(fontsize=FONT_SMALL - 1, frameon=False)
    else:
        no_data(ax)
    histogram(axes[1], ratio, "F1 / F0", range_=(0, 2), vline=1.0)
    save_figure(fig, path)


def contrast_figure(path, contrasts, curves, out):
    fig = new_figure(11.0, 3.0)
    axes = fig.subplots(1, 3, gridspec_kw={"wspace": 0.4})
    ax = axes[0]
    style(ax, "contrast", "rate (spikes/s)", "contrast response, Naka-Rushton fits")
    keys = _examples(list(curves), np.nan_to_num(out["r_squared"]), 5)
    fine = np.linspace(0, contrasts.max(), 200)
    for color, k in zip(COLORS, keys):
        curve, fit = curves[int(k)]
        ax.plot(contrasts, curve, "o", ms=3, color=color)
        ax.plot(fine, fit(fine), color=color, lw=1,
                label=f"#{k}: n {fit.n:.2g}, c50 {fit.c50:.2g}")
    if keys.size:
        ax.legend(fontsize=FONT_SMALL - 1, frameon=False)
    else:
        no_data(ax)
    histogram(axes[1], out["n"], "exponent n")
    histogram(axes[2], out["c50"], "c50 (contrast)", log=True)
    save_figure(fig, path)


def size_figure(path, diameters, curves, si, side):
    fig = new_figure(8.0, 3.0)
    axes = fig.subplots(1, 2, gridspec_kw={"wspace": 0.35})
    ax = axes[0]
    style(ax, "grating diameter (pixels)", "rate / peak rate", "size tuning")
    x = np.where(np.isfinite(diameters), diameters, side * 1.4)
    keys = _examples(list(curves), np.nan_to_num(si), 5)
    for color, k in zip(COLORS, keys):
        c = curves[int(k)]
        ax.plot(x, c / c.max(), marker="o", ms=3, color=color, label=f"#{k}: SI {si[k]:.2f}")
    if keys.size:
        ax.legend(fontsize=FONT_SMALL - 1, frameon=False)
        ticks = [t for t in x[np.isfinite(diameters)]]
        ax.set_xticks(ticks + [side * 1.4])
        ax.set_xticklabels([f"{t:g}" for t in ticks] + ["full"], fontsize=FONT_SMALL)
    else:
        no_data(ax)
    histogram(axes[1], si, "surround suppression index", range_=(0, 1))
    save_figure(fig, path)


def cross_orientation_figure(path, test, both, xos):
    fig = new_figure(8.0, 3.2)
    axes = fig.subplots(1, 2, gridspec_kw={"wspace": 0.35})
    ax = axes[0]
    style(ax, "test alone (spikes/s)", "test + orthogonal mask (spikes/s)", "plaid vs test")
    ok = np.isfinite(xos)
    if ok.any():
        ax.scatter(test[ok], both[ok], s=10, color="0.3")
        hi = max(test[ok].max(), both[ok].max()) * 1.05
        ax.plot([0, hi], [0, hi], color="#d62728", lw=1)
        ax.set_xlim(0, hi)
        ax.set_ylim(0, hi)
    else:
        no_data(ax)
    histogram(axes[1], xos, "suppression 1 - R_plaid / R_test", vline=0.0)
    save_figure(fig, path)


def rf_figure(path, sta, Phi, corr, nx, ny, fits, shape):
    fig = new_figure(11.0, 3.4)
    grid = fig.add_gridspec(2, 8, wspace=0.15, hspace=0.25,
                            width_ratios=[1, 1, 1, 1, 0.4, 3, 0.4, 3])
    ok = np.flatnonzero(np.isfinite(corr))
    examples = _examples(ok, np.nan_to_num(corr), 4)
    for j in range(4):
        for row, (data, name) in enumerate(((sta, "STA"), (Phi.T, "\u03a6 column"))):
            ax = fig.add_subplot(grid[row, j])
            ax.set_xticks([])
            ax.set_yticks([])
            if j < examples.size:
                k = examples[j]
                img = data[k].reshape(shape)
                lim = np.nanmax(np.abs(img)) or 1.0
                ax.imshow(img, cmap="RdBu_r", vmin=-lim, vmax=lim)
                if row == 0:
                    ax.set_title(f"#{k} r={corr[k]:.2f}", fontsize=FONT_SMALL)
            if j == 0:
                ax.set_ylabel(name, fontsize=FONT_SMALL)
    ax = fig.add_subplot(grid[:, 5])
    style(ax, "nx = \u03c3x f", "ny = \u03c3y f", "Gabor fits (Ringach 2002)")
    good = np.isfinite(nx) & np.isfinite(ny)
    if good.any():
        ax.scatter(nx[good], ny[good], s=10, color="0.3")
        ax.axvline(0.5, color="#d62728", lw=1)
        ax.set_xlim(0, max(1.0, np.nanpercentile(nx[good], 98) * 1.1))
        ax.set_ylim(0, max(1.0, np.nanpercentile(ny[good], 98) * 1.1))
    else:
        no_data(ax)
    histogram(fig.add_subplot(grid[:, 7]), corr, "correlation of STA with \u03a6 column",
              range_=(-1, 1))
    save_figure(fig, path)


def moving_bar_figure(path, directions, rates, resp, dsi):
    fig = new_figure(11.5, 3.2)
    grid = fig.add_gridspec(1, 3, wspace=0.55)
    ax = fig.add_subplot(grid[0], projection="polar")
    ax.set_title("responses vs bar direction\n(normalised)", fontsize=FONT_TITLE)
    examples = _examples(np.flatnonzero(resp), rates.max(axis=1), 6)
    for color, k in zip(COLORS, examples):
        plot_direction_polar(ax, directions, rates[k], label=f"#{k}", color=color)
    ax.tick_params(labelsize=FONT_SMALL)
    ax.set_yticklabels([])                      # normalised: the radius is relative
    if examples.size:
        ax.legend(fontsize=FONT_SMALL, frameon=False, loc="upper left",
                  bbox_to_anchor=(1.08, 1.0))
    else:
        no_data(ax, "no responsive neuron")
    ax = fig.add_subplot(grid[1], projection="polar")
    ax.set_title("population mean", fontsize=FONT_TITLE)
    if resp.any():
        norm = rates[resp] / rates[resp].max(axis=1, keepdims=True)
        plot_direction_polar(ax, directions, norm.mean(axis=0), color="k", normalise=False)
    ax.tick_params(labelsize=FONT_SMALL)
    histogram(fig.add_subplot(grid[2]), dsi, "direction selectivity index", range_=(0, 1))
    save_figure(fig, path)


def natural_figure(path, per_neuron, population, fit):
    fig = new_figure(11.0, 6.2)
    axes = fig.subplots(2, 3, gridspec_kw={"wspace": 0.38, "hspace": 0.55})
    ax = axes[0, 0]
    rates = per_neuron["rate"]
    histogram(ax, rates, "mean rate (spikes/s)", "firing-rate distribution", log=True)
    if np.isfinite(fit.sigma) and ax.patches:
        # expected neurons per histogram bin of constant width w in ln(rate):
        # n * pdf(r) * r * w
        first = ax.patches[0]
        width = np.log(first.get_x() + first.get_width()) - np.log(first.get_x())
        lo, hi = ax.get_xlim()
        r = np.logspace(np.log10(lo), np.log10(hi), 200)
        n_positive = int(np.count_nonzero(rates > 0))
        ax.plot(r, fit.pdf(r) * r * width * n_positive, color="#d62728", lw=1.2,
                label=f"log-normal fit\n\u03c3 = {fit.sigma:.2f}")
        ax.legend(fontsize=FONT_SMALL, frameon=False, loc="upper right")
    ax = axes[0, 1]
    style(ax, "S, disc (CRF)", "S, full patch (CRF + surround)", "lifetime sparseness")
    a, b = per_neuron["lifetime_sparseness_crf"], per_neuron["lifetime_sparseness_crf_surround"]
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.any():
        ax.scatter(a[ok], b[ok], s=8, color="0.3")
        lo = max(0.0, min(a[ok].min(), b[ok].min()) - 0.02)
        ax.plot([lo, 1], [lo, 1], color="#d62728", lw=1, label="equal")
        ax.set_xlim(lo, 1)
        ax.set_ylim(lo, 1)
        ax.legend(fontsize=FONT_SMALL, frameon=False, loc="upper left")
    else:
        no_data(ax)
    histogram(axes[0, 2], population["population_sparseness"], "population sparseness",
              range_=(0, 1))
    axes[0, 2].set_ylabel("stimuli", fontsize=FONT_LABEL)
    histogram(axes[1, 0], per_neuron["fano"], "Fano factor", vline=1.0)
    histogram(axes[1, 1], per_neuron["isi_cv"], "ISI CV", vline=1.0)
    histogram(axes[1, 2], population["r_sc"], "noise correlation r_sc", vline=0.0)
    axes[1, 2].set_ylabel("pairs", fontsize=FONT_LABEL)
    save_figure(fig, path)
