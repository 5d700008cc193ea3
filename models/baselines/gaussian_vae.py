r"""The Gaussian iterative VAE (iG-VAE) and its rectified variant (iG-relu).

The Gaussian counterpart of the iP-VAE's inference (docs/model.md), as the authors
define it for their comparison models (Vafaii, Galor & Yates 2025; their
``main/layers.py``, ``GaussianLayer`` with ``inf_type = 'grad'``, one inner
iteration).

Generative model (K latents, M pixels)::

    p(z)   = N(z; mu0, diag(s0^2))                    prior, default N(0, I)
    p(x|z) = N(x; Phi f(z), diag(sigma^2))            f = identity (iG-VAE) or ReLU (iG-relu)

Approximate posterior q(z) = N(mu, diag(s^2)) with state (mu, xi), xi = log s,
started at the prior (mu_0, xi_0) = (mu0, log s0).

Derivation. Each step takes one natural-gradient step on the free energy
F = E_q[l(z)] + beta KL(q || q_prev), l(z) = ||x - Phi f(z)||^2 / (2 sigma^2),
online as in docs/model.md: the prior of step t is the posterior of step t - 1, so
with one inner iteration the KL gradient is zero where it is taken and only the
reconstruction term acts (the authors' "BONG" branch). With the reparameterised
sample z = mu + s * eps, eps ~ N(0, I), one-sample gradients are

.. math::

    e = (x - \Phi f(z)) / \sigma^2, \qquad g = f'(z) \odot \Phi^\top e
        \;(= -\partial l / \partial z), \\
    \nabla_\mu = -g, \qquad \nabla_\xi = -g \odot s \odot \epsilon = -g \odot (z - \mu).

The Fisher information of N(mu, s^2) in (mu, xi) is diag(1/s^2, 2); the
natural gradient F^{-1} nabla, plus the drive toward silence b on the mean,
gives for t = 0, 1, ..., T - 1::

    eps_t    ~ N(0, I)
    z_t      = mu_t + s_t * eps_t                         sample of q_t
    a_t      = f(z_t)                                     decoded sample
    g_t      = f'(z_t) * Phi^T (x - Phi a_t) / sigma^2
    dmu_t    = eta * (s_t^2 * g_t - b)
    dxi_t    = (eta / 2) * g_t * (z_t - mu_t)
    dmu_t   <- c tanh(dmu_t / c), c = c_du[0];   dxi_t <- c tanh(dxi_t / c), c = c_du[1]
    mu_{t+1} = c tanh((mu_t + dmu_t) / c), c = c_u[0];   likewise xi with c_u[1]

The state reported for step t (the code the dictionary is trained on) is f(mu_t), the
posterior mean through f (default), or the sample's a_t (``decode="sample"``). Every
result carries both: ``InferenceResult.sample_code`` is a_t = f(z_t), the sample the
authors decode (their validation runs at temperature 1), and
``InferenceResult.mean_code`` is f(mu_t) (for the iG-relu: the ReLU of the posterior
mean, not E[ReLU(z)]).

Poisson counterpart: for q = Poisson(exp(u)) the Fisher information in u is the
rate lambda = exp(u) and the gradient of E_q[l] in u is lambda dl/dlambda, so the
natural gradient is dl/dz = -Phi^T e: docs/model.md's du = eta (Phi^T e - b). The
Gaussian's factor s^2 on the mean is the same inverse Fisher. Because E[dxi] =
-(eta/2) s^2 diag(Phi^T Phi) / sigma^2 < 0 for f = identity, the posterior
narrows as evidence accumulates (precision 1/s^2 grows by about
eta ||Phi_k||^2 / sigma^2 per step, as in Bayesian online filtering), and the
mean's effective step eta s^2 shrinks with it.

Where it goes: with b = 0 and no clamp on the state, the prior enters only as the
starting point (the online KL gradient is zero), so the mean's fixed point solves
Phi^T (x - Phi f(mu)) f'(mu) = 0, a least-squares fit; for an overcomplete dictionary
and f = identity the reconstruction of the mean tends to R^2 = 1 as t grows (measured
on natural16 test patches, K = 512, after 20 Hebbian steps of 200 patches: 0.93 at
t = 16, 1.00 at t = 128), with no zeros. The authors' iG-VAE levels off lower (0.87),
probably because they decode samples, whose spread their clamp on xi keeps above e^-2.

Known case: Phi orthonormal (Phi^T Phi = I), sigma = 1, b = 0, no clamps, f =
identity: E[mu_{t+1} - Phi^T x] = (1 - eta s_t^2) (mu_t - Phi^T x), so mu_t
converges to Phi^T x (tested: median error below s_T / 4 with s_T^2 = 1 / (1 + eta T)
within 10%; a few per cent of the latents stay off, frozen where the one-sample
xi gradient collapsed their s early, see ``eta``).

References
----------
Vafaii, H., Galor, D. & Yates, J. L. (2025). Brain-like variational inference.
NeurIPS; arXiv:2410.19315 (iG-VAE and iG-relu baselines). Authors' code:
github.com/hadivafaii/IterativeVAE, ``main/layers.py`` (``GaussianLayer.grad_free_energy``,
the clamps ``softclamp_sym``) and ``main/config.py`` (clamps (7, 2) on (mu, xi) and
(7, 3) on their changes; validation at temperature 1, i.e. on samples).
Amari, S. (1998). Natural gradient works efficiently in learning. Neural Computation
10:251-276.
Jones, M., Chang, P. & Murphy, K. (2024). Bayesian online natural gradient (BONG).
NeurIPS; arXiv:2405.19681.
"""
from __future__ import annotations

