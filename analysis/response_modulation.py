r"""Response modulation to drifting gratings: F1/F0, the simple / complex cell index.

For a response time course (PSTH) :math:`r_0, \dots, r_{N-1}` sampled in bins
while a grating drifts at f cycles per bin, over a whole number of cycles
(N f an integer),

.. math::
    F_0 = \frac{1}{N} \sum_t r_t, \qquad
    F_1 = \frac{2}{N} \left| \sum_t r_t \, e^{-2\pi i f t} \right|, \qquad
    \text{modulation ratio} = F_1 / F_0,

the mean response and the amplitude of its first harmonic (Skottun et al.
1991). Known cases: :math:`r_t = B + A\cos(2\pi f t + \phi)` gives A / B; a
half-wave rectified sinusoid :math:`\max(A \sin(2\pi f t), 0)` gives
:math:`F_0 = A/\pi`, :math:`F_1 = A/2`, ratio :math:`\pi/2 \approx 1.571`; a
full-wave rectified one (modulated at 2f only) gives 0. (Sampling the
rectified sinusoid at p points per cycle shifts the ratio by O(1/p^2):
1.591 at p = 16, 1.572 at p = 64.) Ratios above 1 mark
simple cells (linear spatial summation, half-wave rectified), below 1
complex cells. Dimensionless; the ratio is at most 2 for non-negative
responses.

The spontaneous rate is not subtracted (it lowers the ratio of weakly driven
cells; Skottun et al. discuss both conventions).

Edge cases: F0 = 0 gives NaN. A window that is not a whole number of cycles
leaks power between harmonics: it is rejected.

V1 reference (``docs/ephys_reference.md``): the distribution of F1/F0 across
V1 cells is bimodal, split near 1 (Skottun et al. 1991). :func:`bimodality_coefficient`
quantifies bimodality.

References
----------
Skottun, B. C., De Valois, R. L., Grosof, D. H., Movshon, J. A., Albrecht, D. G. & Bonds,
A. B. (1991). Classifying simple and complex cells on the basis of response modulation.
Vision Res 31, 1079-1086.
Pfister, R., Schwarz, K. A., Janczyk, M., Dale, R. & Freeman, J. B. (2013). Good things peak in
pairs: a note on the bimodality coefficient. Front Psychol 4, 700.
"""
from __future__ import annotations

import numpy as np
from scipy import stats


def f1_f0(psth, cycles_per_bin: float) -> np.ndarray:
    """Modulation ratio F1/F0 of response time courses to a drifting grating.

    Parameters
    ----------
    psth : array_like, shape (..., n_bins)
        Mean response in each bin (counts or rates), non-negative, over a whole number of
        stimulus cycles.
    cycles_per_bin : float
        Temporal frequency f of the grating, cycles per bin (0 < f <= 0.5).

    Returns
    -------
    ndarray, shape (...)
        F1/F0 in [0, 2]; NaN where F0 is 0.

    Raises
    ------
    ValueError
        If n_bins * f is not a whole number of cycles, or f is out of range.

    Examples
    --------
    >>> t = np.arange(2048)                       # 2 cycles of 1024 samples
    >>> round(float(f1_f0(np.maximum(np.sin(2 * np.pi * t / 1024), 0), 1 / 1024)), 4)  # pi/2
    1.5708
    >>> t = np.arange(64)
    >>> round(float(f1_f0(2 + np.cos(2 * np.pi * t / 16), 1 / 16)), 12)
    0.5
    """
    r = np.asarray(psth, dtype=np.float64)
    n = r.shape[-1]
    if not 0 < cycles_per_bin <= 0.5:
        raise ValueError(f"the temporal frequency must be in (0, 0.5] cycles/bin, got "
                         f"{cycles_per_bin}")
    cycles = n * cycles_per_bin
    if abs(cycles - round(cycles)) > 1e-6 or round(cycles) < 1:
        raise ValueError(f"F1/F0 needs a whole number of cycles: {n} bins at {cycles_per_bin:g} "
                         f"cycles/bin is {cycles:g} cycles")
    if np.any(r < 0):
        raise ValueError("F1/F0 needs non-negative responses")
    f0 = r.mean(axis=-1)
    f1 = 2.0 / n * np.abs(r @ np.exp(-2j * np.pi * cycles_per_bin * np.arange(n)))
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = f1 / f0
    return np.asarray(np.where(f0 > 0, ratio, np.nan))


def bimodality_coefficient(values) -> float:
    r"""Sarle's bimodality coefficient BC of a sample.

    .. math:: BC = \frac{g^2 + 1}{k + \frac{3 (n-1)^2}{(n-2)(n-3)}}

    with g the sample skewness and k the sample excess kurtosis (both bias-corrected).
    BC = 5/9 for a uniform distribution; larger values suggest bimodality (Pfister et al.
    2013). A normal sample gives about 1/3.

    Parameters
    ----------
    values : array_like
        The sample (NaNs ignored); at least 4 values.

    Returns
    -------
    float
        BC, dimensionless; NaN with fewer than 4 finite values or no spread.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> bool(bimodality_coefficient(rng.standard_normal(20000)) < 0.4)
    True
    >>> two = np.concatenate([rng.normal(0.5, 0.1, 5000), rng.normal(1.6, 0.1, 5000)])
    >>> bool(bimodality_coefficient(two) > 5 / 9)
    True
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    n = x.size
    if n < 4 or x.std() == 0:
        return float("nan")
    g = stats.skew(x, bias=False)
    k = stats.kurtosis(x, fisher=True, bias=False)
    return float((g ** 2 + 1) / (k + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3))))
