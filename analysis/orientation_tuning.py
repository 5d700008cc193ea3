r"""Orientation tuning: circular variance, bandwidth at 1/sqrt(2) of the peak, OSI.

Angles are in degrees. Responses are non-negative (counts or rates; every
measure here is scale-free). A drifting grating's *direction* theta and
theta + 180 deg share one *orientation*; all three measures use the
orientation period of 180 deg, so direction data can be passed as they are.

Circular variance (Ringach, Shapley & Hawken 2002), over the sampled angles
:math:`\theta_k` with responses :math:`r_k`:

.. math:: CV = 1 - \frac{\left|\sum_k r_k e^{2 i \theta_k}\right|}{\sum_k r_k}

0 for a response at a single orientation, 1 for a flat curve. Known case: the
von Mises curve :math:`r(\theta) = e^{\kappa \cos 2(\theta - \theta_0)}`
sampled evenly over 180 deg has :math:`CV = 1 - I_1(\kappa) / I_0(\kappa)`
(modified Bessel functions; exact up to the error of the evenly sampled sum,
about :math:`I_{N-1}(\kappa) / I_0(\kappa)` for N samples: below 1e-7 for
N = 12 and kappa <= 2).

Bandwidth (Ringach et al. 2002): half the angular distance between the two
points around the peak where the (interpolated) orientation tuning curve
falls to :math:`1/\sqrt 2` of its peak. For the von Mises curve above it is
:math:`\frac{1}{2}\arccos\left(1 - \frac{\ln 2}{2\kappa}\right)` (radians),
e.g. 20.0 deg at kappa = 1.48 and 14.5 deg at kappa = 2.77. The curve is
interpolated with a periodic cubic spline at 0.1 deg (no smoothing; Ringach et
al. smoothed with a Hanning window of 13.5 deg half-width at half-height); a
curve that never falls to :math:`1/\sqrt 2` of its peak on one side within 90
deg gets the largest possible value, 90 deg (Ringach et al. report such cells
at their ceiling); that value is a bound, not a width, and the orientation
experiment excludes and counts it. Accuracy: within 0.1 deg of the von Mises value for 24
samples over 180 deg and kappa <= 10; with coarser sampling a tuning curve
narrower than the sampling step is only known to be narrower than the step.

Orientation selectivity index (e.g. Niell & Stryker 2008):

.. math:: OSI = \frac{R_{pref} - R_{orth}}{R_{pref} + R_{orth}}

with :math:`R_{pref}` the largest response of the orientation curve and
:math:`R_{orth}` the response 90 deg away (interpolated if not sampled); 0
for an untuned and 1 for a perfectly tuned cell; 1/3 means R_pref = 2 R_orth.

Edge cases: all-zero responses give NaN for every measure. The angles must
be sampled evenly for CV to mean what it says (uneven sampling weights some
orientations more); the functions check it.

References
----------
Ringach, D. L., Shapley, R. M. & Hawken, M. J. (2002). Orientation selectivity in macaque V1:
diversity and laminar dependence. J Neurosci 22, 5639-5651.
Niell, C. M. & Stryker, M. P. (2008). Highly selective receptive fields in mouse visual cortex.
J Neurosci 28, 7520-7536.
Swindale, N. V. (1998). Orientation tuning curves: empirical description and estimation of
parameters. Biol Cybern 78, 45-56 (von Mises tuning curves).
"""
from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline

#: Period of orientation, degrees.
ORIENTATION_PERIOD = 180.0
#: Resolution of the interpolated tuning curve used for the bandwidth, degrees.
BANDWIDTH_RESOLUTION = 0.1


def _check(angles, responses):
    angles = np.asarray(angles, dtype=np.float64).ravel()
    r = np.asarray(responses, dtype=np.float64)
    if r.shape[-1] != angles.size:
        raise ValueError(f"responses have {r.shape[-1]} angles on their last axis but "
                         f"{angles.size} angles were given")
    if np.any(r < 0):
        raise ValueError("orientation tuning needs non-negative responses (rates or counts)")
    return angles, r


