"""Scale-out with Dask: the counts do not depend on the workers or the chunk size, a killed
worker's chunks are rerun, an interrupted run leaves no file, and sweeps are resumable.

One local Dask cluster of 2 worker processes serves the module (its start costs seconds);
the test that kills a worker runs last.
"""
import collections
import csv
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from ipvae_brian.models.config import RunConfig
from ipvae_brian.models.engines import simulate_counts
from ipvae_brian.models.engines.distributed import SimulationCluster, network_for
from ipvae_brian.models.random_streams import poisson_counts, stream_key
from ipvae_brian.models.simulation import Simulation
from ipvae_brian.models.parameters import IPVAEParameters
from ipvae_brian.stimuli.stimulus_set import StimulusSet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
M, K, T = 64, 16, 8


@pytest.fixture(scope="module")
def cluster():
    """A SimulationCluster with its own LocalCluster of 2 worker processes x 1 thread."""
    with SimulationCluster(workers=2) as c:
        c.client.wait_for_workers(2, timeout=120)
        yield c


def _spec(engine, chunk_size, params=None, steps=T):
    """(parameters, resolved configuration) of a run of chunks of ``chunk_size``."""
    params = params or IPVAEParameters.random(M, K, seed=1, column_norm=0.5)
    config = RunConfig(steps=steps, engine=engine, chunk_size=chunk_size)
    return params, config.resolve(chunk_size, params.n_latents)


def _stimuli(n):
    x = np.random.default_rng(0).standard_normal((n, M))
    return StimulusSet(name="white", x=x, image_shape=(8, 8), params={})


def _counts(cluster, spec, x, seed):
    params, config = spec
    chunks = list(cluster.simulate(params, config, x, seed=seed))
    assert [c.first for c in chunks] == list(range(0, len(x), config.chunk_size))
    return np.concatenate([c.counts for c in chunks])


def test_same_counts_in_process_and_on_two_workers_with_other_chunks(cluster):
    """1 worker in this process, chunks of 7, vs 2 worker processes, chunks of 4 (runtime
    engine): every count is the same (each stimulus draws from the stream of (seed, its
    index), whoever simulates it, wherever its chunk starts)."""
    x = _stimuli(30).x
    with SimulationCluster(workers=1) as here:
        alone = _counts(here, _spec("runtime", 7), x, seed=2)
        other_seed = _counts(here, _spec("runtime", 7), x, seed=3)
    assert here.client is None and {h["pid"] for h in here.history} == {os.getpid()}
    cluster.history.clear()
    spread = _counts(cluster, _spec("runtime", 4), x, seed=2)
    assert alone.shape == (30, T, K) and alone.sum() > 100, "too few spikes to compare"
    np.testing.assert_array_equal(alone, spread)
    assert not np.array_equal(alone, other_seed)
    assert len({h["pid"] for h in cluster.history}) == 2, "the chunks did not use 2 workers"
    assert os.getpid() not in {h["pid"] for h in cluster.history}


def test_standalone_engine_same_counts_on_two_workers_and_shifted_chunks(cluster):
    """cpp_standalone, one thread per simulation: 2 workers with chunks starting at 0, 4,
    8, ... and this process with chunks starting at 3, 7, 11, ... (one build of 4 stimuli
    per run) give the same counts for every stimulus."""
    x = _stimuli(30).x
    spec = _spec("standalone", 4)
    cluster.history.clear()
    spread = _counts(cluster, spec, x, seed=2)
    assert len({h["pid"] for h in cluster.history}) == 2, "the chunks did not use 2 workers"
    net = network_for(*spec)
    assert net.threads == 1
    shifted, _ = simulate_counts(net, x[3:], seed=2, first_stimulus=3)
    assert spread.sum() > 100, "too few spikes to compare"
    np.testing.assert_array_equal(spread[3:], shifted)


