"""Known answers for every V1 analysis function, on synthetic data (no network).

Each test builds data whose statistic is known in closed form (or by construction) and
checks the function against it, with a tolerance derived from the sampling error where
the data are random.
"""
import math

import numpy as np
import pytest
from scipy.special import i0, i1

from ipvae_brian.analysis.contrast_response import fit_naka_rushton, naka_rushton
from ipvae_brian.analysis.cross_orientation import (cross_orientation_suppression_index,
                                        fraction_suppressed)
from ipvae_brian.analysis.moving_bar_response import (direction_selectivity_index, plot_direction_polar,
                                          preferred_direction)
from ipvae_brian.analysis.noise_correlation import noise_correlations, spike_count_correlation
from ipvae_brian.analysis.orientation_tuning import (circular_variance, orientation_bandwidth,
                                         orientation_selectivity_index, orientation_tuning_curve,
                                         preferred_orientation)
from ipvae_brian.analysis.rate_distribution import firing_rates, fit_lognormal
from ipvae_brian.analysis.receptive_fields import (column_correlation, dictionary_overlap, fit_gabor,
                                       gabor_2d, spike_triggered_average)
from ipvae_brian.analysis.response_modulation import bimodality_coefficient, f1_f0
from ipvae_brian.analysis.size_tuning import (difference_of_integrals, preferred_diameter,
                                  surround_suppression_index)
from ipvae_brian.analysis.sparseness import lifetime_sparseness, population_sparseness, sparseness


# --- sparseness -----------------------------------------------------------------------------

def test_sparseness_of_one_hot_is_1_flat_is_0_and_a_fraction_a_is_1_minus_a_rescaled():
    n = 10
    assert float(sparseness(np.eye(n)[3] * 7.0)) == pytest.approx(1.0, abs=1e-12)
    assert float(sparseness(np.full(n, 2.5))) == pytest.approx(0.0, abs=1e-12)
    half = np.r_[np.ones(4), np.zeros(6)]                        # a = 0.4
    assert float(sparseness(half)) == pytest.approx((1 - 0.4) / (1 - 1 / n), abs=1e-12)
    assert float(sparseness(half * 123.0)) == pytest.approx(float(sparseness(half)), abs=1e-12)


def test_lifetime_is_over_stimuli_and_population_over_neurons():
    r = np.zeros((5, 3))             # 5 stimuli, 3 neurons
    r[2, 0] = 4.0                    # neuron 0: one-hot over stimuli
    r[:, 1] = 1.0                    # neuron 1: flat over stimuli
    np.testing.assert_allclose(lifetime_sparseness(r)[:2], [1.0, 0.0], atol=1e-12)
    assert np.isnan(lifetime_sparseness(r)[2])              # never responds
    pop = population_sparseness(r)
    assert pop.shape == (5,)
    assert pop[0] == pytest.approx(1.0, abs=1e-12)           # only neuron 1 responds
    assert pop[2] == pytest.approx((1 - (5 ** 2) / (3 * 17)) / (1 - 1 / 3), abs=1e-12)


def test_sparseness_edge_cases():
    assert np.isnan(sparseness([0.0, 0.0, 0.0]))
    assert np.isnan(sparseness([3.0]))
    with pytest.raises(ValueError, match="non-negative"):
        sparseness([1.0, -1.0])
    with pytest.raises(ValueError, match=r"\(n_stimuli, n_neurons\)"):
        lifetime_sparseness(np.ones(4))


# --- Fano factor and ISI CV of a Poisson process (analysis.spike_statistics, Elephant) -----

