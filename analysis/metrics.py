"""Reconstruction and sparsity metrics of the paper (evaluated on exact integer counts).

References
----------
Vafaii, Galor & Yates (2025), "Brain-like variational inference", arXiv:2410.19315,
section on evaluation (R^2 per sample, MSE, fraction of zero counts).
"""
from __future__ import annotations

import numpy as np

# R^2 and %-zeros are defined once, next to the run summary that reports them
from ipvae_brian.models.run_summary import fraction_zeros, r_squared  # noqa: F401


def mse(x: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
    """Squared error summed over pixels, per sample: sum_m (x_m - x_hat_m)^2, shape (...).

    Examples
    --------
    >>> float(mse(np.array([1.0, 2.0]), np.array([0.0, 0.0])))
    5.0
    """
    return np.sum((np.asarray(x, float) - np.asarray(x_hat, float)) ** 2, axis=-1)
