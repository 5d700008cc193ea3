r"""The rule for the step size eta: the largest that keeps the discrete map stable.

Linearised around its fixed point exp(u*) = r*, one bin of the membrane update
changes a neuron's deviation from the fixed point by a factor 1 - eta g r*,
with g = ||Phi_k||^2 / sigma^2 its self-inhibition per spike; the map is stable
only while eta g r* < 2 (``docs/learning.md``). For a neuron that explains the
stimulus alone, g r* equals its feed-forward drive (Phi^T Sigma^-1 x)_k, so the
condition reads

.. math::

    \eta \, \max_k (\Phi^\top \Sigma^{-1} x)_k < 2 .

The drive grows with the stimulus' contrast, which is heavy-tailed on natural
images (natural16: the largest drive of the train patches has a 99.9th
percentile about 5 times its median), so one eta cannot be fast for typical
patches and stable for all. The rule takes the stability margin ``kappa``
(< 2) at a high quantile ``q`` of the largest drive over a probe set of
training stimuli,

.. math::

    \eta = \min\left(\eta_{\max},\;
           \frac{\kappa}{Q_q\!\left[\max_k (\Phi^\top \Sigma^{-1} x)_k\right]}\right),

recomputed as the dictionary (and so the drive) changes during learning.
Measured on natural16 with the numpy reference (K = 512): at eta twice the
rule's value (kappa = 3 at q = 0.999), 2 of 500 test patches (those with
||x|| near 50, four times the median) ran away to the rate ceiling in a
growing period-2 oscillation; at kappa = 1.5, q = 0.999 one test patch still
did after two epochs of learning (the test images have a heavier contrast
tail than the train images: 99.9th percentile of ||x|| 57 against 50), so the
default quantile is 1 (the largest drive of the probe set), with which no
runaway occurred in 1,500 minibatches.

References
----------
Vafaii, Galor & Yates (2025), arXiv:2410.19315 (docs/model.md: the update and eta).
"""
from __future__ import annotations

import numpy as np

from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.parameters import IPVAEParameters

#: Default stability margin kappa (the map diverges at 2).
STABILITY_MARGIN = 1.5
#: Default quantile of the largest drive over the probe stimuli.
DRIVE_QUANTILE = 1.0
#: Largest step size the rule returns: the authors' initial eta = exp(0).
MAX_STEP_SIZE = 1.0


def largest_drive(params: IPVAEParameters, x: np.ndarray) -> np.ndarray:
    """max_k (Phi^T Sigma^-1 x)_k for every stimulus, shape (N,).

    Parameters
    ----------
    params : IPVAEParameters
    x : ndarray, shape (N, M)
    """
    return params.feedforward_drive(x).max(axis=-1)


def stable_step_size(params: IPVAEParameters, x: np.ndarray,
                     margin: float = STABILITY_MARGIN, quantile: float = DRIVE_QUANTILE,
                     max_step: float = MAX_STEP_SIZE) -> float:
    """The rule's eta for these parameters and probe stimuli (see the module docstring).

    Parameters
    ----------
    params : IPVAEParameters
    x : ndarray, shape (N, M)
        Probe stimuli (a fixed sample of the training set).
    margin : float
        kappa, in (0, 2).
    quantile : float
        q, in (0, 1].
    max_step : float
        Upper limit of eta.

    Returns
    -------
    float

    Examples
    --------
    >>> p = IPVAEParameters.random(4, 2, seed=0)
    >>> x = np.ones((3, 4))
    >>> eta = stable_step_size(p, x, margin=1.0, quantile=1.0, max_step=100.0)
    >>> round(eta * float(largest_drive(p, x).max()), 12)
    1.0
    """
    if not 0 < margin < 2:
        raise SimulationInputError(f"the stability margin must be in (0, 2), got {margin}")
    drive = np.quantile(largest_drive(params, x), quantile)
    if drive <= 0:
        return float(max_step)
    return float(min(max_step, margin / drive))
