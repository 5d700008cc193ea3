"""Spike raster of one stimulus: the stimulus above, the sorted raster, the PSTH below.

Layout (one shared time axis in seconds from the stimulus onset)::

    title: file, stimulus, mode, neurons shown, spikes
    stimulus   movies: a strip of frames at their times; images: the image, held
    raster     one row per neuron, labelled with its id, sorted (default: by first-spike
               time, earliest on top)
    PSTH       mean rate of the shown neurons per bin (spikes/s per neuron, Elephant)

Discrete-mode recordings have no spike times: each bin's count is drawn as
ticks spread evenly within the bin (:mod:`analysis.spike_trains`), the bin
edges are drawn as faint lines and a note under the title says so.

Results held in memory (the Python API) need no file: :func:`plot_raster_from_result`
draws a ``SimulationResult`` with its stimuli.

The figure is built on matplotlib's Agg canvas without pyplot's global state,
with the axes placed in inches (so that movie frames keep square pixels), fonts
of at least 9 pt, and saved at 200 dpi with ``bbox_inches="tight"`` so that no
label is clipped.
"""
from __future__ import annotations

import math
import os

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ipvae_brian.analysis.spike_statistics import psth
from ipvae_brian.analysis.spike_trains import read_spike_trains, recording_from_result
from ipvae_brian.analysis.stimulus_figures import stimulus_label
from ipvae_brian.models.atomic_file import atomic_output
from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.recording import Recording

#: Resolution of saved figures, dots per inch.
DPI = 200
#: Orders of the raster's rows.
SORT_ORDERS = ("first-spike", "rate", "index")
#: Font sizes (points): tick labels and notes, axis labels, title.
FONT_SMALL, FONT_LABEL, FONT_TITLE = 9.0, 10.0, 10.5

# geometry, inches
_WIDTH = 7.0
_LEFT, _RIGHT = 0.95, 0.25
_MIN_FRAME = 0.28         # narrowest movie frame in the strip
_IMAGE_HEIGHT = 0.85      # static image
_PSTH_HEIGHT = 1.15
_GAP = 0.12


def _sort_order(trains, sort: str) -> np.ndarray:
    """Positions of the neurons from top to bottom for one stimulus."""
    counts = trains.spike_counts()[0]
    first = np.array([trains.train(0, b)[0] if counts[b] else np.inf
                      for b in range(trains.neurons.size)])
    ids = trains.neurons
    if sort == "first-spike":     # earliest first; silent neurons last; ties: more spikes first
        return np.lexsort((ids, -counts, first))
    if sort == "rate":            # most spikes first; ties: earlier first spike
        return np.lexsort((ids, first, -counts))
    return np.argsort(ids, kind="stable")


def _frame_step(n_frames: int, axes_width: float) -> int:
    """Show every k-th frame so that each is at least ``_MIN_FRAME`` inches wide."""
    return max(1, math.ceil(n_frames / max(1, math.floor(axes_width / _MIN_FRAME))))


def _ordinal(k: int) -> str:
    return {2: "2nd", 3: "3rd"}.get(k, f"{k}th")