def test_homogeneous_poisson_gives_fano_1_and_isi_cv_1():
    import neo
    from ipvae_brian.analysis.spike_statistics import fano_factor, isi_cv, isi_lv
    rng = np.random.default_rng(3)
    rate, duration, n_trials = 20.0, 2.0, 400
    trains = []
    for _ in range(n_trials):
        n = rng.poisson(rate * duration)
        trains.append(neo.SpikeTrain(np.sort(rng.uniform(0, duration, n)), t_stop=duration,
                                     units="s"))
    # unbiased variance (ddof 1): E[F] = 1; SE ~ sqrt(2 / (N - 1))
    fano = fano_factor(trains)
    assert abs(fano - 1.0) < 4 * math.sqrt(2 / (n_trials - 1))
    n_intervals = sum(len(t) - 1 for t in trains)
    assert abs(isi_cv(trains) - 1.0) < 4 / math.sqrt(n_intervals)
    assert abs(isi_lv(trains) - 1.0) < 4 * math.sqrt(1.17 / n_intervals)


def test_fano_factor_of_poisson_counts_over_8_trials_is_1_not_7_8():
    # N = 8 trials of Poisson counts with mean lam = 5: (N - 1) F ~ chi2(N - 1), so the
    # unbiased estimator has E[F] = 1 and SD sqrt(2 / (N - 1) + 1 / (N lam)) = 0.56 per
    # neuron; the mean over 3000 neurons has SE 0.0102, and 4 SE = 0.041 separates 1 from
    # the biased (ddof 0) value 7/8 = 0.875, which fails by 0.125 = 12 SE
    from ipvae_brian.analysis.spike_statistics import fano_factor
    rng = np.random.default_rng(8)
    n_neurons, n_trials, lam = 3000, 8, 5.0
    counts = rng.poisson(lam, (n_neurons, n_trials))
    fano = np.array([fano_factor([np.sort(rng.uniform(0, 1, c)) for c in row])
                     for row in counts])
    se = math.sqrt(2 / (n_trials - 1) + 1 / (n_trials * lam)) / math.sqrt(n_neurons)
    assert abs(fano.mean() - 1.0) < 4 * se, fano.mean()
    np.testing.assert_allclose(fano, counts.var(axis=1, ddof=1) / counts.mean(axis=1),
                               rtol=1e-12)
    assert np.isnan(fano_factor([np.array([0.5])]))                  # one trial: undefined


# --- bootstrap confidence intervals of a median --------------------------------------------

def test_bootstrap_ci_of_a_median_has_the_width_of_its_standard_error():
    # n = 400 standard normal values: SE of the median sqrt(pi / 2) / sqrt(n) = 0.0627, a
    # 95% interval 2 x 1.96 SE = 0.246 wide; the percentile bootstrap of a median is
    # discrete and its width varies by ~20% between samples: allowed 30%
    from ipvae_brian.analysis.bootstrap import median_ci
    v = np.random.default_rng(4).standard_normal(400)
    lo, hi = median_ci(v)
    assert lo < np.median(v) < hi
    expected = 2 * 1.96 * math.sqrt(math.pi / 2) / math.sqrt(v.size)
    assert abs((hi - lo) / expected - 1) < 0.3, (hi - lo, expected)
    assert median_ci(v) == (lo, hi)                                   # seeded
    assert all(np.isnan(median_ci([np.nan])))


def test_bootstrap_ci_of_a_pair_median_resamples_neurons():
    # pair values a_i + a_j (a ~ N(0, 1), n = 100 neurons, 4950 pairs) share neuron effects:
    # the median is a U-statistic whose SE is sqrt(4 Var h1 / n) / f(0), h1(x) = Phi(-x)
    # uniform (Var 1/12), f(0) = 1 / sqrt(4 pi) (density of N(0, 2) at 0): 0.205, a 95%
    # width of 0.80; resampling the pairs as if independent would give about
    # 2 x 1.96 x sqrt(pi) / sqrt(4950) = 0.099, 8 times narrower. Allowed 35% (bootstrap)
    from ipvae_brian.analysis.bootstrap import median_ci, pair_median_ci
    a = np.random.default_rng(5).standard_normal(100)
    i, j = np.triu_indices(100, k=1)
    values = a[i] + a[j]
    lo, hi = pair_median_ci(values, np.stack([i, j], axis=1))
    expected = 2 * 1.96 * math.sqrt(4 / 12 / 100) * math.sqrt(4 * math.pi)
    assert abs((hi - lo) / expected - 1) < 0.35, (hi - lo, expected)
    naive_lo, naive_hi = median_ci(values)
    assert (hi - lo) > 4 * (naive_hi - naive_lo)