@pytest.mark.parametrize("engine", ["runtime", "standalone"])
def test_first_bin_draws_come_from_the_stimulus_own_counters(engine):
    """The count of neuron k in the first bin of stimulus n (drawn from u0) is the numpy
    twin's draw from the counter (stream_key(seed), n, 0, k), for stimuli 5 to 12, rates
    from 0.14 to 33 (both the CDF inversion and PTRS)."""
    params = IPVAEParameters.random(M, K, seed=1, column_norm=0.5).replace(
        u0=np.linspace(-2.0, 3.5, K))
    net = network_for(*_spec(engine, 4, params))
    counts, _ = simulate_counts(net, _stimuli(8).x, seed=9, first_stimulus=5)
    expected = poisson_counts(np.exp(params.u0)[None, :], stream_key(9),
                              5 + np.arange(8)[:, None], 0, np.arange(K)[None, :])
    assert expected.sum() > 200
    np.testing.assert_array_equal(counts[:, 0], expected)


def test_standalone_counts_do_not_depend_on_the_threads():
    """cpp_standalone with 1 and 2 OpenMP threads per simulation: the same counts (the
    draws are counter-based; MT19937 with one generator per thread gave other counts)."""
    x = _stimuli(6).x
    counts = []
    for threads in (1, 2):
        params, config = _spec("standalone", 6, IPVAEParameters.random(
            M, K, seed=1, column_norm=0.5).replace(u0=np.linspace(-2.0, 1.5, K)))
        net = network_for(params, config.replace(threads=threads))
        assert net.threads == threads
        counts.append(simulate_counts(net, x, seed=4)[0])
    assert counts[0].sum() > 100, "too few spikes to compare"
    np.testing.assert_array_equal(counts[0], counts[1])


def test_interrupted_run_leaves_no_file(cluster, tmp_path):
    """Ctrl-C in the process that owns the file, while the workers simulate: exit 130,
    neither the recording nor its temporary file remains."""
    stim = tmp_path / "x.npy"
    np.save(stim, np.random.default_rng(0).standard_normal((4000, M)))
    out = tmp_path / "r.h5"
    address = cluster.client.scheduler.address
    proc = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "run_sim.py"), "simulate", "--stimuli", str(stim),
         "--random-params", "--latents", str(K), "--steps", str(T), "--engine", "runtime",
         "--chunk-size", "4", "--scheduler", address, "--out", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not any(p.name.endswith(".tmp") for p in tmp_path.iterdir()):
        time.sleep(0.05)
    assert any(p.name.endswith(".tmp") for p in tmp_path.iterdir()), "run never started"
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "interrupted: no output file was written" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]


def _sweep(run_cli, folder, *extra, n=12):
    """3 x 2 grid, in this process, on 12 white-noise stimuli of 64 pixels."""
    stim = folder.parent / "x.npy"
    if not stim.exists():
        np.save(stim, _stimuli(12).x)
    return run_cli("sweep", "--random-params", "--latents", K, "--stimuli", stim, "--n", n,
                   "--steps", T, "--set", "eta=0.5,1,2", "--set", "log_bias=-4,-3",
                   "--workers", 1, "--chunk-size", 4, "--out", folder, *extra)


