"""Figures of a recording or of in-memory results (``run_sim.py plot TARGET``).

One function per target, each returning a matplotlib ``Figure`` (Agg canvas, no pyplot
state; fonts of at least 9 pt; axes labelled with units) that
:func:`ipvae_brian.analysis.raster.save_figure` writes at 200 dpi:

- :func:`plot_reconstruction`: the stimulus, Phi z_t at chosen bins t, and R^2 over t;
- :func:`plot_potentials`: u_t traces of chosen neurons (recorded with ``--record u``);
- :func:`plot_dictionary_of`: the dictionary Phi, columns sorted by mean count;
- :func:`plot_receptive_fields`: the spike-triggered average of each chosen neuron next to
  its dictionary column (stimuli: noise);
- :func:`plot_tuning`: mean rate against a stimulus parameter (a grid of conditions, e.g.
  the orientation experiment's gratings).

(``raster`` is :mod:`ipvae_brian.analysis.raster`.) Every function takes a recording
path, an open recording, or a ``SimulationResult`` (:func:`analysis.neo_block.open_source`).
Each figure keeps what it drew in ``fig.plotted`` (a dict) for checks.
"""
from __future__ import annotations

import os

import numpy as np

from ipvae_brian.analysis.dictionary_structure import dictionary_canvas
from ipvae_brian.analysis.experiment_figures import (COLORS, FONT_SMALL, FONT_TITLE,
                                                      new_figure, style)
from ipvae_brian.analysis.neo_block import open_source
from ipvae_brian.analysis.receptive_fields import column_correlation, spike_triggered_average
from ipvae_brian.analysis.spike_trains import select_neurons, select_stimuli
from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.run_summary import r_squared


def _name(rec) -> str:
    return os.path.basename(str(rec.path))


def _image(ax, image, shape, vmax, title):
    ax.imshow(np.asarray(image).reshape(shape), cmap="gray", vmin=-vmax, vmax=vmax,
              interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=FONT_SMALL)


def _need_params(rec, what: str):
    if getattr(rec, "params", None) is None:
        raise SimulationInputError(f"{what} needs the parameters: simulate keeps them in the "
                                   f"result (or read the recording file)")
    return rec.params


