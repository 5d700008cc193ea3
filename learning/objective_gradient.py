r"""The free energy of a recording as a function of the parameters, and its exact gradient.

What is fitted. A recording holds, for N stimuli x and T bins, the counts z_t
and the potentials u_t they were drawn from (``simulate --record u``). With the
counts held fixed, the membrane update (``docs/model.md``; the clamps included)
maps the recorded u_t to the next potential,

.. math::

    \hat u_{t+1} = g_\theta(u_t, z_t, x), \qquad \hat u_0 = u_0 \;\text{(reset at onset)},

a differentiable function of theta = (Phi, log_sigma, u0, log_bias, log_lr).
The objective is the free energy of :mod:`ipvae_brian.models.free_energy`
(``reconstruction="expected"``), evaluated on these teacher-forced potentials and
averaged over stimuli and bins,

.. math::

    J(\theta) = \frac1{NT}\sum_{n,t} \Big[ R(\hat u_t)
                + \beta\, \mathrm{KL}\big(\mathrm{Pois}(e^{\hat u_t})
                \,\|\, \mathrm{Pois}(e^{\hat u_{t-1}})\big) \Big],
    \qquad \hat u_{-1} = u_0,

    R(u) = \tfrac12\|x - \Phi\lambda\|^2_{\sigma^{-2}}
           + \tfrac12 \sum_k \lambda_k \|\Phi_k/\sigma\|^2
           + \sum_m \log\sigma_m + \tfrac M2 \log 2\pi, \qquad \lambda = e^{u}.

At the parameters that made the recording, hat u_t = u_t for every bin, so J
equals the mean of ``free_energy(params, x, counts, u)``: the function below is
that free energy, made a function of theta by one step of the recorded dynamics
(teacher forcing, truncated to one step: the gradient does not flow from u_t back
into u_{t-1}, which are data). Why this objective and not the authors' loss:
``docs/learning.md``.

The gradient (derived by hand; checked against finite differences in
``tests/test_objective_gradient.py``). With W = diag(sigma^-2), r = x - Phi
lambda, c_k = sum_m W_mm Phi_mk^2 and G_t = dJ/d hat u_t:

.. math::

    G_t = \lambda_t \odot (-\Phi^\top W r_t + \tfrac12 c)
          + \beta \lambda_t \odot (\hat u_t - \hat u_{t-1})
          + \beta (\lambda_t - \lambda_{t+1}) \;[t + 1 < T].

The update: a = eta (Phi^T W (x - Phi z_t) - b), d1 = max(a, f),
d2 = c_du - softplus(c_du - d1), v = max(u_t + d2, f), hat u_{t+1} = v -
softplus(v - c_u) (f = u_floor). So dJ/da = G_{t+1} (1 - s(v - c_u)) [u_t + d2 > f]
s(c_du - d1) [a > f] =: A, with s the logistic function, and

- log_lr: sum A a; log_bias: -sum A eta b; u0: sum G_0;
- Phi: eta W [(x - Phi z) A^T - Phi A z^T] + W [Phi diag(sum lambda) - r lambda^T]
  (the second bracket from R);
- log sigma_m: -2 eta W_mm sum (x - Phi z)_m (Phi A)_m + 1 - W_mm (r_m^2 + sum_k Phi_mk^2
  lambda_k), times d log sigma / d log_sigma = sech^2(log_sigma / 3.45) (the soft clamp
  of :attr:`IPVAEParameters.sigma`).

All sums run over stimuli and bins and are divided by N T, like J.

References
----------
Vafaii, Galor & Yates (2025), "Brain-like variational inference", arXiv:2410.19315.
Williams & Zipser (1989), Neural Computation 1:270 (teacher forcing).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.parameters import LOG_SIGMA_BOUND, IPVAEParameters
from ipvae_brian.models.reference import softplus

#: The parameters the objective is differentiated by, in the order of :class:`Gradient`.
FITTED_PARAMETERS = ("Phi", "log_sigma", "u0", "log_bias", "log_lr")


def _logistic(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclasses.dataclass(frozen=True)
class Gradient:
    """dJ/dtheta for every fitted parameter (shapes as in :class:`IPVAEParameters`)."""

    Phi: np.ndarray
    log_sigma: np.ndarray
    u0: np.ndarray
    log_bias: np.ndarray
    log_lr: float

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in FITTED_PARAMETERS}


def check_recording_shapes(params: IPVAEParameters, x: np.ndarray, counts: np.ndarray,
                           u: np.ndarray) -> np.ndarray:
    """x as float64 (N, M); counts and u must be (N, T, K) with T >= 2 and K as params'."""
    x = np.asarray(x, dtype=np.float64)
    shape = np.shape(counts)
    if np.shape(u) != shape:
        raise SimulationInputError(
            f"the recorded potentials u have shape {np.shape(u)} but the counts have shape "
            f"{shape}: they must match")
    if len(shape) != 3 or shape[2] != params.n_latents:
        raise SimulationInputError(
            f"the counts must be N x T x K with K = {params.n_latents} neurons, got shape "
            f"{shape}")
    if shape[1] < 2:
        raise SimulationInputError(
            f"fitting needs at least 2 recorded bins per stimulus, got {shape[1]}")
    if x.ndim != 2 or x.shape != (shape[0], params.n_pixels):
        raise SimulationInputError(
            f"the stimuli have shape {x.shape} but the counts imply {shape[0]} static "
            f"stimuli of {params.n_pixels} pixels")
    return x


