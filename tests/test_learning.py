"""Offline learning: each fit against its closed form, the alternation's determinism and resume,
and clear errors for bad recordings."""
import numpy as np
import pytest
from scipy import stats

from ipvae_brian.learning import alternation
from ipvae_brian.learning.dictionary import hebbian_gradient, hebbian_step, normalise_columns
from ipvae_brian.learning.likelihood_noise import log_sigma_from_variance, residual_variance
from ipvae_brian.learning.prior_rates import fit_u0, mean_posterior_rates
from ipvae_brian.learning.step_size import largest_drive, stable_step_size
from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.free_energy import free_energy, poisson_kl, reconstruction_nll
from ipvae_brian.models.parameters import IPVAEParameters
from ipvae_brian.models.reference import infer


def test_newton_step_of_one_reaches_the_least_squares_column():
    """With one neuron, epsilon = 1 and curvature = mean(z^2), the step lands on the
    least-squares column sum_n x_n z_n / sum_n z_n^2 whatever the starting column."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 6))
    z = rng.poisson(3.0, size=(50, 1)).astype(float)
    Phi = rng.standard_normal((6, 1))
    new = hebbian_step(Phi, x, z, 1.0, curvature=np.mean(z ** 2, axis=0))
    expected = (x.T @ z) / np.sum(z ** 2)
    np.testing.assert_allclose(new, expected, rtol=1e-12)


def test_gradient_is_zero_at_a_perfect_reconstruction_and_weighted_by_sigma():
    Phi = np.array([[1.0, 0.0], [0.0, 2.0]])
    z = np.array([[[1.0, 2.0]]])
    x = z[0] @ Phi.T
    np.testing.assert_array_equal(hebbian_gradient(Phi, x, z), np.zeros((2, 2)))
    g1 = hebbian_gradient(Phi, x + 1.0, z, sigma=1.0)
    g2 = hebbian_gradient(Phi, x + 1.0, z, sigma=np.array([1.0, 2.0]))
    np.testing.assert_allclose(g2[1], g1[1] / 4)
    np.testing.assert_allclose(np.linalg.norm(normalise_columns(Phi, 0.5), axis=0), 0.5)


def test_residual_variance_and_log_sigma_round_trip():
    Phi = np.eye(3)
    x = np.array([[1.0, 2.0, 3.0], [1.0, 0.0, 3.0]])
    z = np.zeros((2, 1, 3))
    variance = residual_variance(Phi, x, z)
    np.testing.assert_allclose(variance, [1.0, 2.0, 9.0])
    params = IPVAEParameters.random(3, 2, seed=0).replace(
        log_sigma=log_sigma_from_variance(variance))
    np.testing.assert_allclose(params.sigma ** 2, variance, rtol=1e-10)


def test_u0_is_the_log_mean_posterior_rate():
    counts = np.zeros((2, 4, 3))
    counts[:, 2:, 0] = 2.0           # neuron 0: 2 counts per bin in the later half
    counts[0, 3, 1] = 1.0            # neuron 1: 1 count in 4 later bins -> 0.25
    rates = mean_posterior_rates(counts, first_bin=2)
    np.testing.assert_allclose(rates, [2.0, 0.25, 0.0])
    np.testing.assert_allclose(fit_u0(rates), [np.log(2.0), np.log(0.25), -8.0])


def test_step_size_rule_puts_the_largest_drive_at_the_margin():
    params = IPVAEParameters.random(16, 8, seed=1)
    x = np.random.default_rng(2).standard_normal((400, 16))
    eta = stable_step_size(params, x, margin=1.5, quantile=1.0, max_step=1e9)
    assert eta * largest_drive(params, x).max() == pytest.approx(1.5, rel=1e-12)
    assert stable_step_size(params, x, margin=1.5, quantile=1.0, max_step=0.01) == 0.01
    with pytest.raises(SimulationInputError, match=r"stability margin must be in \(0, 2\)"):
        stable_step_size(params, x, margin=2.5)


def test_free_energy_terms_match_their_closed_forms():
    params = IPVAEParameters.random(5, 3, seed=3).replace(log_sigma=np.linspace(-0.5, 0.5, 5))
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 5))
    counts = rng.poisson(1.0, size=(2, 3, 3))
    expected = -stats.norm.logpdf(x[:, None, :], counts @ params.Phi.T,
                                  params.sigma).sum(axis=-1)
    np.testing.assert_allclose(reconstruction_nll(params, x, counts), expected, rtol=1e-12)
    # KL(Pois(a) || Pois(b)) against the sum over the support
    a, b = 1.7, 0.6
    k = np.arange(80)
    direct = np.sum(stats.poisson.pmf(k, a) * (stats.poisson.logpmf(k, a)
                                                - stats.poisson.logpmf(k, b)))
    assert poisson_kl(np.log(a), np.log(b)) == pytest.approx(direct, rel=1e-10)
    u = np.log(np.full((2, 3, 3), 0.5))
    # constant u: no KL after bin 0 (bin t's prior is bin t - 1; bin 0's is u0), and the
    # last bin has its own F (tests/test_free_energy.py tests the objective in full)
    F = free_energy(params, x, counts, u, reconstruction="sample")
    np.testing.assert_allclose(F[:, 1:], expected[:, 1:], rtol=1e-12)


def reference_simulator(steps):
    """The numpy reference as a stand-in for the network (same update, fast)."""
    def simulate(params, x, seed):
        return infer(params, x, steps, np.random.default_rng(seed))
    return simulate


def small_problem():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((120, 16))
    rule = alternation.LearningRule(steps=6, batch_size=20, refit_every=2, eta_every=1,
                                    probe_size=50)
    params = alternation.initial_parameters(16, 12, rule, seed=0, probe=x[:50])
    return x, rule, params


def test_alternation_is_deterministic_and_resumes_exactly():
    x, rule, params = small_problem()
    sim = reference_simulator(rule.steps)
    two = alternation.learn(params, x[:100], x[100:], rule, 2, seed=7, simulate=sim)
    again = alternation.learn(params, x[:100], x[100:], rule, 2, seed=7, simulate=sim)
    np.testing.assert_array_equal(two.Phi, again.Phi)
    one = alternation.learn(params, x[:100], x[100:], rule, 1, seed=7, simulate=sim)
    resumed = alternation.learn(one, x[:100], x[100:], rule, 2, seed=7, simulate=sim,
                                history=one.provenance["learning"]["history"])
    np.testing.assert_array_equal(resumed.Phi, two.Phi)
    np.testing.assert_array_equal(resumed.u0, two.u0)
    assert [h["epoch"] for h in resumed.provenance["learning"]["history"]] == [1, 2]
    other = alternation.learn(params, x[:100], x[100:], rule, 1, seed=8, simulate=sim)
    assert not np.array_equal(other.Phi, one.Phi)
    np.testing.assert_allclose(np.linalg.norm(two.Phi, axis=0), rule.column_norm)


def test_learning_with_the_brian2_network_is_deterministic_for_a_seed():
    x, rule, params = small_problem()
    sim = alternation.brian_simulator(rule.steps, engine="runtime")
    a = alternation.learn(params, x[:40], x[100:], rule, 1, seed=3, simulate=sim)
    b = alternation.learn(params, x[:40], x[100:], rule, 1, seed=3, simulate=sim)
    np.testing.assert_array_equal(a.Phi, b.Phi)
    np.testing.assert_array_equal(a.log_sigma, b.log_sigma)


@pytest.mark.parametrize("bad, message", [
    (lambda x: x[:, :15], "the training stimuli have 15 pixels but the dictionary Phi has 16 rows"),
    (lambda x: np.where(x > 2.5, np.nan, x), r"contain \d+ NaN or infinite value"),
    (lambda x: x[:1], "learning needs at least 2 training stimuli, got 1"),
])
def test_bad_training_sets_get_clear_errors(bad, message):
    x, rule, params = small_problem()
    with pytest.raises(SimulationInputError, match=message):
        alternation.learn(params, bad(x), x[100:], rule, 1, seed=0,
                          simulate=reference_simulator(rule.steps))


def test_fits_reject_recordings_whose_shapes_disagree():
    with pytest.raises(SimulationInputError, match="3 stimuli but codes for 2"):
        hebbian_gradient(np.eye(2), np.ones((3, 2)), np.ones((2, 4, 2)))
    with pytest.raises(SimulationInputError, match="the stimuli have 3 pixels and the codes 2"):
        hebbian_gradient(np.eye(2), np.ones((2, 3)), np.ones((2, 4, 2)))
    with pytest.raises(SimulationInputError, match="first_bin = 5 is outside"):
        mean_posterior_rates(np.zeros((2, 4, 3)), first_bin=5)
