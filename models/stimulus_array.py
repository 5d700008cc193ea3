"""Validation of a stimulus array against a dictionary: the one place its messages live.

Every consumer of stimuli (the Brian2 network, the baseline inference models, the
offline learning) accepts the same arrays and rejects the same mistakes with the same
words: a wrong number of dimensions, no stimuli, a pixel count that differs from the
number of rows M of the dictionary Phi, NaN or infinite values.
"""
from __future__ import annotations

import numpy as np

from ipvae_brian.models.errors import SimulationInputError


def check_stimulus_array(x, n_pixels: int, *, ndim: int = 2, expected: str = "N x M",
                         what: str = "stimuli",
                         dictionary: str = "the dictionary Phi") -> np.ndarray:
    """Return ``x`` as float64 if it is a valid stimulus array; raise otherwise.

    Parameters
    ----------
    x : array_like, shape (N, M) or (N, T, M)
    n_pixels : int
        M, the number of rows of the dictionary the stimuli are compared with.
    ndim : int
        2 for images, 3 for movies.
    expected : str
        How the expected shape is named in the message (e.g. ``"N x M (one image per row)"``).
    what : str
        How the stimuli are named in the messages (``"stimuli"``, ``"training stimuli"``).
    dictionary : str
        How the dictionary is named in the pixel-count message.

    Raises
    ------
    SimulationInputError
        With one line naming the problem.

    Examples
    --------
    >>> check_stimulus_array(np.zeros((3, 4)), 5)
    Traceback (most recent call last):
    ...
    ipvae_brian.models.errors.SimulationInputError: the stimuli have 4 pixels but the dictionary Phi has 5 rows (M): they must match
    """
    try:
        x = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SimulationInputError(f"the {what} are not numeric: {exc}") from None
    if x.ndim != ndim:
        raise SimulationInputError(f"{what} must be {expected}, got shape {x.shape}")
    if x.shape[0] < 1:
        raise SimulationInputError(f"no {what} given (N = 0)")
    if x.shape[-1] != n_pixels:
        raise SimulationInputError(
            f"the {what} have {x.shape[-1]} pixels but {dictionary} has {n_pixels} rows (M): "
            f"they must match")
    if not np.all(np.isfinite(x)):
        raise SimulationInputError(
            f"the {what} contain {int(np.count_nonzero(~np.isfinite(x)))} NaN or infinite "
            f"value(s)")
    return x


def check_run_stimuli(x, n_pixels: int, movie: bool, steps: int) -> np.ndarray:
    """:func:`check_stimulus_array` for a run: images (N, M), or movies (N, T, M) whose T
    frames drive the run's ``steps`` bins one frame per bin; returns ``x`` as float64."""
    x = check_stimulus_array(x, n_pixels, ndim=3 if movie else 2,
                             expected="N x T x M (movies)" if movie else
                             "N x M (one image per stimulus)")
    if movie and x.shape[1] != steps:
        raise SimulationInputError(
            f"the movies have {x.shape[1]} frames but --steps is {steps}: one frame drives "
            f"one bin, so they must match")
    return x
