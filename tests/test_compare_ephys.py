"""compare-ephys: statistics of NWB / NIX recordings with known ground truth, tables, errors.

Every file is written here with pynwb (or Neo's NixIO) from spike trains of known
statistics; the tolerances come from each estimator's sampling error (stated beside
each check). The model side is either injected (a TrialSpikes) or a K = 16 network.
"""
import datetime
import os
import re

import numpy as np
import pytest
from scipy.special import i0, i1

from ipvae_brian.analysis.ephys_comparison import (compare, measure, run_ephys_comparison,
                                                   text_table)
from ipvae_brian.analysis.ephys_recording import read_ephys, to_neo_block, trial_spikes
from ipvae_brian.models.errors import SimulationInputError

pynwb = pytest.importorskip("pynwb")


def write_nwb(path, spike_times, start, stop, columns=None, units=True, trials=True):
    """An NWB file with a Units table (spike_times) and a trials table with ``columns``."""
    nwb = pynwb.NWBFile(session_description="test", identifier=str(path),
                        session_start_time=datetime.datetime(2025, 1, 1,
                                                             tzinfo=datetime.timezone.utc))
    if trials:
        for name in columns or {}:
            nwb.add_trial_column(name=name, description=name)
        for i in range(len(start)):
            nwb.add_trial(start_time=float(start[i]), stop_time=float(stop[i]),
                          **{k: np.asarray(v)[i].item() for k, v in (columns or {}).items()})
    if units:
        for times in spike_times:
            nwb.add_unit(spike_times=np.sort(times))
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return str(path)


def trial_grid(n_trials, duration, gap=0.5):
    start = gap + np.arange(n_trials) * (duration + gap)
    return start, start + duration


def poisson_in_trials(rng, rate, start, stop):
    return np.concatenate([np.sort(rng.uniform(a, b, rng.poisson(rate * (b - a))))
                           for a, b in zip(start, stop)])


def gamma_in_trials(rng, rate, shape, start, stop):
    """Stationary gamma renewal process (shape k, given rate) inside every trial."""
    out = []
    for a, b in zip(start, stop):
        t = a - 5.0 + np.cumsum(rng.gamma(shape, 1 / (shape * rate), int(3 * rate * (b - a + 5))
                                          + 50))      # 5 s burn-in: stationary at a
        out.append(t[(t >= a) & (t < b)])
    return np.concatenate(out)


@pytest.fixture(scope="module")
def poisson_gamma_file(tmp_path_factory):
    """6 Poisson units (25 spikes/s) and 6 gamma units (k = 4: CV 0.5, LV 1/3), 60 x 2 s."""
    rng = np.random.default_rng(0)
    start, stop = trial_grid(60, 2.0)
    trains = [poisson_in_trials(rng, 25.0, start, stop) for _ in range(6)]
    trains += [gamma_in_trials(rng, 25.0, 4.0, start, stop) for _ in range(6)]
    return write_nwb(tmp_path_factory.mktemp("ephys") / "renewal.nwb", trains, start, stop)


def test_poisson_units_have_fano_1_and_isi_cv_1(poisson_gamma_file):
    stats = measure(trial_spikes(read_ephys(poisson_gamma_file, units="0:6")))
    # Fano (unbiased variance) over N = 60 trials of mean count 50: SE per unit about
    # sqrt(2 / (N - 1) + 1 / (N lambda)) = 0.185; mean of 6 units: 0.076; tolerance 3 SE
    assert abs(np.mean(stats["fano"].values) - 1.0) < 0.23
    # CV over ~2,900 intervals per unit: SE 1 / sqrt(n) = 0.019, 0.008 for 6 units; intervals
    # inside a 2 s window of 50 expected spikes are biased low by O(1 / (lambda T)) = 0.02
    # (n uniform points: CV^2 = n / (n + 2)), partly undone by pooling trials of different n
    cv = np.mean(stats["isi_cv"].values)
    assert 0.95 < cv < 1.03, cv
    assert abs(np.mean(stats["isi_lv"].values) - 1.0) < 0.05   # LV SE sqrt(1.17 / n) = 0.02
    assert abs(np.mean(stats["rate"].values) - 25.0) < 1.0     # SE sqrt(25 / 120 s / 6) = 0.19


