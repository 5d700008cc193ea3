"""Parameter checks and condition grids shared by the synthetic generators.

Every check raises :class:`~stimuli.stimulus_set.StimulusError` with a message that names the
parameter, the value given and the allowed range, e.g.
``"contrast = -0.5 is out of range; allowed range: contrast >= 0"``.

A generator that accepts a scalar or a sequence for several parameters builds the Cartesian
product of the given values (:func:`condition_grid`), in the order the generator documents, with
the last parameter varying fastest (``itertools.product`` / C order). The set's ``labels`` hold
the condition index and ``params["grid"]`` the values per parameter, so that
``StimulusSet.conditions()`` recovers each stimulus's parameters.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

from ipvae_brian.stimuli.stimulus_set import StimulusError

#: Highest spatial frequency a pixel grid can carry, cycles/pixel (Nyquist).
NYQUIST = 0.5


def _is_sequence(value) -> bool:
    return isinstance(value, (Sequence, np.ndarray)) and not isinstance(value, (str, bytes))


def as_list(name: str, value) -> list:
    """A scalar or a sequence as a non-empty list."""
    if _is_sequence(value):
        values = list(np.asarray(value).ravel().tolist()) if isinstance(value, np.ndarray) \
            else list(value)
        if not values:
            raise StimulusError(f"{name} is an empty sequence; give at least one value")
        return values
    return [value]


def _describe_range(name, lo, hi, unit, lo_open=False, hi_open=False) -> str:
    unit = f" {unit}" if unit else ""
    lo_op = "<" if lo_open else "<="
    hi_op = "<" if hi_open else "<="
    if lo is not None and hi is not None:
        return f"{lo:g} {lo_op} {name} {hi_op} {hi:g}{unit}"
    if lo is not None:
        return f"{name} {'>' if lo_open else '>='} {lo:g}{unit}"
    if hi is not None:
        return f"{name} {hi_op} {hi:g}{unit}"
    return f"any finite {name}{unit}"


def check_real(name: str, value, lo=None, hi=None, unit: str = "", lo_open=False,
               hi_open=False, why: str = "") -> float:
    """One finite real value inside a range, as float (else StimulusError naming the range)."""
    allowed = _describe_range(name, lo, hi, unit, lo_open, hi_open)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise StimulusError(
            f"{name} = {value!r} is not a number; allowed range: {allowed}") from None
    if isinstance(value, bool) or not math.isfinite(number):
        raise StimulusError(f"{name} = {value!r} is not a finite number; allowed range: {allowed}")
    low_bad = lo is not None and (number <= lo if lo_open else number < lo)
    high_bad = hi is not None and (number >= hi if hi_open else number > hi)
    if low_bad or high_bad:
        unit_text = f" {unit}" if unit else ""
        reason = f" {why}" if why and high_bad else ""
        raise StimulusError(
            f"{name} = {number:g}{unit_text} is out of range{reason}; allowed range: {allowed}")
    return number


def check_int(name: str, value, lo=None, hi=None, unit: str = "") -> int:
    """One integer inside a range (else StimulusError naming the range)."""
    allowed = _describe_range(name, lo, hi, unit)
    if isinstance(value, bool):
        raise StimulusError(f"{name} = {value!r} is not an integer; allowed range: {allowed}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, (int, np.integer)):
        raise StimulusError(f"{name} = {value!r} is not an integer; allowed range: {allowed}")
    value = int(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        unit_text = f" {unit}" if unit else ""
        raise StimulusError(f"{name} = {value}{unit_text} is out of range; allowed range: {allowed}")
    return value


def check_reals(name: str, value, **limits) -> list:
    """A scalar or sequence of reals, each checked by :func:`check_real`; returns a list."""
    return [check_real(name, v, **limits) for v in as_list(name, value)]


def check_spatial_frequency(name: str, value) -> list:
    """Spatial frequencies in cycles/pixel, each in [0, 0.5] (the Nyquist limit)."""
    return check_reals(name, value, lo=0.0, hi=NYQUIST, unit="cycles/pixel",
                       why=f"(above the Nyquist limit of {NYQUIST} cycles/pixel)")


def check_diameters(name: str, value) -> list:
    """Aperture diameters in pixels (> 0), or None for a full-field stimulus."""
    out = []
    for v in as_list(name, value):
        if v is None or (isinstance(v, str) and v.lower() in ("none", "full", "inf")):
            out.append(None)
        elif isinstance(v, float) and math.isinf(v) and v > 0:
            out.append(None)
        else:
            out.append(check_real(name, v, lo=0.0, lo_open=True, unit="pixels"))
    return out


def condition_grid(axes: dict) -> tuple[dict, list]:
    """The Cartesian product of per-parameter value lists.

    Parameters
    ----------
    axes : dict of str -> list
        Values per parameter, in product order (the last varies fastest).

    Returns
    -------
    grid : dict of str -> list
        The same lists (JSON-serialisable), to store as ``params["grid"]``.
    conditions : list of dict
        One dict per condition, in product order; condition ``i`` has label ``i``.
    """
    names = list(axes)
    conditions = [dict(zip(names, combo)) for combo in itertools.product(*axes.values())]
    return {k: list(v) for k, v in axes.items()}, conditions


def pixel_coordinates(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates of a ``size x size`` image, relative to its centre.

    Convention shared by all generators: ``x`` grows to the right (along columns), ``y`` grows
    upward (against the row index, rows are counted downward), both in pixels; the origin is the
    image centre, ``((size - 1) / 2, (size - 1) / 2)`` in (row, col).

    Returns
    -------
    x, y : ndarray, shape (size, size), float64
    """
    c = (size - 1) / 2.0
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)
    return cols - c, c - rows
