"""Offline learning: each fit against its closed form, the alternation's determinism and resume,
and clear errors for bad recordings."""
import numpy as np
import pytest
from scipy import stats

from ipvae_brian.learning import alternation
from ipvae_brian.learning.dictionary import hebbian_gradient, hebbian_step, normalise_columns
from ipvae_brian.learning.adam import AdamState
from ipvae_brian.learning.objective_gradient import objective_and_gradient
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
    rule = alternation.LearningRule(steps=8, window=4, batch_size=20, release=6, decay=10,
                                    probe_size=30, evaluate_at=2)
    params = alternation.initial_parameters(16, 12, rule, seed=0)
    return x, rule, params


def test_alternation_is_deterministic_and_resumes_exactly():
    x, rule, params = small_problem()
    sim = reference_simulator(rule.steps)
    two = alternation.learn(params, x[:100], x[100:], rule, 2, seed=7, simulate=sim)
    again = alternation.learn(params, x[:100], x[100:], rule, 2, seed=7, simulate=sim)
    np.testing.assert_array_equal(two.Phi, again.Phi)
    state = AdamState.zeros(params)
    one = alternation.learn(params, x[:100], x[100:], rule, 1, seed=7, simulate=sim,
                            state=state)
    resumed = alternation.learn(one, x[:100], x[100:], rule, 2, seed=7, simulate=sim,
                                history=one.provenance["learning"]["history"],
                                state=AdamState.from_arrays(state.arrays()))
    for name in ("Phi", "log_sigma", "u0", "log_bias", "log_lr"):
        np.testing.assert_array_equal(getattr(resumed, name), getattr(two, name))
    assert [h["epoch"] for h in resumed.provenance["learning"]["history"]] == [1, 2]
    other = alternation.learn(params, x[:100], x[100:], rule, 1, seed=8, simulate=sim)
    assert not np.array_equal(other.Phi, one.Phi)
    # every fitted parameter moved, and the clamps followed the schedule to the end
    for name in ("Phi", "log_sigma", "u0", "log_bias"):
        assert not np.array_equal(getattr(two, name), getattr(params, name)), name
    assert two.log_lr != params.log_lr
    assert two.c_u == two.c_du == rule.clamp_final


def test_learning_with_the_brian2_network_is_deterministic_for_a_seed():
    x, rule, params = small_problem()
    sim = alternation.brian_simulator(rule.steps, engine="runtime")
    a = alternation.learn(params, x[:40], x[100:], rule, 1, seed=3, simulate=sim)
    b = alternation.learn(params, x[:40], x[100:], rule, 1, seed=3, simulate=sim)
    np.testing.assert_array_equal(a.Phi, b.Phi)
    np.testing.assert_array_equal(a.log_sigma, b.log_sigma)


def test_tiled_windows_cover_every_bin_once_and_their_mean_is_the_recording_objective():
    """With ``tile`` the windows start at 0, w, 2w, ... and their objectives, averaged, are
    the recording's mean free energy over all T bins (at the parameters that made it the
    propagated potentials are the recorded ones); T not a multiple of w is refused."""
    x, rule, params = small_problem()
    rule = alternation.LearningRule(steps=8, window=2, tile=True, evaluate_at=2)
    assert alternation._window_starts(rule, np.random.default_rng(0)) == [0, 2, 4, 6]
    params = params.replace(c_u=10.0, c_du=10.0)
    counts, u = reference_simulator(8)(params, x[:10], 1)
    objectives = []
    for start in alternation._window_starts(rule, None):
        window_counts, window_u, onset = alternation._window(counts, u, start, rule.window)
        J, _ = objective_and_gradient(params, x[:10], window_counts, window_u,
                                      gradient=False, onset=onset, propagate=True)
        objectives.append(J)
    assert np.mean(objectives) == pytest.approx(np.mean(free_energy(params, x[:10], counts, u)),
                                                rel=1e-12)
    with pytest.raises(SimulationInputError,
                       match=r"tiled windows need steps \(8\) to be a multiple of window \(3\)"):
        alternation.LearningRule(steps=8, window=3, tile=True, evaluate_at=2)