# --- firing-rate distribution ---------------------------------------------------------------

def test_lognormal_fit_recovers_mu_sigma_and_the_fraction_below_the_mean():
    from scipy.stats import norm
    rng = np.random.default_rng(0)
    n, mu, sigma = 4000, 1.2, 0.9
    fit = fit_lognormal(np.exp(rng.normal(mu, sigma, n)))
    assert abs(fit.mu - mu) < 4 * sigma / math.sqrt(n)
    assert abs(fit.sigma - sigma) < 4 * sigma / math.sqrt(2 * n)
    p = norm.cdf(sigma / 2)                                     # Phi(sigma / 2) = 0.673
    assert abs(fit.fraction_below_mean - p) < 4 * math.sqrt(p * (1 - p) / n)
    assert fit.lognormal_fits_better
    symmetric = fit_lognormal(rng.normal(50.0, 5.0, n))          # a normal is not log-normal
    assert not symmetric.lognormal_fits_better
    assert abs(symmetric.fraction_below_mean - 0.5) < 4 * math.sqrt(0.25 / n)


def test_rates_and_lognormal_edge_cases():
    np.testing.assert_allclose(firing_rates([[2, 0], [4, 1]], 0.5), [6.0, 1.0])
    fit = fit_lognormal([0.0, 0.0, 1.0, 2.0])                   # 2 positive: no fit
    assert np.isnan(fit.sigma) and fit.n_silent == 2
    with pytest.raises(ValueError, match="non-negative"):
        fit_lognormal([1.0, -2.0, 3.0])


# --- noise correlations ---------------------------------------------------------------------

def test_noise_correlation_of_correlated_gaussian_counts_ignores_the_stimulus_means():
    rng = np.random.default_rng(1)
    rho, n_stim, n_trials = 0.3, 5, 2000
    cov = np.array([[1.0, rho, 0.0], [rho, 1.0, 0.0], [0.0, 0.0, 1.0]])
    noise = rng.multivariate_normal(np.zeros(3), cov, size=(n_stim, n_trials))
    # stimulus means and gains differ per neuron and stimulus (a strong "signal" correlation)
    means = 20 * rng.uniform(0, 1, (n_stim, 1, 3))
    counts = means + (1 + np.arange(n_stim))[:, None, None] * noise
    nc = noise_correlations(counts)
    n = n_stim * n_trials
    se = (1 - rho ** 2) / math.sqrt(n)
    assert abs(nc.matrix[0, 1] - rho) < 4 * se
    assert abs(nc.matrix[0, 2]) < 4 / math.sqrt(n)
    assert nc.values.shape == (3,)


def test_noise_correlations_binned_by_column_overlap():
    from ipvae_brian.analysis.noise_correlation import column_cosines, correlations_by_overlap
    phi = np.array([[1.0, 1.0, 0.0, -1.0], [0.0, 1.0, 1.0, 0.0]])
    cos = column_cosines(phi)
    assert cos[0, 1] == pytest.approx(1 / math.sqrt(2)) and cos[0, 2] == 0.0
    assert cos[0, 3] == pytest.approx(-1.0) and np.allclose(np.diag(cos), 1.0)
    # pairs at cos -1, 0, 0.707 (twice), 1: bins [-1, -0.3), ..., [0.3, 1]
    bins = correlations_by_overlap([0.2, 0.0, -0.1, -0.3, -0.5], [-1.0, 0.0, 0.71, 0.71, 1.0])
    assert [b.n_pairs for b in bins] == [1, 0, 1, 0, 3]
    assert bins[-1].median == pytest.approx(-0.3) and bins[-1].mean == pytest.approx(-0.3)
    assert np.isnan(bins[1].median) and bins[-1].high == 1.0


