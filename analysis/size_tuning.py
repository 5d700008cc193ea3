r"""Size tuning: responses to gratings of growing diameter and the surround-suppression index.

.. math:: SI = \frac{R_{peak} - R_{largest}}{R_{peak}}

over the tested diameters, with :math:`R_{peak}` the largest response and
:math:`R_{largest}` the response to the largest diameter (Cavanaugh, Bair &
Movshon 2002). SI = 0 when the response keeps growing or saturates (no
suppression), 1 when the largest grating silences the cell; dimensionless,
in [0, 1] for non-negative responses. The *preferred diameter* (the
"summation field" size) is the diameter of the peak.

Known case: the difference-of-integrals model of Sceniak et al. (1999), an
excitatory centre of width a and gain k_e minus a wider suppressive surround
(b > a, gain k_i),

.. math::
    R(d) = k_e \frac{a\sqrt\pi}{2} \operatorname{erf}(d / a)
         - k_i \frac{b\sqrt\pi}{2} \operatorname{erf}(d / b),

peaks where :math:`k_e e^{-(d/a)^2} = k_i e^{-(d/b)^2}`, i.e. at
:math:`d^* = \sqrt{\ln(k_e / k_i) / (a^{-2} - b^{-2})}`, so SI of a sampled
curve that includes :math:`d^*` is :math:`(R(d^*) - R(d_{max})) / R(d^*)`.

Here SI is computed on the measured responses (no curve fit): with few
diameters the sampled peak may miss the true one, which lowers SI slightly.
The function takes the responses it is given; the size experiment
(``analysis.experiments.size``) passes evoked responses (the spontaneous rate
subtracted, clipped at 0).

Edge cases: all-zero responses give NaN.

V1 reference (``docs/ephys_reference.md``): most cells are suppressed, SI
spread from 0 to 1 (Cavanaugh et al. 2002).

References
----------
Cavanaugh, J. R., Bair, W. & Movshon, J. A. (2002). Nature and interaction of signals from the
receptive field center and surround in macaque V1 neurons. J Neurophysiol 88, 2530-2546.
Sceniak, M. P., Ringach, D. L., Hawken, M. J. & Shapley, R. (1999). Contrast's effect on
spatial summation by macaque V1 neurons. Nat Neurosci 2, 733-739.
"""
from __future__ import annotations

import numpy as np
from scipy.special import erf


def difference_of_integrals(diameter, k_e, a, k_i, b):
    """Sceniak et al.'s size-tuning model: centre minus surround integrals (see the notes).

    Parameters
    ----------
    diameter : array_like
        Grating diameters (any length unit; a and b in the same unit).
    k_e, a : float
        Gain and width of the excitatory centre.
    k_i, b : float
        Gain and width of the suppressive surround.

    Returns
    -------
    ndarray
        Responses at ``diameter``.
    """
    d = np.asarray(diameter, dtype=np.float64)
    return (k_e * a * np.sqrt(np.pi) / 2 * erf(d / a)
            - k_i * b * np.sqrt(np.pi) / 2 * erf(d / b))


def _order(diameters, responses):
    d = np.asarray(diameters, dtype=np.float64).ravel()
    r = np.asarray(responses, dtype=np.float64)
    if r.shape[-1] != d.size:
        raise ValueError(f"responses have {r.shape[-1]} diameters on their last axis but "
                         f"{d.size} diameters were given")
    if np.any(r < 0):
        raise ValueError("size tuning needs non-negative responses (rates or counts)")
    order = np.argsort(d)
    return d[order], r[..., order]


def surround_suppression_index(diameters, responses) -> np.ndarray:
    """SI = (R_peak - R_largest) / R_peak over grating diameters.

    Parameters
    ----------
    diameters : array_like, shape (n_diameters,)
        Diameters (e.g. pixels), in any order; use ``numpy.inf`` for a full-field grating.
    responses : array_like, shape (..., n_diameters), non-negative

    Returns
    -------
    ndarray, shape (...)
        SI in [0, 1]; NaN where all responses are 0.

    Examples
    --------
    >>> float(surround_suppression_index([2, 4, 8, 16], [1.0, 4.0, 3.0, 1.0]))
    0.75
    >>> float(surround_suppression_index([2, 4, 8, 16], [1.0, 2.0, 3.0, 4.0]))
    0.0
    """
    d, r = _order(diameters, responses)
    peak = r.max(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        si = (peak - r[..., -1]) / peak
    return np.asarray(np.where(peak > 0, si, np.nan))


def preferred_diameter(diameters, responses) -> np.ndarray:
    """Diameter of the largest response (the summation-field size), shape (...).

    Ties go to the smallest diameter; NaN where all responses are 0.

    Examples
    --------
    >>> float(preferred_diameter([2, 4, 8, 16], [1.0, 4.0, 3.0, 1.0]))
    4.0
    """
    d, r = _order(diameters, responses)
    return np.asarray(np.where(r.max(axis=-1) > 0, d[np.argmax(r, axis=-1)], np.nan))