def orientation_tuning_curve(angles, responses):
    """Fold responses at any angles (e.g. drift directions) onto orientations in [0, 180).

    Parameters
    ----------
    angles : array_like, shape (n_angles,)
        Degrees; theta and theta + 180 are the same orientation.
    responses : array_like, shape (..., n_angles)

    Returns
    -------
    orientations : ndarray, shape (n_orientations,)
        The distinct orientations in [0, 180), ascending.
    curve : ndarray, shape (..., n_orientations)
        Mean response over the angles of each orientation.

    Examples
    --------
    >>> o, c = orientation_tuning_curve([0, 90, 180, 270], [4.0, 1.0, 2.0, 1.0])
    >>> o, c
    (array([ 0., 90.]), array([3., 1.]))
    """
    angles, r = _check(angles, responses)
    folded = np.round(np.mod(angles, ORIENTATION_PERIOD), 9) % ORIENTATION_PERIOD
    orientations, index = np.unique(folded, return_inverse=True)
    curve = np.zeros(r.shape[:-1] + (orientations.size,))
    np.add.at(curve.T, index, np.moveaxis(r, -1, 0))
    return orientations, curve / np.bincount(index)


def _evenly_spaced(orientations) -> bool:
    steps = np.diff(np.concatenate([orientations, [orientations[0] + ORIENTATION_PERIOD]]))
    return bool(np.allclose(steps, steps[0], rtol=1e-6, atol=1e-9))


def circular_variance(angles, responses) -> np.ndarray:
    r"""Circular variance of orientation tuning, :math:`1 - |\sum r e^{2i\theta}| / \sum r`.

    Parameters
    ----------
    angles : array_like, shape (n_angles,)
        Degrees (orientations or drift directions), evenly spaced over 180 or 360 deg.
    responses : array_like, shape (..., n_angles), non-negative

    Returns
    -------
    ndarray, shape (...)
        CV in [0, 1]; NaN where all responses are 0.

    Examples
    --------
    >>> float(circular_variance([0, 45, 90, 135], [1.0, 0.0, 0.0, 0.0]))
    0.0
    >>> round(float(circular_variance([0, 45, 90, 135], [2.0, 2.0, 2.0, 2.0])), 12)
    1.0
    >>> from scipy.special import i0, i1
    >>> theta = np.arange(0, 180, 15.0)
    >>> cv = circular_variance(theta, np.exp(2.0 * np.cos(np.radians(2 * (theta - 30)))))
    >>> bool(abs(cv - (1 - i1(2.0) / i0(2.0))) < 1e-7)
    True
    """
    angles, r = _check(angles, responses)
    orientations, _ = orientation_tuning_curve(angles, np.zeros(angles.size))
    if not _evenly_spaced(orientations):
        raise ValueError("circular variance needs orientations evenly spaced over 180 deg, "
                         f"got {orientations.tolist()}")
    phase = np.exp(2j * np.radians(angles))
    total = r.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cv = 1.0 - np.abs(r @ phase) / total
    return np.asarray(np.where(total > 0, np.clip(cv, 0.0, 1.0), np.nan))


def preferred_orientation(angles, responses) -> np.ndarray:
    """Preferred orientation from the vector sum, half the angle of sum r exp(2 i theta).

    Parameters
    ----------
    angles : array_like, shape (n_angles,)
        Degrees.
    responses : array_like, shape (..., n_angles), non-negative

    Returns
    -------
    ndarray, shape (...)
        Degrees in [0, 180); NaN where all responses are 0.

    Examples
    --------
    >>> float(preferred_orientation([0, 45, 90, 135], [1.0, 3.0, 1.0, 1.0]))
    45.0
    """
    angles, r = _check(angles, responses)
    vector = r @ np.exp(2j * np.radians(angles))
    pref = np.mod(np.degrees(np.angle(vector)) / 2.0, ORIENTATION_PERIOD)
    return np.asarray(np.where(r.sum(axis=-1) > 0, pref, np.nan))


