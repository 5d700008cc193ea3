"""Baseline inference models (iG-VAE, iG-relu, predictive coding, LCA), the iP-VAE adapter,
the shared training loop and the comparison scores: known answers and clear errors."""
import numpy as np
import pytest

from ipvae_brian.analysis.linear_readout import readout_accuracy
from ipvae_brian.analysis.model_comparison import (ModelRow, coding_scores, format_table,
                                                   table_records)
from ipvae_brian.learning.model_training import TrainingBudget, random_dictionary, train_dictionary
from ipvae_brian.models.baselines import LCA, GaussianIterativeVAE, PredictiveCoding
from ipvae_brian.models.baselines.lca import soft_threshold
from ipvae_brian.models.errors import ParameterError, SimulationInputError
from ipvae_brian.models.inference import InferenceResult, IPVAEInference, lipschitz_constant
from ipvae_brian.models.parameters import IPVAEParameters


def orthonormal(K, seed=0):
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((K, K)))
    return q


@pytest.fixture
def stimuli():
    return 2.0 * np.random.default_rng(1).standard_normal((50, 32))


# --- predictive coding ------------------------------------------------------------------------

def test_predictive_coding_orthonormal_no_prior_is_geometric(stimuli):
    """r_t = (1 - (1 - eta)^t) Phi^T x exactly, so r_t -> Phi^T x."""
    Q, eta = orthonormal(32), 0.3
    result = PredictiveCoding(Q, prior_std=None, eta=eta).infer(stimuli, 60, record=[0, 1, 7, 59])
    target = stimuli @ Q
    for i, t in enumerate(result.steps):
        np.testing.assert_allclose(result.states[:, i], (1 - (1 - eta) ** t) * target,
                                   rtol=0, atol=1e-12)
    assert np.max(np.abs(result.states[:, -1] - target)) < 1e-8   # (0.7^59) * max|x| ~ 1e-9
    # default step 1/L = 1 for an orthonormal dictionary: one step lands on Phi^T x
    one = PredictiveCoding(Q, prior_std=None).infer(stimuli, 2).states[:, 1]
    np.testing.assert_allclose(one, target, atol=1e-12)


def test_predictive_coding_with_prior_converges_to_ridge_solution():
    rng = np.random.default_rng(2)
    Phi = random_dictionary(16, 32, seed=3)
    x = rng.standard_normal((10, 16))
    pc = PredictiveCoding(Phi, prior_std=1.0)
    # error shrinks by at least 1 - eta * lambda_min = 1 - 1 / L per step (lambda_min = 1)
    steps = int(np.ceil(np.log(1e-12) / np.log(1 - pc.eta))) + 1
    r = pc.infer(x, steps, record=[steps - 1]).states[:, 0]
    ridge = np.linalg.solve(Phi.T @ Phi + np.eye(32), Phi.T @ x.T).T
    np.testing.assert_allclose(r, ridge, atol=1e-9)
    np.testing.assert_allclose(pc.fixed_point(x), ridge, atol=1e-10)
    assert 0.0 in pc.infer(x, 3).states[:, 0]    # starts at r_0 = 0


# --- iG-VAE / iG-relu ---------------------------------------------------------------------------

def test_igvae_orthonormal_mean_converges_and_variance_shrinks_like_bayesian_filter(stimuli):
    """Phi orthonormal, sigma = 1, b = 0: E[mu_t+1 - Phi^T x] = (1 - eta s_t^2)(mu_t - Phi^T x)
    and E[d xi] = -(eta / 2) s^2, i.e. 1 / s_t^2 = 1 + eta t: after T steps the posterior
    variance is 1 / (1 + eta T) and the mean sits well within the posterior spread of
    Phi^T x, except for a few latents whose s collapsed early (measured 0.3-0.8% beyond
    3 s_T over 8 seeds; 1.8% of them more than 0.1 off)."""
    Q, eta, T = orthonormal(32), 0.2, 1000
    result = GaussianIterativeVAE(Q, eta=eta).infer(stimuli, T, seed=4)
    target = stimuli @ Q
    error = np.abs(result.final["mean"] - target)
    variance = np.exp(2 * result.final["log_std"])
    predicted = 1 / (1 + eta * T)                                   # s_T^2 = 0.0050
    assert abs(np.mean(variance) / predicted - 1) < 0.1             # measured 0.99
    assert np.median(error) < np.sqrt(predicted) / 4                # measured 0.006 < 0.018
    assert np.mean(error > 3 * np.sqrt(predicted)) < 0.02
    assert np.median(np.abs(target)) > 1.0                          # targets far from 0
    # the reported state is the decoded mean (default): at step T - 1 it has converged too
    assert np.median(np.abs(result.states[:, -1] - target)) < np.sqrt(predicted) / 4