def test_spike_count_correlation_edge_cases():
    m = spike_count_correlation([[1, 2, 5], [2, 4, 5], [3, 6, 5]])
    assert m[0, 1] == pytest.approx(1.0) and np.all(np.isnan(m[2]))
    nc = noise_correlations(np.array([[[1, 2, 5], [2, 1, 5], [3, 3, 5]]]))
    assert nc.pairs.tolist() == [[0, 1]]                        # the constant neuron drops out
    with pytest.raises(ValueError, match="at least 2 trials"):
        noise_correlations(np.ones((2, 1, 3)))


# --- orientation tuning ---------------------------------------------------------------------

@pytest.mark.parametrize("kappa", [0.5, 1.0, 2.77, 6.0])
def test_von_mises_circular_variance_and_bandwidth_are_the_closed_forms(kappa):
    theta = np.arange(24) * 7.5                                  # 24 orientations in [0, 180)
    r = np.exp(kappa * np.cos(np.radians(2 * (theta - 37.0))))
    assert float(circular_variance(theta, r)) == pytest.approx(1 - i1(kappa) / i0(kappa),
                                                               abs=1e-12)
    half_width = np.degrees(0.5 * np.arccos(1 - np.log(2) / (2 * kappa)))
    assert float(orientation_bandwidth(theta, r)) == pytest.approx(half_width, abs=0.1)
    assert float(preferred_orientation(theta, r)) == pytest.approx(37.0, abs=1e-9)


def test_direction_data_fold_onto_orientation_and_osi_of_a_cosine_is_its_modulation():
    directions = np.arange(16) * 22.5
    a = 0.6
    r = 1 + a * np.cos(np.radians(2 * directions))              # R_pref 1.6, R_orth 0.4
    assert float(orientation_selectivity_index(directions, r)) == pytest.approx(a, abs=1e-12)
    o, curve = orientation_tuning_curve(directions, r)
    assert o.size == 8 and curve.shape == (8,)
    # CV from directions equals CV of the folded orientation curve (exp(2i theta) is shared)
    assert float(circular_variance(directions, r)) == pytest.approx(
        float(circular_variance(o, curve)), abs=1e-12)
    assert float(circular_variance(directions, r)) == pytest.approx(1 - a / 2, abs=1e-12)


def test_orientation_edge_cases():
    theta = np.arange(8) * 22.5
    assert float(orientation_bandwidth(theta, np.ones(8))) == 90.0   # flat: never falls
    assert np.isnan(circular_variance(theta, np.zeros(8)))
    assert np.isnan(orientation_selectivity_index(theta, np.zeros(8)))
    with pytest.raises(ValueError, match="evenly spaced"):
        circular_variance([0, 10, 90], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="8 angles"):
        circular_variance(theta, np.ones(5))


# --- contrast response ----------------------------------------------------------------------

def test_naka_rushton_fit_recovers_n_and_c50_within_5_percent_with_noise():
    # 12 contrasts, Gaussian noise of 0.5% of R_max: over 200 seeds the 99th percentile of
    # the relative error was 4.2% for n and 2.2% for c50
    c = np.concatenate([[0.0], np.geomspace(0.01, 1.0, 11)])
    rng = np.random.default_rng(7)
    r = naka_rushton(c, 30.0, 2.5, 0.2, 2.0) + rng.normal(0, 0.005 * 30.0, c.size)
    fit = fit_naka_rushton(c, r)
    assert fit.n == pytest.approx(2.5, rel=0.05)
    assert fit.c50 == pytest.approx(0.2, rel=0.05)
    assert fit.saturates and fit.r_squared > 0.999
    exact = fit_naka_rushton(c, naka_rushton(c, 30.0, 2.5, 0.2, 2.0))
    assert (exact.n, exact.c50, exact.r_max) == pytest.approx((2.5, 0.2, 30.0), rel=1e-6)


