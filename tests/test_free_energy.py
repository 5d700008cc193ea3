"""The objective of ``models/free_energy.py``: each term against an independent computation.

Monte Carlo tolerances: a mean of S independent draws is compared with its exact value
within 4 standard errors (4 * sample std / sqrt(S)); the seeds are fixed, so the tests are
deterministic, and a correct formula would fail such a check with probability about 6e-5.
"""
import numpy as np
import pytest
from scipy import stats

from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.free_energy import (authors_loss, expected_reconstruction_nll,
                                            free_energy, poisson_kl, prior_potentials,
                                            rate_weighted_poisson_kl, reconstruction_nll)
from ipvae_brian.models.parameters import IPVAEParameters

RATE_PAIRS = [(1.7, 0.6), (0.05, 2.0), (8.0, 3.0)]


def tiny_parameters(M, K, seed, beta=2.5):
    rng = np.random.default_rng(seed)
    return IPVAEParameters(Phi=rng.normal(0.0, 0.7, (M, K)), log_sigma=rng.uniform(-0.4, 0.4, M),
                           u0=rng.uniform(-1.0, 0.5, K), log_bias=np.full(K, -3.0),
                           log_lr=0.0, beta=beta)


def within_standard_errors(samples, exact, n_se=4.0):
    samples = np.asarray(samples, dtype=np.float64)
    se = samples.std(ddof=1) / np.sqrt(samples.size)
    assert abs(samples.mean() - exact) < n_se * se, (samples.mean(), exact, se)


@pytest.mark.parametrize("rate, prior_rate", RATE_PAIRS)
def test_poisson_kl_matches_the_support_sum_and_a_monte_carlo_estimate(rate, prior_rate):
    k = np.arange(200)           # P(z >= 200) < 1e-100 for these rates
    exact = np.sum(stats.poisson.pmf(k, rate)
                   * (stats.poisson.logpmf(k, rate) - stats.poisson.logpmf(k, prior_rate)))
    kl = float(poisson_kl(np.log(rate), np.log(prior_rate)))
    assert kl == pytest.approx(exact, rel=1e-10)
    z = np.random.default_rng(1).poisson(rate, 400_000)
    within_standard_errors(stats.poisson.logpmf(z, rate) - stats.poisson.logpmf(z, prior_rate),
                           kl)


@pytest.mark.parametrize("rate, prior_rate", RATE_PAIRS)
def test_rate_weighted_kl_is_the_authors_formula_and_the_ratio_times_the_kl(rate, prior_rate):
    u, u_prior = np.log(rate), np.log(prior_rate)
    d = u - u_prior
    authors = np.exp(u) * (1 + np.exp(d) * (d - 1))     # PoissonLayer.loss_kl, main/layers.py
    weighted = float(rate_weighted_poisson_kl(u, u_prior))
    assert weighted == pytest.approx(authors, rel=1e-12)
    assert weighted == pytest.approx(rate / prior_rate * float(poisson_kl(u, u_prior)), rel=1e-12)


def test_expected_reconstruction_matches_a_monte_carlo_average_over_poisson_counts():
    params = tiny_parameters(M=3, K=4, seed=2)
    rates = np.array([0.2, 1.0, 3.0, 0.7])
    x = np.array([[0.5, -1.0, 2.0]])
    u = np.log(rates)[None, None, :]
    exact = float(expected_reconstruction_nll(params, x, u)[0, 0])
    S = 200_000
    counts = np.random.default_rng(3).poisson(rates, size=(1, S, 4))
    within_standard_errors(reconstruction_nll(params, x, counts)[0], exact)
    # and the closed form written out: ||x - Phi lambda||^2_W + sum_k lambda_k ||Phi_k / sigma||^2
    W = 1 / params.sigma ** 2
    residual = x[0] - params.Phi @ rates
    quadratic = residual @ (W * residual) + np.sum(rates * (W @ params.Phi ** 2))
    constant = np.sum(np.log(params.sigma)) + 1.5 * np.log(2 * np.pi)
    assert exact == pytest.approx(0.5 * quadratic + constant, rel=1e-12)