def test_igvae_is_deterministic_for_a_seed_and_random_across_seeds(stimuli):
    model = GaussianIterativeVAE(orthonormal(32), eta=0.2, decode="sample")
    a, b, c = (model.infer(stimuli, 5, seed=s).states for s in (7, 7, 8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("decode", ["mean", "sample"])
def test_igrelu_states_are_non_negative_with_exact_zeros(decode):
    rng = np.random.default_rng(5)
    Phi = random_dictionary(16, 48, seed=6)
    x = rng.standard_normal((40, 16))
    model = GaussianIterativeVAE(Phi, activation="relu", decode=decode)
    assert model.name == "iG-relu"
    states = model.infer(x, 30, seed=0).states
    assert states.min() >= 0.0
    zeros = np.mean(states[:, 1:] == 0)
    assert 0.1 < zeros < 1.0     # sparse, but not silent
    np.testing.assert_allclose(model.infer(x, 30, seed=0).reconstructions, states @ Phi.T)


# --- LCA ------------------------------------------------------------------------------------

def test_lca_fixed_point_satisfies_soft_threshold_equation_and_is_the_lasso():
    from sklearn.linear_model import Lasso
    rng = np.random.default_rng(7)
    M, K, lam = 16, 32, 0.3
    Phi = random_dictionary(M, K, seed=8)
    x = rng.standard_normal((6, M)) * 1.5
    lca = LCA(Phi, threshold=lam)
    result = lca.infer(x, 3000, record=[2999])
    u = result.final["u"]
    # u = Phi^T x - (Phi^T Phi - I) T_lambda(u)
    assert np.max(lca.fixed_point_residual(x, u)) < 1e-6
    a = soft_threshold(u, lam)
    assert 0 < np.mean(a == 0) < 1
    for n in range(x.shape[0]):   # minimiser of 0.5 ||x - Phi a||^2 + lambda ||a||_1
        lasso = Lasso(alpha=lam / M, fit_intercept=False, tol=1e-12, max_iter=100_000)
        lasso.fit(Phi, x[n])
        np.testing.assert_allclose(a[n], lasso.coef_, atol=1e-5)


def test_lca_orthonormal_reaches_soft_threshold_of_projection(stimuli):
    """Phi^T Phi - I = 0: u_t = (1 - (1 - h)^t) Phi^T x, a* = T_lambda(Phi^T x)."""
    Q, h, lam = orthonormal(32), 0.25, 0.7
    result = LCA(Q, threshold=lam, step=h).infer(stimuli, 80, record=[3, 79])
    drive = stimuli @ Q
    np.testing.assert_allclose(result.states[:, 0], soft_threshold((1 - (1 - h) ** 3) * drive, lam),
                               atol=1e-12)
    np.testing.assert_allclose(result.states[:, 1], soft_threshold(drive, lam), atol=1e-8)


# --- the iP-VAE adapter ----------------------------------------------------------------------

def test_ipvae_adapter_counts_equal_the_network_for_the_same_seed():
    from ipvae_brian.models.network import IPVAENetwork
    params = IPVAEParameters.random(64, 16, seed=1)
    params = params.replace(u0=np.zeros(16))          # about one count per bin: non-trivial
    x = np.random.default_rng(2).standard_normal((5, 64))
    model = IPVAEInference(params, engine="runtime")
    result = model.infer(x, 8, seed=3, record=[0, 3, 7])
    counts, _ = IPVAENetwork(params, 8, engine="runtime").simulate(x, seed=3)
    assert counts.sum() > 20
    np.testing.assert_array_equal(result.states, counts[:, [0, 3, 7]].astype(float))
    np.testing.assert_allclose(result.reconstructions, result.states @ params.Phi.T)
    other = model.with_dictionary(2 * params.Phi)
    np.testing.assert_array_equal(other.Phi, 2 * params.Phi)
    np.testing.assert_array_equal(other.params.u0, params.u0)
    assert other.engine == "runtime" and model.Phi is params.Phi


# --- input errors ------------------------------------------------------------------------------

@pytest.mark.parametrize("model", [
    PredictiveCoding(np.eye(4)), LCA(np.eye(4)), GaussianIterativeVAE(np.eye(4)),
    IPVAEInference(IPVAEParameters.random(4, 4, seed=0))], ids=lambda m: m.name)
def test_bad_input_gives_one_clear_message(model):
    with pytest.raises(SimulationInputError, match=r"the stimuli have 3 pixels but the "
                       r"dictionary Phi of the .* has 4 rows \(M\): they must match"):
        model.infer(np.zeros((2, 3)), 5)
    with pytest.raises(SimulationInputError, match=r"stimuli must be N x M .* got shape \(4,\)"):
        model.infer(np.zeros(4), 5)
    bad = np.zeros((2, 4))
    bad[1, 2] = np.nan
    with pytest.raises(SimulationInputError, match=r"the stimuli contain 1 NaN or infinite"):
        model.infer(bad, 5)
    with pytest.raises(SimulationInputError, match=r"steps must be a positive integer, got 0"):
        model.infer(np.zeros((2, 4)), 0)
    with pytest.raises(SimulationInputError, match=r"steps to record must lie in 0 \.\. 4"):
        model.infer(np.zeros((2, 4)), 5, record=[5])
    with pytest.raises(ParameterError, match=r"the new dictionary has shape \(4, 3\), expected"):
        model.with_dictionary(np.zeros((4, 3)))


def test_bad_parameters_give_clear_messages():
    with pytest.raises(ParameterError, match=r"Phi contains 1 NaN or infinite value"):
        LCA(np.array([[1.0, np.nan]]))
    with pytest.raises(ParameterError, match=r"Phi must be a 2-D array"):
        PredictiveCoding(np.ones(3))
    with pytest.raises(ParameterError, match=r"activation must be one of"):
        GaussianIterativeVAE(np.eye(2), activation="tanh")
    with pytest.raises(ParameterError, match=r"inference diverged"):
        PredictiveCoding(np.eye(2), eta=5.0).infer(np.ones((1, 2)), 2000)
    with pytest.raises(SimulationInputError, match=r"step t = 3 was not recorded"):
        PredictiveCoding(np.eye(2)).infer(np.ones((1, 2)), 5, record=[1, 4]).at(3)


def test_lipschitz_constant_known_values():
    assert lipschitz_constant(orthonormal(8)) == pytest.approx(1.0)
    assert lipschitz_constant(2 * np.eye(3), sigma=0.5) == pytest.approx(16.0)


# --- training -------------------------------------------------------------------------------

def test_training_recovers_a_sparse_dictionary_and_is_deterministic():
    """Data made of 2 of 8 unit-norm atoms in 16 pixels: a random 8-atom start spans only
    part of the data's subspace; LCA + Hebbian steps must find it (R^2 up by > 0.3). The
    same seed gives the same dictionary bit for bit."""
    rng = np.random.default_rng(9)
    truth = random_dictionary(16, 8, seed=10)
    codes = np.zeros((600, 8))
    for n in range(600):
        codes[n, rng.choice(8, 2, replace=False)] = rng.uniform(1, 3, 2)
    x = codes @ truth.T
    start = LCA(random_dictionary(16, 8, seed=11), threshold=0.05)
    budget = TrainingBudget(n_patches=600, epochs=8, steps=30, batch_size=100)
    trained, history = train_dictionary(start, x, budget, seed=0, log_every=6)
    before = start.infer(x, 30, record=[29])
    after = trained.infer(x, 30, record=[29])
    r2 = lambda res: coding_scores(x, res).r2[0]  # noqa: E731
    assert r2(after) > r2(before) + 0.3
    np.testing.assert_allclose(np.linalg.norm(trained.Phi, axis=0), 1.0)
    assert [h["update"] for h in history] == [6, 12, 18, 24, 30, 36, 42, 48]
    again, _ = train_dictionary(start, x, budget, seed=0)
    np.testing.assert_array_equal(again.Phi, trained.Phi)
    assert budget.n_updates == 48 and "600 patches x 8 epochs x T = 30" in budget.describe()
    with pytest.raises(SimulationInputError, match=r"asks for 600 patches per epoch but only 10"):
        train_dictionary(start, x[:10], budget)


# --- comparison scores -----------------------------------------------------------------------

def test_coding_scores_and_table():
    x = np.array([[1.0, -1.0, 0.0], [2.0, 0.0, -2.0]])
    Phi = np.eye(3)
    states = np.stack([np.zeros((2, 3)), x], axis=1)          # t = 0: zeros, t = 5: exact
    scores = coding_scores(x, InferenceResult(states=states, steps=np.array([0, 5]), Phi=Phi))
    np.testing.assert_allclose(scores.r2, [0.0, 1.0])
    np.testing.assert_allclose(scores.zeros, [1.0, 2 / 6])
    # a deterministic code is its own mean
    np.testing.assert_array_equal(scores.r2_mean, scores.r2)
    # |code| of the last step: neuron 0 (1, 2): S = (1 - 9 / 10) / (1 - 1/2) = 0.2;
    # neuron 1 one-hot (1, 0): 1; neuron 2 (0, 2): 1 -> mean 0.7
    assert scores.lifetime == pytest.approx((0.2 + 1 + 1) / 3)
    assert scores.silent_neurons == 0
    # a sample code that differs from its mean: the two ways are scored apart
    noisy = InferenceResult(states=states, steps=np.array([0, 5]), Phi=Phi,
                            samples=states + np.array([0.0, 0.5, 0.0]))
    two = coding_scores(x, noisy)
    assert two.r2[1] < 1.0 and two.r2_mean[1] == 1.0 and two.zeros[0] == pytest.approx(2 / 3)
    row = ModelRow("LCA", "budget", {"train images": scores, "test images": two}, 0.5,
                   knob="lambda = 1", minibatches=50)
    table = format_table([row], eval_steps=(5,))
    assert (f"| LCA | lambda = 1 | {two.r2[1]:.2f} / 1.00 | 17% / 33% | 0 (of 2) | 1.00 | "
            in table) and table.endswith("50% | 50 |")
    record = table_records([row], (5,))[0]
    assert record["r2_mean_t5"] == 1.0 and record["r2_t5_train_images"] == 1.0
    assert record["minibatches"] == 50


def test_readout_accuracy_on_separable_and_on_uninformative_features():
    rng = np.random.default_rng(12)
    labels = np.repeat(np.arange(3), 30)
    features = np.eye(3)[labels] * 5 + 0.1 * rng.standard_normal((90, 3))
    assert readout_accuracy(features, labels, features, labels) == 1.0
    chance = readout_accuracy(np.zeros((90, 3)), labels, np.zeros((90, 3)), labels)
    assert chance == pytest.approx(1 / 3)


# --- the command line --------------------------------------------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["--steps", "0"], "error: --steps takes positive integers, got '0'"),
    (["--steps", "16,x"], "error: --steps takes positive integers, got '16,x'"),
    (["--n-test", "30000", "--train-patches", "30000"],
     "error: --n-test (30,000) + --train-patches (30,000) exceed the 50,000 natural16 train"),
    (["--train-patches", "250"], "error: --train-patches (250) must be a multiple of "
                                 "--batch-size (100)"),
    (["--train-steps", "1"], "error: --train-steps must be at least 2"),
    (["--epochs", "0"], "error: --epochs must be a positive integer, got 0"),
    (["--out-dir", "/nonexistent-folder/out"], "error: output folder '/nonexistent-folder' "
                                                "does not exist"),
])
def test_compare_models_bad_options_exit_2_with_one_line(run_cli, argv, message, tmp_path):
    argv = ["compare-models", "--quick", *argv]
    if "--out-dir" not in argv:
        argv += ["--out-dir", str(tmp_path / "out")]
    code, out, err = run_cli(*argv)
    assert code == 2 and err.startswith(message) and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_igvae_learned_prior_is_the_moment_match_of_the_final_posteriors():
    model = GaussianIterativeVAE(random_dictionary(8, 6, seed=0), prior_rate=1.0)
    x = np.random.default_rng(3).standard_normal((20, 8))
    result = model.infer(x, 5, seed=1)
    fitted = model.fit_extras(x, result)
    mu, s2 = result.final["mean"], np.exp(2 * result.final["log_std"])
    np.testing.assert_allclose(fitted.prior_mean, mu.mean(axis=0))
    np.testing.assert_allclose(np.exp(2 * fitted.prior_log_std),
                               (s2 + (mu - mu.mean(axis=0)) ** 2).mean(axis=0))
    fixed = GaussianIterativeVAE(model.Phi, learn_prior=False)
    assert fixed.fit_extras(x, result) is fixed
    # the new prior is where the next inference starts (state at t = 0 with decode="mean")
    np.testing.assert_allclose(fitted.infer(x, 1).states[:, 0],
                               np.broadcast_to(fitted.prior_mean, (20, 6)))