def test_closed_loop_search_takes_the_factors_that_lower_the_objective_and_no_other():
    """b x 2 and eta x sqrt(2) minimise a made-up J; a J that no factor lowers, or that is
    infinite (a runaway) elsewhere, keeps b and eta; the alternation records the factors."""
    from ipvae_brian.learning.closed_loop_search import search_bias_and_step
    _, _, params = small_problem()

    def bowl(p):
        return ((np.median(p.log_bias - params.log_bias) - np.log(2)) ** 2
                + (p.log_lr - params.log_lr - np.log(2) / 2) ** 2)
    found, b, eta, tried = search_bias_and_step(params, bowl)
    assert (b, eta) == (2.0, pytest.approx(2 ** 0.5))
    np.testing.assert_allclose(found.log_bias, params.log_bias + np.log(2))
    assert len(tried) == 10
    flat = search_bias_and_step(params, lambda p: 1.0 if p.log_lr == params.log_lr else np.inf)
    assert flat[1:3] == (1.0, 1.0)
    np.testing.assert_array_equal(flat[0].log_bias, params.log_bias)
    x, rule, params = small_problem()
    rule = alternation.LearningRule(**{**rule.__dict__, "search_every": 3})
    learned = alternation.learn(params, x[:60], x[100:], rule, 1, seed=2,
                                simulate=reference_simulator(rule.steps))
    record = learned.provenance["learning"]["history"][0]
    assert record["bias_factor"] in (0.25, 0.5, 1.0, 2.0, 4.0)
    assert record["eta_factor"] in (0.5, 1.0, 2.0) or np.isclose(record["eta_factor"] ** 2,
                                                                  (0.5, 2.0)).any()


def test_calibration_prices_b_in_poisson_noise_and_keeps_only_what_lowers_the_objective():
    """b = c ||Phi_k / sigma||^2 / 2 with the c of lowest J, then eta, then c again; a J
    that nothing lowers keeps the fitted b and eta; the alternation's closing calibration
    records its choice and J on held-out stimuli, and the chosen J is the lowest tried."""
    from ipvae_brian.learning.closed_loop_search import (NOISE_PRICE_FACTORS,
                                                         calibrate_bias_and_step)
    from ipvae_brian.models.free_energy import poisson_noise_price
    _, _, params = small_problem()
    price = poisson_noise_price(params)

    def bowl(p):  # lowest at b = 2^(3/4) x the noise price for every neuron, eta x 1/sqrt 2
        return (np.sum((np.log(p.bias / price) - 0.75 * np.log(2)) ** 2)
                + (p.log_lr - params.log_lr + np.log(2) / 2) ** 2)
    found, c, eta, tried = calibrate_bias_and_step(params, bowl)
    assert c == pytest.approx(2 ** 0.75) and eta == pytest.approx(2 ** -0.5)
    np.testing.assert_allclose(found.bias, 2 ** 0.75 * price, rtol=1e-12)
    assert found.log_lr == pytest.approx(params.log_lr - np.log(2) / 2)
    assert bowl(found) == pytest.approx(min(tried.values()))
    assert len(tried) == 1 + 2 * len(NOISE_PRICE_FACTORS) + 4
    given, c, eta, tried = calibrate_bias_and_step(params, bowl, noise_price=4.0)
    assert c == 4.0 and eta == pytest.approx(2 ** -0.5) and len(tried) == 1 + 1 + 4
    np.testing.assert_allclose(given.bias, 4.0 * price, rtol=1e-12)   # though J is higher
    assert bowl(given) > bowl(found)
    kept, c, eta, tried = calibrate_bias_and_step(
        params, lambda p: 0.0 if np.array_equal(p.log_bias, params.log_bias) else np.inf)
    assert (c, eta) == (None, 1.0) and len(tried) == 1 + len(NOISE_PRICE_FACTORS) + 4
    np.testing.assert_array_equal(kept.log_bias, params.log_bias)
    x, rule, params = small_problem()
    learned = alternation.learn(params, x[:60], x[100:], rule, 1, seed=2,
                                simulate=reference_simulator(rule.steps))
    calibrated = alternation.calibrate(learned, x[60:100], x[100:], rule, 2,
                                       reference_simulator(rule.steps))
    note = calibrated.provenance["learning"]["calibration"]
    assert note["validation_stimuli"] == 40
    assert note["objective_validation"][1] <= note["objective_validation"][0]
    assert note["objective_validation"][1] == min(note["objectives"].values())
    assert note["noise_price_fixed"] is False
    again = alternation.calibrate(learned, x[60:100], x[100:], rule, 2,
                                  reference_simulator(rule.steps))
    np.testing.assert_array_equal(again.log_bias, calibrated.log_bias)


