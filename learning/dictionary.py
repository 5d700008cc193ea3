r"""Fitting the dictionary Phi to recorded codes: the Hebbian gradient of the free energy.

The reconstruction part of the free energy over the recorded bins of N stimuli is

.. math::

    E(\Phi) = \frac{1}{2 N T} \sum_{n, t} (x_n - \Phi z_{nt})^\top
              \mathrm{diag}(\sigma^{-2}) (x_n - \Phi z_{nt}),

whose negative gradient is the local, Hebbian product of the prediction error
of each pixel and the count of each neuron,

.. math::

    -\frac{\partial E}{\partial \Phi} = \frac{1}{N T} \sum_{n, t}
        \mathrm{diag}(\sigma^{-2}) (x_n - \Phi z_{nt}) z_{nt}^\top .

:func:`hebbian_step` takes one small step along it, as sparse-coding dictionary
learning does (Olshausen & Field 1996, 1997): the codes were inferred with the
current Phi, so a small step keeps the network in the regime the codes were
recorded in, where a full least-squares jump does not (``docs/learning.md``:
the jump shrinks Phi, the rates explode, the next jump shrinks it further).
The columns are then rescaled to a fixed norm: with integer counts the scale of
Phi sets the rates (a longer column explains more per spike and fires less), so
the scale is a choice of the learning rule, not something the gradient should
drift (see :mod:`learning.alternation`).

The same function fits the dictionaries of the baseline models
(``models.baselines``: iG-VAE, iG-relu, predictive coding, LCA), whose codes
are real-valued.

References
----------
Olshausen, B. A. & Field, D. J. (1996). Emergence of simple-cell receptive field
properties by learning a sparse code for natural images. Nature 381:607-609.
Olshausen, B. A. & Field, D. J. (1997). Sparse coding with an overcomplete basis
set: a strategy employed by V1? Vision Research 37:3311-3325.
Vafaii, Galor & Yates (2025), arXiv:2410.19315 (the free energy, docs/model.md).
"""
from __future__ import annotations

import numpy as np

from ipvae_brian.models.errors import SimulationInputError


