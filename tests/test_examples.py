"""The scripts of ``examples/`` run on tiny sizes and print (or write) what they promise.

Each runs as a user would run it: a fresh Python process (``sys.executable``) started in
a temporary folder, with the environment inherited (so ``IPVAE_CACHE_DIR``, the shared
Brian2 code cache, is reused), with ``--tiny``.
"""
import os
import subprocess
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "examples")


def run_example(name, tmp_path, *args):
    """Run ``examples/<name> --tiny *args`` in ``tmp_path``; return its stdout."""
    done = subprocess.run([sys.executable, os.path.join(EXAMPLES, name), "--tiny", *args],
                          cwd=tmp_path, env=dict(os.environ), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_every_example_is_tested():
    tested = {"simulate_images.py", "raster_in_memory.py", "brian2_objects.py",
              "fit_from_recording.py", "learning_front.py", "poisson_noise_limit.py",
              "synthetic_v1_nwb.py"}    # the last one in tests/test_compare_ephys.py
    assert {f for f in os.listdir(EXAMPLES) if f.endswith(".py")} == tested


def test_learning_front_tabulates_every_file_and_the_sklearn_front(tmp_path):
    import numpy as np
    from ipvae_brian.models.parameters import IPVAEParameters
    for beta in (1.0, 4.0):
        IPVAEParameters.random(256, 32, seed=0).replace(beta=beta).save(tmp_path / f"b{beta}.h5")
    png = tmp_path / "front.png"
    out = run_example("learning_front.py", tmp_path, str(tmp_path / "b1.0.h5"),
                      str(tmp_path / "b4.0.h5"), "--out", str(png))
    rows = [line for line in out.splitlines() if line.startswith("| 1 |")
            or line.startswith("| 4 |")]
    assert len(rows) == 2 and all(len(r.split("|")) == 12 for r in rows)
    assert all(r.split("|")[2].strip() == "10" for r in rows)         # c_u of random()
    assert all(r.split("|")[3].strip() == "-" for r in rows)          # never calibrated
    front = [line for line in out.splitlines()
             if line.startswith("| ") and line.split("|")[1].strip().replace(".", "").isdigit()
             and len(line.split("|")) == 5]
    r2 = [float(line.split("|")[2]) for line in front]
    assert len(r2) == 6 and r2 == sorted(r2, reverse=True)   # a larger penalty, a worse fit
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert np.isfinite(r2).all()


def test_poisson_noise_limit_splits_the_error_into_bias_and_noise(tmp_path):
    """expected R^2 of the counts = R^2 of the rates - the noise fraction (the identity
    E||x - Phi z||^2 = ||x - Phi lambda||^2 + sum_k lambda_k ||Phi_k||^2), noise > 0."""
    import re
    from ipvae_brian.models.parameters import IPVAEParameters
    import numpy as np
    params = IPVAEParameters.random(256, 32, seed=0)
    params.replace(u0=np.zeros(32)).save(tmp_path / "p.h5")     # about 1 count per bin
    out = run_example("poisson_noise_limit.py", tmp_path, str(tmp_path / "p.h5"))
    numbers = dict(re.findall(r"(from the rates|expected from the counts|Poisson noise) "
                              r"(-?[0-9.]+)", out))
    assert len(numbers) == 3, out
    rates, expected = float(numbers["from the rates"]), float(numbers["expected from the counts"])
    noise = float(numbers["Poisson noise"])
    assert noise > 0 and abs(rates - noise - expected) <= 0.0015, out
    assert "t = 8, 20 natural16 test patches" in out


def test_simulate_images_gives_counts_r2_and_neo(tmp_path):
    out = run_example("simulate_images.py", tmp_path)
    assert "counts (3, 8, 512) uint16" in out
    assert len(out.split("R^2 over t:")[1].splitlines()[0].split()) == 8
    assert "Neo: 3 stimuli x 16 neurons" in out


def test_raster_in_memory_writes_a_png_without_a_recording(tmp_path):
    png = tmp_path / "raster.png"
    out = run_example("raster_in_memory.py", tmp_path, "--out", str(png))
    assert f"wrote {png}" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(os.listdir(tmp_path)) == ["raster.png"]      # no recording written


def test_brian2_objects_script_matches_simulate(tmp_path):
    out = run_example("brian2_objects.py", tmp_path)
    assert "u monitor: (2, 8, 512)" in out
    assert "identical to simulate() with the same eta and seed: True" in out


def test_fit_from_recording_prints_the_free_energy(tmp_path):
    h5 = tmp_path / "fit.h5"
    out = run_example("fit_from_recording.py", tmp_path, "--out", str(h5))
    assert h5.exists() and "counts (20, 16, 32), u (20, 16, 32)" in out
    line = [l for l in out.splitlines() if l.startswith("free energy before:")]
    assert len(line) == 1 and "nan" not in line[0].lower()


@pytest.mark.parametrize("name", ["simulate_images.py", "raster_in_memory.py",
                                  "brian2_objects.py", "fit_from_recording.py"])
def test_examples_are_short_and_say_what_they_show(name):
    text = open(os.path.join(EXAMPLES, name)).read()
    assert text.startswith('"""') and text.count("\n") < 70


@pytest.mark.parametrize("dt", [None, 0.0005])
def test_in_memory_results_read_as_their_recording(tmp_path, dt):
    """The examples' in-memory entry points give what the file-based ones give."""
    import numpy as np
    from ipvae_brian.analysis.raster import plot_raster, plot_raster_from_result
    from ipvae_brian.analysis.spike_trains import read_spike_trains, spike_trains_from_result
    from ipvae_brian.models import IPVAEParameters, RunConfig
    from ipvae_brian.models.simulation import simulate
    params = IPVAEParameters.random(16, 8, seed=0)
    x = np.random.default_rng(0).standard_normal((3, 16))
    path = str(tmp_path / "run.h5")
    result = simulate(params, x, RunConfig(steps=4, dt=dt), seed=2, out=path, keep=True)
    from_file = read_spike_trains(path, stimuli=[2, 0], neurons="1:6")
    in_memory = spike_trains_from_result(result, stimuli=[2, 0], neurons="1:6")
    np.testing.assert_array_equal(in_memory.times, from_file.times)
    np.testing.assert_array_equal(in_memory.offsets, from_file.offsets)
    assert in_memory.times_from_counts == from_file.times_from_counts == (dt is None)
    assert (in_memory.dt, in_memory.bin_width) == (from_file.dt, from_file.bin_width)
    fig = plot_raster_from_result(result, x, stimulus=1)
    assert fig.raster_spike_count == plot_raster(path, stimulus=1).raster_spike_count
