"""A bar sweeping across the field: the Hubel & Wiesel demo of the iP-VAE authors.

Geometry (coordinates as in :mod:`stimuli.gratings`: x rightward, y upward, origin at the image
centre, pixels):

- the bar is a strip of width ``w = width * size`` pixels (default ``width = 0.2``, the
  authors' 0.2 x patch size), infinitely long (it spans the field), perpendicular to the
  direction of motion ``d = (cos(direction), sin(direction))``;
- along ``u = x cos(direction) + y sin(direction)`` the field (the square of pixel areas)
  extends over ``[-E, E]`` with ``E = size / 2 * (|cos| + |sin|)``;
- on the first sweep frame the bar's trailing edge lies on the field's entry edge
  (bar over ``[-E, -E + w]``, touching the field's edge), on the last sweep frame its leading
  edge lies on the exit edge (``[E - w, E]``); in between it moves at constant speed
  ``(2 E - w) / (frames - 1)`` pixels per bin, so it crosses the whole field within the
  requested frames;
- ``blank`` grey (all-zero) frames come before and after the sweep;
- pixel value = ``polarity * contrast / sqrt(width) * coverage``, where ``coverage`` in
  [0, 1] is the exact fraction of the pixel's unit square covered by the bar (anti-aliased, so
  that sub-pixel motion is visible). The amplitude ``1 / sqrt(width)`` makes the mean-square
  pixel value of a frame with an axis-aligned bar fully inside equal ``contrast**2``: the same
  pixel power as a contrast-1 grating or a z-scored natural16 patch.

References
----------
Hubel, D. H. & Wiesel, T. N. (1959). Receptive fields of single neurones in the cat's striate
cortex. J Physiol 148, 574-591.
"""
from __future__ import annotations

import math

import numpy as np

from ipvae_brian.stimuli.conditions import (check_int, check_real, check_reals, condition_grid,
                                pixel_coordinates)
from ipvae_brian.stimuli.stimulus_set import StimulusError, StimulusSet

#: Bar width as a fraction of the patch side, as in the authors' demo.
DEFAULT_WIDTH = 0.2

UNITS = {"direction": "deg", "contrast": "1", "polarity": "+1 bright / -1 dark",
         "frames": "bins", "blank": "bins", "width": "fraction of size", "size": "pixels",
         "bar_width_pixels": "pixels", "amplitude": "pixel value"}

# Below this |cos| or |sin| the bar is treated as axis-aligned (error of order 1e-7 pixel).
_AXIS_EPS = 1e-7


def _ramp_integral(s: np.ndarray) -> np.ndarray:
    """Q(s) = max(s, 0)**2 / 2."""
    return 0.5 * np.maximum(s, 0.0) ** 2


def _pixel_fraction_below(t: np.ndarray, a: float, b: float) -> np.ndarray:
    """Fraction of a unit pixel square where ``a*s1 + b*s2 <= t`` (s1, s2 in [-1/2, 1/2]).

    ``a*s1 + b*s2`` is the sum of two uniform variables of widths ``a`` and ``b``; its
    cumulative distribution is the trapezoid's integral written with :func:`_ramp_integral`.
    """
    a, b = max(a, b), min(a, b)
    if b < _AXIS_EPS:
        return np.clip(t / a + 0.5, 0.0, 1.0)
    c1, c2 = (a + b) / 2.0, (a - b) / 2.0
    q = _ramp_integral
    inside = np.clip(t, -c1, c1)  # outside the support the answer is exactly 0 or 1
    cdf = (q(inside + c1) - q(inside + c2) - q(inside - c2) + q(inside - c1)) / (a * b)
    return np.where(t <= -c1, 0.0, np.where(t >= c1, 1.0, np.clip(cdf, 0.0, 1.0)))


def bar_coverage(size: int, direction: float, low: float, high: float) -> np.ndarray:
    """Exact fraction of each pixel covered by the strip ``low <= u <= high``.

    Parameters
    ----------
    size : int
        Image side, pixels.
    direction : float
        Direction of ``u``, degrees counter-clockwise from +x.
    low, high : float
        Strip edges along ``u``, pixels from the image centre.

    Returns
    -------
    ndarray, shape (size, size), float64 in [0, 1]
    """
    x, y = pixel_coordinates(size)
    theta = math.radians(direction)
    cos_t, sin_t = math.cos(theta), math.sin(theta)
    u = x * cos_t + y * sin_t
    a, b = abs(cos_t), abs(sin_t)
    return _pixel_fraction_below(high - u, a, b) - _pixel_fraction_below(low - u, a, b)