def plot_raster(recording, stimulus: int = 0, neurons=None, sort: str = "first-spike",
                psth_bin_width: float | None = None) -> Figure:
    """Draw the spike raster of one stimulus with the stimulus above and the PSTH below.

    Parameters
    ----------
    recording : Recording or InMemoryRecording or str or os.PathLike
        A recording (continuous or discrete mode), its path, or results held in memory
        with their stimuli (:func:`~ipvae_brian.analysis.spike_trains.recording_from_arrays`;
        for a ``SimulationResult`` see :func:`plot_raster_from_result`).
    stimulus : int
        Index of the stimulus (0 to N - 1).
    neurons : None, str, slice or sequence of int
        Neurons to show (default: all K); ``"0:64"`` or ``"3,17,42"``
        (:func:`analysis.spike_trains.select_neurons`).
    sort : {"first-spike", "rate", "index"}
        Row order, top to bottom: by first-spike time (earliest on top; silent
        neurons last), by spike count (highest on top), or by neuron index.
    psth_bin_width : float, optional
        PSTH bin width in seconds (default: the recording's bin width tau).

    Returns
    -------
    matplotlib.figure.Figure
        On an Agg canvas. ``fig.axes`` are ``[stimulus, raster, psth]`` (a
        static image adds a fourth, the image, inside the stimulus row); the
        raster's spikes are one ``PathCollection`` with one point per spike
        (``fig.raster_spike_count`` holds their number), and
        ``fig.raster_order`` the neuron indices from top to bottom.

    Raises
    ------
    SimulationInputError
        Stimulus index out of range, an invalid neuron selection or sort order.
    FileFormatError
        The file is not a recording.
    """
    if sort not in SORT_ORDERS:
        raise SimulationInputError(f"--sort must be one of {', '.join(SORT_ORDERS)}, "
                                   f"got {sort!r}")
    if isinstance(recording, (str, os.PathLike)):
        with Recording.open(recording) as rec:
            return plot_raster(rec, stimulus, neurons, sort, psth_bin_width)
    rec = recording
    if rec.stimuli is None:
        raise SimulationInputError("a raster draws the stimulus above the spikes: give the "
                                   "stimuli with the in-memory results")
    n_stimuli = int(rec.counts.shape[0])
    if isinstance(stimulus, bool) or int(stimulus) != stimulus or not 0 <= stimulus < n_stimuli:
        raise SimulationInputError(
            f"stimulus {stimulus} is out of range: the recording has {n_stimuli} stimuli "
            f"(0 to {n_stimuli - 1})")
    stimulus = int(stimulus)
    trains = read_spike_trains(rec, stimuli=[stimulus], neurons=neurons)
    tau, duration = trains.bin_width, trains.duration
    T = int(round(duration / tau))
    bin_width = tau if psth_bin_width is None else float(psth_bin_width)
    if not bin_width > 0:
        raise SimulationInputError(f"the PSTH bin width must be positive, got {bin_width} s")
    order = _sort_order(trains, sort)
    n = order.size
    stimset = rec.stimuli

    # --- geometry (inches) ------------------------------------------------------------------
    axes_width = _WIDTH - _LEFT - _RIGHT
    h_px, w_px = stimset.image_shape
    if stimset.is_movie:
        step = _frame_step(T, axes_width)
        slot = axes_width * step / T
        strip_height = slot * h_px / w_px
    else:
        step, strip_height = 0, _IMAGE_HEIGHT
    raster_height = float(np.clip(0.045 * n, 1.6, 4.5))
    title_lines = 3 if trains.times_from_counts else 2
    title_height = 0.2 * title_lines + 0.1
    height = title_height + strip_height + _GAP + raster_height + _GAP + _PSTH_HEIGHT + 0.55
    fig = Figure(figsize=(_WIDTH, height))
    FigureCanvasAgg(fig)

    def axes_at(bottom: float, h: float, **kw):
        return fig.add_axes((_LEFT / _WIDTH, bottom / height, axes_width / _WIDTH, h / height),
                            **kw)

    y_psth = 0.55
    y_raster = y_psth + _PSTH_HEIGHT + _GAP
    y_strip = y_raster + raster_height + _GAP
    ax_stim = axes_at(y_strip, strip_height)
    ax_raster = axes_at(y_raster, raster_height, sharex=ax_stim)
    ax_psth = axes_at(y_psth, _PSTH_HEIGHT, sharex=ax_stim)

    # --- stimulus ---------------------------------------------------------------------------
    x = stimset.x[stimulus]
    vmax = float(np.max(np.abs(x))) or 1.0
    image_style = dict(cmap="gray", vmin=-vmax, vmax=vmax, interpolation="nearest",
                       aspect="auto")
    ax_stim.set_ylim(0, 1)
    ax_stim.set_yticks([])
    ax_stim.tick_params(axis="x", labelbottom=False, length=0)
    for spine in ax_stim.spines.values():
        spine.set_visible(False)
    if stimset.is_movie:
        gap = 0.04 * step * tau
        for t in range(0, T - step + 1, step):
            x0, x1 = t * tau + gap, (t + step) * tau - gap
            ax_stim.imshow(x[t].reshape(h_px, w_px), extent=(x0, x1, 0, 1), **image_style)
            ax_stim.add_patch(Rectangle((x0, 0), x1 - x0, 1, fill=False, linewidth=0.5,
                                        edgecolor="0.3"))
        shown = "every frame" if step == 1 else f"every {_ordinal(step)} frame"
        ax_stim.set_ylabel(f"stimulus\n({shown})", fontsize=FONT_SMALL, rotation=0,
                           ha="right", va="center", labelpad=6)
    else:
        image_width = _IMAGE_HEIGHT * w_px / h_px
        ax_image = fig.add_axes((_LEFT / _WIDTH, y_strip / height, image_width / _WIDTH,
                                 strip_height / height))
        ax_image.imshow(x.reshape(h_px, w_px), **{**image_style, "aspect": "equal"})
        ax_image.set_xticks([])
        ax_image.set_yticks([])
        for spine in ax_image.spines.values():
            spine.set_linewidth(0.5)
            spine.set_color("0.4")
        ax_stim.set_ylabel("stimulus", fontsize=FONT_SMALL, rotation=0, ha="right",
                           va="center", labelpad=6)
        ax_stim.text(1.15 * image_width / axes_width, 0.5,
                     f"static image ({h_px}x{w_px} pixels), shown throughout "
                     f"(0 to {duration:g} s)", transform=ax_stim.transAxes,
                     fontsize=FONT_SMALL, va="center", ha="left")

    # --- raster -----------------------------------------------------------------------------
    row_of = np.empty(n, dtype=np.int64)
    row_of[order] = np.arange(n)
    times = trains.times
    rows = np.repeat(row_of, trains.spike_counts()[0])      # spikes are grouped by neuron
    row_points = raster_height * 72.0 / n
    tick = float(np.clip(0.8 * row_points, 1.0, 8.0))
    ax_raster.scatter(times, rows, marker="|", s=tick ** 2, linewidths=0.7, color="black",
                      rasterized=times.size > 50_000)
    if trains.times_from_counts:
        for edge in np.arange(1, T) * tau:
            ax_raster.axvline(edge, color="0.85", linewidth=0.4, zorder=0)
    ax_raster.set_ylim(n - 0.5, -0.5)
    # every labelled row names its neuron (the id, not the rank), as many as fit
    per_label = max(1, int(np.ceil(n / max(1.0, raster_height * 72.0 / (FONT_SMALL * 1.3)))))
    ticks = np.arange(0, n, per_label)
    ax_raster.set_yticks(ticks)
    ax_raster.set_yticklabels([str(int(trains.neurons[order[r]])) for r in ticks])
    by = {"first-spike": "by first spike", "rate": "by spike count", "index": "by index"}[sort]
    every = f", every {_ordinal(per_label)} row labelled" if per_label > 1 else ""
    ax_raster.set_ylabel(f"neuron id\n(sorted {by}{every})", fontsize=FONT_LABEL)
    ax_raster.tick_params(axis="x", labelbottom=False)

    # --- PSTH ---------------------------------------------------------------------------------
    neo_trains = trains.to_neo()[0]
    rate = psth(neo_trains, bin_width, t_start=0.0, t_stop=duration)
    values = rate.magnitude.ravel()
    edges = np.arange(values.size + 1) * bin_width
    ax_psth.stairs(values, edges, fill=True, color="0.55", linewidth=0)
    ax_psth.stairs(values, edges, color="black", linewidth=0.8)
    ax_psth.set_ylim(0, max(1.0, float(values.max()) * 1.3) if values.size else 1.0)
    ax_psth.set_xlim(0, duration)
    ax_psth.set_ylabel("rate (spikes/s\nper neuron)", fontsize=FONT_LABEL)
    ax_psth.set_xlabel("time from stimulus onset (s)", fontsize=FONT_LABEL)
    ax_psth.text(0.995, 0.96, f"PSTH, {bin_width * 1e3:g} ms bins, mean of {n} neurons",
                 transform=ax_psth.transAxes, ha="right", va="top", fontsize=FONT_SMALL,
                 color="0.25")

    for ax in (ax_raster, ax_psth):
        ax.tick_params(labelsize=FONT_SMALL, direction="out", length=3)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)

    # --- title ----------------------------------------------------------------------------------
    label = stimulus_label(stimset, stimulus).replace("\n", ", ")
    name = os.path.basename(rec.path)
    mode = ("continuous mode, dt = " + f"{trains.dt * 1e3:g} ms" if not trains.times_from_counts
            else "discrete mode")
    lines = [f"{name}: stimulus {stimulus} of {n_stimuli} ({stimset.name}, {label})",
             f"{mode}, {T} bins of {tau * 1e3:g} ms; {n} of {int(rec.counts.shape[2])} "
             f"neurons, {trains.n_spikes:,} spikes"]
    if trains.times_from_counts:
        lines.append(f"no spike times recorded: each bin's count is drawn as ticks spread "
                     f"evenly within its {tau * 1e3:g} ms bin")
    top = 1.0 - 0.08 / height
    fig.text(_LEFT / _WIDTH, top, lines[0], fontsize=FONT_TITLE, fontweight="bold",
             va="top", ha="left")
    fig.text(_LEFT / _WIDTH, top - 0.21 / height, "\n".join(lines[1:]), fontsize=FONT_SMALL,
             va="top", ha="left", linespacing=1.35,
             color="firebrick" if trains.times_from_counts else "0.2")
    fig.raster_spike_count = int(times.size)
    fig.raster_order = trains.neurons[order]
    return fig


