"""Reconstruction and sparsity metrics of the paper (evaluated on exact integer counts).

References
----------
Vafaii, Galor & Yates (2025), "Brain-like variational inference", arXiv:2410.19315,
section on evaluation (R^2 per sample, MSE, fraction of zero counts).
"""
from __future__ import annotations

import numpy as np


def r_squared(x: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
    """Coefficient of determination of each sample's reconstruction.

    .. math:: R^2 = 1 - \\frac{\\sum_m (x_m - \\hat x_m)^2}{\\sum_m (x_m - \\bar x)^2}

    with the mean taken over the sample's own pixels; the paper averages it over samples.

    Parameters
    ----------
    x : ndarray, shape (..., M)
        Stimuli.
    x_hat : ndarray, shape (..., M)
        Reconstructions, broadcastable against ``x`` (e.g. x of shape (N, 1, M) and
        x_hat of shape (N, T, M) give R^2 for every bin).

    Returns
    -------
    ndarray, shape (...)
        1 for a perfect reconstruction, 0 for reconstructing the sample mean,
        negative when worse. NaN for a constant sample (zero variance).

    Examples
    --------
    >>> x = np.array([[1.0, -1.0, 2.0, 0.0]])
    >>> float(r_squared(x, x)[0]), float(r_squared(x, np.zeros_like(x) + x.mean())[0])
    (1.0, 0.0)
    """
    x = np.asarray(x, dtype=np.float64)
    x_hat = np.asarray(x_hat, dtype=np.float64)
    residual = np.sum((x - x_hat) ** 2, axis=-1)
    total = np.sum((x - x.mean(axis=-1, keepdims=True)) ** 2, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 - residual / np.where(total > 0, total, np.nan)


def mse(x: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
    """Squared error summed over pixels, per sample: sum_m (x_m - x_hat_m)^2, shape (...).

    Examples
    --------
    >>> float(mse(np.array([1.0, 2.0]), np.array([0.0, 0.0])))
    5.0
    """
    return np.sum((np.asarray(x, float) - np.asarray(x_hat, float)) ** 2, axis=-1)


def fraction_zeros(counts: np.ndarray, axis=None) -> np.ndarray:
    """Fraction of zero counts (the paper's %-zeros, as a fraction in [0, 1]).

    For Poisson counts of rate r the expected value is exp(-r) per neuron.

    Parameters
    ----------
    counts : ndarray, shape (N, T, K)
    axis : int or tuple, optional
        Axes to average over; ``(0, 2)`` gives one value per bin t.

    Examples
    --------
    >>> float(fraction_zeros(np.array([[0, 3], [0, 0]])))
    0.75
    """
    return np.mean(np.asarray(counts) == 0, axis=axis)
