r"""Contrast response functions and their Naka-Rushton (hyperbolic ratio) fit.

.. math:: R(c) = R_{max} \frac{c^n}{c^n + c_{50}^n} + R_0

with contrast c >= 0, the response amplitude :math:`R_{max}` and baseline
:math:`R_0` in the responses' unit (spikes/s or counts), the exponent n
(dimensionless; it sets the steepness, and the curve is expansive, like
:math:`c^n`, well below :math:`c_{50}`) and the semi-saturation contrast
:math:`c_{50}` (the contrast of half the maximal increment, in the contrasts'
unit). Known case: :math:`R(c_{50}) = R_{max}/2 + R_0`; the fit recovers
(n, c50) of a noiseless curve to 1e-6 and, with 1% noise on 8 contrasts
spanning c50, within a few percent.

The fit is least squares (``scipy.optimize.curve_fit``, trust-region
reflective) with bounds :math:`R_{max} \ge 0`, :math:`0.1 \le n \le 10`,
:math:`c_{50}` between 1% of the lowest non-zero contrast and 10 times the
highest, :math:`R_0 \ge 0`, from several starting exponents, keeping the
best. A fit whose n or c50 ends at a bound (``at_bound``) is not a measurement
of that parameter: the V1 comparison excludes it and counts it. A curve
that does not saturate within the tested contrasts determines :math:`c_{50}`
poorly (R_max and c50 trade off); ``saturates`` says whether
the fitted c50 lies inside the tested range.

V1 reference (``docs/ephys_reference.md``): n about 2 to 3 (range 1 to 5), c50
widely spread, tens of percent contrast (Albrecht & Hamilton 1982; Sclar,
Maunsell & Lennie 1990).

References
----------
Naka, K. I. & Rushton, W. A. H. (1966). S-potentials from colour units in the retina of fish.
J Physiol 185, 536-555.
Albrecht, D. G. & Hamilton, D. B. (1982). Striate cortex of monkey and cat: contrast response
function. J Neurophysiol 48, 217-237.
Sclar, G., Maunsell, J. H. R. & Lennie, P. (1990). Coding of image contrast in central visual
pathways of the macaque monkey. Vision Res 30, 1-10.
"""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

#: Bounds of the exponent n.
EXPONENT_BOUNDS = (0.1, 10.0)
#: Starting exponents of the fit (the best fit is kept).
START_EXPONENTS = (1.0, 2.0, 4.0)