def test_sweep_3x2_completes_and_a_second_run_simulates_nothing(run_cli, tmp_path, monkeypatch):
    out = tmp_path / "sweep"
    code, stdout, stderr = _sweep(run_cli, out)
    assert code == 0, stderr
    assert "6 points" in stdout and "6 to simulate" in stdout
    with open(out / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    names = [f"eta={e}_log_bias={b}" for e in ("0.5", "1", "2") for b in ("-4", "-3")]
    assert [r["point"] for r in rows] == names
    assert all(r["status"] == "simulated" for r in rows)
    for row in rows:  # the table's numbers are the files' numbers
        with h5py.File(out / row["file"], "r") as f:
            counts = f["counts"][()]
            assert f.attrs["sweep_eta"] == float(row["eta"])
            assert np.isclose(np.exp(f["params"]["log_lr"][()]), float(row["eta"]))
            assert np.all(f["params"]["log_bias"][()] == float(row["log_bias"]))
        assert float(row["mean_count"]) == pytest.approx(counts.mean(), rel=1e-5)
        assert float(row["zeros_last_pct"]) == pytest.approx(
            100 * np.mean(counts[:, -1] == 0), rel=1e-5)
    means = {r["point"]: float(r["mean_count"]) for r in rows}
    assert means["eta=2_log_bias=-4"] > means["eta=0.5_log_bias=-4"] > 0
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.suffix == ".h5"}

    def no_simulation(*args, **kwargs):
        raise AssertionError("a complete point was simulated again")
    monkeypatch.setattr(SimulationCluster, "simulate", no_simulation)
    code, stdout, stderr = _sweep(run_cli, out)
    assert code == 0, stderr
    assert "6 complete already" in stdout and "nothing to simulate" in stdout
    with open(out / "summary.csv") as f:
        again = list(csv.DictReader(f))
    assert [r["point"] for r in again] == names and all(r["status"] == "complete" for r in again)
    assert [r["mean_count"] for r in again] == [r["mean_count"] for r in rows]
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.suffix == ".h5"} == mtimes
    # the same folder with other settings: a clear error, nothing overwritten
    code, _, stderr = _sweep(run_cli, out, n=10)
    assert code == 2 and "was made with other settings (differs in: n_stimuli)" in stderr
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.suffix == ".h5"} == mtimes


@pytest.mark.parametrize("setting,message", [
    ("foo=1,2", "--set: unknown parameter 'foo'; allowed: eta, log_lr"),
    ("eta=0,1", "--set eta: values must be positive, got 0,1"),
    ("eta=1,x", "--set eta: 'x' is not a number"),
    ("eta", "--set expects NAME=v1,v2,..., got 'eta'"),
])
def test_sweep_bad_axis_gives_one_clear_line(run_cli, tmp_path, setting, message):
    code, _, stderr = run_cli("sweep", "--random-params", "--set", setting, "--out",
                              tmp_path / "s")
    assert code == 2 and stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
    assert message in stderr
    assert not (tmp_path / "s").exists()


def test_killed_worker_still_gives_the_complete_identical_file(cluster, tmp_path):
    """A worker killed (SIGKILL, by its pid) right after it delivered a chunk: Dask reruns
    the chunks it held or was running, and the file equals the undisturbed run's."""
    stimuli = _stimuli(48)
    spec = _spec("runtime", 4)
    with SimulationCluster(workers=1) as here:
        Simulation(spec[0], stimuli, spec[1], cluster=here).run(
            5, out=tmp_path / "undisturbed.h5")
    cluster.client.wait_for_workers(2, timeout=120)
    cluster.history.clear()
    killed = []

    def kill_after_first_chunk(done):
        if not killed:
            killed.append(cluster.history[-1]["pid"])
            os.kill(killed[0], signal.SIGKILL)
    Simulation(spec[0], stimuli, spec[1], cluster=cluster).run(
        5, out=tmp_path / "killed.h5", progress=kill_after_first_chunk)
    with pytest.raises(ProcessLookupError):
        os.kill(killed[0], 0)
    # the scheduler sent the chunk(s) the dead worker was running to a worker again
    log = cluster.client.run_on_scheduler(
        lambda dask_scheduler: [(str(t[0]), t[2]) for t in dask_scheduler.transition_log])
    sent = collections.Counter(key for key, state in log
                               if state == "processing" and key.startswith("ipvae-chunk"))
    assert max(sent.values()) >= 2, "no chunk was rerun: the kill came too late to test it"
    with h5py.File(tmp_path / "undisturbed.h5", "r") as a, \
            h5py.File(tmp_path / "killed.h5", "r") as b:
        assert b.attrs["n_stimuli"] == 48 and b["counts"].shape == (48, T, K)
        assert a["counts"][()].sum() > 150
        np.testing.assert_array_equal(a["counts"][()], b["counts"][()])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["killed.h5", "undisturbed.h5"]
