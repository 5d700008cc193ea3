r"""The iP-VAE's objective per time bin, written once (docs/model.md, "Free energy").

Notation. For one stimulus x and the T recorded bins t = 0 .. T - 1, u_t is the
membrane potential the counts z_t of bin t were drawn from (``Recording.u``,
``reference.infer``), lambda_t = exp(u_t) its rates, and
q_t = prod_k Pois(lambda_{t,k}) the posterior of bin t.

**The free energy of bin t** (the negative ELBO of the one posterior q_t):

.. math::

    F_t = \mathbb E_{q_t}\!\left[\sum_m \frac{(x_m - (\Phi z)_m)^2}{2\sigma_m^2}\right]
          + \tfrac12 \sum_m \log(2\pi\sigma_m^2)
          + \beta\, \mathrm{KL}(q_t \,\|\, p_t),
    \qquad p_t = q_{t-1} \;(t \ge 1), \quad p_0 = \prod_k \mathrm{Pois}(e^{u0_k}).

Every term of F_t is a function of q_t and of its prior only: the expectation is
under q_t, the counts z_t are a sample of q_t, and the prior of bin t is the
posterior of the bin before (the online inference of the model page). So F_t
does not depend on u_{t+1}, and every recorded bin has its F_t (no NaN at the
last bin). When u is reset at stimulus onset (the default), u_0 = u0 and the
KL of bin 0 is zero: F_0 is the reconstruction term of the prior alone.
(Until issue 16 this module paired the reconstruction of z_t with
KL(q_{t+1} || q_t), the ELBO of no single posterior.) With beta >= 1, F_t is
an upper bound on -log p_t(x), p_t(x) = sum_z N(x; Phi z, sigma^2) p_t(z).

**Two forms of the reconstruction term.** With W = diag(1 / sigma^2), z_k
independent, E[z] = lambda and Cov[z] = diag(lambda), write
x - Phi z = (x - Phi lambda) - Phi (z - lambda); the cross term has zero mean, so

.. math::

    \mathbb E_q\,\|x - \Phi z\|_W^2
      = \|x - \Phi\lambda\|_W^2 + \mathbb E\,(z-\lambda)^\top \Phi^\top W \Phi (z-\lambda)
      = \|x - \Phi\lambda\|_W^2 + \mathrm{tr}(\Phi^\top W \Phi\, \mathrm{diag}\,\lambda)
      = \|x - \Phi\lambda\|_W^2 + \sum_k \lambda_k \|\Phi_k / \sigma\|^2 .

``reconstruction="expected"`` computes this exact expectation
(:func:`expected_reconstruction_nll`); ``"sample"`` uses the recorded z_t, a
one-sample unbiased estimate of it (:func:`reconstruction_nll`). The second
term is the price of Poisson noise: an L1 penalty on the rates weighted by each
column's squared norm over sigma^2.

**Poisson KL** (per neuron, :func:`poisson_kl`):
KL(Pois(l) || Pois(l0)) = l log(l / l0) - l + l0.

**The authors' training loss** (:func:`authors_loss`) is the same sum with
the KL of each neuron multiplied by the rate ratio lambda_t / lambda_{t-1}; see
its docstring for the differences from the ELBO.

Units: nats per stimulus and bin, constants included (F can be negative).

References
----------
Vafaii, Galor & Yates (2025), "Brain-like variational inference", arXiv:2410.19315.
The authors' code, github.com/hadivafaii/IterativeVAE: ``main/layers.py``
(``PoissonLayer.loss_kl``, ``_StochasticLayer.loss_recon``), ``main/model.py``
(``forward``) and ``main/train.py`` (``Trainer._init_fun``).
"""
from __future__ import annotations

import numpy as np

from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.parameters import IPVAEParameters

#: The forms of the reconstruction term (see the module docstring).
RECONSTRUCTION_FORMS = ("expected", "sample")


def poisson_kl(u: np.ndarray, u_prior: np.ndarray) -> np.ndarray:
    r"""KL(Pois(exp(u)) || Pois(exp(u_prior))), elementwise, in nats.

    .. math:: \lambda \log(\lambda/\lambda_0) - \lambda + \lambda_0
              = e^{u} (u - u_0) - e^{u} + e^{u_0}

    Zero when u = u_prior, positive otherwise.

    Examples
    --------
    >>> float(poisson_kl(np.log(2.0), np.log(2.0)))
    0.0
    >>> round(float(poisson_kl(np.log(2.0), 0.0)), 6)    # 2 log 2 - 2 + 1
    0.386294
    """
    u = np.asarray(u, dtype=np.float64)
    u_prior = np.asarray(u_prior, dtype=np.float64)
    rate = np.exp(u)
    return rate * (u - u_prior) - rate + np.exp(u_prior)


