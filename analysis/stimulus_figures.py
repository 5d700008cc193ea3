"""Preview figures of stimulus sets: a grid of example images, or strips of movie frames.

The figure is drawn on matplotlib's Agg canvas without touching pyplot's global state, so it
works headless and inside other programs.
"""
from __future__ import annotations

import math
import pathlib

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ipvae_brian.stimuli.stimulus_set import StimulusSet

#: Resolution of saved previews, dots per inch.
DPI = 200
#: Side of one image panel, inches.
PANEL_INCHES = 0.95
#: At most this many movies (rows) in a movie preview.
MAX_MOVIES = 4

_UNIT_SUFFIX = {"deg": "\N{DEGREE SIGN}", "cycles/pixel": " c/px", "cycles/bin": " c/bin",
                "pixels": " px"}


def _format_value(value, unit: str) -> str:
    if value is None:
        return "full"
    if isinstance(value, (float, np.floating)):
        text = f"{float(value):.3g}"
    else:
        text = str(value)
    return text + _UNIT_SUFFIX.get(unit, "")


def stimulus_label(stimset: StimulusSet, i: int) -> str:
    """Short text naming stimulus ``i``: varying grid values, class label, or index.

    Parameters
    ----------
    stimset : StimulusSet
    i : int
        Stimulus index.

    Returns
    -------
    str
    """
    conditions = stimset.conditions()
    units = stimset.params.get("units", {})
    if conditions:
        varying = [k for k, v in conditions.items() if len({repr(x) for x in v}) > 1]
        if varying:
            short = {"orientation": "ori", "direction": "dir", "contrast": "c",
                     "mask_contrast": "mask c", "diameter": "d", "polarity": "pol"}
            return "\n".join(f"{short.get(k, k)} {_format_value(conditions[k][i], units.get(k, ''))}"
                             for k in varying[:3])
        return f"#{i}"
    if stimset.name == "sparse_noise" and stimset.labels is not None:
        m = stimset.n_pixels
        label = int(stimset.labels[i])
        row, col = divmod(label % m, stimset.image_shape[1])
        return f"({row},{col}) {'on' if label < m else 'off'}"
    if stimset.labels is not None:
        return f"label {stimset.labels[i]}"
    return f"#{i}"


def _title(stimset: StimulusSet, width_chars: int) -> str:
    h, w = stimset.image_shape
    spec = stimset.params.get("spec", stimset.name)
    if len(spec) > width_chars:  # break long specs after commas
        lines, line = [], ""
        for part in spec.split(","):
            piece = part if not line else "," + part
            if line and len(line) + len(piece) > width_chars:
                lines.append(line + ",")
                line = part
            else:
                line += piece
        spec = "\n".join(lines + [line])
    shape = f"{stimset.n_stimuli:,} stimuli of {h}x{w} pixels"
    if stimset.is_movie:
        shape = f"{stimset.n_stimuli:,} movies of {stimset.n_frames} frames x {h}x{w} pixels"
    return f"{spec}\n{shape}"


def _image_axes_style(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_linewidth(0.5)
        spine.set_color("0.4")


def plot_stimulus_preview(stimset: StimulusSet, path, n_examples: int = 16) -> pathlib.Path:
    """Draw a preview of a stimulus set and save it (PNG, PDF or SVG by the file suffix).

    Images: a grid of the first ``n_examples`` stimuli, each titled by its condition (varying
    grid parameters), class label or index. Movies: one row per movie for the first
    ``min(N, 4)`` movies, ``min(T, n_examples)`` frames evenly spaced from the first to the
    last, titled by frame index. One grey colour map symmetric about zero (0 = the grey mean
    level) for all panels, with a colour bar; saved at 200 dpi.

    Parameters
    ----------
    stimset : StimulusSet
        Images (N x M) or movies (N x T x M).
    path : str or pathlib.Path
        Output file; its folder must exist.
    n_examples : int
        Number of images (images) or frames per strip (movies), >= 1.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    if n_examples < 1:
        raise ValueError(f"n_examples = {n_examples} must be >= 1")
    path = pathlib.Path(path)
    h, w = stimset.image_shape
    if stimset.is_movie:
        n_rows = min(stimset.n_stimuli, MAX_MOVIES)
        frame_idx = np.unique(np.round(
            np.linspace(0, stimset.n_frames - 1, min(stimset.n_frames, n_examples))).astype(int))
        n_cols = frame_idx.size
        shown = stimset.x[:n_rows][:, frame_idx]                   # (rows, cols, M)
    else:
        n_shown = min(stimset.n_stimuli, n_examples)
        n_cols = math.ceil(math.sqrt(n_shown))
        n_rows = math.ceil(n_shown / n_cols)
        shown = stimset.x[:n_shown]
    vmax = float(np.max(np.abs(shown))) or 1.0

    fig = Figure(figsize=(PANEL_INCHES * n_cols + 1.2, PANEL_INCHES * n_rows + 0.9),
                 layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_2d(fig.subplots(n_rows, n_cols, squeeze=False))
    image = None
    for r in range(n_rows):
        for c in range(n_cols):
            ax = axes[r, c]
            _image_axes_style(ax)
            if stimset.is_movie:
                pixels = shown[r, c]
                if r == 0:
                    ax.set_title(f"t = {frame_idx[c]}", fontsize=7)
                if c == 0:
                    ax.set_ylabel(stimulus_label(stimset, r), fontsize=7)
            else:
                i = r * n_cols + c
                if i >= shown.shape[0]:
                    ax.set_axis_off()
                    continue
                pixels = shown[i]
                ax.set_title(stimulus_label(stimset, i), fontsize=6.5)
            image = ax.imshow(pixels.reshape(h, w), cmap="gray", vmin=-vmax, vmax=vmax,
                              interpolation="nearest")
    fig.suptitle(_title(stimset, max(20, int(fig.get_figwidth() * 11))), fontsize=8.5)
    bar = fig.colorbar(image, ax=axes, shrink=0.8, aspect=25, pad=0.02)
    bar.set_label("pixel value (0 = grey)", fontsize=7)
    bar.ax.tick_params(labelsize=6.5)
    fig.savefig(path, dpi=DPI, bbox_inches="tight", pad_inches=0.05)
    return path
