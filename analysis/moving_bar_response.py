r"""Responses to a bar sweeping across the field in many directions (Hubel & Wiesel 1959).

The iP-VAE authors' public demo streams a moving bar through the network and
shows each neuron's response against the bar's direction of motion as a polar
plot; so does :func:`plot_direction_polar`. Directions are in degrees,
counter-clockwise from +x (0 = rightward, as in ``stimuli.moving_bar``); the
bar's long axis is at direction + 90.

From the response :math:`R(\theta_k)` (spike count over the sweep) at evenly
spaced directions:

- preferred direction: the angle of :math:`\sum_k R_k e^{i\theta_k}`;
- direction selectivity index

  .. math:: DSI = \frac{R_{pref} - R_{null}}{R_{pref} + R_{null}}

  with :math:`R_{pref}` the largest response and :math:`R_{null}` the
  response to the opposite direction: 0 when both directions of motion drive
  the cell equally (a static receptive field, like a simple cell without
  space-time inseparability), 1 when the opposite direction does not drive it;
- orientation selectivity of the bar responses, by the same circular
  variance as for gratings (:func:`analysis.orientation_tuning.circular_variance`).

Known case: R = [4, 2, 1, 2] at 0, 90, 180, 270 deg gives DSI = 0.6 and a
preferred direction of 0 deg. Edge cases: all-zero responses give NaN.

References
----------
Hubel, D. H. & Wiesel, T. N. (1959). Receptive fields of single neurones in the cat's striate
cortex. J Physiol 148, 574-591.
Vafaii, H., Galor, D. & Yates, J. L. (2025). Brain-like variational inference.
arXiv:2410.19315 (the moving-bar demo of the authors' repository).
"""
from __future__ import annotations

import numpy as np


def _check(directions, responses):
    d = np.asarray(directions, dtype=np.float64).ravel()
    r = np.asarray(responses, dtype=np.float64)
    if r.shape[-1] != d.size:
        raise ValueError(f"responses have {r.shape[-1]} directions on their last axis but "
                         f"{d.size} directions were given")
    if np.any(r < 0):
        raise ValueError("direction tuning needs non-negative responses")
    return d, r


def preferred_direction(directions, responses) -> np.ndarray:
    """Angle of the vector sum of the responses, degrees in [0, 360); NaN if all are 0.

    Examples
    --------
    >>> float(preferred_direction([0, 90, 180, 270], [4.0, 2.0, 1.0, 2.0]))
    0.0
    """
    d, r = _check(directions, responses)
    vector = r @ np.exp(1j * np.radians(d))
    angle = np.mod(np.degrees(np.angle(vector)), 360.0)
    return np.asarray(np.where(r.sum(axis=-1) > 0, angle, np.nan))


def direction_selectivity_index(directions, responses) -> np.ndarray:
    """DSI = (R_pref - R_null) / (R_pref + R_null), with R_null opposite the largest response.

    Parameters
    ----------
    directions : array_like, shape (n_directions,)
        Degrees; the set must contain the opposite (d + 180) of every direction.
    responses : array_like, shape (..., n_directions), non-negative

    Returns
    -------
    ndarray, shape (...)
        DSI in [0, 1]; NaN for all-zero responses.

    Examples
    --------
    >>> float(direction_selectivity_index([0, 90, 180, 270], [4.0, 2.0, 1.0, 2.0]))
    0.6
    """
    d, r = _check(directions, responses)
    # angular distance of every direction to the opposite of every other, in (-180, 180]
    gap = np.mod(d[None, :] - d[:, None] - 180.0 + 180.0, 360.0) - 180.0
    match = np.abs(gap) < 1e-6
    if not np.all(match.any(axis=1)):
        raise ValueError("the DSI needs the opposite of every direction among the directions")
    opposite = np.argmax(match, axis=1)
    pref = np.argmax(r, axis=-1)
    r_pref = np.take_along_axis(r, pref[..., None], axis=-1)[..., 0]
    r_null = np.take_along_axis(r, opposite[pref][..., None], axis=-1)[..., 0]
    total = r_pref + r_null
    with np.errstate(invalid="ignore", divide="ignore"):
        dsi = (r_pref - r_null) / total
    return np.asarray(np.where(total > 0, dsi, np.nan))


def plot_direction_polar(ax, directions, responses, label=None, color=None, normalise=True):
    """Draw one neuron's responses against bar direction on a polar axes (closed curve).

    Parameters
    ----------
    ax : matplotlib polar Axes
    directions : array_like, shape (n_directions,)
        Degrees (0 = rightward motion, counter-clockwise).
    responses : array_like, shape (n_directions,)
    label, color : optional
        Passed to ``ax.plot``.
    normalise : bool
        Divide by the largest response (all curves on one scale).

    Returns
    -------
    list of Line2D
    """
    d, r = _check(directions, responses)
    order = np.argsort(np.mod(d, 360.0))
    theta = np.radians(np.mod(d[order], 360.0))
    values = r[order]
    if normalise and values.max() > 0:
        values = values / values.max()
    theta = np.concatenate([theta, theta[:1]])
    values = np.concatenate([values, values[:1]])
    return ax.plot(theta, values, marker="o", markersize=3, label=label, color=color)
