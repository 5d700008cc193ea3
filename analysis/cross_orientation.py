r"""Cross-orientation suppression: a grating's response shrinks when an orthogonal mask is added.

For a neuron's response :math:`R_{test}` to a test grating at its preferred
orientation and :math:`R_{plaid}` to the same grating plus an orthogonal mask
(a plaid),

.. math:: XOS = \frac{R_{test} - R_{plaid}}{R_{test}} = 1 - \frac{R_{plaid}}{R_{test}},

positive for suppression (1: the mask silences the cell), 0 for no effect,
negative for facilitation; dimensionless. A linear neuron whose receptive
field is orthogonal to the mask (zero inner product) has XOS = 0: any
suppression must come from a non-linearity or from other neurons (divisive
normalisation in V1 models; lateral inhibition in the iP-VAE). Known case:
R_plaid = R_test / 2 gives XOS = 0.5.

Edge cases: R_test = 0 gives NaN (nothing to suppress).

V1 reference (``docs/ephys_reference.md``): the response to test + orthogonal
mask lies below the test alone in most cells (Morrone, Burr & Maffei 1982;
Priebe & Ferster 2006).

References
----------
Morrone, M. C., Burr, D. C. & Maffei, L. (1982). Functional implications of cross-orientation
inhibition of cortical visual cells. I. Neurophysiological evidence. Proc R Soc Lond B 216,
335-354.
Priebe, N. J. & Ferster, D. (2006). Mechanisms underlying cross-orientation suppression in cat
visual cortex. Nat Neurosci 9, 552-561.
"""
from __future__ import annotations

import numpy as np


def cross_orientation_suppression_index(test_response, plaid_response) -> np.ndarray:
    """XOS = 1 - R_plaid / R_test for each neuron.

    Parameters
    ----------
    test_response : array_like, shape (...)
        Response to the test grating alone (non-negative).
    plaid_response : array_like, shape (...)
        Response to the test grating plus the orthogonal mask (non-negative).

    Returns
    -------
    ndarray, shape (...)
        XOS in (-inf, 1]; NaN where R_test is 0.

    Examples
    --------
    >>> cross_orientation_suppression_index([4.0, 4.0, 0.0], [2.0, 6.0, 1.0])
    array([ 0.5, -0.5,  nan])
    """
    test = np.asarray(test_response, dtype=np.float64)
    plaid = np.asarray(plaid_response, dtype=np.float64)
    if np.any(test < 0) or np.any(plaid < 0):
        raise ValueError("cross-orientation suppression needs non-negative responses")
    with np.errstate(invalid="ignore", divide="ignore"):
        xos = 1.0 - plaid / test
    return np.asarray(np.where(test > 0, xos, np.nan))


def fraction_suppressed(xos, threshold: float = 0.0) -> float:
    """Fraction of the neurons (with a defined XOS) whose XOS exceeds ``threshold``.

    Examples
    --------
    >>> fraction_suppressed([0.5, -0.5, np.nan, 0.2])
    0.6666666666666666
    """
    x = np.asarray(xos, dtype=np.float64)
    x = x[np.isfinite(x)]
    return float(np.mean(x > threshold)) if x.size else float("nan")
