"""The V1 experiments on tiny networks (quick protocols), the comparison table, the CLI errors.

Networks are Gabor dictionaries (``tests/gabor_dictionary.py``) with K <= 16, so that the
experiments have known answers: a Gabor neuron prefers gratings at its own orientation,
and its spike-triggered average on white noise resembles its own column.

The tests share one 8 x 8, K = 12 dictionary and the quick protocol: the runtime engine
compiles one Cython module per shape of the drive (stimuli x frames x K), so equal
shapes let later tests reuse what the first compiled (a cold cache costs minutes).
"""
import csv
import os

import h5py
import numpy as np
import pytest

from ipvae_brian.analysis.experiments import (EXPERIMENT_NAMES, planned_outputs,
                                              run_experiment)
from ipvae_brian.analysis.experiments.base import ExperimentResult
from ipvae_brian.analysis.experiments.context import ExperimentContext
from ipvae_brian.analysis.v1_comparison import build_rows, count_inside, markdown_table, write_csv
from gabor_dictionary import gabor_parameters
from ipvae_brian.models.parameters import IPVAEParameters

STATISTICS = ["spike-count Fano factor", "ISI coefficient of variation",
              "firing-rate distribution", "lifetime sparseness", "population sparseness",
              "orientation circular variance", "orientation bandwidth",
              "orientation selectivity index", "contrast response (Naka-Rushton n)",
              "surround suppression index", "cross-orientation suppression",
              "simple / complex (F1/F0)", "noise correlation r_sc",
              "receptive-field shape (Gabor nx)"]


@pytest.fixture(scope="module")
def gabor8():
    return gabor_parameters(side=8, n_latents=12, seed=2, eta=1.0)


@pytest.fixture(scope="module")
def gabor8_file(gabor8, tmp_path_factory):
    path = tmp_path_factory.mktemp("params") / "gabor8.h5"
    gabor8[0].save(path)
    return path


def context(params, out_dir, **overrides):
    return ExperimentContext(params=params, params_source="gabor test dictionary",
                             out_dir=str(out_dir), seed=0, quick=True,
                             protocol_overrides=overrides)


def test_cli_offers_the_experiments_of_the_registry():
    import argparse
    from ipvae_brian.cli import build_parser
    commands = next(a for a in build_parser()._actions
                    if isinstance(a, argparse._SubParsersAction))
    name = next(a for a in commands.choices["experiment"]._actions if a.dest == "name")
    assert tuple(name.choices) == EXPERIMENT_NAMES