import copy

import numpy as np

from ipvae_brian.models.errors import ParameterError
from ipvae_brian.models.inference import InferenceModel, check_dictionary, lipschitz_constant

#: The authors' symmetric soft clamps c tanh(v / c) on (mu, xi) and on their changes.
AUTHORS_CLAMP_U = (7.0, 2.0)
AUTHORS_CLAMP_DU = (7.0, 3.0)

ACTIVATIONS = ("linear", "relu")
DECODES = ("mean", "sample")


def default_step_size(Phi: np.ndarray, sigma: float) -> float:
    """eta = min(1 / L, 0.2 / max_k ||Phi_k||^2 / sigma^2) (see :class:`GaussianIterativeVAE`)."""
    gain = float(np.max(np.sum(Phi ** 2, axis=0))) / sigma ** 2
    return min(1.0 / lipschitz_constant(Phi, sigma), 0.2 / gain if gain > 0 else np.inf)


def _soft_clamp(v: np.ndarray, c: float | None) -> np.ndarray:
    return v if c is None else c * np.tanh(v / c)


class GaussianIterativeVAE(InferenceModel):
    r"""Iterative Gaussian VAE inference: natural-gradient steps on (mu, log s) per step.

    See the module docstring for the equations and their derivation.

    Parameters
    ----------
    Phi : ndarray, shape (M, K)
        Dictionary (decoder).
    activation : {"linear", "relu"}
        f applied to the latent sample before decoding: "linear" is the iG-VAE,
        "relu" the iG-relu (its code is >= 0, with exact zeros).
    sigma : float
        Likelihood standard deviation (default 1: the pixel standard deviation of the
        z-scored natural16 patches).
    eta : float, optional
        Step size. Default min(1 / L, 0.2 / g_max) with L = lambda_max(Phi^T Phi) / sigma^2
        and g_max = max_k ||Phi_k||^2 / sigma^2. Why: (1) the posterior starts at
        s = s0 = 1, so eta s^2 L <= 1 keeps the mean's linearised dynamics stable from the
        first step (they converge for eta s^2 L < 2); (2) eta g_k is the precision a step
        adds to latent k, and the one-sample xi gradient g (z - mu) carries a term
        (Phi^T x - mu) s eps that, with a large gain, collapses s while mu is still far
        from its target, freezing it there. Measured on the orthonormal known case
        (K = 32, 50 stimuli with targets of std 2, T = 1,000, 4 seeds): the fraction of
        means left more than 0.1 from the target is 1.8% at eta g = 0.2, 4.4% at 0.5 and
        15% at 1 (the median error is 0.006 in all three).
        For 2x-overcomplete unit-norm dictionaries (L ~ 6) the first bound applies.
        The authors learn eta (initial value 1) jointly with the scale of Phi and sigma.
    bias : float or ndarray, shape (K,)
        b >= 0, a constant drive of the mean toward silence (default 0). The authors
        learn it from exp(-3); here it stays 0 because its effect grows with time: at the
        mean's fixed point s^2 g = b, an L1-like penalty b / s_t^2 on the residual drive,
        and s_t^2 falls like 1 / (1 + eta g t) (about 100 b at t = 1,000).
    prior_mean, prior_log_std : float or ndarray, shape (K,)
        mu0 and log s0 of the prior, where inference starts (default N(0, 1)).
    clamp_u, clamp_du : (float, float) or None
        Soft clamps c tanh(v / c) on (mu, xi) and on their changes; None switches a
        clamp off. Defaults: none on the state, the authors' (7, 3) on the changes
        (``main/config.py``), a safety bound that leaves small steps (and so the fixed
        point) unchanged. The authors' state clamp (7, 2) is not the default: c tanh(v/c)
        applied every step also pulls xi toward 0 (by 0.08 per step at xi = -1), which
        with a fixed unit-norm dictionary and sigma = 1 holds s near 0.5 for ever, so
        the mean never settles; the authors learn the scale of Phi and sigma with it.
        Pass ``clamp_u=AUTHORS_CLAMP_U`` to use it.
    decode : {"mean", "sample"}
        The code reported as the state and decoded: f(mu_t) of the posterior mean
        (default) or f(z_t) of the sample (as the authors evaluate, at temperature 1).
        Why the mean: the sample's noise s eps adds about (K / M) s_t^2 to the pixel
        variance of the reconstruction, and s_t^2 ~ 1 / (1 + eta g t) is still 0.27 at
        t = 16 with the default step, which caps R^2 near 0.5 however good the mean.
    learn_prior : bool, optional
        Default: True for the iG-VAE, False for the iG-relu. If True (as the authors'
        ``fit_prior``), :meth:`fit_extras` moves (mu0, s0)
        toward the moment-matched fit of the minibatch's final posteriors (mu0 = mean of mu,
        s0^2 = mean of s^2 + (mu - mu0)^2: the Gaussian minimising their mean KL), at rate
        ``prior_rate``. Why it matters: the sample noise s eps adds about (K / M) s^2 to
        every pixel of the decoded sample and drives the mean, so a prior broader than the
        codes swamps small signals. Measured on digits8 (pixel variance 0.18, K = 512,
        M = 64, 12 Hebbian steps of 200 digits): with the fixed N(0, 1) prior the training
        R^2 at t = 15 stayed near -7 and the read-out reached 30%; with the learned prior
        (rate 0.3) R^2 0.89 at t = 128 and a 90% read-out. Not for the iG-relu: units with
        mu < 0 get no gradient (f'(z) = 0 for z < 0), so the moment-matched prior mean
        drifts negative and s0 shrinks, which silences more units at the start, a feedback
        that silenced every unit within 100 Hebbian steps on natural16 (100% zeros,
        R^2 -0.07 at t = 1,000; 0.80 after 20 steps).
    prior_rate : float
        Step of that moving average (default 0.1).
    batch_size : int
        Stimuli processed together (memory: a few (batch, K) arrays).
    column_norm, learning_rate : float
        Dictionary-learning settings used by ``learning.model_training``: columns of norm
        1; Hebbian step 0.2 (iG-VAE) or 0.05 (iG-relu). Why 0.05 for the ReLU: with
        non-negative codes the Hebbian step pulls all active columns toward the same
        residual, and at 0.2 the dictionary grew coherent (lambda_max(Phi^T Phi) from 6
        to 30, so the step 1/L and the early R^2 collapsed: test R^2 0.08 at t = 16 after
        250 steps of 200 natural16 patches); at 0.05 it reached 0.34 at t = 16 and 0.81
        at t = 1,000 after 100 steps.

    Attributes
    ----------
    name : str
        "iG-VAE" or "iG-relu".

    Examples
    --------
    >>> m = GaussianIterativeVAE(np.eye(4))            # orthonormal: mu -> Phi^T x
    >>> r = m.infer(np.array([[1.0, -2.0, 0.5, 0.3]]), steps=1000, seed=0)
    >>> np.round(r.final["mean"], 1)
    array([[ 1. , -2. ,  0.5,  0.3]])
    """

    def __init__(self, Phi, activation: str = "linear", sigma: float = 1.0,
                 eta: float | None = None, bias=0.0, prior_mean=0.0, prior_log_std=0.0,
                 clamp_u=None, clamp_du=AUTHORS_CLAMP_DU, decode: str = "mean",
                 learn_prior: bool | None = None, prior_rate: float = 0.1,
                 batch_size: int = 1024,
                 column_norm: float | None = 1.0, learning_rate: float | None = None):
        self._Phi = check_dictionary(Phi)
        K = self._Phi.shape[1]
        if activation not in ACTIVATIONS:
            raise ParameterError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        if decode not in DECODES:
            raise ParameterError(f"decode must be one of {DECODES}, got {decode!r}")
        if not (np.isscalar(sigma) and np.isfinite(sigma) and sigma > 0):
            raise ParameterError(f"sigma must be a positive number, got {sigma!r}")
        self.activation = activation
        self.sigma = float(sigma)
        self.eta_given = eta
        self.eta = float(eta) if eta is not None else default_step_size(self._Phi, self.sigma)
        if not (np.isfinite(self.eta) and self.eta > 0):
            raise ParameterError(f"eta must be positive, got {self.eta}")
        self.bias = self._per_latent(bias, "bias", K)
        if np.any(self.bias < 0):
            raise ParameterError("the bias b must be >= 0 (a drive toward silence)")
        self.prior_mean = self._per_latent(prior_mean, "prior_mean", K)
        self.prior_log_std = self._per_latent(prior_log_std, "prior_log_std", K)
        self.clamp_u = self._clamps(clamp_u, "clamp_u")
        self.clamp_du = self._clamps(clamp_du, "clamp_du")
        self.decode = decode
        self.learn_prior = (activation == "linear") if learn_prior is None else bool(learn_prior)
        self.prior_rate = float(prior_rate)
        self.batch_size = int(batch_size)
        self.column_norm = column_norm
        self.learning_rate = float(learning_rate if learning_rate is not None else
                                   0.05 if activation == "relu" else 0.2)
        self.name = "iG-relu" if activation == "relu" else "iG-VAE"

    @staticmethod
    def _per_latent(value, name, K) -> np.ndarray:
        value = np.asarray(value, dtype=np.float64)
        if value.ndim == 0:
            value = np.full(K, float(value))
        if value.shape != (K,) or not np.all(np.isfinite(value)):
            raise ParameterError(f"{name} must be a finite scalar or have shape ({K},), got "
                                 f"shape {value.shape}")
        return value

    @staticmethod
    def _clamps(value, name):
        if value is None:
            return (None, None)
        value = tuple(value)
        if len(value) != 2 or any(c is not None and not c > 0 for c in value):
            raise ParameterError(f"{name} must be two positive numbers (or None), got {value}")
        return value

    @property
    def Phi(self) -> np.ndarray:
        return self._Phi

    def _settings(self) -> dict:
        return dict(activation=self.activation, sigma=self.sigma, eta=self.eta_given,
                    bias=self.bias, prior_mean=self.prior_mean,
                    prior_log_std=self.prior_log_std, clamp_u=self.clamp_u,
                    clamp_du=self.clamp_du, decode=self.decode, learn_prior=self.learn_prior,
                    prior_rate=self.prior_rate, batch_size=self.batch_size,
                    column_norm=self.column_norm, learning_rate=self.learning_rate)

    def with_dictionary(self, Phi) -> "GaussianIterativeVAE":
        Phi = check_dictionary(Phi)
        if Phi.shape != self.Phi.shape:
            raise ParameterError(f"the new dictionary has shape {Phi.shape}, expected "
                                 f"{self.Phi.shape}")
        return GaussianIterativeVAE(Phi, **self._settings())

    def fit_extras(self, x, result) -> "GaussianIterativeVAE":
        """Moment-matched prior (if ``learn_prior``): mu0 <- mean of the posterior means,
        s0^2 <- mean of s^2 + (mu - mu0)^2 over the minibatch, as a moving average."""
        if not self.learn_prior:
            return self
        mu, s2 = result.final["mean"], np.exp(2 * result.final["log_std"])
        target_mean = mu.mean(axis=0)
        target_var = (s2 + (mu - target_mean) ** 2).mean(axis=0)
        rho = self.prior_rate
        fitted = copy.copy(self)              # same Phi: no need to recompute the step size
        fitted.prior_mean = (1 - rho) * self.prior_mean + rho * target_mean
        var = (1 - rho) * np.exp(2 * self.prior_log_std) + rho * target_var
        fitted.prior_log_std = 0.5 * np.log(np.maximum(var, 1e-12))
        return fitted

    def describe(self) -> dict:
        return {"model": self.name, "n_pixels": self.n_pixels, "n_latents": self.n_latents,
                "sigma": self.sigma, "eta": round(self.eta, 6),
                "bias": round(float(np.mean(self.bias)), 6),
                "prior": "learned" if self.learn_prior else "N(0, 1)" if (
                    np.all(self.prior_mean == 0) and np.all(self.prior_log_std == 0))
                else "given", "clamp_u": self.clamp_u, "clamp_du": self.clamp_du,
                "decode": self.decode}

    def _infer(self, x, steps, record, seed, progress):
        rng = np.random.default_rng(seed)
        N, K = x.shape[0], self.n_latents
        Phi, s2x = self.Phi, self.sigma ** 2
        relu = self.activation == "relu"
        keep = np.full(steps, -1)
        keep[record] = np.arange(record.size)
        samples, means = np.empty((N, record.size, K)), np.empty((N, record.size, K))
        final_mu, final_xi = np.empty((N, K)), np.empty((N, K))
        for start in range(0, N, self.batch_size):
            xb = x[start:start + self.batch_size]
            n = xb.shape[0]
            drive = xb @ Phi / s2x                                  # Phi^T x / sigma^2
            gram = Phi.T @ Phi / s2x                                # Phi^T Phi / sigma^2
            mu = np.broadcast_to(self.prior_mean, (n, K)).copy()
            xi = np.broadcast_to(self.prior_log_std, (n, K)).copy()
            for t in range(steps):
                s = np.exp(xi)
                z = mu + s * rng.standard_normal((n, K))
                a = np.maximum(z, 0.0) if relu else z
                if keep[t] >= 0:
                    samples[start:start + n, keep[t]] = a
                    means[start:start + n, keep[t]] = np.maximum(mu, 0.0) if relu else mu
                g = drive - a @ gram
                if relu:
                    g *= z > 0
                dmu = _soft_clamp(self.eta * (s * s * g - self.bias), self.clamp_du[0])
                dxi = _soft_clamp(0.5 * self.eta * g * (z - mu), self.clamp_du[1])
                mu = _soft_clamp(mu + dmu, self.clamp_u[0])
                xi = _soft_clamp(xi + dxi, self.clamp_u[1])
            final_mu[start:start + n], final_xi[start:start + n] = mu, xi
            if progress is not None:
                progress(start + n)
        states = samples if self.decode == "sample" else means
        return states, {"mean": final_mu, "log_std": final_xi, "sample_code": samples,
                        "mean_code": means}