def _as_bins(x: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stimuli and codes as matching (B, M) and (B, K) arrays, one row per recorded bin."""
    x = np.asarray(x, dtype=np.float64)
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim == 2:
        codes = codes[:, None, :]
    if codes.ndim != 3:
        raise SimulationInputError(f"codes must be N x K or N x T x K, got shape {codes.shape}")
    N, T, K = codes.shape
    if x.ndim == 2:
        if x.shape[0] != N:
            raise SimulationInputError(
                f"{x.shape[0]} stimuli but codes for {N}: they must match")
        x = np.broadcast_to(x[:, None, :], (N, T, x.shape[1]))
    elif x.ndim != 3 or x.shape[:2] != (N, T):
        raise SimulationInputError(
            f"stimuli of shape {x.shape} do not match codes of shape {codes.shape} "
            f"(expected N x M or N x T x M with N = {N}, T = {T})")
    return x.reshape(N * T, -1), codes.reshape(N * T, K)


def hebbian_gradient(Phi: np.ndarray, x: np.ndarray, codes: np.ndarray,
                     sigma: np.ndarray | float = 1.0) -> np.ndarray:
    r"""Mean over recorded bins of diag(sigma^-2) (x - Phi z) z^T, shape (M, K).

    Parameters
    ----------
    Phi : ndarray, shape (M, K)
    x : ndarray, shape (N, M) or (N, T, M)
        Stimuli (static, or one frame per bin).
    codes : ndarray, shape (N, K) or (N, T, K)
        Recorded codes (spike counts z_t, or a baseline model's states).
    sigma : float or ndarray, shape (M,)
        Per-pixel likelihood standard deviation.

    Returns
    -------
    ndarray, shape (M, K)
        The negative gradient of the reconstruction energy per bin; zero when
        Phi z reproduces every x exactly, or for a neuron that never fired.

    Examples
    --------
    >>> Phi = np.eye(2)
    >>> hebbian_gradient(Phi, np.array([[1.0, 0.0]]), np.array([[1.0, 0.0]]))
    array([[0., 0.],
           [0., 0.]])
    """
    Phi = np.asarray(Phi, dtype=np.float64)
    xb, zb = _as_bins(x, codes)
    if xb.shape[1] != Phi.shape[0] or zb.shape[1] != Phi.shape[1]:
        raise SimulationInputError(
            f"Phi has shape {Phi.shape} but the stimuli have {xb.shape[1]} pixels and the "
            f"codes {zb.shape[1]} neurons")
    error = (xb - zb @ Phi.T) / np.asarray(sigma, dtype=np.float64) ** 2
    return error.T @ zb / xb.shape[0]


def normalise_columns(Phi: np.ndarray, column_norm: float) -> np.ndarray:
    """Phi with every column rescaled to Euclidean norm ``column_norm`` (zero columns kept)."""
    norms = np.linalg.norm(Phi, axis=0)
    return Phi * np.where(norms > 0, column_norm / np.where(norms > 0, norms, 1.0), 1.0)


def hebbian_step(Phi: np.ndarray, x: np.ndarray, codes: np.ndarray, learning_rate: float,
                 sigma: np.ndarray | float = 1.0, column_norm: float | None = None,
                 curvature: np.ndarray | None = None) -> np.ndarray:
    r"""One step of dictionary learning on recorded codes.

    Without ``curvature``, a gradient step:

    .. math::

        \Phi \leftarrow \Phi + \epsilon \frac{1}{N T} \sum_{n,t}
            \mathrm{diag}(\sigma^{-2}) (x_n - \Phi z_{nt}) z_{nt}^\top .

    With ``curvature`` c_k (the mean of z_k^2 over recorded bins), a per-neuron
    Newton step: the energy's curvature along column k is diag(sigma^-2) c_k, so

    .. math::

        \Phi_k \leftarrow \Phi_k + \frac{\epsilon}{c_k} \frac{1}{N T}
            \sum_{n,t} (x_n - \Phi z_{nt}) z_{nt,k},

    which moves each column a fraction epsilon of the way to its least-squares
    optimum given the others (the block-coordinate update of Mairal et al.
    2010, damped), whatever the neuron's rate and whatever sigma: still local,
    the neuron's own activity sets its learning rate. Then, if ``column_norm``
    is given, every column is rescaled to that norm.

    Parameters
    ----------
    Phi : ndarray, shape (M, K)
    x : ndarray, shape (N, M) or (N, T, M)
    codes : ndarray, shape (N, K) or (N, T, K)
    learning_rate : float
        epsilon, the step size (> 0).
    sigma : float or ndarray, shape (M,)
        Ignored with ``curvature`` (it cancels in the Newton step).
    column_norm : float, optional
    curvature : ndarray, shape (K,), optional
        Positive per-neuron curvature, e.g. a running mean of z_k^2.

    Returns
    -------
    ndarray, shape (M, K)
        The new dictionary (``Phi`` is not modified).

    References
    ----------
    Mairal, J., Bach, F., Ponce, J. & Sapiro, G. (2010). Online learning for matrix
    factorization and sparse coding. JMLR 11:19-60 (algorithm 2).
    """
    if not learning_rate > 0:
        raise SimulationInputError(f"the learning rate must be positive, got {learning_rate}")
    Phi = np.asarray(Phi, dtype=np.float64)
    if curvature is None:
        step = learning_rate * hebbian_gradient(Phi, x, codes, sigma)
    else:
        curvature = np.asarray(curvature, dtype=np.float64)
        if curvature.shape != (Phi.shape[1],) or not np.all(curvature > 0):
            raise SimulationInputError(
                f"curvature must hold {Phi.shape[1]} positive values, got shape "
                f"{curvature.shape}")
        step = learning_rate * hebbian_gradient(Phi, x, codes, 1.0) / curvature
    new = Phi + step
    return new if column_norm is None else normalise_columns(new, column_norm)