def objective_and_gradient(params: IPVAEParameters, x: np.ndarray, counts: np.ndarray,
                           u: np.ndarray, gradient: bool = True, onset: bool = True,
                           propagate: bool = False):
    """J(theta) of a recording (module docstring) and, if asked, its exact gradient.

    Parameters
    ----------
    params : IPVAEParameters
        theta, with the clamps (c_u, c_du, u_floor) and beta held fixed.
    x : ndarray, shape (N, M)
        Static stimuli (u reset to u0 at the onset of each).
    counts : ndarray, shape (N, T, K)
        The recorded z_t.
    u : ndarray, shape (N, T, K)
        The recorded u_t (``counts[:, t]`` were drawn from ``exp(u[:, t])``).
    gradient : bool
        If False return only J (cheaper).
    onset : bool
        True (default): bin 0 of the arrays is the stimulus onset, hat u_0 = u0 and the
        objective covers all T bins. False: the arrays are a window of a longer recording
        that starts later; its first bin is context only (its recorded u is the prior of
        the second, fixed), the objective covers bins 1 .. T - 1 and does not depend on u0
        (its gradient is zero).
    propagate : bool
        False (default): every bin's potential is one update from the recorded one (one-step
        teacher forcing). True: only the counts are held fixed and the potentials are
        propagated through the update from the first bin of the arrays (truncated to
        the window), so the gradient also follows how theta moves every later bin.

    Returns
    -------
    value : float
        J in nats per stimulus and bin (constants included).
    grad : Gradient or None
    """
    x = check_recording_shapes(params, x, counts, u)
    N, T, K = np.shape(counts)
    M = params.n_pixels
    z = np.asarray(counts, dtype=np.float64)[:, :-1].reshape(-1, K)     # z_0 .. z_{T-2}
    u = np.asarray(u, dtype=np.float64)
    u_prev = u[:, :-1].reshape(-1, K)
    x_rep = np.repeat(x, T - 1, axis=0)                                 # (N (T-1), M)
    Phi, sigma, eta, b = params.Phi, params.sigma, params.eta, params.bias
    w = sigma ** -2
    f, c_u, c_du = params.u_floor, params.c_u, params.c_du

    # the update with the recorded counts: hat u_{t+1} = g(u_t, z_t, x) (teacher forcing),
    # or g(hat u_t, z_t, x) (propagated); du depends on the counts only, not on u
    residual_z = x_rep - z @ Phi.T                                      # x - Phi z_t
    a = eta * ((residual_z * w) @ Phi - b)
    d1 = np.maximum(a, f)
    d2 = c_du - softplus(c_du - d1)
    u_hat = np.empty((N, T, K))
    u_hat[:, 0] = params.u0 if onset else u[:, 0]
    if propagate:
        d2_t = d2.reshape(N, T - 1, K)
        v = np.empty((N, T - 1, K))
        for t in range(T - 1):
            v[:, t] = np.maximum(u_hat[:, t] + d2_t[:, t], f)
            u_hat[:, t + 1] = v[:, t] - softplus(v[:, t] - c_u)
        v = v.reshape(-1, K)
        u_from = u_hat[:, :-1].reshape(-1, K)                           # the u each step starts at
    else:
        u_from = u_prev
        v = np.maximum(u_from + d2, f)
        u_hat[:, 1:] = (v - softplus(v - c_u)).reshape(N, T - 1, K)
    first = 0 if onset else 1                      # the first bin in the objective

    # the free energy of every bin, on hat u
    lam = np.exp(u_hat)
    x_all = np.repeat(x[:, None, :], T, axis=1)
    r = x_all - lam @ Phi.T                                             # (N, T, M)
    column_energy = (Phi ** 2).T @ w                                    # c_k
    noise = lam @ (Phi ** 2).T                                          # sum_k Phi_mk^2 lam_k
    R = (0.5 * np.sum((r ** 2 + noise) * w, axis=-1) + np.sum(np.log(sigma))
         + 0.5 * M * np.log(2 * np.pi))
    u_prior = np.empty_like(u_hat)
    u_prior[:, 0] = u_hat[:, 0]
    u_prior[:, 1:] = u_hat[:, :-1]
    lam_prior = np.exp(u_prior)
    kl = lam * (u_hat - u_prior) - lam + lam_prior
    value = float(np.mean((R + params.beta * kl.sum(axis=-1))[:, first:]))
    if not gradient:
        return value, None

    scale = 1.0 / (N * (T - first))
    G = lam * (-(r * w) @ Phi + 0.5 * column_energy) + params.beta * lam * (u_hat - u_prior)
    G[:, :-1] += params.beta * (lam[:, :-1] - lam[:, 1:])              # as the prior of t + 1
    G[:, :first] = 0.0                                                  # context, not fitted
    G *= scale
    lam, r, noise = lam[:, first:], r[:, first:], noise[:, first:]      # the fitted bins

    # d hat u_{t+1} / d hat u_t (the ceiling and the floor); with propagation the gradient
    # of every later bin flows back through it: Gu_t = G_t + Gu_{t+1} chain_t
    chain = ((1.0 - _logistic(v - c_u)) * (u_from + d2 > f)).reshape(N, T - 1, K)
    if propagate:
        for t in range(T - 2, -1, -1):
            G[:, t] += G[:, t + 1] * chain[:, t]
    A = (G[:, 1:] * chain).reshape(-1, K) * _logistic(c_du - d1) * (a > f)
    PhiA = A @ Phi.T                                                    # (N (T-1), M)
    lam_flat = lam.reshape(-1, K)
    r_flat = r.reshape(-1, M)
    grad_Phi = (eta * w[:, None] * (residual_z.T @ A - Phi @ (A.T @ z))
                + w[:, None] * (Phi * lam_flat.sum(axis=0) - r_flat.T @ lam_flat) * scale)
    grad_log_sigma_m = (-2.0 * eta * w * np.sum(residual_z * PhiA, axis=0)
                        + scale * np.sum(1.0 - w * (r_flat ** 2 + noise.reshape(-1, M)), axis=0))
    grad_log_sigma = grad_log_sigma_m / np.cosh(params.log_sigma / LOG_SIGMA_BOUND) ** 2
    grad = Gradient(Phi=grad_Phi, log_sigma=grad_log_sigma, u0=G[:, 0].sum(axis=0) if onset else np.zeros(K),
                    log_bias=-eta * b * A.sum(axis=0), log_lr=float(np.sum(A * a)))
    return value, grad