def moving_bar(direction=0.0, frames=32, blank=4, width=DEFAULT_WIDTH, contrast=1.0,
               polarity=1, size=16) -> StimulusSet:
    """Movies of a bar sweeping across the field (Hubel & Wiesel 1959; the authors' demo).

    Parameters
    ----------
    direction : float or sequence of float
        Direction of motion, degrees counter-clockwise from +x (0 = rightward, 90 = upward);
        the bar's long axis is at ``direction + 90``.
    frames : int
        Sweep frames (bins), >= 2: the bar touches the entry edge on the first and the exit
        edge on the last.
    blank : int
        Grey (zero) frames before and after the sweep, >= 0.
    width : float
        Bar width as a fraction of ``size``, 0 < width <= 0.5 (default 0.2: 3.2 pixels on 16).
    contrast : float or sequence of float
        >= 0; the bar's amplitude is ``contrast / sqrt(width)`` (see the module notes).
    polarity : {1, -1} or sequence
        +1 bright bar, -1 dark bar.
    size : int
        Image side, pixels.

    Returns
    -------
    StimulusSet
        ``x`` of shape (N, blank + frames + blank, size**2); conditions in the order
        direction, contrast, polarity (last fastest); ``labels`` = condition index.

    References
    ----------
    Hubel, D. H. & Wiesel, T. N. (1959). J Physiol 148, 574-591.
    """
    size = check_int("size", size, lo=2, unit="pixels")
    frames = check_int("frames", frames, lo=2, unit="bins")
    blank = check_int("blank", blank, lo=0, unit="bins")
    width = check_real("width", width, lo=0.0, hi=0.5, lo_open=True, unit="fraction of size")
    polarities = []
    for p in (polarity if isinstance(polarity, (list, tuple, np.ndarray)) else [polarity]):
        if isinstance(p, bool) or p not in (1, -1):
            raise StimulusError(
                f"polarity = {p!r} is not allowed; allowed values: 1 (bright) or -1 (dark)")
        polarities.append(int(p))
    grid, conditions = condition_grid({
        "direction": check_reals("direction", direction, unit="deg"),
        "contrast": check_reals("contrast", contrast, lo=0.0),
        "polarity": polarities,
    })
    bar_w = width * size
    amplitude_per_contrast = 1.0 / math.sqrt(width)
    n_t = blank + frames + blank
    x = np.zeros((len(conditions), n_t, size * size))
    for i, c in enumerate(conditions):
        theta = math.radians(c["direction"])
        extent = size / 2.0 * (abs(math.cos(theta)) + abs(math.sin(theta)))
        starts = np.linspace(-extent, extent - bar_w, frames)
        amp = c["polarity"] * c["contrast"] * amplitude_per_contrast
        for k, low in enumerate(starts):
            cover = bar_coverage(size, c["direction"], low, low + bar_w)
            x[i, blank + k] = amp * cover.reshape(-1)
    given = {"direction": direction, "contrast": contrast, "polarity": polarity}
    params = {}
    for key, value in given.items():
        params[key] = grid[key] if isinstance(value, (list, tuple, np.ndarray)) else grid[key][0]
    params.update({
        "frames": frames, "blank": blank, "width": width, "size": size,
        "bar_width_pixels": bar_w, "amplitude_per_contrast": amplitude_per_contrast,
        "grid": grid, "grid_order": list(grid), "units": UNITS,
        "convention": ("x rightward, y upward, origin at the image centre; direction = motion "
                       "direction, deg counter-clockwise from +x; bar from touching the entry "
                       "edge (first sweep frame) to touching the exit edge (last), constant "
                       "speed; value = polarity*contrast/sqrt(width)*pixel coverage"),
    })
    return StimulusSet(name="moving_bar", x=x, image_shape=(size, size), params=params,
                       labels=np.arange(len(conditions)))