def plot_reconstruction(source, stimulus: int = 0, times=None):
    """The stimulus, its reconstruction Phi z_t at chosen bins, and R^2 over t.

    Parameters
    ----------
    source : recording path, Recording or SimulationResult
    stimulus : int
        Stimulus index.
    times : sequence of int, optional
        Bins t to show (default: 0, T/8, T/2 and T - 1, distinct).

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.plotted``: ``times``, ``r2`` (T,), ``images`` (the reconstructions shown).
    """
    with open_source(source) as rec:
        params = _need_params(rec, "the reconstruction figure")
        N, T, K = (int(s) for s in rec.counts.shape)
        n = int(select_stimuli(stimulus, N)[0])
        counts = np.asarray(rec.counts[n], dtype=np.float64)          # (T, K)
        stimset, tau = rec.stimuli, float(rec.attrs["bin_width"])
        name = _name(rec)
    recon = counts @ params.Phi.T                                      # (T, M)
    x = stimset.x[n]
    frames = x if stimset.is_movie else np.broadcast_to(x, recon.shape)
    r2 = r_squared(frames, recon)
    times = sorted(set(int(t) for t in (times if times is not None else
                                        (0, T // 8, T // 2, T - 1))))
    bad = [t for t in times if not 0 <= t < T]
    if bad:
        raise SimulationInputError(f"bin t = {bad[0]} is out of range: 0 to {T - 1}")
    shape = stimset.image_shape
    columns = len(times) + 1
    fig = new_figure(1.25 * columns + 0.6, 3.9)
    grid = fig.add_gridspec(2, columns, height_ratios=(1.0, 1.15), hspace=0.55, wspace=0.15)
    vmax = float(np.max(np.abs(frames))) or 1.0
    _image(fig.add_subplot(grid[0, 0]), frames[times[-1]], shape, vmax,
           "stimulus" + (f" (frame {times[-1]})" if stimset.is_movie else ""))
    for i, t in enumerate(times):
        _image(fig.add_subplot(grid[0, i + 1]), recon[t], shape, vmax,
               f"Phi z_t, t = {t}\nR^2 = {r2[t]:.2f}")
    ax = fig.add_subplot(grid[1, :])
    ax.plot(np.arange(T), r2, color="black", linewidth=1.2)
    ax.plot(times, r2[times], "o", color=COLORS[1], markersize=4)
    ax.axhline(0, color="0.7", linewidth=0.6)
    style(ax, f"bin t ({tau * 1e3:g} ms each)", "R^2 of Phi z_t")
    fig.suptitle(f"{name}: stimulus {n}, reconstruction from the counts of each bin",
                 fontsize=FONT_TITLE)
    fig.plotted = {"times": times, "r2": r2, "images": recon[times]}
    return fig


def plot_potentials(source, stimulus: int = 0, neurons="0:8"):
    """Membrane potentials u_t of chosen neurons over the bins of one stimulus.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.plotted``: ``neurons`` and ``u`` (T, n).
    """
    with open_source(source) as rec:
        if getattr(rec, "u", None) is None:
            raise SimulationInputError(f"{_name(rec)} has no membrane potentials: simulate "
                                       f"with --record u")
        N, T, K = (int(s) for s in rec.counts.shape)
        n = int(select_stimuli(stimulus, N)[0])
        ids = select_neurons(neurons, K)
        u = np.asarray(rec.u[n])[:, ids]
        tau = float(rec.attrs["bin_width"])
        name = _name(rec)
    fig = new_figure(6.4, 3.4)
    ax = fig.add_subplot(1, 1, 1)
    t = np.arange(T) * tau
    for i, k in enumerate(ids):
        ax.plot(t, u[:, i], color=COLORS[i % len(COLORS)], linewidth=1.0, label=f"{int(k)}")
    style(ax, "time from stimulus onset (s)", "u (log spikes per bin)",
          f"{name}: membrane potentials, stimulus {n}")
    ax.legend(title="neuron id", fontsize=FONT_SMALL, title_fontsize=FONT_SMALL,
              frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.plotted = {"neurons": ids, "u": u}
    return fig


def plot_dictionary_of(source, columns: int = 16, max_neurons: int = 128):
    """The dictionary Phi, one tile per neuron, sorted by mean count (most used first).

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.plotted``: ``order`` (neuron ids in tile order) and ``usage`` (mean count
        per bin of each neuron).
    """
    with open_source(source) as rec:
        params = _need_params(rec, "the dictionary figure")
        usage = np.asarray(rec.counts[()], dtype=np.float64).mean(axis=(0, 1))
        shape, name = rec.stimuli.image_shape, _name(rec)
    order = np.argsort(-usage, kind="stable")[:max_neurons]
    canvas = dictionary_canvas(params.Phi[:, order], shape, columns)
    width = 7.0
    fig = new_figure(width, width * canvas.shape[0] / canvas.shape[1] + 0.6)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.96 - 0.5 / fig.get_figheight()))
    ax.imshow(canvas, cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(f"{name}: dictionary Phi, {order.size} of {usage.size} neurons by mean count "
                 f"(left to right, top to bottom); each tile scaled to its max |value|",
                 fontsize=FONT_SMALL, wrap=True)
    fig.plotted = {"order": order, "usage": usage}
    return fig


def plot_receptive_fields(source, neurons=None, n_neurons: int = 8):
    """Spike-triggered average of each neuron (counts summed over bins) beside its Phi column.

    Parameters
    ----------
    source : recording path, Recording or SimulationResult
        Of static noise stimuli (e.g. ``white_noise``), many of them.
    neurons : selection, optional
        Default: the ``n_neurons`` neurons with the most spikes.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.plotted``: ``neurons``, ``sta`` (n, M), ``correlation`` (n,).
    """
    with open_source(source) as rec:
        params = _need_params(rec, "the receptive-field figure")
        if rec.stimuli.is_movie:
            raise SimulationInputError("receptive fields need static images (e.g. white_noise)")
        responses = np.asarray(rec.counts[()], dtype=np.float64).sum(axis=1)   # (N, K)
        x, shape, name = rec.stimuli.x, rec.stimuli.image_shape, _name(rec)
    ids = (np.argsort(-responses.sum(axis=0), kind="stable")[:n_neurons] if neurons is None
           else select_neurons(neurons, responses.shape[1]))
    sta = spike_triggered_average(x, responses[:, ids])
    phi = params.Phi[:, ids].T
    corr = column_correlation(np.nan_to_num(sta).T, phi.T)
    fig = new_figure(1.05 * len(ids) + 0.9, 2.9)
    grid = fig.add_gridspec(2, len(ids), hspace=0.45, wspace=0.12)
    for i, k in enumerate(ids):
        for row, image, label in ((0, sta[i], "STA"), (1, phi[i], "Phi col.")):
            ax = fig.add_subplot(grid[row, i])
            vmax = float(np.nanmax(np.abs(image))) if np.any(np.isfinite(image)) else 1.0
            _image(ax, np.nan_to_num(image), shape, vmax or 1.0,
                   f"{int(k)}: r = {corr[i]:.2f}" if row == 0 else "")
            if i == 0:
                ax.set_ylabel(label, fontsize=FONT_SMALL)
    fig.suptitle(f"{name}: spike-triggered average (top) vs dictionary column (bottom), "
                 f"{x.shape[0]:,} stimuli; neuron id: correlation", fontsize=FONT_SMALL)
    fig.plotted = {"neurons": ids, "sta": sta, "correlation": corr}
    return fig


def plot_tuning(source, parameter: str | None = None, neurons=None, n_neurons: int = 6):
    """Mean rate (spikes/s) of chosen neurons against a stimulus parameter of a grid.

    Parameters
    ----------
    source : recording path, Recording or SimulationResult
        Of stimuli built over a grid of conditions (e.g. ``grating:orientation=0/45/90``,
        the V1 experiments' recordings).
    parameter : str, optional
        The grid parameter on the x axis (default: the first that takes several values);
        the rate is averaged over the stimuli sharing its value (error bars: SEM).
    neurons : selection, optional
        Default: the ``n_neurons`` neurons with the largest tuning range.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.plotted``: ``parameter``, ``values``, ``neurons``, ``rates`` (values, n).
    """
    with open_source(source) as rec:
        conditions = rec.stimuli.conditions()
        counts = np.asarray(rec.counts[()], dtype=np.float64)
        tau, name = float(rec.attrs["bin_width"]), _name(rec)
        units = rec.stimuli.params.get("units", {})
    varied = [k for k, v in conditions.items() if len(set(map(str, v))) > 1]
    if not varied:
        raise SimulationInputError(f"{name}: the stimuli vary no grid parameter (use a grid "
                                   f"such as grating:orientation=0/45/90/135)")
    parameter = parameter or varied[0]
    if parameter not in conditions:
        raise SimulationInputError(f"{name}: no stimulus parameter {parameter!r}; the grid "
                                   f"has {', '.join(conditions)}")
    key = np.asarray(conditions[parameter], dtype=np.float64)
    values = np.unique(key)
    rate = counts.mean(axis=1) / tau                                   # (N, K) spikes/s
    mean = np.array([rate[key == v].mean(axis=0) for v in values])      # (V, K)
    sem = np.array([rate[key == v].std(axis=0, ddof=1) / np.sqrt((key == v).sum())
                    if (key == v).sum() > 1 else np.zeros(rate.shape[1]) for v in values])
    ids = (np.argsort(-(mean.max(axis=0) - mean.min(axis=0)), kind="stable")[:n_neurons]
           if neurons is None else select_neurons(neurons, rate.shape[1]))
    fig = new_figure(6.4, 3.6)
    ax = fig.add_subplot(1, 1, 1)
    for i, k in enumerate(ids):
        ax.errorbar(values, mean[:, k], yerr=sem[:, k], color=COLORS[i % len(COLORS)],
                    marker="o", markersize=3.5, linewidth=1.1, capsize=2, label=f"{int(k)}")
    unit = units.get(parameter)
    style(ax, f"{parameter}" + (f" ({unit})" if unit else ""), "mean rate (spikes/s)",
          f"{name}: tuning to {parameter}")
    ax.set_xticks(values)
    ax.legend(title="neuron id", fontsize=FONT_SMALL, title_fontsize=FONT_SMALL,
              frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.plotted = {"parameter": parameter, "values": values, "neurons": ids,
                   "rates": mean[:, ids]}
    return fig