def brute_force_free_energy(params, x, u, cutoff=60):
    """-ELBO_t = sum_z q_t(z) [-log N(x; Phi z, sigma^2) + beta (log q_t(z) - log p_t(z))],
    over all z in {0 .. cutoff}^2 (K = 2), with p_0 = Pois(exp(u0)) and p_t = q_{t-1}."""
    grid = np.stack(np.meshgrid(np.arange(cutoff + 1), np.arange(cutoff + 1), indexing="ij"),
                    axis=-1).reshape(-1, 2)
    log_lik = stats.norm.logpdf(x[None, :], grid @ params.Phi.T, params.sigma).sum(axis=1)
    out = []
    prior = params.u0
    for u_t in u:
        log_q = stats.poisson.logpmf(grid, np.exp(u_t)).sum(axis=1)
        log_p = stats.poisson.logpmf(grid, np.exp(prior)).sum(axis=1)
        q = np.exp(log_q)
        assert 1 - q.sum() < 1e-12                     # the cut tail is negligible
        out.append(np.sum(q * (-log_lik + params.beta * (log_q - log_p))))
        prior = u_t
    return np.array(out)


def test_free_energy_is_minus_the_elbo_by_enumeration():
    params = tiny_parameters(M=2, K=2, seed=4)
    x = np.array([1.2, -0.4])
    u = np.log(np.array([[0.5, 2.0], [1.5, 0.3], [4.0, 1.0], [0.1, 5.0]]))   # T = 4 bins
    expected = brute_force_free_energy(params, x, u)
    F = free_energy(params, x[None], np.zeros((1, 4, 2), dtype=int), u[None])
    np.testing.assert_allclose(F[0], expected, rtol=1e-10)


def test_the_sample_form_is_an_unbiased_estimate_of_the_expected_form():
    params = tiny_parameters(M=2, K=2, seed=5)
    x = np.array([[0.3, 0.9]])
    u = np.log(np.array([[[0.8, 2.5], [2.0, 0.4]]]))
    S = 100_000
    counts = np.random.default_rng(6).poisson(np.exp(u), size=(S, 2, 2))
    sample = free_energy(params, np.repeat(x, S, 0), counts, np.repeat(u, S, 0),
                         reconstruction="sample")
    exact = free_energy(params, x, counts[:1], u)[0]
    for t in range(2):
        within_standard_errors(sample[:, t], exact[t])


def test_authors_loss_on_a_hand_computed_case():
    """One pixel, one neuron, Phi = 1, sigma = 1, beta = 1, x = 2, u0 = 0 (rate 1);
    bin 0 at u0 with 0 counts, bin 1 at rate 2 with 1 count.

    bin 0: (2 - 0)^2 / 2 + log(2 pi) / 2 = 2.918939, KL 0.
    bin 1: (2 - 1)^2 / 2 + log(2 pi) / 2 = 1.418939; KL(Pois(2) || Pois(1)) = 2 log 2 - 1
    = 0.386294, times the rate ratio 2 = 0.772589; the authors' loss 2.191528, the ELBO
    form 1.805233; in expectation (lambda = 2 explains x = 2 exactly; Poisson noise 2 / 2)
    1 + 0.918939 + 0.386294 = 2.305233.
    """
    params = IPVAEParameters(Phi=np.ones((1, 1)), log_sigma=np.zeros(1), u0=np.zeros(1),
                             log_bias=np.zeros(1), log_lr=0.0, beta=1.0)
    x = np.array([[2.0]])
    counts = np.array([[[0], [1]]])
    u = np.log(np.array([[[1.0], [2.0]]]))
    np.testing.assert_allclose(authors_loss(params, x, counts, u)[0], [2.918939, 2.191528],
                               atol=1e-6)
    np.testing.assert_allclose(free_energy(params, x, counts, u, reconstruction="sample")[0],
                               [2.918939, 1.805233], atol=1e-6)
    np.testing.assert_allclose(free_energy(params, x, counts, u)[0, 1], 2.305233, atol=1e-6)