def rate_weighted_poisson_kl(u: np.ndarray, u_prior: np.ndarray) -> np.ndarray:
    r"""The authors' KL term: (lambda / lambda_0) KL(Pois(lambda) || Pois(lambda_0)), elementwise.

    With d = u - u_prior, their ``PoissonLayer.loss_kl`` computes
    exp(u) (1 + exp(d) (d - 1)); since KL = exp(u_prior) (1 + exp(d) (d - 1)), that is
    exp(d) = lambda / lambda_0 times the KL. Non-negative and zero only at u = u_prior,
    but not a divergence between the two distributions: it grows like lambda^2 log lambda
    for a rising rate and vanishes like lambda for a falling one.

    Examples
    --------
    >>> round(float(rate_weighted_poisson_kl(np.log(2.0), 0.0)), 6)   # 2 (2 log 2 - 1)
    0.772589
    """
    u = np.asarray(u, dtype=np.float64)
    u_prior = np.asarray(u_prior, dtype=np.float64)
    return np.exp(u - u_prior) * poisson_kl(u, u_prior)


def _stimuli_per_bin(params: IPVAEParameters, x: np.ndarray, shape: tuple) -> np.ndarray:
    """x as (N, 1, M) or (N, T, M), checked against a (N, T, K) array's shape."""
    x = np.asarray(x, dtype=np.float64)
    if len(shape) != 3 or shape[2] != params.n_latents:
        raise SimulationInputError(
            f"counts and potentials must be N x T x K with K = {params.n_latents}, got "
            f"shape {shape}")
    if x.ndim == 2:
        x = x[:, None, :]
    if x.ndim != 3 or x.shape[0] != shape[0] or x.shape[-1] != params.n_pixels or \
            x.shape[1] not in (1, shape[1]):
        raise SimulationInputError(
            f"stimuli of shape {x.shape} do not match counts or potentials of shape {shape} "
            f"and {params.n_pixels} pixels")
    return x


def _gaussian_nll(params: IPVAEParameters, squared_error: np.ndarray) -> np.ndarray:
    """(1/2) sum_m squared_error_m / sigma_m^2 + (1/2) sum_m log(2 pi sigma_m^2); last axis summed."""
    sigma = params.sigma
    return (0.5 * np.sum(squared_error / sigma ** 2, axis=-1)
            + np.sum(np.log(sigma)) + 0.5 * params.n_pixels * np.log(2 * np.pi))


def reconstruction_nll(params: IPVAEParameters, x: np.ndarray, counts: np.ndarray) -> np.ndarray:
    r"""-log N(x; Phi z_t, diag(sigma^2)) of every recorded bin, in nats.

    The one-sample estimate of the reconstruction term of F_t (z_t ~ q_t).

    Parameters
    ----------
    params : IPVAEParameters
    x : ndarray, shape (N, M) or (N, T, M)
        Stimuli (static, or one frame per bin).
    counts : ndarray, shape (N, T, K)

    Returns
    -------
    ndarray, shape (N, T)
    """
    counts = np.asarray(counts)
    x = _stimuli_per_bin(params, x, counts.shape)
    residual = x - counts.astype(np.float64) @ params.Phi.T
    return _gaussian_nll(params, residual ** 2)