def naka_rushton(contrast, r_max, n, c50, baseline=0.0):
    """R(c) = r_max c^n / (c^n + c50^n) + baseline.

    Parameters
    ----------
    contrast : array_like
        Contrasts, >= 0.
    r_max, n, c50, baseline : float
        See the module notes.

    Returns
    -------
    ndarray
        Responses at ``contrast``.

    Examples
    --------
    >>> float(naka_rushton(0.2, r_max=30.0, n=2.5, c50=0.2, baseline=2.0))
    17.0
    """
    c = np.asarray(contrast, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.where(c > 0, 1.0 / (1.0 + (c50 / np.where(c > 0, c, 1.0)) ** n), 0.0)
    return r_max * ratio + baseline


@dataclasses.dataclass(frozen=True)
class NakaRushtonFit:
    """Fitted Naka-Rushton parameters of one contrast response curve.

    Attributes
    ----------
    r_max, n, c50, baseline : float
        See the module notes (NaN if the fit failed or the curve is flat).
    r_squared : float
        Fraction of the response variance across contrasts explained by the fit.
    saturates : bool
        True if c50 lies within the tested contrasts (then it is well determined).
    at_bound : bool
        True if n or c50 ended at a bound of the fit (within 0.1%, see
        :func:`fit_at_bound`): the data do not determine it, and the value is the
        bound, not a measurement; such fits are excluded from the V1 statistics.
    """

    r_max: float
    n: float
    c50: float
    baseline: float
    r_squared: float
    saturates: bool
    at_bound: bool = False

    def __call__(self, contrast):
        return naka_rushton(contrast, self.r_max, self.n, self.c50, self.baseline)


def fit_naka_rushton(contrasts, responses) -> NakaRushtonFit:
    """Fit R(c) = R_max c^n / (c^n + c50^n) + R_0 to one contrast response curve.

    Parameters
    ----------
    contrasts : array_like, shape (n_contrasts,)
        Tested contrasts, >= 0, at least 4 distinct values.
    responses : array_like, shape (n_contrasts,)
        Mean response at each contrast (spikes/s or counts).

    Returns
    -------
    NakaRushtonFit
        All NaN (and ``saturates`` False) when the responses do not vary.

    Examples
    --------
    >>> c = np.array([0, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.0])
    >>> fit = fit_naka_rushton(c, naka_rushton(c, 30.0, 2.5, 0.2, 2.0))
    >>> round(fit.n, 4), round(fit.c50, 4), round(fit.r_max, 3), round(fit.baseline, 3)
    (2.5, 0.2, 30.0, 2.0)
    """
    c = np.asarray(contrasts, dtype=np.float64).ravel()
    r = np.asarray(responses, dtype=np.float64).ravel()
    if c.size != r.size:
        raise ValueError(f"{c.size} contrasts but {r.size} responses")
    if np.any(c < 0):
        raise ValueError("contrasts must be >= 0")
    if np.unique(c).size < 4:
        raise ValueError(f"a Naka-Rushton fit needs at least 4 distinct contrasts, got "
                         f"{np.unique(c).size}")
    nan = float("nan")
    keep = np.isfinite(r)
    c, r = c[keep], r[keep]
    if r.size < 4 or np.ptp(r) <= 0:
        return NakaRushtonFit(nan, nan, nan, nan, nan, False)
    positive = c[c > 0]
    c_lo, c_hi = 0.01 * positive.min(), 10.0 * c.max()
    lower = [0.0, EXPONENT_BOUNDS[0], c_lo, 0.0]
    upper = [np.inf, EXPONENT_BOUNDS[1], c_hi, np.inf]
    order = np.argsort(c)
    base0 = max(float(r[order[0]]), 0.0)
    amp0 = max(float(r.max() - base0), 1e-9)
    half = base0 + amp0 / 2
    above = c[order][r[order] >= half]
    c50_0 = float(np.clip(above[0] if above.size else c.max(), c_lo * 1.01, c_hi * 0.99))
    best, best_sse = None, np.inf
    for n0 in START_EXPONENTS:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", OptimizeWarning)
                p, _ = curve_fit(naka_rushton, c, r, p0=[amp0, n0, c50_0, base0],
                                 bounds=(lower, upper), method="trf", maxfev=20000)
        except (RuntimeError, ValueError):
            continue
        sse = float(np.sum((naka_rushton(c, *p) - r) ** 2))
        if sse < best_sse:
            best, best_sse = p, sse
    if best is None:
        return NakaRushtonFit(nan, nan, nan, nan, nan, False)
    ss_tot = float(np.sum((r - r.mean()) ** 2))
    r_max, n, c50, baseline = (float(v) for v in best)
    return NakaRushtonFit(r_max=r_max, n=n, c50=c50, baseline=baseline,
                          r_squared=1.0 - best_sse / ss_tot,
                          saturates=bool(positive.min() <= c50 <= c.max()),
                          at_bound=fit_at_bound(n, c50, (c_lo, c_hi)))


#: Relative distance to a bound within which a fitted parameter counts as stuck there.
BOUND_TOLERANCE = 1e-3


def fit_at_bound(n: float, c50: float, c50_bounds: tuple) -> bool:
    """Whether n (bounds :data:`EXPONENT_BOUNDS`) or c50 ended at a bound of the fit.

    A parameter within :data:`BOUND_TOLERANCE` (relative) of a bound is stuck there:
    a step-like curve drives n to its upper bound 10, a curve still rising at the
    highest contrast drives c50 to 10 times that contrast.

    Examples
    --------
    >>> fit_at_bound(10.0, 0.2, (0.001, 10.0)), fit_at_bound(2.5, 0.2, (0.001, 10.0))
    (True, False)
    """
    def near(value, bound):
        return abs(value - bound) <= BOUND_TOLERANCE * abs(bound)
    return bool(any(near(n, b) for b in EXPONENT_BOUNDS)
                or any(near(c50, b) for b in c50_bounds))