def _bandwidth_one(orientations, curve) -> float:
    if not np.any(curve > 0):
        return float("nan")
    if np.allclose(curve, curve[0]):
        return ORIENTATION_PERIOD / 2
    x = np.concatenate([orientations, [orientations[0] + ORIENTATION_PERIOD]])
    y = np.concatenate([curve, [curve[0]]])
    spline = CubicSpline(x, y, bc_type="periodic")
    fine = np.arange(0.0, ORIENTATION_PERIOD, BANDWIDTH_RESOLUTION) + orientations[0]
    values = spline(fine)
    peak = int(np.argmax(values))
    criterion = values[peak] / np.sqrt(2.0)
    n = fine.size
    half = n // 2
    widths = []
    for direction in (1, -1):
        offsets = np.arange(1, half + 1)
        ahead = values[(peak + direction * offsets) % n]
        below = np.flatnonzero(ahead <= criterion)
        if below.size == 0:
            return ORIENTATION_PERIOD / 2
        k = below[0]
        previous = values[peak] if k == 0 else ahead[k - 1]
        # linear interpolation of the crossing between offsets k and k + 1 (in steps)
        fraction = (previous - criterion) / (previous - ahead[k]) if previous != ahead[k] else 0.0
        widths.append((k + fraction) * BANDWIDTH_RESOLUTION)
    return float(min(sum(widths) / 2.0, ORIENTATION_PERIOD / 2))


def orientation_bandwidth(angles, responses) -> np.ndarray:
    """Half-width of the orientation tuning curve at 1/sqrt(2) of its peak (Ringach et al. 2002).

    Parameters
    ----------
    angles : array_like, shape (n_angles,)
        Degrees (orientations or drift directions); at least 4 distinct orientations.
    responses : array_like, shape (..., n_angles), non-negative

    Returns
    -------
    ndarray, shape (...)
        Degrees in (0, 90]; 90 for a curve that does not fall to 1/sqrt(2) of its peak
        within 90 deg on each side (including a flat curve); NaN for all-zero responses.

    Examples
    --------
    >>> theta = np.arange(0, 180, 5.0)
    >>> kappa = np.log(2) / (2 * (1 - np.cos(np.radians(40))))    # half-width 20 deg
    >>> round(float(orientation_bandwidth(theta, np.exp(kappa * np.cos(np.radians(2 * theta))))), 1)
    20.0
    """
    orientations, curve = orientation_tuning_curve(angles, responses)
    if orientations.size < 4:
        raise ValueError(f"the bandwidth needs at least 4 distinct orientations, got "
                         f"{orientations.size}")
    flat = curve.reshape(-1, orientations.size)
    out = np.array([_bandwidth_one(orientations, row) for row in flat])
    return out.reshape(curve.shape[:-1])


def orientation_selectivity_index(angles, responses) -> np.ndarray:
    """OSI = (R_pref - R_orth) / (R_pref + R_orth) of the orientation tuning curve.

    Parameters
    ----------
    angles : array_like, shape (n_angles,)
        Degrees (orientations or drift directions); directions are folded onto
        orientations first (mean of theta and theta + 180).
    responses : array_like, shape (..., n_angles), non-negative

    Returns
    -------
    ndarray, shape (...)
        OSI in [0, 1] (R_pref is the curve's maximum, R_orth the response 90 deg away,
        linearly interpolated on the periodic curve if not sampled); NaN for all-zero
        responses.

    Examples
    --------
    >>> float(orientation_selectivity_index([0, 45, 90, 135], [6.0, 3.0, 2.0, 3.0]))
    0.5
    """
    orientations, curve = orientation_tuning_curve(angles, responses)
    pref_index = np.argmax(curve, axis=-1)
    r_pref = np.take_along_axis(curve, pref_index[..., None], axis=-1)[..., 0]
    orth = np.mod(orientations[pref_index] + ORIENTATION_PERIOD / 2, ORIENTATION_PERIOD)
    x = np.concatenate([orientations, [orientations[0] + ORIENTATION_PERIOD]])
    flat_curve = curve.reshape(-1, orientations.size)
    flat_orth = np.asarray(orth).reshape(-1)
    r_orth = np.array([np.interp(np.mod(o - x[0], ORIENTATION_PERIOD) + x[0], x,
                                 np.concatenate([row, [row[0]]]))
                       for o, row in zip(flat_orth, flat_curve)]).reshape(r_pref.shape)
    total = r_pref + r_orth
    with np.errstate(invalid="ignore", divide="ignore"):
        osi = (r_pref - r_orth) / total
    return np.asarray(np.where(total > 0, osi, np.nan))
