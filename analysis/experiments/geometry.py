"""The stimulus geometry of the V1 experiments: image side, projective-field centres, apertures.

Stimuli are drawn at the parameters' image size: M pixels must form a square
image of side sqrt(M) (16 x 16 for M = 256, 8 x 8 for M = 64); any K works.
Positions are (x, y) in pixels from the image centre, x rightward and y upward
(the stimulus convention of ``stimuli.conditions.pixel_coordinates``).
"""
from __future__ import annotations

import math

import numpy as np

from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.parameters import IPVAEParameters

#: Largest side of the natural-image patches the project ships (natural16).
NATURAL_SIDE = 16


def stimulus_side(params: IPVAEParameters) -> int:
    """Side of the square stimulus images that fit the parameters (sqrt(M)).

    Parameters
    ----------
    params : IPVAEParameters

    Returns
    -------
    int
        sqrt(M).

    Raises
    ------
    SimulationInputError
        If M is not a perfect square of at least 4 x 4 pixels.
    """
    m = params.n_pixels
    side = math.isqrt(m)
    if side * side != m or side < 4:
        raise SimulationInputError(
            f"the parameters have M = {m} pixels, which is not a square image of at least "
            f"4 x 4: the V1 experiments draw square stimuli of side sqrt(M) (e.g. M = 256 for "
            f"16 x 16 patches, M = 64 for 8 x 8)")
    return side


def check_natural_side(params: IPVAEParameters) -> int:
    """The image side for natural-image stimuli: at most 16 (central crops of natural16).

    Parameters
    ----------
    params : IPVAEParameters

    Returns
    -------
    int
        sqrt(M).

    Raises
    ------
    SimulationInputError
        If M is not square or its side exceeds the 16 x 16 natural16 patches.
    """
    side = stimulus_side(params)
    if side > NATURAL_SIDE:
        raise SimulationInputError(
            f"the parameters have M = {params.n_pixels} pixels ({side} x {side}) but the "
            f"natural images ship as {NATURAL_SIDE} x {NATURAL_SIDE} patches (natural16): the "
            f"natural experiment needs M <= {NATURAL_SIDE ** 2} (smaller sides use central "
            f"crops)")
    return side


def receptive_field_centres(params: IPVAEParameters) -> np.ndarray:
    """Centre of every neuron's projective field: the centroid of Phi_k^2 over the pixels.

    Parameters
    ----------
    params : IPVAEParameters

    Returns
    -------
    ndarray, shape (K, 2)
        (x, y) in pixels from the image centre, x rightward and y upward.
    """
    side = stimulus_side(params)
    c = (side - 1) / 2.0
    rows, cols = np.mgrid[0:side, 0:side].astype(np.float64)
    x, y = (cols - c).ravel(), (c - rows).ravel()
    energy = params.Phi ** 2
    total = energy.sum(axis=0)
    total = np.where(total > 0, total, 1.0)
    return np.stack([x @ energy / total, y @ energy / total], axis=1)


def nearest_centre(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest of ``centres`` for each of ``points``.

    Parameters
    ----------
    points : ndarray, shape (K, 2)
    centres : ndarray, shape (C, 2)

    Returns
    -------
    ndarray, shape (K,), int
    """
    d = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=-1)
    return np.argmin(d, axis=1)


def aperture_centres(side: int, offset: float) -> np.ndarray:
    """The 3 x 3 grid of aperture centres at 0 and +-``offset`` x ``side`` from the centre.

    Parameters
    ----------
    side : int
        Image side, pixels.
    offset : float
        Grid spacing as a fraction of the side.

    Returns
    -------
    ndarray, shape (9, 2)
        (x, y) pixels from the image centre, row by row from the top left.
    """
    o = np.array([-1.0, 0.0, 1.0]) * offset * side
    xs, ys = np.meshgrid(o, o[::-1])
    return np.stack([xs.ravel(), ys.ravel()], axis=1)