def expected_reconstruction_nll(params: IPVAEParameters, x: np.ndarray,
                                u: np.ndarray) -> np.ndarray:
    r"""E_q[-log N(x; Phi z, diag(sigma^2))] under q = Pois(exp(u)), every bin, in nats.

    .. math::

        \tfrac12 \|x - \Phi\lambda\|^2_{\sigma^{-2}}
        + \tfrac12 \sum_k \lambda_k \|\Phi_k / \sigma\|^2
        + \tfrac12 \sum_m \log(2\pi\sigma_m^2), \qquad \lambda = e^{u}

    (derivation in the module docstring). Exact; does not depend on the counts.

    Parameters
    ----------
    params : IPVAEParameters
    x : ndarray, shape (N, M) or (N, T, M)
    u : ndarray, shape (N, T, K)
        Log-rates of the posterior of every bin.

    Returns
    -------
    ndarray, shape (N, T)

    Examples
    --------
    One pixel, one neuron, Phi = 1, sigma = 1, x = 2, lambda = 1:
    (1/2)(2 - 1)^2 + (1/2) 1 + (1/2) log 2 pi.

    >>> p = IPVAEParameters(Phi=np.ones((1, 1)), log_sigma=np.zeros(1), u0=np.zeros(1),
    ...                     log_bias=np.zeros(1), log_lr=0.0)
    >>> round(float(expected_reconstruction_nll(p, np.array([[2.0]]), np.zeros((1, 1, 1)))[0, 0]
    ...             - 0.5 * np.log(2 * np.pi)), 12)
    1.0
    """
    u = np.asarray(u, dtype=np.float64)
    x = _stimuli_per_bin(params, x, u.shape)
    rate = np.exp(u)
    residual = x - rate @ params.Phi.T
    noise = rate @ (params.Phi ** 2).T            # sum_k lambda_k Phi_mk^2, per pixel m
    return _gaussian_nll(params, residual ** 2 + noise)


def poisson_noise_price(params: IPVAEParameters) -> np.ndarray:
    r"""What a unit of rate of neuron k adds to the expected reconstruction term, in nats:
    ||Phi_k / sigma||^2 / 2, the price of Poisson noise (module docstring).

    .. math:: \frac{\partial}{\partial \lambda_k}
              \mathbb E_q[-\log \mathcal N(x;\, \Phi z,\, \sigma^2)]\Big|_{\text{noise}}
              = \tfrac12 \sum_m \Phi_{mk}^2 / \sigma_m^2

    In expectation the dynamics stop where Phi^T diag(sigma^-2) (x - Phi lambda) = b: a
    non-negative lasso with penalty b_k per unit of rate, so a bias b_k = c times this price
    charges a spike c times the noise it adds (``docs/learning.md``).

    Returns
    -------
    ndarray, shape (K,)

    Examples
    --------
    >>> p = IPVAEParameters(Phi=np.array([[0.3], [0.4]]), log_sigma=np.zeros(2),
    ...                     u0=np.zeros(1), log_bias=np.zeros(1), log_lr=0.0)
    >>> poisson_noise_price(p)     # (0.09 + 0.16) / 2
    array([0.125])
    """
    return 0.5 * ((params.Phi / params.sigma[:, None]) ** 2).sum(axis=0)


def prior_potentials(params: IPVAEParameters, u: np.ndarray,
                     first_prior: np.ndarray | None = None) -> np.ndarray:
    """The log-rates of the prior p_t of every bin: u_{t-1}, and for bin 0 ``first_prior``.

    Parameters
    ----------
    params : IPVAEParameters
    u : ndarray, shape (N, T, K)
    first_prior : ndarray, shape (K,) or (N, K), optional
        Log-rates of bin 0's prior. Default ``params.u0``, the model's prior (and
        u_0 itself when u was reset at onset). In a streamed recording pass the
        potential after the previous stimulus's last bin if it is known.

    Returns
    -------
    ndarray, shape (N, T, K)
    """
    u = np.asarray(u, dtype=np.float64)
    prior = np.empty_like(u)
    prior[:, 1:] = u[:, :-1]
    prior[:, 0] = params.u0 if first_prior is None else np.asarray(first_prior, np.float64)
    return prior


def _reconstruction_term(params, x, counts, u, reconstruction):
    """The reconstruction term of every bin in the form asked for (module docstring)."""
    if np.shape(counts) != np.shape(u):
        raise SimulationInputError(f"potentials of shape {np.shape(u)} do not match "
                                   f"counts of shape {np.shape(counts)}")
    if reconstruction == "expected":
        return expected_reconstruction_nll(params, x, u)
    if reconstruction == "sample":
        return reconstruction_nll(params, x, counts)
    raise SimulationInputError(
        f"reconstruction must be one of {RECONSTRUCTION_FORMS}, got {reconstruction!r}")


