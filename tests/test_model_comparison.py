"""compare-models: every model decoded both ways (samples, mean / rate), equal training
budgets, the scikit-learn front, and the --quick run's tables."""
import csv
import dataclasses

import numpy as np
import pytest

from ipvae_brian.analysis.metrics import r_squared
from ipvae_brian.analysis.model_comparison import coding_scores
from ipvae_brian.analysis.rate_distortion import sparse_coding_front
from ipvae_brian.learning import model_training as mt
from ipvae_brian.models.baselines import GaussianIterativeVAE
from ipvae_brian.models.inference import IPVAEInference
from ipvae_brian.models.parameters import IPVAEParameters


def test_ipvae_rate_decode_is_phi_exp_u_of_the_recording():
    """mean_code = exp(u_t) of the network's own recording (same seed), sample_code = its
    counts; R^2 'from the mean' is that of Phi exp(u_t), and differs from the counts'."""
    from ipvae_brian.models.network import IPVAENetwork
    params = IPVAEParameters.random(64, 16, seed=1).replace(u0=np.zeros(16))
    x = np.random.default_rng(2).standard_normal((6, 64))
    result = IPVAEInference(params, engine="runtime").infer(x, 8, seed=3, record=[1, 7])
    counts, u = IPVAENetwork(params, 8, engine="runtime", record_u=True).simulate(x, seed=3)
    np.testing.assert_array_equal(result.sample_code, counts[:, [1, 7]].astype(float))
    np.testing.assert_allclose(result.mean_code, np.exp(u[:, [1, 7]]), rtol=1e-12)
    scores = coding_scores(x, result)
    expected = np.mean(r_squared(x, np.exp(u[:, 7]) @ params.Phi.T))
    assert scores.r2_mean[1] == pytest.approx(expected, rel=1e-12)
    assert scores.zeros_mean[1] == 0.0 < scores.zeros[1]     # a rate is never exactly 0
    assert scores.r2[1] != pytest.approx(scores.r2_mean[1], abs=1e-3)


def test_ipvae_patches_that_ran_away_are_left_out_and_counted():
    """A patch whose counts reach half the rate ceiling exp(c_u) at a step is left out of
    that step's R^2 and %-zeros (both decodes) and counted; the others are scored as
    without it."""
    params = IPVAEParameters.random(64, 16, seed=1).replace(u0=np.zeros(16), c_u=2.0,
                                                          c_du=2.0)
    x = np.random.default_rng(2).standard_normal((6, 64))
    model = IPVAEInference(params, engine="runtime")
    result = model.infer(x, 4, seed=3, record=[0, 3])
    states = np.minimum(result.states, 1.0)  # below the threshold (exp(2) / 2 = 3.7 counts)
    states[1, 1, 0] = 50.0
    forged = dataclasses.replace(result, states=states)
    mask = model.ran_away(forged)
    assert mask.tolist() == [[False, False], [False, True]] + [[False, False]] * 4
    scores = coding_scores(x, forged, mask)
    kept = coding_scores(np.delete(x, 1, axis=0), dataclasses.replace(
        result, states=np.delete(states, 1, axis=0), means=np.delete(result.means, 1, axis=0)))
    assert scores.runaways.tolist() == [0, 1]
    assert scores.r2[1] == pytest.approx(kept.r2[1]) and scores.r2_mean[1] == pytest.approx(
        kept.r2_mean[1])
    assert scores.r2[0] != pytest.approx(kept.r2[0])        # step 0 keeps patch 1


def test_gaussian_sample_code_is_f_of_the_posterior_sample_and_mean_code_f_of_mu():
    """Both codes come from one run: the sample code is what decode="sample" reports for
    the same seed, the mean code what decode="mean" reports; they differ, and the sample's
    noise s eps lowers R^2 early (s_t^2 still large at t = 4)."""
    Phi = mt.random_dictionary(16, 32, seed=0)
    x = np.random.default_rng(1).standard_normal((40, 16))
    for activation in ("linear", "relu"):
        by_mean = GaussianIterativeVAE(Phi, activation=activation).infer(x, 5, seed=4)
        by_sample = GaussianIterativeVAE(Phi, activation=activation,
                                         decode="sample").infer(x, 5, seed=4)
        np.testing.assert_array_equal(by_mean.mean_code, by_mean.states)
        np.testing.assert_array_equal(by_mean.sample_code, by_sample.states)
        np.testing.assert_array_equal(by_sample.mean_code, by_mean.states)
        scores = coding_scores(x, by_mean)
        assert scores.r2[4] < scores.r2_mean[4] - 0.05
        if activation == "relu":           # relu of a sample: zeros where z < 0, about half
            assert 0.3 < scores.zeros[0] < 0.7 and scores.zeros_mean[0] == 1.0


