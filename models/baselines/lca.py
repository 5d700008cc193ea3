r"""The locally competitive algorithm (LCA) of Rozell, Johnson, Baraniuk & Olshausen (2008).

K leaky-integrator neurons with internal states u (membrane potentials) and
thresholded outputs a = T_lambda(u) minimise the sparse-coding energy

.. math::

    E(a) = \tfrac12 \lVert x - \Phi a \rVert^2 + \lambda \lVert a \rVert_1

by the dynamics (their Eq. 3.1, with the soft threshold of their Eq. 3.3)

.. math::

    \tau \dot u = \Phi^\top x - u - (\Phi^\top \Phi - I) a, \qquad
    a = T_\lambda(u) = \mathrm{sign}(u) \max(|u| - \lambda, 0).

Each neuron is driven by its match to the input, b = Phi^T x, leaks, and is
inhibited by the active neurons in proportion to the overlap of their dictionary
elements (the off-diagonal of Phi^T Phi; the identity removes self-inhibition).
Euler steps of h = dt / tau, for t = 0, 1, ..., T - 1::

    u_0     = 0
    a_t     = T_lambda(u_t)                                      the code at step t
    u_{t+1} = u_t + h * (Phi^T x - u_t - (Phi^T Phi - I) a_t)

A fixed point satisfies u = Phi^T x - (Phi^T Phi - I) T_lambda(u); its a is a
minimiser of E (Rozell et al. 2008, section 3.2): the lasso solution. The discrete
map is stable for 0 < h < 2 and h lambda_max(Phi_A^T Phi_A) < 2 on the active set A
(linearising: the active states move by -h Phi_A^T Phi_A du, the others by (1 - h)).

Known cases: Phi orthonormal gives Phi^T Phi - I = 0, u_t = (1 - (1 - h)^t) Phi^T x
and a* = T_lambda(Phi^T x); for any Phi the fixed point satisfies the equation above
(tested to 1e-6) and equals scikit-learn's lasso with alpha = lambda / M.

References
----------
Rozell, C. J., Johnson, D. H., Baraniuk, R. G. & Olshausen, B. A. (2008). Sparse coding
via thresholding and local competition in neural circuits. Neural Computation
20:2526-2563.
Olshausen, B. A. & Field, D. J. (1997). Sparse coding with an overcomplete basis set: a
strategy employed by V1? Vision Research 37:3311-3325 (the energy E).
"""
from __future__ import annotations

import numpy as np

from ipvae_brian.models.errors import ParameterError
from ipvae_brian.models.inference import InferenceModel, check_dictionary, lipschitz_constant


def soft_threshold(u: np.ndarray, threshold: float) -> np.ndarray:
    """T_lambda(u) = sign(u) max(|u| - lambda, 0), elementwise.

    Examples
    --------
    >>> soft_threshold(np.array([-2.0, -0.5, 0.0, 0.5, 2.0]), 1.0)
    array([-1.,  0.,  0.,  0.,  1.])
    """
    return np.sign(u) * np.maximum(np.abs(u) - threshold, 0.0) + 0.0   # + 0.0: no -0.0