def test_naka_rushton_fit_of_a_step_ends_at_the_exponent_bound_and_says_so():
    # a step between two tested contrasts is fitted best by the steepest allowed curve:
    # n ends at its upper bound 10 (a bound, not a measurement); a smooth curve does not
    from ipvae_brian.analysis.contrast_response import EXPONENT_BOUNDS
    c = np.array([0, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.0])
    step = fit_naka_rushton(c, np.where(c >= 0.16, 20.0, 1.0))
    assert step.n == pytest.approx(EXPONENT_BOUNDS[1], rel=1e-3) and step.at_bound
    smooth = fit_naka_rushton(c, naka_rushton(c, 30.0, 2.5, 0.2, 2.0))
    assert not smooth.at_bound


def test_naka_rushton_edge_cases():
    c = np.array([0, 0.1, 0.2, 0.4, 0.8])
    assert np.isnan(fit_naka_rushton(c, np.full(5, 3.0)).n)          # flat
    assert float(naka_rushton(0.3, 10.0, 2.0, 0.3, 1.0)) == pytest.approx(6.0)
    with pytest.raises(ValueError, match="at least 4 distinct contrasts"):
        fit_naka_rushton([0, 0.5, 1], [1, 2, 3])


# --- size tuning ----------------------------------------------------------------------------

def test_surround_suppression_of_a_difference_of_integrals_curve_is_the_closed_form():
    k_e, a, k_i, b = 1.0, 3.0, 0.3, 8.0          # k_e a > k_i b: positive at any diameter
    d_star = math.sqrt(math.log(k_e / k_i) / (a ** -2 - b ** -2))        # the peak, 3.55 px
    d = np.array([1.0, 2.0, d_star, 4.0, 6.0, 10.0, 16.0])
    r = difference_of_integrals(d, k_e, a, k_i, b)
    peak = difference_of_integrals(d_star, k_e, a, k_i, b)
    expected = (peak - difference_of_integrals(16.0, k_e, a, k_i, b)) / peak
    assert float(surround_suppression_index(d, r)) == pytest.approx(expected, abs=1e-12)
    assert float(preferred_diameter(d, r)) == pytest.approx(d_star)
    assert float(surround_suppression_index(d, np.cumsum(np.ones(7)))) == 0.0   # no surround
    order = np.array([6, 0, 3, 1, 5, 2, 4])                                      # any order
    assert float(surround_suppression_index(d[order], r[order])) == pytest.approx(expected)


# --- cross-orientation ----------------------------------------------------------------------

def test_cross_orientation_index():
    xos = cross_orientation_suppression_index([4.0, 4.0, 0.0, 2.0], [2.0, 6.0, 1.0, 2.0])
    np.testing.assert_allclose(xos, [0.5, -0.5, np.nan, 0.0])
    assert fraction_suppressed(xos) == pytest.approx(1 / 3)


# --- F1 / F0 --------------------------------------------------------------------------------

def test_f1_f0_of_rectified_and_offset_sinusoids():
    t = np.arange(4096)
    half_wave = np.maximum(np.sin(2 * np.pi * t / 1024), 0.0)      # 4 cycles, finely sampled
    assert float(f1_f0(half_wave, 1 / 1024)) == pytest.approx(math.pi / 2, abs=1e-5)
    full_wave = np.abs(np.sin(2 * np.pi * t / 1024))
    assert float(f1_f0(full_wave, 1 / 1024)) == pytest.approx(0.0, abs=1e-9)
    t = np.arange(64)
    assert float(f1_f0(3.0 + 1.5 * np.cos(2 * np.pi * t / 32 + 0.7), 1 / 32)) == \
        pytest.approx(0.5, abs=1e-12)
    with pytest.raises(ValueError, match="whole number of cycles"):
        f1_f0(np.ones(40), 1 / 32)


