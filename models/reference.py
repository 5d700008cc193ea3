"""Plain numpy version of the iP-VAE's discrete update, used to test the Brian2 network.

This is not a second engine: the simulator is :mod:`models.network`. The
functions here restate docs/model.md's equations in array form so the tests can
check the network step by step and in distribution.

One bin t (docs/model.md), for a batch of N stimuli at once::

    z_t     ~ Poisson(exp(u_t))
    du_t    = eta * (Phi^T x / sigma^2 - (Phi^T diag(1/sigma^2) Phi) z_t - b)
    du_t   <- c_du - softplus(c_du - max(du_t, u_floor))
    v_t     = max(u_t + du_t, u_floor)
    u_{t+1} = v_t - softplus(v_t - c_u)          (= c_u - softplus(c_u - v_t))

:func:`membrane_update` also takes one step of the continuous mode (``substeps`` = tau / dt
steps per bin, as :data:`~ipvae_brian.models.equations.MEMBRANE_UPDATE` computes it), so
that the tests can check that mode's update too.

Precision: every function computes in float64 by default, the reference of the network's
float64 path; ``dtype=np.float32`` computes every operation in float32 (the constants, the
drive and u rounded to float32 once), the reference of its float32 path
(:class:`UpdateConstants` holds the constants of one type, computed once per run).

Random draws: :func:`infer` draws from a numpy ``Generator`` (independent of the network's
draws, for tests in distribution) or from :class:`NetworkStreams`, the network's own
counter-based streams (the same function), so that the reference draws the network's
counts (for tests count by count).

References
----------
Vafaii, Galor & Yates (2025), arXiv:2410.19315, and the authors' ``main/layers.py``.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ipvae_brian.models.parameters import IPVAEParameters
from ipvae_brian.models.random_streams import poisson_counts, stream_key


def softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)), computed without overflow."""
    return np.logaddexp(0.0, x)


@dataclasses.dataclass(frozen=True)
class UpdateConstants:
    """The constants of the update in one floating-point type, computed once.

    Attributes
    ----------
    W : ndarray, shape (K, K)
        The lateral weights -Phi^T diag(1/sigma^2) Phi.
    bias : ndarray, shape (K,)
    eta, c_u, c_du, u_floor : scalars
    dtype : numpy.dtype
        float64 or float32: the type of all of the above and of every operation.
    """

    W: np.ndarray
    bias: np.ndarray
    eta: np.floating
    c_u: np.floating
    c_du: np.floating
    u_floor: np.floating
    dtype: np.dtype

    @classmethod
    def of(cls, params: IPVAEParameters, dtype=np.float64) -> "UpdateConstants":
        """The constants of ``params`` rounded (once, from float64) to ``dtype``."""
        dtype = np.dtype(dtype)
        f = dtype.type
        return cls(W=params.lateral_weights.astype(dtype), bias=params.bias.astype(dtype),
                   eta=f(params.eta), c_u=f(params.c_u), c_du=f(params.c_du),
                   u_floor=f(params.u_floor), dtype=dtype)


def membrane_update(params, u: np.ndarray, z: np.ndarray, drive: np.ndarray,
                    substeps: int = 1, dtype=None) -> np.ndarray:
    """u_{t+1} from u_t, the counts z_t and the feed-forward drive Phi^T x / sigma^2.

    Parameters
    ----------
    params : IPVAEParameters or UpdateConstants
    u, z, drive : ndarray, shape (N, K)
        Membrane potentials, counts of this bin (or step), feed-forward drive.
    substeps : int
        tau / dt: 1 (default) for one bin of the discrete model; n for one step of the
        continuous mode with dt = tau / n, where the drift and the ceiling's pull are
        divided by n and the soft bound on du is shifted by log(n) (docs/model.md).
    dtype : numpy dtype, optional
        float64 (default) or float32: the type of every operation (with
        :class:`UpdateConstants`, theirs). u, z and the drive are rounded to it.

    Returns
    -------
    ndarray, shape (N, K), of that type
    """
    c = (params if isinstance(params, UpdateConstants)
         else UpdateConstants.of(params, np.float64 if dtype is None else dtype))
    f = c.dtype.type
    step_fraction = f(1.0 / substeps)
    bound = f(float(c.c_du) + np.log(substeps))
    u, drive, z = (np.asarray(a) for a in (u, drive, z))
    u, drive, z = (a if a.dtype == c.dtype else a.astype(c.dtype) for a in (u, drive, z))
    du = c.eta * ((drive - c.bias) * step_fraction + z @ c.W)
    du = bound - softplus(bound - np.maximum(du, c.u_floor))
    v = np.maximum(u + du, c.u_floor)
    return np.minimum(v - softplus(v - c.c_u) * step_fraction, c.c_u)