def test_authors_loss_differs_from_the_elbo_by_the_ratio_minus_one_times_the_kl():
    params = tiny_parameters(M=3, K=4, seed=7)
    rng = np.random.default_rng(8)
    u = rng.uniform(-2, 1.5, (2, 5, 4))
    counts = rng.poisson(np.exp(u))
    x = rng.standard_normal((2, 3))
    prior = prior_potentials(params, u)
    extra = params.beta * np.sum((np.exp(u - prior) - 1) * poisson_kl(u, prior), axis=-1)
    for form in ("sample", "expected"):
        np.testing.assert_allclose(
            authors_loss(params, x, counts, u, reconstruction=form),
            free_energy(params, x, counts, u, reconstruction=form) + extra, rtol=1e-12)


@pytest.mark.parametrize("form", ["expected", "sample"])
def test_each_bin_pairs_its_own_posterior_with_the_previous_one(form):
    """F_t depends on u_t and u_{t-1} only: changing u_{t+1} leaves F_t as it was (the old
    pairing, reconstruction of z_t with KL(q_{t+1} || q_t), fails this), and the last bin
    has its own F_t."""
    params = tiny_parameters(M=3, K=4, seed=9)
    rng = np.random.default_rng(10)
    u = rng.uniform(-2, 1.5, (2, 6, 4))
    counts = rng.poisson(np.exp(u))
    x = rng.standard_normal((2, 3))
    F = free_energy(params, x, counts, u, reconstruction=form)
    assert np.all(np.isfinite(F))
    changed = u.copy()
    changed[:, 3] += 0.7
    G = free_energy(params, x, counts, changed, reconstruction=form)
    np.testing.assert_array_equal(G[:, :3], F[:, :3])
    np.testing.assert_array_equal(G[:, 5], F[:, 5])
    assert np.all(G[:, 4] != F[:, 4])                   # u_3 is the prior of bin 4


def test_bin_zero_has_the_model_prior_and_no_kl_after_a_reset():
    params = tiny_parameters(M=3, K=4, seed=11)
    rng = np.random.default_rng(12)
    u = rng.uniform(-2, 1.5, (2, 3, 4))
    u[:, 0] = params.u0
    counts = rng.poisson(np.exp(u))
    x = rng.standard_normal((2, 3))
    F = free_energy(params, x, counts, u, reconstruction="sample")
    np.testing.assert_allclose(F[:, 0], reconstruction_nll(params, x, counts)[:, 0], rtol=1e-14)
    streamed = u.copy()
    streamed[:, 0] += 0.3              # a streamed run: bin 0 starts elsewhere
    kl0 = poisson_kl(streamed[:, 0], params.u0).sum(axis=-1)
    np.testing.assert_allclose(
        free_energy(params, x, counts, streamed)[:, 0],
        expected_reconstruction_nll(params, x, streamed)[:, 0] + params.beta * kl0, rtol=1e-12)
    same = free_energy(params, x, counts, streamed, first_prior=streamed[:, 0])
    np.testing.assert_allclose(same[:, 0], expected_reconstruction_nll(params, x, streamed)[:, 0],
                               rtol=1e-14)


def test_movies_and_bad_inputs():
    params = tiny_parameters(M=3, K=4, seed=13)
    rng = np.random.default_rng(14)
    u = rng.uniform(-2, 1, (2, 3, 4))
    counts = rng.poisson(np.exp(u))
    x = rng.standard_normal((2, 3))
    movie = np.repeat(x[:, None, :], 3, axis=1)        # one frame per bin
    np.testing.assert_allclose(free_energy(params, movie, counts, u),
                               free_energy(params, x, counts, u), rtol=1e-14)
    with pytest.raises(SimulationInputError, match="reconstruction must be one of"):
        free_energy(params, x, counts, u, reconstruction="mean")
    with pytest.raises(SimulationInputError, match="do not match counts"):
        free_energy(params, x, counts[:, :2], u)
    with pytest.raises(SimulationInputError, match="do not match"):
        free_energy(params, x[:1], counts, u)
    with pytest.raises(SimulationInputError, match="N x T x K"):
        reconstruction_nll(params, x, counts[..., :3])