def plot_raster_from_result(result, stimuli, stimulus: int = 0, neurons=None,
                            sort: str = "first-spike", psth_bin_width: float | None = None,
                            name: str = "in-memory results") -> Figure:
    """:func:`plot_raster` of a simulation held in memory: no file needed.

    Parameters
    ----------
    result : SimulationResult
        What :func:`ipvae_brian.models.simulation.simulate` returned with its counts kept
        (the default without ``out``); continuous mode gives the recorded spike times,
        discrete mode ticks spread within the bins.
    stimuli : StimulusSet or ndarray, shape (N, M) or (N, T, M)
        The stimuli given to ``simulate`` (drawn above the raster).
    stimulus, neurons, sort, psth_bin_width
        As for :func:`plot_raster`.
    name : str
        Shown in the title in place of a file name.

    Returns
    -------
    matplotlib.figure.Figure
        As :func:`plot_raster`; save it with :func:`save_figure`.

    Examples
    --------
    >>> result = simulate(params, x, RunConfig(steps=16, dt=0.0005))  # doctest: +SKIP
    >>> save_figure(plot_raster_from_result(result, x, stimulus=0), "raster.png")  # doctest: +SKIP
    """
    return plot_raster(recording_from_result(result, stimuli, name), stimulus, neurons, sort,
                       psth_bin_width)


def save_figure(fig: Figure, path) -> str:
    """Save a figure atomically at 200 dpi, format from the suffix (png, pdf, svg, ...).

    Raises
    ------
    SimulationInputError
        Unknown suffix, or an output folder that does not exist or is not writable.
    """
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower().lstrip(".")
    formats = fig.canvas.get_supported_filetypes()
    if suffix not in formats:
        raise SimulationInputError(f"--out {path!r}: unknown figure format {suffix!r}; use "
                                   f"one of {', '.join(sorted(formats))}")
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format=suffix, dpi=DPI, bbox_inches="tight", pad_inches=0.06)
    return path