def test_bimodality_coefficient_separates_one_mode_from_two():
    rng = np.random.default_rng(2)
    assert bimodality_coefficient(rng.standard_normal(5000)) == pytest.approx(1 / 3, abs=0.03)
    two = np.concatenate([rng.normal(0.4, 0.1, 2500), rng.normal(1.6, 0.15, 2500)])
    assert bimodality_coefficient(two) > 5 / 9
    assert bimodality_coefficient(rng.uniform(0, 1, 20000)) == pytest.approx(5 / 9, abs=0.02)


# --- receptive fields -----------------------------------------------------------------------

def test_gabor_fit_recovers_ringach_nx_ny():
    rng = np.random.default_rng(4)
    g = gabor_2d((16, 16), x0=1.5, y0=-1.0, theta=30.0, sigma_x=2.0, sigma_y=3.0,
                 frequency=0.15, phase=40.0)
    # noise of 1% of the peak: over 40 seeds the largest relative error was 1.5%
    fit = fit_gabor(g + rng.normal(0, 0.01, g.shape))
    assert fit.nx == pytest.approx(0.30, rel=0.03)       # sigma_x f
    assert fit.ny == pytest.approx(0.45, rel=0.03)       # sigma_y f
    assert fit.theta == pytest.approx(30.0, abs=2.0)
    assert fit.r_squared > 0.9
    blob = gabor_2d((16, 16), 0.0, 0.0, 0.0, 2.0, 2.0, 0.0, 0.0)     # Gaussian: nx = 0
    assert fit_gabor(blob).nx < 0.05


def test_sta_of_a_linear_poisson_neuron_on_white_noise_is_its_filter():
    rng = np.random.default_rng(5)
    filt = gabor_2d((8, 8), 0.0, 0.0, 60.0, 1.5, 2.0, 0.2, 0.0).ravel()
    x = rng.standard_normal((20000, 64))
    rate = np.exp(0.5 * x @ filt / np.linalg.norm(filt))
    counts = rng.poisson(rate)[:, None]
    sta = spike_triggered_average(x, counts)
    assert float(column_correlation(sta, filt[None])[0]) > 0.95
    assert np.isnan(spike_triggered_average(x[:5], np.zeros((5, 1)))).all()


def test_dictionary_overlap_and_column_correlation():
    P = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(dictionary_overlap(P), 0.0)
    np.testing.assert_allclose(column_correlation([[1.0, 2.0, 3.0]], [[-2.0, -4.0, -6.0]]),
                               [-1.0])


# --- moving bar -----------------------------------------------------------------------------

def test_direction_selectivity_and_polar_plot():
    directions = np.arange(8) * 45.0
    r = np.array([1.0, 2.0, 6.0, 2.0, 1.0, 1.0, 2.0, 1.0])      # best 90 deg, null 270 deg
    assert float(direction_selectivity_index(directions, r)) == pytest.approx(4 / 8)
    assert float(preferred_direction(directions, r)) == pytest.approx(90.0, abs=1e-9)
    assert float(direction_selectivity_index(directions, np.ones(8))) == 0.0
    with pytest.raises(ValueError, match="opposite"):
        direction_selectivity_index([0.0, 90.0, 180.0], [1.0, 2.0, 3.0])
    from matplotlib.figure import Figure
    ax = Figure().add_subplot(projection="polar")
    (line,) = plot_direction_polar(ax, directions, r)
    theta, rho = line.get_data()
    assert len(theta) == 9 and rho.max() == 1.0 and theta[0] == theta[-1]   # closed, normalised


# --- the docstring examples -----------------------------------------------------------------

@pytest.mark.parametrize("module", ["sparseness", "rate_distribution", "noise_correlation",
                                    "orientation_tuning", "contrast_response", "size_tuning",
                                    "cross_orientation", "response_modulation",
                                    "receptive_fields", "moving_bar_response", "bootstrap",
                                    "spike_statistics"])
def test_docstring_examples_hold(module):
    import doctest
    import importlib
    result = doctest.testmod(importlib.import_module(f"ipvae_brian.analysis.{module}"))
    assert result.attempted > 0 and result.failed == 0
