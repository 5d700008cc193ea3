r"""Lifetime and population sparseness of non-negative responses (Treves-Rolls / Vinje-Gallant).

For n non-negative responses :math:`r_1, \dots, r_n`,

.. math::
    S = \frac{1 - \dfrac{\left(\sum_i r_i\right)^2}{n \sum_i r_i^2}}{1 - 1/n}
      = \frac{1 - \dfrac{\langle r \rangle^2}{\langle r^2 \rangle}}{1 - 1/n}

(``docs/model.md``; Vinje & Gallant 2000, after Rolls & Tovee 1995). S = 0 when all n
responses are equal and S = 1 when exactly one is non-zero ("one-hot"); in
between, for a response that is equal on a fraction a of the n items and 0
elsewhere, S = (1 - a) / (1 - 1/n). It is scale-free (S(c r) = S(r) for
c > 0) and dimensionless.

- *Lifetime sparseness* of one neuron: S over the n stimuli it is shown.
- *Population sparseness* of one stimulus: S over the n neurons.

Edge cases (both functions): a set whose responses are all zero has no
defined sparseness (0/0) and gives NaN; so does n = 1 (the normaliser
1 - 1/n is 0). NaN responses propagate to NaN. Negative responses are
rejected (the measure assumes rates or counts).

V1 reference (``docs/ephys_reference.md``): lifetime sparseness rises when
natural movies also cover the non-classical surround (Vinje & Gallant 2000);
population sparseness is high for natural images, most neurons being silent
(Willmore, Mazer & Gallant 2011).

References
----------
Rolls, E. T. & Tovee, M. J. (1995). Sparseness of the neuronal representation of stimuli in
the primate temporal visual cortex. J Neurophysiol 73, 713-726.
Vinje, W. E. & Gallant, J. L. (2000). Sparse coding and decorrelation in primary visual cortex
during natural vision. Science 287, 1273-1276.
Willmore, B. D. B., Mazer, J. A. & Gallant, J. L. (2011). Sparse coding in striate and
extrastriate visual cortex. J Neurophysiol 105, 2907-2919.
Vafaii, H., Galor, D. & Yates, J. L. (2025). Brain-like variational inference.
arXiv:2410.19315 (lifetime and population sparseness of the iP-VAE).
"""
from __future__ import annotations

import numpy as np


def sparseness(responses, axis: int = 0) -> np.ndarray:
    r"""Treves-Rolls sparseness S of non-negative responses along one axis.

    .. math:: S = \frac{1 - (\sum r)^2 / (n \sum r^2)}{1 - 1/n}

    Parameters
    ----------
    responses : array_like, non-negative
        Responses (counts or rates; any unit, S is scale-free).
    axis : int
        The axis of the n items the sparseness is taken over.

    Returns
    -------
    ndarray
        S in [0, 1] for every position of the other axes (``responses`` with ``axis``
        removed); NaN where all n responses are 0 or n = 1.

    Raises
    ------
    ValueError
        If a response is negative.

    Examples
    --------
    >>> float(sparseness([0.0, 0.0, 3.0, 0.0]))      # one-hot
    1.0
    >>> float(sparseness([2.0, 2.0, 2.0, 2.0]))      # flat
    0.0
    >>> float(sparseness([1.0, 1.0, 0.0, 0.0]))   # half the items: (1 - 1/2) / (1 - 1/4)
    0.6666666666666666
    """
    r = np.asarray(responses, dtype=np.float64)
    if np.any(r < 0):
        raise ValueError(f"sparseness needs non-negative responses (rates or counts); got a "
                         f"minimum of {np.nanmin(r):g}")
    n = r.shape[axis]
    total = r.sum(axis=axis)
    squares = (r * r).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = (1.0 - total ** 2 / (n * squares)) / (1.0 - 1.0 / n)
    s = np.where(squares > 0, s, np.nan) if n > 1 else np.full_like(total, np.nan)
    # rounding can put a flat or one-hot response a hair outside [0, 1]
    return np.asarray(np.clip(s, 0.0, 1.0))


def lifetime_sparseness(responses) -> np.ndarray:
    """Lifetime sparseness of every neuron over the stimuli.

    Parameters
    ----------
    responses : array_like, shape (n_stimuli, n_neurons), non-negative
        Response of each neuron to each stimulus (e.g. spike counts in a window).

    Returns
    -------
    ndarray, shape (n_neurons,)
        S of each neuron's column (see the module formula); NaN for a neuron that never
        responds, or if n_stimuli = 1.

    Examples
    --------
    >>> r = np.array([[0.0, 1.0], [0.0, 1.0], [5.0, 1.0]])   # neuron 0 one-hot, neuron 1 flat
    >>> lifetime_sparseness(r)
    array([1., 0.])
    """
    r = np.asarray(responses, dtype=np.float64)
    if r.ndim != 2:
        raise ValueError(f"responses must be (n_stimuli, n_neurons), got shape {r.shape}")
    return sparseness(r, axis=0)


def population_sparseness(responses) -> np.ndarray:
    """Population sparseness of every stimulus over the neurons.

    Parameters
    ----------
    responses : array_like, shape (n_stimuli, n_neurons), non-negative
        Response of each neuron to each stimulus.

    Returns
    -------
    ndarray, shape (n_stimuli,)
        S of each stimulus's row; NaN for a stimulus no neuron responds to, or if
        n_neurons = 1.

    Examples
    --------
    >>> r = np.array([[0.0, 0.0, 2.0], [1.0, 1.0, 1.0]])
    >>> population_sparseness(r)
    array([1., 0.])
    """
    r = np.asarray(responses, dtype=np.float64)
    if r.ndim != 2:
        raise ValueError(f"responses must be (n_stimuli, n_neurons), got shape {r.shape}")
    return sparseness(r, axis=1)