class LCA(InferenceModel):
    r"""Locally competitive algorithm with a soft threshold (Rozell et al. 2008).

    See the module docstring for the equations.

    Parameters
    ----------
    Phi : ndarray, shape (M, K)
        Dictionary; the energy assumes unit-norm columns (then Phi^T Phi - I has a zero
        diagonal), which ``learning.model_training`` keeps (``column_norm = 1``).
    threshold : float
        lambda >= 0, the soft threshold and the weight of the L1 penalty, in units of the
        drive Phi^T x. Default 1.0, for natural16 (whitened, pixel variance 1, 16 x 16:
        ||x|| ~ 13): measured after 250 Hebbian steps of 200 patches (K = 512, T = 16), test
        R^2 0.72 / 0.76 / 0.76 at 87% / 91% / 91% zeros at t = 16 / 128 / 1,000, on the
        front of scikit-learn's dictionary learning (0.78 at 91% zeros,
        ``docs/learning.md``).
    step : float, optional
        h = dt / tau. Default min(1, 1 / lambda_max(Phi^T Phi)): inside the stability
        region above for every active set (lambda_max(Phi_A^T Phi_A) <= lambda_max(Phi^T
        Phi)) without oscillation; for an orthonormal Phi it is 1, and the first step
        lands on the fixed point.
    batch_size : int
        Stimuli processed together.
    column_norm, learning_rate : float
        Dictionary-learning settings used by ``learning.model_training``.

    Examples
    --------
    >>> lca = LCA(np.eye(3), threshold=1.0)
    >>> lca.infer(np.array([[3.0, -0.5, -2.0]]), steps=2).states[0, 1]   # T_1(Phi^T x)
    array([ 2.,  0., -1.])
    """

    name = "LCA"

    def __init__(self, Phi, threshold: float = 1.0, step: float | None = None,
                 batch_size: int = 1024, column_norm: float | None = 1.0,
                 learning_rate: float = 0.2):
        self._Phi = check_dictionary(Phi)
        if not (np.isscalar(threshold) and np.isfinite(threshold) and threshold >= 0):
            raise ParameterError(f"threshold must be a number >= 0, got {threshold!r}")
        self.threshold = float(threshold)
        self.step_given = step
        self.step = float(step) if step is not None else min(
            1.0, 1.0 / lipschitz_constant(self._Phi))
        if not (np.isfinite(self.step) and 0 < self.step < 2):
            raise ParameterError(f"step must lie in (0, 2), got {self.step}")
        self.batch_size = int(batch_size)
        self.column_norm = column_norm
        self.learning_rate = float(learning_rate)
        self.sigma = 1.0

    @property
    def Phi(self) -> np.ndarray:
        return self._Phi

    def with_dictionary(self, Phi) -> "LCA":
        Phi = check_dictionary(Phi)
        if Phi.shape != self.Phi.shape:
            raise ParameterError(f"the new dictionary has shape {Phi.shape}, expected "
                                 f"{self.Phi.shape}")
        return LCA(Phi, threshold=self.threshold, step=self.step_given,
                   batch_size=self.batch_size, column_norm=self.column_norm,
                   learning_rate=self.learning_rate)

    def describe(self) -> dict:
        return {"model": self.name, "n_pixels": self.n_pixels, "n_latents": self.n_latents,
                "threshold": self.threshold, "step": round(self.step, 6)}

    def fixed_point_residual(self, x, u) -> np.ndarray:
        """Largest |u - (Phi^T x - (Phi^T Phi - I) T_lambda(u))| per stimulus, shape (N,)."""
        x = self.check_stimuli(x)
        a = soft_threshold(np.asarray(u, dtype=np.float64), self.threshold)
        rhs = x @ self.Phi - a @ self.Phi.T @ self.Phi + a
        return np.max(np.abs(u - rhs), axis=1)

    def _infer(self, x, steps, record, seed, progress):
        N, K = x.shape[0], self.n_latents
        keep = np.full(steps, -1)
        keep[record] = np.arange(record.size)
        states = np.empty((N, record.size, K))
        final_u = np.empty((N, K))
        h = self.step
        inhibition = self.Phi.T @ self.Phi - np.eye(K)          # Phi^T Phi - I
        for start in range(0, N, self.batch_size):
            xb = x[start:start + self.batch_size]
            drive = xb @ self.Phi                                # b = Phi^T x
            u = np.zeros((xb.shape[0], K))
            for t in range(steps):
                a = soft_threshold(u, self.threshold)
                if keep[t] >= 0:
                    states[start:start + xb.shape[0], keep[t]] = a
                u = u + h * (drive - u - a @ inhibition)
            final_u[start:start + xb.shape[0]] = u
            if progress is not None:
                progress(start + xb.shape[0])
        return states, {"u": final_u}