def test_gamma_units_have_cv_one_over_sqrt_k(poisson_gamma_file):
    stats = measure(trial_spikes(read_ephys(poisson_gamma_file, units="6:12")))
    # k = 4: CV = 1 / sqrt(4) = 0.5 (SE about 0.5 / sqrt(2 n) = 0.007 per unit), LV =
    # 3 / (2k + 1) = 1/3 (Shinomoto et al. 2003); window truncation shifts both by O(1/50)
    assert abs(np.mean(stats["isi_cv"].values) - 0.5) < 0.03
    assert abs(np.mean(stats["isi_lv"].values) - 1 / 3) < 0.03
    # counting Fano of a renewal process -> CV^2 = 1/4 for long windows (+ O(1 / (lambda T)))
    assert abs(np.mean(stats["fano"].values) - 0.25) < 0.1


def test_pairs_sharing_a_poisson_source_have_the_predicted_noise_correlation(tmp_path):
    # unit = own Poisson (15/s) + a source shared with its partner (5/s): counts share a
    # Poisson variable, r_sc = 5 / (15 + 5) = 0.25; units of different pairs: r_sc = 0
    rng = np.random.default_rng(1)
    start, stop = trial_grid(400, 1.0, gap=0.2)
    condition = np.tile(np.arange(4), 100)          # 4 conditions x 100 trials
    trains = []
    for _ in range(3):
        shared = poisson_in_trials(rng, 5.0, start, stop)
        trains += [np.concatenate([shared, poisson_in_trials(rng, 15.0, start, stop)])
                   for _ in range(2)]
    path = write_nwb(tmp_path / "pairs.nwb", trains, start, stop,
                     {"image_index": condition})
    r = measure(trial_spikes(read_ephys(path)))["r_sc"]
    same = (r.pairs[:, 0] // 2) == (r.pairs[:, 1] // 2)
    assert same.sum() == 3 and r.values.size == 15
    # Pearson r over 100 trials: SE (1 - r^2) / sqrt(99) = 0.094; mean of 4 conditions and
    # 3 pairs: 0.027; tolerance about 3 SE
    assert abs(r.values[same].mean() - 0.25) < 0.08
    assert abs(r.values[~same].mean()) < 0.05        # 12 pairs at r = 0: SE 0.015


def test_orientation_tuned_units_recover_the_von_mises_circular_variance(tmp_path):
    rng = np.random.default_rng(2)
    kappas = np.array([0.5, 1.0, 2.0, 3.0])
    orientations = np.arange(0, 180, 15.0)
    order = np.tile(orientations, 20)                         # 12 orientations x 20 trials
    start, stop = trial_grid(order.size, 1.0, gap=0.2)
    trains = []
    for k in kappas:
        trains.append(np.concatenate([
            np.sort(rng.uniform(a, b, rng.poisson(30 * np.exp(k * (np.cos(np.radians(
                2 * (o - 40))) - 1))))) for a, b, o in zip(start, stop, order)]))
    path = write_nwb(tmp_path / "tuned.nwb", trains, start, stop, {"orientation": order})
    cv = measure(trial_spikes(read_ephys(path)))["circular_variance"].values
    expected = 1 - i1(kappas) / i0(kappas)        # exact for 12 evenly spaced orientations
    # CV is a ratio of sums over ~20 x 12 x (a few to 30) counts: Monte Carlo SE <= 0.02
    np.testing.assert_allclose(cv, expected, atol=0.05)


def test_nixio_copy_of_the_file_gives_the_same_table(tmp_path, poisson_gamma_file):
    neo = pytest.importorskip("neo")
    pytest.importorskip("nixio")
    rng = np.random.default_rng(3)
    order = np.tile(np.arange(0, 180, 30.0), 6)
    start, stop = trial_grid(order.size, 1.0)
    trains = [poisson_in_trials(rng, 10.0 + 5 * u, start, stop) for u in range(5)]
    nwb_path = write_nwb(tmp_path / "rec.nwb", trains, start, stop,
                         {"orientation": order, "stimulus_type": np.array(["grating"] *
                                                                          order.size)})
    rec = read_ephys(nwb_path)
    nix_path = str(tmp_path / "rec.nix")
    io = neo.io.NixIO(nix_path, mode="ow")
    io.write_block(to_neo_block(rec))
    io.close()
    back = read_ephys(nix_path)
    assert back.source.endswith("Neo (NixIO)") and back.unit_ids == rec.unit_ids
    assert sorted(back.columns) == ["orientation", "stimulus_type"]
    a, b = measure(trial_spikes(rec)), measure(trial_spikes(back))
    table_a = text_table(compare(a, a, {}))
    assert table_a == text_table(compare(b, b, {}))
    assert "orientation circular variance" in table_a


def test_a_statistic_without_spikes_says_not_enough_data_and_the_others_run(tmp_path):
    rng = np.random.default_rng(4)
    start, stop = trial_grid(20, 1.0)
    trains = [poisson_in_trials(rng, 3.0, start, stop) for _ in range(4)]   # < 5 spikes/s
    path = write_nwb(tmp_path / "sparse.nwb", trains, start, stop)
    ts = trial_spikes(read_ephys(path))
    rows = {r.key: r for r in compare(measure(ts), measure(ts), {})}
    assert rows["isi_cv"].test is None
    assert rows["isi_cv"].test_text.startswith("not enough data: n = 0 (model), 0 (recording)")
    assert rows["rate"].test is not None and rows["fano"].test is not None


@pytest.mark.parametrize("case, message", [
    ("no units", "the file has no units (no Units table, or an empty one)"),
    ("no trials", "the file has no trials (no trials, epochs or other intervals table)"),
    ("milliseconds", "the units' spike times are not on the trials' clock in seconds"),
])
def test_bad_recordings_get_one_clear_line_and_exit_2(tmp_path, run_cli, case, message):
    start, stop = trial_grid(5, 1.0)
    trains = [np.array([0.7, 1.2, 2.4])]
    if case == "milliseconds":
        trains = [1e3 * np.array([1e4, 2e4])]       # spikes only long after the last trial
    path = write_nwb(tmp_path / f"{case.replace(' ', '_')}.nwb", trains, start, stop,
                     units=case != "no units", trials=case != "no trials")
    with pytest.raises(SimulationInputError, match=re.escape(message)):
        read_ephys(path)
    code, out, err = run_cli("compare-ephys", path, "--out-dir", tmp_path / "out")
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not os.path.exists(tmp_path / "out")


def test_units_without_spike_times_are_refused(tmp_path):
    nwb = pynwb.NWBFile(session_description="t", identifier="t",
                        session_start_time=datetime.datetime(2025, 1, 1,
                                                             tzinfo=datetime.timezone.utc))
    nwb.add_unit_column(name="quality", description="sorting quality")
    nwb.add_unit(quality=1.0)
    nwb.add_trial(start_time=0.0, stop_time=1.0)
    with pynwb.NWBHDF5IO(str(tmp_path / "x.nwb"), "w") as io:
        io.write(nwb)
    with pytest.raises(SimulationInputError, match="no spike_times column .* spike times are "
                                                   "unknown"):
        read_ephys(tmp_path / "x.nwb")


def test_an_injected_model_result_gives_table_csv_and_figure(tmp_path, poisson_gamma_file):
    recording = trial_spikes(read_ephys(poisson_gamma_file, units="0:6"))
    model = trial_spikes(read_ephys(poisson_gamma_file, units="6:12"))
    rows, paths, header = run_ephys_comparison(recording, str(tmp_path), model_ts=model,
                                               source="renewal.nwb")
    assert [os.path.basename(p) for p in paths] == ["ephys_comparison.csv",
                                                   "ephys_comparison.md",
                                                   "ephys_comparison.png"]
    cv = {r.key: r for r in rows}["isi_cv"]
    # gamma k = 4 (CV 0.5) against Poisson (CV 1): every model value below every recorded one
    assert cv.test["ks"] == 1.0 and cv.test["delta"] == -1.0
    text = open(paths[1]).read()
    assert "counting window 0 to 2 s from onset (2000 ms); PSTH bins 25 ms" in text


def test_model_protocol_matches_grating_columns_else_the_default(tmp_path):
    from gabor_dictionary import gabor_parameters
    from ipvae_brian.analysis.ephys_model import model_protocol
    from ipvae_brian.analysis.experiments.context import ExperimentContext
    rng = np.random.default_rng(5)
    order = np.tile([0.0, 45.0, 90.0, 135.0], 2)
    start, stop = trial_grid(order.size, 0.2)
    trains = [poisson_in_trials(rng, 30.0, start, stop) for _ in range(3)]
    path = write_nwb(tmp_path / "g.nwb", trains, start, stop, {"orientation": order})
    params, _ = gabor_parameters(side=8, n_latents=16, seed=0)
    ctx = ExperimentContext(params=params, params_source="gabor", out_dir=str(tmp_path),
                            quick=True)
    ts = trial_spikes(read_ephys(path))
    protocol = model_protocol(ctx, ts)
    # 4 directions x 2 trials, 8 settling bins (quick protocol) + the 0.2 s window (8 bins)
    assert protocol.kind == "matched gratings" and protocol.stimuli.x.shape == (8, 16, 64)
    assert protocol.settle == 8 and list(protocol.conditions["orientation"][::2]) == \
        [0.0, 45.0, 90.0, 135.0]
    no_columns = trial_spikes(read_ephys(path, trials="0:8")).__class__(
        ts.trains, ts.window, ts.condition, {}, ts.unit_ids)
    assert model_protocol(ctx, no_columns).kind == "default"


def test_synthetic_example_runs_through_the_command_line(tmp_path, run_cli):
    import csv
    import subprocess
    import sys
    from gabor_dictionary import gabor_parameters
    out = tmp_path / "tiny.nwb"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    subprocess.run([sys.executable, os.path.join(root, "examples", "synthetic_v1_nwb.py"),
                    str(out), "--tiny"], check=True, capture_output=True)
    rec = read_ephys(out)
    assert rec.n_units == 8 and rec.n_trials == 3 * 34
    assert set(rec.columns) == {"orientation", "contrast", "temporal_frequency",
                                "stimulus_type"}
    params, _ = gabor_parameters(side=8, n_latents=16, seed=0)
    params.save(str(tmp_path / "p.h5"))
    code, text, err = run_cli("compare-ephys", out, "--params", tmp_path / "p.h5", "--quick",
                              "--units", "0:6", "--window", "0.1", "0.6", "--model-trials", 2,
                              "--substeps", 2, "--out-dir", tmp_path / "cmp")
    assert code == 0, err
    assert "recording: 6 units, 102 trials in 33 conditions; counting window 0.1 to 0.6 s" in text
    assert "model: 16 units, 66 trials in 33 conditions; counting window 0.2 to 0.7 s" in text
    with open(tmp_path / "cmp" / "ephys_comparison.csv") as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    assert [r["statistic"] for r in rows][:3] == ["firing rate", "Fano factor", "ISI CV"]
    assert {"orientation circular variance", "contrast response (Naka-Rushton n)",
            "F1/F0"} <= {r["statistic"] for r in rows}
    assert all(r["model_protocol"].startswith("matched gratings") for r in rows)