def free_energy(params: IPVAEParameters, x: np.ndarray, counts: np.ndarray, u: np.ndarray,
                *, reconstruction: str = "expected",
                first_prior: np.ndarray | None = None) -> np.ndarray:
    r"""F_t of every stimulus and bin: the negative ELBO of q_t = Pois(exp(u_t)), in nats.

    .. math::

        F_t = \mathbb E_{q_t}[-\log \mathcal N(x;\, \Phi z,\, \sigma^2)]
              + \beta \sum_k \mathrm{KL}(\mathrm{Pois}(e^{u_{t,k}}) \,\|\,
                                         \mathrm{Pois}(e^{u_{t-1,k}}))

    with u_{-1} = ``first_prior`` (default u0). The prior of bin t is the posterior
    of bin t - 1; F_t does not depend on u_{t+1} (module docstring).

    Parameters
    ----------
    params : IPVAEParameters
        beta is ``params.beta``.
    x : ndarray, shape (N, M) or (N, T, M)
    counts : ndarray, shape (N, T, K)
        z_t, drawn from exp(u_t); used by ``reconstruction="sample"`` only.
    u : ndarray, shape (N, T, K)
        u_t, the potential each bin's counts were drawn from.
    reconstruction : {"expected", "sample"}
        "expected" (default): the exact expectation under q_t
        (:func:`expected_reconstruction_nll`); "sample": -log N(x; Phi z_t, sigma^2) of
        the recorded counts, its one-sample estimate (:func:`reconstruction_nll`).
    first_prior : ndarray, shape (K,) or (N, K), optional
        Log-rates of bin 0's prior (:func:`prior_potentials`); default ``params.u0``.

    Returns
    -------
    ndarray, shape (N, T)
        Average over bins and stimuli for the per-sample free energy.
    """
    u = np.asarray(u, dtype=np.float64)
    nll = _reconstruction_term(params, x, counts, u, reconstruction)
    kl = poisson_kl(u, prior_potentials(params, u, first_prior)).sum(axis=-1)
    return nll + params.beta * kl


def authors_loss(params: IPVAEParameters, x: np.ndarray, counts: np.ndarray, u: np.ndarray,
                 *, reconstruction: str = "sample",
                 first_prior: np.ndarray | None = None) -> np.ndarray:
    r"""The authors' per-step training loss, on the same bins and pairing as :func:`free_energy`.

    .. math::

        L_t = -\log \mathcal N(x;\, \Phi \tilde z_t,\, \sigma^2)
              + \beta \sum_k \frac{\lambda_{t,k}}{\lambda_{t-1,k}}\,
                \mathrm{KL}(\mathrm{Pois}(\lambda_{t,k}) \,\|\, \mathrm{Pois}(\lambda_{t-1,k})),
        \qquad \tilde z_t \sim \mathrm{Pois}(\lambda_t)

    As in github.com/hadivafaii/IterativeVAE, ``main/layers.py``: each step sets the
    prior to the current potential, updates u, then draws a fresh sample of the
    updated posterior for ``loss_recon`` (the summed Gaussian -log_prob) and computes
    ``PoissonLayer.loss_kl`` = exp(u) (1 + exp(d) (d - 1)), d = u - u_prior
    (:func:`rate_weighted_poisson_kl`); ``main/train.py`` adds recon + beta * sum_k kl,
    averages over the batch and the T steps. Their step i is our bin i + 1: the
    updated posterior is q_t, its prior q_{t-1}. In a recording the counts z_t are a
    sample of that posterior, so ``reconstruction="sample"`` (default) is their estimate;
    "expected" is its expectation.

    How it differs from the ELBO F_t:

    - the KL of each neuron is multiplied by lambda_t / lambda_{t-1}: the sum is no
      longer a KL, F_t + beta sum_k (ratio - 1) KL_k is not the negative ELBO of any
      posterior and bounds no likelihood; it penalises rising rates more and falling
      rates less than the KL (a push toward silence);
    - their training also scales the loss by 256 / M, anneals beta and the clamps,
      and draws a relaxed (temperature) Poisson sample for the gradient; these change
      the optimiser's path, not this per-bin value, and are left out here;
    - their average runs over steps 1 .. T (no bin 0); bin 0 here, with u_0 = u0,
      has ratio 1 and KL 0, so L_0 = F_0 (sample form).

    Parameters, shapes and ``first_prior`` as in :func:`free_energy`.

    Returns
    -------
    ndarray, shape (N, T)
    """
    u = np.asarray(u, dtype=np.float64)
    nll = _reconstruction_term(params, x, counts, u, reconstruction)
    kl = rate_weighted_poisson_kl(u, prior_potentials(params, u, first_prior)).sum(axis=-1)
    return nll + params.beta * kl