def test_compare_v1_runs_every_experiment_for_8x8_parameters_and_fills_the_table(
        run_cli, gabor8_file, tmp_path):
    out = tmp_path / "v1"
    code, stdout, err = run_cli("compare-v1", "--params", gabor8_file, "--out-dir", out,
                                "--quick")
    assert code == 0, err
    with open(out / "v1_comparison.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["statistic"] for r in rows] == STATISTICS
    assert all(r["inside"] in ("yes", "no", "no data") for r in rows)
    # the Gabor neurons respond to gratings and natural patches: those rows have data
    by_name = {r["statistic"]: r for r in rows}
    for name in ("orientation circular variance", "firing-rate distribution",
                 "population sparseness"):
        assert int(by_name[name]["n"]) > 0, name
    inside = sum(r["inside"] == "yes" for r in rows)
    assert f"Inside the V1 range: {inside} of 14 statistics" in stdout
    md = (out / "v1_comparison.md").read_text()
    assert md.count("\n| ") == 15                    # header + 14 rows
    for name in EXPERIMENT_NAMES:
        assert (out / f"{name}.png").stat().st_size > 0, name
    # the files the experiments declare (checked against --overwrite before they run)
    assert sorted(os.listdir(out)) == sorted(
        [*planned_outputs(EXPERIMENT_NAMES), "v1_comparison.csv", "v1_comparison.md",
         "v1_comparison.png"])
    with h5py.File(out / "orientation.h5") as f:
        assert tuple(f["stimuli"].attrs["image_shape"]) == (8, 8)
        assert f["counts"].shape[2] == 12
    with h5py.File(out / "natural.h5") as f:       # natural16 cropped to 8 x 8
        assert f["stimuli/x"].shape[1] == 64


def test_orientation_experiment_finds_each_gabor_at_its_own_orientation(gabor8, tmp_path):
    # a linear filter's largest grating response is at its wave vector's orientation; the
    # quick protocol samples directions every 45 deg, and the vector sum interpolates
    # between them: the error stays well below the 22.5 deg half-step
    params, gabors = gabor8
    result = run_experiment("orientation", context(params, tmp_path))
    pref = result.per_neuron["preferred_orientation"]
    ok = np.isfinite(pref)
    assert ok.sum() >= 8
    error = np.abs((pref[ok] - gabors["theta"][ok] + 90) % 180 - 90)
    assert np.median(error) < 11.25
    assert np.all(error < 22.5)
    assert np.all(result.per_neuron["osi"][ok] > 0.5)
    assert os.path.exists(tmp_path / "orientation.png")


def test_rf_experiment_sta_resembles_the_dictionary_column(gabor8, tmp_path):
    params, gabors = gabor8
    result = run_experiment("rf", context(params, tmp_path))
    corr = result.per_neuron["sta_phi_correlation"]
    assert np.isfinite(corr).sum() >= 10
    assert np.nanmedian(corr) > 0.5
    assert result.summary["n_gabor_fits"] >= 6
    with h5py.File(tmp_path / "rf.h5") as f:
        assert f.attrs["stream"]                    # noise streamed without reset
        assert f["counts"].shape == (2000, 8, 12)


def test_natural_experiment_fano_from_elephant_equals_var_over_mean_of_window_counts(
        gabor8, tmp_path):
    params, _ = gabor8
    result = run_experiment("natural", context(params, tmp_path))
    with h5py.File(tmp_path / "natural-repeats.h5") as f:
        assert f.attrs["mode"] == "continuous"
        counts = f["counts"][:, 4:16].sum(axis=1).astype(float).reshape(2, 12, -1)
    mean = counts.mean(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        fano = np.where(mean >= 1, counts.var(axis=1, ddof=1) / mean, np.nan)   # unbiased
    defined = np.isfinite(fano).any(axis=0)
    expected = np.full(fano.shape[1], np.nan)
    expected[defined] = np.nanmedian(fano[:, defined], axis=0)
    np.testing.assert_allclose(result.per_neuron["fano"], expected, rtol=1e-12, equal_nan=True)
    assert np.isfinite(expected).sum() >= 1
    rates = result.per_neuron["rate"]
    assert rates.shape == (12,) and np.all(rates >= 0)
    pop = result.population["population_sparseness"]
    pop = pop[np.isfinite(pop)]                      # NaN: a patch no neuron responded to
    assert pop.size >= 24 and np.all((pop >= 0) & (pop <= 1))


def test_experiment_cli_prints_statistics_and_writes_recording_and_figure(run_cli, tmp_path):
    params, _ = gabor_parameters(side=16, n_latents=16, seed=1)      # the natural16 size
    path = tmp_path / "p.h5"
    params.save(path)
    code, out, err = run_cli("experiment", "moving-bar", "--params", path, "--out-dir",
                             tmp_path / "bar", "--quick")
    assert code == 0, err
    assert "moving-bar:" in out and "dsi" in out and "Done in" in out
    with h5py.File(tmp_path / "bar" / "moving-bar.h5") as f:
        assert f["stimuli"].attrs["generator"] == "moving_bar"
        assert f["counts"].shape == (8, 2 * 16 + 2 * 2, 16)
    assert (tmp_path / "bar" / "moving-bar.png").stat().st_size > 0


def test_parameters_that_do_not_fit_square_stimuli_get_a_clear_error(run_cli, tmp_path):
    path = tmp_path / "m250.h5"
    IPVAEParameters.random(250, 8, seed=0).save(path)
    code, out, err = run_cli("experiment", "orientation", "--params", path, "--out-dir",
                             tmp_path / "o")
    assert code == 2
    assert err == ("error: the parameters have M = 250 pixels, which is not a square image of "
                   "at least 4 x 4: the V1 experiments draw square stimuli of side sqrt(M) "
                   "(e.g. M = 256 for 16 x 16 patches, M = 64 for 8 x 8)\n")
    big = tmp_path / "m1024.h5"
    IPVAEParameters.random(1024, 8, seed=0).save(big)
    code, out, err = run_cli("compare-v1", "--params", big, "--out-dir", tmp_path / "c")
    assert code == 2
    assert err == ("error: the parameters have M = 1024 pixels (32 x 32) but the natural "
                   "images ship as 16 x 16 patches (natural16): the natural experiment needs "
                   "M <= 256 (smaller sides use central crops)\n")
    assert os.listdir(tmp_path / "c") == []          # checked before anything ran


def _result(name, per_neuron=None, population=None, summary=None):
    return ExperimentResult(name, per_neuron or {}, population or {}, summary or {}, 4, 4, 4,
                            [], [])


def test_comparison_rows_apply_their_criteria(tmp_path):
    results = {
        "natural": _result("natural", {"fano": np.array([1.2, 1.5, 1.4, np.nan]),
                                       "isi_cv": np.array([1.3, 1.4, 1.5, 1.6]),
                                       "rate": np.array([1.0, 2.0, 3.0, 30.0]),
                                       "lifetime_sparseness_change": np.array([0.1, 0.2, -0.1,
                                                                              0.3])},
                           {"population_sparseness": np.array([0.9, 0.8]),
                            "r_sc": np.array([-0.05, -0.02, 0.0]),
                            "r_sc_pairs": np.array([[0, 1], [0, 2], [1, 2]]),
                            "r_sc_overlap": np.array([0.5, 0.5, -0.5])},
                           {"fraction_below_mean": 0.75, "lognormal_ks": 0.1,
                            "normal_ks": 0.3, "n_rsc_neurons": 3}),
        "orientation": _result("orientation", {"circular_variance": np.array([0.1, 0.3, 0.6,
                                                                              0.9]),
                                               "bandwidth": np.array([60.0, 70, 80, np.nan]),
                                               "osi": np.array([0.5, 0.6, 0.7, 0.8])},
                               summary={"trials": 10.0, "bandwidth_at_bound": 1.0}),
        "f1f0": _result("f1f0", {"f1f0": np.r_[np.full(10, 0.3), np.full(10, 1.7)]}),
    }
    rows = build_rows(results)
    assert [r.statistic for r in rows] == STATISTICS
    inside = {r.statistic: r.inside for r in rows}
    assert inside["spike-count Fano factor"] is True             # median 1.4 in [1, 2]
    assert inside["ISI coefficient of variation"] is False       # median 1.45 > 1.1
    assert inside["firing-rate distribution"] is True
    assert inside["lifetime sparseness"] is True                 # median rise 0.15 > 0
    assert inside["population sparseness"] is True
    assert inside["orientation circular variance"] is True       # IQR 0.375, q3 0.675
    assert inside["orientation bandwidth"] is False              # median 70 deg
    assert inside["orientation selectivity index"] is True
    assert inside["simple / complex (F1/F0)"] is True            # two modes, half above 1
    assert inside["noise correlation r_sc"] is False             # median -0.02
    assert inside["contrast response (Naka-Rushton n)"] is None  # not run: no data
    assert count_inside(rows) == (7, 3, 4)
    write_csv(rows, tmp_path / "t.csv")
    with open(tmp_path / "t.csv") as f:
        table = {r["statistic"]: r for r in csv.DictReader(f)}
    fano = table["spike-count Fano factor"]
    assert (fano["model_median"], fano["n"], fano["inside"]) == ("1.4", "3", "yes")
    # 95% bootstrap interval of the median of 1.2, 1.4, 1.5: resampled medians are sample
    # values, and 1.2 and 1.5 each have probability 7/27 > 2.5%: the interval is [1.2, 1.5]
    assert (fano["median_ci_low"], fano["median_ci_high"]) == ("1.2", "1.5")
    bandwidth = table["orientation bandwidth"]
    assert (bandwidth["n"], bandwidth["n_excluded_at_bounds"]) == ("3", "1")
    assert "1 excluded at bounds" in rows[6].model_text
    r_sc = table["noise correlation r_sc"]
    assert (r_sc["n"], r_sc["n_neurons"]) == ("3", "3")
    assert "[0.3, 1]: median -0.035 (n = 2)" in r_sc["details"]
    assert "spikes/s at 1 bin = 25 ms" == table["firing-rate distribution"]["unit"]
    md = markdown_table(rows)
    assert "Inside the V1 range: 7 of 14; outside: 3; no data: 4." in md
    assert "95% CI" in md


def test_tuning_protocols_repeat_every_condition_on_at_least_10_trials():
    from ipvae_brian.analysis.experiments.protocol import Protocol
    p = Protocol()
    assert min(p.orientation_trials, p.contrast_repeats, p.size_repeats, p.plaid_repeats,
               p.f1f0_repeats) >= 10
    assert Protocol.quick().orientation_trials >= 2           # held-out needs two halves


def test_orientation_statistics_use_held_out_trials():
    # even trials prefer SF 1 at direction 0; odd trials respond only at SF 1, direction 2:
    # the curve is read from the odd trials at the SF picked on the even ones
    from ipvae_brian.analysis.experiments.orientation import (GratingPreferences, evoked,
                                                              held_out_tuning_curves)
    rates = np.zeros((4, 4, 2, 1))
    rates[0::2, 0, 1, 0] = 10.0
    rates[1::2, 2, 1, 0] = 6.0
    rates[1::2, :, 0, 0] = 50.0                  # SF 0 strongest on the odd trials only
    prefs = GratingPreferences(directions=np.arange(4) * 90.0, sfs=np.array([0.1, 0.2]),
                               trial_rates=rates, spontaneous_rate=np.array([1.0]),
                               direction_index=np.zeros(1, int), sf_index=np.zeros(1, int),
                               peak_rate=np.array([25.0]), responsive=np.array([True]))
    curves, peak, held_out = held_out_tuning_curves(prefs)
    assert held_out and peak[0] == 10.0
    np.testing.assert_array_equal(curves, [[0.0, 0.0, 6.0, 0.0]])
    np.testing.assert_array_equal(evoked(curves, prefs.spontaneous_rate[:, None]),
                                  [[0.0, 0.0, 5.0, 0.0]])