def test_ipvae_and_baselines_get_the_same_number_of_minibatches():
    """The iP-VAE (learning.alternation) takes exactly budget.n_updates Adam steps, as the
    baselines' dictionary loop and scikit-learn's dictionary learning; a budget that is not
    whole minibatches is refused."""
    x = np.random.default_rng(0).standard_normal((60, 16))
    budget = mt.TrainingBudget(n_patches=60, epochs=2, steps=3, batch_size=20)
    assert budget.n_updates == 6
    model, history, minibatches = mt.train_ipvae(8, x, budget, beta=1.0, x_history=x[:4],
                                                 seed=0, engine="runtime")
    assert minibatches == 6 and len(history) == 2
    assert model.params.provenance["learning"]["rule"]["batch_size"] == 20
    _, baseline_history = mt.train_dictionary(mt.baseline_model("LCA", mt.random_dictionary(
        16, 8, seed=0)), x, budget, seed=0)
    assert baseline_history[-1]["update"] == 6
    front, steps = sparse_coding_front(x, x[:10], 8, batch_size=20, epochs=2, alphas=(0.5,))
    assert steps == 6
    with pytest.raises(Exception, match=r"whole minibatches|exactly the budget"):
        mt.train_ipvae(8, x[:50], mt.TrainingBudget(50, 1, 3, 20), 1.0, x[:4])


def test_sklearn_front_is_monotone():
    """Over increasing lasso alpha on a fixed dictionary: R^2 falls, the zeros rise."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((200, 16)) @ rng.standard_normal((16, 16)) * 0.5
    alphas = (0.05, 0.2, 0.5, 1.0, 2.0)
    front, _ = sparse_coding_front(x[:150], x[150:], 24, batch_size=50, alphas=alphas)
    r2 = [p.r2 for p in front]
    zeros = [p.zeros for p in front]
    assert [p.alpha for p in front] == list(alphas)
    assert all(a > b for a, b in zip(r2, r2[1:])), r2
    assert all(a < b for a, b in zip(zeros, zeros[1:])), zeros
    assert r2[0] > 0.9 and zeros[-1] > 0.5


def test_knob_values_and_models():
    from ipvae_brian.workflows.model_comparison import ModelComparisonOptions
    for name, (knob, values, default) in mt.SPARSITY_KNOBS.items():
        assert len(values) >= 4 and default in values
        assert ModelComparisonOptions().knob_values(name)[0] == default
        assert len(ModelComparisonOptions().knob_values(name)) == len(values)
        assert len(ModelComparisonOptions(quick=True).knob_values(name)) == 2
    assert mt.baseline_model("LCA", np.eye(4), 0.5).threshold == 0.5
    assert mt.baseline_model("iG-relu", np.eye(4), 0.01).bias[0] == 0.01


def test_compare_models_quick_writes_both_tables_with_equal_budgets(run_cli, tmp_path):
    """The real command at tiny sizes (the iP-VAE learned by the alternation in Brian2):
    the table's columns, both decodes, the same minibatches for every model and knob
    value, the rate-distortion CSV with every knob point and the front, and the same
    numbers for the same seed."""
    argv = ["compare-models", "--quick", "--latents", "8", "--n-test", "5", "--train-patches",
            "100", "--batch-size", "50", "--steps", "1", "2", "--readout-steps", "2",
            "--train-steps", "2", "--digits-epochs", "1"]
    tables = []
    for run in ("a", "b"):
        code, out, err = run_cli(*argv, "--out-dir", tmp_path / run)
        assert code == 0, err
        assert {p.name for p in (tmp_path / run).iterdir()} == {
            "model_comparison.csv", "model_comparison.md", "model_comparison.png",
            "rate_distortion.csv"}
        with open(tmp_path / run / "model_comparison.csv") as f:
            rows = list(csv.DictReader(f))
        with open(tmp_path / run / "rate_distortion.csv") as f:
            curves = list(csv.DictReader(f))
        tables.append(([{k: v for k, v in r.items() if k != "seconds"} for r in rows], curves))
    rows, curves = tables[0]
    assert list(rows[0]) == [
        "model", "knob", "r2_t1", "r2_t2", "r2_mean_t1", "r2_mean_t2", "zeros_t1", "zeros_t2",
        "zeros_mean_t1", "zeros_mean_t2", "runaways_t1", "runaways_t2", "r2_t1_train_images",
        "r2_t2_train_images",
        "lifetime_sparseness", "population_sparseness", "digits8_readout_accuracy",
        "minibatches", "training"]
    assert [r["model"] for r in rows] == ["iP-VAE", "iG-VAE", "iG-relu", "PC", "LCA", "pixels"]
    assert [r["knob"] for r in rows[:5]] == ["beta = 1", "", "b = 0", "", "lambda = 1"]
    assert {r["minibatches"] for r in rows[:5]} == {"2"}
    assert {r["minibatches"] for r in curves} == {"2"}
    ipvae = rows[0]
    assert float(ipvae["zeros_mean_t2"]) == 0.0 and float(ipvae["zeros_t2"]) > 0.0
    points = [(r["model"], r["value"]) for r in curves if r["t"] == "2"]
    assert points == [("iP-VAE", "1"), ("iP-VAE", "16"), ("iG-VAE", "nan"), ("iG-relu", "0"),
                      ("iG-relu", "0.03"), ("PC", "nan"), ("LCA", "1"), ("LCA", "2")]
    assert sum(r["model"] == "sklearn lasso" for r in curves) == 6
    assert tables[0] == tables[1]
    assert "decoded from samples / from the mean" in out and "| LCA | lambda = 1 |" in out