def test_learn_calibrate_scores_its_candidates_through_the_late_readout(monkeypatch, tmp_path):
    """``learn --calibrate`` simulates its validation and test stimuli through t =
    LATE_READOUT (129 bins), past the 20 bins trained on, so that a candidate under which a
    stimulus runs away only after the trained bins gets an infinite J; it used to run the
    trained bins only, and natural16 candidates it chose ran away after bin 64."""
    from ipvae_brian.learning import training_run
    from ipvae_brian.models.run_summary import LATE_READOUT
    asked = []

    def simulator(steps, engine="auto", threads=1):
        asked.append(steps)
        return reference_simulator(steps)
    monkeypatch.setattr(alternation, "brian_simulator", simulator)
    options = training_run.LearningOptions(
        stimuli="digits8", latents=8, epochs=1, out=str(tmp_path / "p.h5"), n_train=40,
        n_test=10, steps=20, window=4, batch_size=20, release=2, calibrate=True,
        validation=10)
    note = training_run.run_learning(options).params.provenance["learning"]["calibration"]
    assert asked == [20, LATE_READOUT + 1]
    assert note["bins"] == note["test_after"]["bins"] == LATE_READOUT + 1 == 129
    assert "t128" in training_run.calibration_line(note)


def test_clamps_rise_linearly_and_step_sizes_decay():
    rule = alternation.LearningRule(clamp_start=2.0, clamp_final=10.0, release=100, decay=50)
    assert [rule.clamp(j) for j in (0, 50, 100, 500)] == [2.0, 6.0, 10.0, 10.0]
    assert rule.rates(50)["Phi"] == pytest.approx(rule.dictionary_rate / 2)
    assert rule.rates(0)["u0"] == rule.parameter_rate


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


def run_cli(*argv):
    from ipvae_brian.cli import main
    return main([str(a) for a in argv])


@pytest.fixture(scope="module")
def small_recording(tmp_path_factory):
    """A recording with u of 30 natural16 patches through K = 24 random neurons."""
    folder = tmp_path_factory.mktemp("fit")
    params = IPVAEParameters.random(256, 24, seed=2).replace(log_lr=np.log(0.5))
    params.save(folder / "p.h5")
    rec = folder / "rec.h5"
    assert run_cli("simulate", "--params", folder / "p.h5", "--stimuli", "natural16:train",
                   "--n", 30, "--steps", 12, "--record", "u", "--out", rec, "--quiet") == 0
    return folder, rec


def test_learn_from_a_recording_lowers_its_free_energy(small_recording):
    from ipvae_brian.learning.recording_fit import read_fitting_data
    folder, rec = small_recording
    out = folder / "fitted.h5"
    assert run_cli("learn", "--from", rec, "--iterations", 25, "--out", out, "--quiet") == 0
    fitted = IPVAEParameters.load(out)
    note = fitted.provenance["fitted_from_recording"]
    assert note["iterations"] == 25
    assert note["objective_after"] < note["objective_before"]
    params, x, counts, u = read_fitting_data(rec)
    assert note["propagate"] is True           # the default, as in learning
    before = objective_and_gradient(params, x, counts, u, gradient=False, propagate=True)[0]
    after = objective_and_gradient(fitted, x, counts, u, gradient=False, propagate=True)[0]
    assert before == pytest.approx(note["objective_before"], rel=1e-12)
    assert after == pytest.approx(note["objective_after"], rel=1e-12)
    assert after < before


def test_learn_from_a_recording_without_potentials_is_refused(small_recording, capsys):
    folder, _ = small_recording
    plain = folder / "plain.h5"
    assert run_cli("simulate", "--params", folder / "p.h5", "--stimuli", "natural16:train",
                   "--n", 5, "--steps", 4, "--out", plain, "--quiet") == 0
    capsys.readouterr()
    assert run_cli("learn", "--from", plain, "--out", folder / "never.h5") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds no membrane potentials u" in err[0] and \
        "--record u" in err[0]
    assert not (folder / "never.h5").exists()
