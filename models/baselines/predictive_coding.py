r"""Predictive coding (Rao & Ballard 1999), one level, linear, with a Gaussian prior.

Rao & Ballard's network estimates the causes r of an image x by gradient descent
on the energy (their Eq. 4 with a linear generative model f(Ur) = Ur, one level,
and the Gaussian prior g(r) = alpha ||r||^2 of their Eq. 6)

.. math::

    E(r) = \frac{1}{2 \sigma^2} \lVert x - \Phi r \rVert^2
         + \frac{1}{2 \sigma_r^2} \lVert r \rVert^2 ,

i.e. the negative log posterior under p(x|r) = N(Phi r, sigma^2 I) and the prior
p(r) = N(0, sigma_r^2 I). The feed-forward signal is the prediction error
e = x - Phi r, sent up through Phi^T; each step (their Eq. 7, Euler-discretised
with step eta = k_1 dt)::

    r_0     = 0
    r_{t+1} = r_t + eta * (Phi^T (x - Phi r_t) / sigma^2 - r_t / sigma_r^2)

The energy is a convex quadratic; the iteration converges to its minimiser (the
posterior mean, a ridge regression)

.. math::

    r^* = (\Phi^\top \Phi / \sigma^2 + I / \sigma_r^2)^{-1} \Phi^\top x / \sigma^2

for 0 < eta < 2 / L, L = lambda_max(Phi^T Phi) / sigma^2 + 1 / sigma_r^2, with the
error of eigen-direction i shrinking by |1 - eta lambda_i| per step. Known case:
Phi orthonormal, no prior (sigma_r = inf), sigma = 1: r_t - Phi^T x = (1 - eta)^t
(r_0 - Phi^T x), so r_t = (1 - (1 - eta)^t) Phi^T x exactly.

The state (code) at step t is r_t; reconstructions are Phi r_t. Codes are dense
(no exact zeros): the Gaussian prior shrinks but never silences. Dictionary
learning is Rao & Ballard's Hebbian rule dPhi ~ (x - Phi r) r^T / sigma^2 (their
Eq. 9), which is ``learning.dictionary.hebbian_step``.

References
----------
Rao, R. P. N. & Ballard, D. H. (1999). Predictive coding in the visual cortex: a
functional interpretation of some extra-classical receptive-field effects. Nature
Neuroscience 2:79-87.
Beck, A. & Teboulle, M. (2009). A fast iterative shrinkage-thresholding algorithm for
linear inverse problems. SIAM J. Imaging Sciences 2:183-202 (the step 1/L).
"""
from __future__ import annotations

import numpy as np

from ipvae_brian.models.errors import ParameterError
from ipvae_brian.models.inference import InferenceModel, check_dictionary, lipschitz_constant


class PredictiveCoding(InferenceModel):
    r"""Rao & Ballard's predictive coding: gradient descent on squared error + Gaussian prior.

    See the module docstring for the equations.

    Parameters
    ----------
    Phi : ndarray, shape (M, K)
        Dictionary (their U).
    sigma : float
        Likelihood standard deviation (default 1: the natural16 pixel standard deviation).
    prior_std : float or None
        sigma_r of the Gaussian prior N(0, sigma_r^2) on the causes (default 1, the same
        N(0, 1) prior as the iG-VAE's). None: no prior (plain least squares).
    eta : float, optional
        Step size. Default 1 / L, L = lambda_max(Phi^T Phi) / sigma^2 + 1 / sigma_r^2:
        the largest step that decreases the energy monotonically (half the stability
        limit 2 / L), as in ISTA (Beck & Teboulle 2009); every eigen-direction then
        converges without oscillation.
    batch_size : int
        Stimuli processed together.
    column_norm, learning_rate : float
        Dictionary-learning settings used by ``learning.model_training`` (column norm 1,
        the usual unit-norm dictionary elements; Hebbian step 0.2).

    Examples
    --------
    >>> pc = PredictiveCoding(np.eye(3), prior_std=None, eta=0.5)
    >>> pc.infer(np.array([[2.0, -4.0, 8.0]]), steps=3).states[0]   # (1 - 0.5^t) x
    array([[ 0. ,  0. ,  0. ],
           [ 1. , -2. ,  4. ],
           [ 1.5, -3. ,  6. ]])
    """

    name = "PC"

    def __init__(self, Phi, sigma: float = 1.0, prior_std: float | None = 1.0,
                 eta: float | None = None, batch_size: int = 1024,
                 column_norm: float | None = 1.0, learning_rate: float = 0.2):
        self._Phi = check_dictionary(Phi)
        if not (np.isscalar(sigma) and np.isfinite(sigma) and sigma > 0):
            raise ParameterError(f"sigma must be a positive number, got {sigma!r}")
        if prior_std is not None and not (np.isfinite(prior_std) and prior_std > 0):
            raise ParameterError(f"prior_std must be positive or None, got {prior_std!r}")
        self.sigma = float(sigma)
        self.prior_std = None if prior_std is None else float(prior_std)
        self.prior_precision = 0.0 if prior_std is None else 1.0 / self.prior_std ** 2
        self.eta_given = eta
        self.eta = float(eta) if eta is not None else 1.0 / (
            lipschitz_constant(self._Phi, self.sigma) + self.prior_precision)
        if not (np.isfinite(self.eta) and self.eta > 0):
            raise ParameterError(f"eta must be positive, got {self.eta}")
        self.batch_size = int(batch_size)
        self.column_norm = column_norm
        self.learning_rate = float(learning_rate)

    @property
    def Phi(self) -> np.ndarray:
        return self._Phi

    def with_dictionary(self, Phi) -> "PredictiveCoding":
        Phi = check_dictionary(Phi)
        if Phi.shape != self.Phi.shape:
            raise ParameterError(f"the new dictionary has shape {Phi.shape}, expected "
                                 f"{self.Phi.shape}")
        return PredictiveCoding(Phi, sigma=self.sigma, prior_std=self.prior_std,
                                eta=self.eta_given, batch_size=self.batch_size,
                                column_norm=self.column_norm, learning_rate=self.learning_rate)

    def fixed_point(self, x) -> np.ndarray:
        """The minimiser r* of the energy for every stimulus, shape (N, K) (a linear solve)."""
        x = self.check_stimuli(x)
        A = self.Phi.T @ self.Phi / self.sigma ** 2 + self.prior_precision * np.eye(
            self.n_latents)
        return np.linalg.lstsq(A, (x @ self.Phi).T / self.sigma ** 2, rcond=None)[0].T

    def describe(self) -> dict:
        return {"model": self.name, "n_pixels": self.n_pixels, "n_latents": self.n_latents,
                "sigma": self.sigma, "prior_std": self.prior_std, "eta": round(self.eta, 6)}

    def _infer(self, x, steps, record, seed, progress):
        N, K = x.shape[0], self.n_latents
        keep = np.full(steps, -1)
        keep[record] = np.arange(record.size)
        states = np.empty((N, record.size, K))
        s2 = self.sigma ** 2
        # r <- r + eta (Phi^T x / s2 - (Phi^T Phi / s2 + prior_precision I) r)
        A = self.eta * (self.Phi.T @ self.Phi / s2 + self.prior_precision * np.eye(K))
        for start in range(0, N, self.batch_size):
            xb = x[start:start + self.batch_size]
            drive = self.eta * (xb @ self.Phi) / s2
            r = np.zeros((xb.shape[0], K))
            for t in range(steps):
                if keep[t] >= 0:
                    states[start:start + xb.shape[0], keep[t]] = r
                r = r + drive - r @ A
            if progress is not None:
                progress(start + xb.shape[0])
        return states