def infer(params: IPVAEParameters, x: np.ndarray, steps: int, rng, stream: bool = False,
          dtype=np.float64):
    """Run T bins of inference on N stimuli.

    Parameters
    ----------
    x : ndarray, shape (N, M) or (N, T, M)
        Static stimuli or movies (frame t drives bin t).
    steps : int
        T, the number of bins.
    rng : numpy.random.Generator or NetworkStreams
        Where the counts are drawn from: a generator (Poisson(exp(u)) of ``dtype``), or
        the network's streams (stimulus n of ``x`` draws from the stream of stimulus n).
    stream : bool
        If True the stimuli are one continuous sequence: u is carried from the last
        bin of stimulus n to the first bin of stimulus n + 1 (run one after another).
        If False (default) every stimulus starts from u0 (run side by side).
    dtype : numpy dtype
        float64 (default) or float32: the type of u, of the drive (rounded from float64)
        and of every operation of the update.

    Returns
    -------
    counts : ndarray, shape (N, T, K), int64
        z_t for every stimulus and bin.
    u : ndarray, shape (N, T, K), of ``dtype``
        u_t, the potential the counts of bin t were drawn from.
    """
    x = np.asarray(x, dtype=np.float64)
    N, K = x.shape[0], params.n_latents
    constants = UpdateConstants.of(params, dtype)
    counts = np.zeros((N, steps, K), dtype=np.int64)
    potentials = np.zeros((N, steps, K), dtype=constants.dtype)
    drive = params.feedforward_drive(x).astype(constants.dtype)
    u0 = params.u0.astype(constants.dtype)
    frame = (lambda t: drive[:, t]) if x.ndim == 3 else (lambda t: drive)
    if not stream:
        u = np.broadcast_to(u0, (N, K)).copy()
        for t in range(steps):
            potentials[:, t] = u
            counts[:, t] = _draw(rng, u, np.arange(N), t)
            u = membrane_update(constants, u, counts[:, t], frame(t))
        return counts, potentials
    u = u0[None, :].copy()
    for n in range(N):
        for t in range(steps):
            potentials[n, t] = u[0]
            counts[n, t] = _draw(rng, u, np.array([n]), t)[0]
            d = drive[n, t] if x.ndim == 3 else drive[n]
            u = membrane_update(constants, u, counts[n, t][None], d[None])
    return counts, potentials


def _draw(rng, u: np.ndarray, stimuli: np.ndarray, t: int) -> np.ndarray:
    """Counts of bin ``t`` given u (rows: ``stimuli``, their indices in the set)."""
    if isinstance(rng, NetworkStreams):
        return rng.poisson(np.exp(u.astype(np.float64)), stimuli, t)
    return rng.poisson(np.exp(u))


class NetworkStreams:
    """The network's random streams, so the reference draws the network's counts.

    The count of neuron k in bin t of stimulus n under seed s is
    :func:`~ipvae_brian.models.random_streams.poisson_counts` of the rate and the counter
    (stream_key(s), n, t, k) (discrete mode: step t is bin t), whatever the engine, the
    threads or the chunks. The rate is exp(u) evaluated in float64 (from a float32 u: as
    Brian2's Cython does; its C++ may evaluate exp in float, up to a float32 rounding of
    the rate apart).

    Parameters
    ----------
    seed : int
        The seed of the network's run.
    first_stimulus : int
        Index in the network's run of the first stimulus of the reference's ``x``.
    """

    def __init__(self, seed: int, first_stimulus: int = 0):
        self.key = stream_key(seed)
        self.first = int(first_stimulus)

    def poisson(self, lam: np.ndarray, stimuli: np.ndarray, step: int) -> np.ndarray:
        """Counts (len(stimuli), K) of bin ``step`` with rates ``lam`` (float64)."""
        K = lam.shape[-1]
        return poisson_counts(lam, self.key, self.first + np.asarray(stimuli)[:, None], step,
                              np.arange(K)[None, :])
