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
    if np.iscomplexobj(x):
        raise SimulationInputError(f"the {what} are complex ({np.asarray(x).dtype}); pixels "
                                   f"must be real numbers")
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


#: Largest magnitude the membrane update eta (I_ff + W z - b) may reach before its terms
#: are added: far below the float64 maximum (1.8e308), so no sum overflows to inf or NaN.
MAX_UPDATE = 1e300


def check_drive(x: np.ndarray, params, block: int = 4096) -> None:
    """Refuse stimuli whose membrane update would overflow: the network computes
    eta (Phi^T x / sigma^2 + W z - b) in float64, and pixels of 1e308 (finite) or a tiny
    sigma make it infinite, then NaN.

    The bound checked per stimulus is eta (|I_ff|_max + max_i sum_j |W_ij| z_max + b_max)
    with z_max the count ceiling exp(c_u) + 10 sqrt(exp(c_u)); it is computed in O(M K)
    per stimulus (the row sums of |W| are bounded by |Phi|^T diag(1/sigma^2) |Phi| 1).

    Parameters
    ----------
    x : ndarray, shape (N, M) or (N, T, M)
        Checked stimuli (:func:`check_run_stimuli`).
    params : IPVAEParameters

    Raises
    ------
    SimulationInputError
        Naming the first stimulus whose update overflows and the value reached.
    """
    with np.errstate(all="ignore"):
        abs_phi = np.abs(params.Phi) / params.sigma[:, None] ** 2
        lateral = float(np.max(abs_phi.T @ np.abs(params.Phi).sum(axis=1)))
        ceiling = float(np.exp(params.c_u))
        other = lateral * (ceiling + 10 * np.sqrt(ceiling)) + float(np.max(params.bias))
        flat = x.reshape(x.shape[0], -1, x.shape[-1])
        for first in range(0, flat.shape[0], block):
            drive = params.feedforward_drive(flat[first:first + block])
            peak = np.max(np.abs(drive), axis=(1, 2))
            update = params.eta * (peak + other)
            bad = np.flatnonzero(~(update < MAX_UPDATE))
            if bad.size:
                n = first + int(bad[0])
                raise SimulationInputError(
                    f"stimulus {n}: the membrane update eta (Phi^T x / sigma^2 + W z - b) "
                    f"would reach {update[bad[0]]:.3g} (feed-forward drive up to "
                    f"{peak[bad[0]]:.3g}, eta = {params.eta:.3g}), beyond float64's range "
                    f"(limit {MAX_UPDATE:g}); the pixels are too large for these parameters "
                    f"(largest |pixel| {np.max(np.abs(flat[n])):.3g})")
