"""The command line: a working run, reproducibility, and bad input -> one clear line, exit 2,
no output file."""
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from ipvae_brian.models.parameters import IPVAEParameters

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def stim_file(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(0).standard_normal((6, 64)))
    return path


def _sim(run_cli, stim, out, *extra):
    return run_cli("simulate", "--stimuli", stim, "--random-params", "--latents", 16,
                   "--steps", 8, "--out", out, "--quiet", *extra)


def test_simulate_writes_a_recording(run_cli, stim_file, tmp_path):
    out = tmp_path / "r.h5"
    code, stdout, stderr = run_cli("simulate", "--stimuli", stim_file, "--random-params",
                                   "--latents", 16, "--steps", 8, "--out", out,
                                   "--record", "u,recon")
    assert code == 0, stderr
    assert "Simulating 6 stimuli" in stdout and "K = 16 neurons" in stdout
    assert "mean R^2" in stdout and f"Wrote {out}" in stdout
    with h5py.File(out, "r") as f:
        assert f["counts"].shape == (6, 8, 16)
        assert f["u"].shape == (6, 8, 16) and f["reconstructions"].shape == (6, 8, 64)
        assert f.attrs["mode"] == "discrete" and f.attrs["seed"] == 0
        assert "simulate" in f.attrs["command_line"]


def test_same_seed_same_counts_across_runs_and_processes(run_cli, stim_file, tmp_path):
    a, b, c, d = (tmp_path / f"{k}.h5" for k in "abcd")
    assert _sim(run_cli, stim_file, a, "--seed", 5)[0] == 0
    assert _sim(run_cli, stim_file, b, "--seed", 5)[0] == 0
    cmd = [sys.executable, os.path.join(ROOT, "run_sim.py"), "simulate", "--stimuli",
           str(stim_file), "--random-params", "--latents", "16", "--steps", "8", "--quiet",
           "--seed", "5", "--out", str(c)]
    subprocess.run(cmd, check=True, cwd=ROOT)
    assert _sim(run_cli, stim_file, d, "--seed", 6)[0] == 0
    counts = [h5py.File(p, "r")["counts"][()] for p in (a, b, c, d)]
    assert counts[0].sum() > 0
    np.testing.assert_array_equal(counts[0], counts[1])
    np.testing.assert_array_equal(counts[0], counts[2])
    assert not np.array_equal(counts[0], counts[3])


@pytest.mark.parametrize("case,message", [
    ("pixels", "the stimuli have 49 pixels but the dictionary Phi has 64 rows (M)"),
    ("nan-stimuli", "stimuli contain 1 NaN or infinite pixel values"),
    ("nan-params", "parameter Phi contains 1 NaN or infinite value(s)"),
    ("steps0", "--steps must be a positive integer, got 0"),
    ("steps-neg", "--steps must be a positive integer, got -3"),
    ("missing-stimuli", "does not exist"),
    ("missing-params", "does not exist"),
    ("corrupt-params", "not a readable HDF5 file (truncated or corrupt?)"),
    ("no-folder", "does not exist"),
    ("bad-record", "--record: unknown item(s) spikes; allowed: u, recon"),
])
def test_bad_input_gives_one_clear_line(run_cli, tmp_path, case, message):
    stim = tmp_path / "x.npy"
    x = np.random.default_rng(0).standard_normal((4, 49 if case == "pixels" else 64))
    if case == "nan-stimuli":
        x[1, 3] = np.nan
    np.save(stim, x)
    params = tmp_path / "p.h5"
    IPVAEParameters.random(64, 16, seed=0).save(params)
    if case == "nan-params":
        with h5py.File(params, "r+") as f:
            f["params"]["Phi"][3, 2] = np.nan
    if case == "corrupt-params":
        data = params.read_bytes()
        params.write_bytes(data[: len(data) // 2])
    out = tmp_path / ("missing-folder" if case == "no-folder" else ".") / "out.h5"
    argv = ["simulate", "--stimuli", tmp_path / "nope.npy" if case == "missing-stimuli" else stim,
            "--params", tmp_path / "nope.h5" if case == "missing-params" else params,
            "--steps", {"steps0": 0, "steps-neg": -3}.get(case, 4), "--out", out, "--quiet"]
    if case == "bad-record":
        argv += ["--record", "spikes"]
    before = set(os.listdir(tmp_path))
    code, stdout, stderr = run_cli(*argv)
    assert code == 2
    assert stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
    assert message in stderr
    assert set(os.listdir(tmp_path)) == before  # no output, no temporary file
    assert not out.exists()


def test_sigint_leaves_no_output_file(tmp_path):
    """Ctrl-C during a run: exit 130, nothing under the output name, no temporary file."""
    stim = tmp_path / "x.npy"
    np.save(stim, np.random.default_rng(0).standard_normal((4000, 64)))
    out = tmp_path / "r.h5"
    proc = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "run_sim.py"), "simulate", "--stimuli", str(stim),
         "--random-params", "--latents", "64", "--steps", "1024", "--out", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # about 40 s of work
    deadline = time.time() + 120
    while time.time() < deadline and not any(p.name.endswith(".tmp") for p in tmp_path.iterdir()):
        time.sleep(0.05)
    assert any(p.name.endswith(".tmp") for p in tmp_path.iterdir()), "run never started"
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted: no output file was written" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]
