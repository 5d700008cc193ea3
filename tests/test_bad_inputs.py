"""Bad inputs and faults: one line on stderr, exit 2, nothing created or changed (issue 20).

Every case of the table runs the command line in this process (``ipvae_brian.cli.main``)
in a folder of small input files, and checks the exit status, that stderr is exactly one
line holding the case's key words, and that no file of the folder was created, removed
or changed. The interrupt tests run ``run_sim.py`` in a subprocess and send it SIGINT or
SIGTERM at several moments of a run.
"""
import errno
import hashlib
import json
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
SMALL = ["--random-params", "--latents", "8", "--steps", "4", "--quiet"]


def _edit_params(path, **changes):
    """Rewrite datasets / attributes of a parameter file's /params as given."""
    with h5py.File(path, "r+") as f:
        g = f["params"]
        for name, value in changes.items():
            if name in g.attrs and name not in g:
                g.attrs[name] = value
            else:
                del g[name]
                if isinstance(value, str) and value == "group":
                    g.create_group(name)
                elif isinstance(value, tuple):          # declared shape, no data
                    g.create_dataset(name, shape=value, dtype="f8", chunks=(1024, value[1]))
                else:
                    g[name] = value


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A folder of inputs: stimuli (.npy), a parameter file, a recording, bad variants."""
    from ipvae_brian.cli import main
    d = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    np.save(d / "s.npy", rng.standard_normal((3, 16)))
    np.save(d / "big.npy", np.full((3, 16), 1e308))
    np.save(d / "complex.npy", rng.standard_normal((3, 16)) * (1 + 1j))
    with open(d / "huge.npy", "wb") as f:      # header: 2^40 rows; the file holds 2
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f8", "fortran_order": False, "shape": (2 ** 40, 16)})
        f.write(np.zeros(32).tobytes())
    os.mkfifo(d / "pipe.npy")
    params = IPVAEParameters.random(16, 8, seed=0)
    params.save(d / "p.h5")
    for name, changes in {"u0_above_cu": {"u0": np.full(8, 25.0)},
                          "eta_inf": {"log_lr": 800.0},
                          "bias_inf": {"log_bias": np.full(8, 800.0)},
                          "cu_30": {"c_u": 30.0}, "text_cu": {"c_u": "abc"},
                          "text_phi": {"Phi": np.array([["a"] * 8] * 16, dtype="S1")},
                          "group_phi": {"Phi": "group"}, "huge_phi": {"Phi": (2 ** 40, 8)},
                          "bad_json": {"provenance": "{not json"}}.items():
        params.save(d / f"{name}.h5")
        _edit_params(d / f"{name}.h5", **changes)
    learned = params.replace(provenance={"stimuli": "digits8", "learning": {
        "seed": 0, "train_stimuli": 20, "test_stimuli": 10, "history": []}})
    IPVAEParameters.random(64, 8, seed=0).replace(provenance=learned.provenance).save(
        d / "learned.h5")
    assert main(["simulate", "--stimuli", str(d / "s.npy"), *SMALL, "--engine", "runtime",
                 "--out", str(d / "rec.h5")]) == 0
    with h5py.File(d / "rec.h5") as f:
        offset = f["counts"].id.get_chunk_info(0).byte_offset
    os.link(d / "rec.h5", d / "rec_link.h5")
    data = bytearray((d / "rec.h5").read_bytes())
    data[offset:offset + 16] = b"\xff" * 16
    (d / "corrupt.h5").write_bytes(bytes(data))
    (d / "cache_file").write_text("not a folder")
    (d / "orientation.h5").write_text("an earlier V1 experiment's recording")
    return d


def _snapshot(folder):
    return {p: hashlib.sha256(open(os.path.join(folder, p), "rb").read()).hexdigest()
            if os.path.isfile(os.path.join(folder, p)) else "other"
            for p in sorted(os.listdir(folder))}


S, P, REC = "{d}/s.npy", "{d}/p.h5", "{d}/rec.h5"
SIM = ["simulate", "--engine", "runtime"]

#: id: (argv with {d} for the inputs folder, key words of the one stderr line)
CASES = {
    # 1. an output equal to an input
    "out-is-stimuli": ([*SIM, "--stimuli", S, *SMALL, "--out", S], ["--stimuli input"]),
    "out-is-params": ([*SIM, "--stimuli", S, "--params", P, "--quiet", "--out", P],
                      ["--params input"]),
    "out-is-replayed-recording": ([*SIM, "--stimuli", REC, "--params", REC, "--quiet", "--out",
                                   REC], ["input", "rec.h5"]),
    "out-is-input-by-link": ([*SIM, "--stimuli", REC, *SMALL, "--out", "{d}/rec_link.h5"],
                             ["--stimuli input"]),
    "out-exists": ([*SIM, "--stimuli", S, *SMALL, "--out", REC], ["exists", "--overwrite"]),
    "experiment-out-exists": (["experiment", "f1f0", "--params", P, "--quick", "--out-dir",
                               "{d}"], ["orientation.h5' exists", "--overwrite"]),
    "compare-v1-out-exists": (["compare-v1", "--params", P, "--quick", "--out-dir", "{d}"],
                              ["orientation.h5' exists", "--overwrite"]),
    "plot-over-its-recording": (["plot", "raster", REC, "--out", REC], ["FILE input"]),
    # 3. parameters in the network's space
    "u0-above-cu-file": ([*SIM, "--stimuli", S, "--params", "{d}/u0_above_cu.h5", "--quiet",
                          "--out", "{d}/o.h5"], ["u0", "c_u"]),
    "u0-above-cu-sweep": (["sweep", "--set", "u0=25", "--stimuli", S, *SMALL, "--out",
                           "{d}/sw"], ["u0", "c_u"]),
    "eta-infinite": ([*SIM, "--stimuli", S, "--params", "{d}/eta_inf.h5", "--quiet", "--out",
                      "{d}/o.h5"], ["log_lr", "eta"]),
    "bias-infinite": ([*SIM, "--stimuli", S, "--params", "{d}/bias_inf.h5", "--quiet",
                       "--out", "{d}/o.h5"], ["log_bias", "b = exp"]),
    "cu-beyond-counts": ([*SIM, "--stimuli", S, "--params", "{d}/cu_30.h5", "--quiet",
                          "--out", "{d}/o.h5"], ["c_u", "32-bit"]),
    # 4. drive overflow, complex stimuli
    "drive-overflows": ([*SIM, "--stimuli", "{d}/big.npy", *SMALL, "--out", "{d}/o.h5"],
                        ["stimulus 0", "membrane update"]),
    "complex-stimuli": ([*SIM, "--stimuli", "{d}/complex.npy", *SMALL, "--out", "{d}/o.h5"],
                        ["complex"]),
    # 7. absurd sizes, refused before allocating
    "steps-1e9": ([*SIM, "--stimuli", S, "--random-params", "--latents", "8", "--steps",
                   "1000000000", "--out", "{d}/o.h5"], ["memory", "GB", "1,000,000,000 bins"]),
    "latents-200000": ([*SIM, "--stimuli", S, "--random-params", "--latents", "200000",
                        "--out", "{d}/o.h5"], ["200,000^2", "memory", "TB"]),
    "white-noise-1e11": (["stimuli", "white_noise:n=1e11"], ["memory", "TB"]),
    "grating-frames-1e9": (["stimuli", "drifting_grating:frames=1e9"], ["memory", "TB"]),
    "npy-header-2^40-rows": ([*SIM, "--stimuli", "{d}/huge.npy", "--n", "2", *SMALL, "--out",
                              "{d}/o.h5"], ["huge.npy", "declares more than the file"]),
    "hdf5-phi-2^40-rows": ([*SIM, "--stimuli", S, "--params", "{d}/huge_phi.h5", "--quiet",
                            "--out", "{d}/o.h5"], ["huge_phi.h5", "declares shape", "memory"]),
    # 8. bad values
    "seed-negative": ([*SIM, "--stimuli", S, *SMALL, "--seed", "-1", "--out", "{d}/o.h5"],
                      ["--seed", "out of range"]),
    "seed-2^70": ([*SIM, "--stimuli", S, *SMALL, "--seed", str(2 ** 70), "--out", "{d}/o.h5"],
                  ["--seed", "out of range"]),
    "bin-width-inf": ([*SIM, "--stimuli", S, *SMALL, "--bin-width", "inf", "--out",
                       "{d}/o.h5"], ["bin width", "inf"]),
    "dt-inf": ([*SIM, "--stimuli", S, *SMALL, "--mode", "continuous", "--dt", "inf", "--out",
                "{d}/o.h5"], ["dt", "inf"]),
    "steps-text": ([*SIM, "--stimuli", S, "--steps", "abc", "--out", "{d}/o.h5"],
                   ["--steps", "'abc'"]),
    "spec-text-n": (["stimuli", "white_noise:n=abc"], ["n = 'abc'", "whole number"]),
    "params-provenance-not-json": ([*SIM, "--stimuli", S, "--params", "{d}/bad_json.h5",
                                    "--quiet", "--out", "{d}/o.h5"], ["provenance", "JSON"]),
    "params-text-c_u": ([*SIM, "--stimuli", S, "--params", "{d}/text_cu.h5", "--quiet",
                         "--out", "{d}/o.h5"], ["c_u", "expected a number"]),
    "params-text-phi": ([*SIM, "--stimuli", S, "--params", "{d}/text_phi.h5", "--quiet",
                         "--out", "{d}/o.h5"], ["Phi", "expected numbers"]),
    "params-group-phi": ([*SIM, "--stimuli", S, "--params", "{d}/group_phi.h5", "--quiet",
                          "--out", "{d}/o.h5"], ["Phi", "is a group"]),
    "corrupt-counts-chunk": (["plot", "raster", "{d}/corrupt.h5", "--out", "{d}/r.png"],
                             ["corrupt.h5", "counts", "cannot be read"]),
    # 9. named pipe, learn resumed with other settings
    "stimuli-named-pipe": ([*SIM, "--stimuli", "{d}/pipe.npy", *SMALL, "--out", "{d}/o.h5"],
                           ["named pipe"]),
    "learn-resume-other-n-train": (["learn", "--stimuli", "digits8", "--latents", "8",
                                    "--n-train", "40", "--n-test", "10", "--out",
                                    "{d}/learned.h5"], ["--n-train 20 there, 40 now",
                                                        "--restart"]),
    "learn-validation-overlaps-training": (
        ["learn", "--stimuli", "digits8", "--latents", "8", "--n-train", "1100", "--n-test",
         "10", "--calibrate", "--validation", "200", "--out", "{d}/new.h5"],
        ["--validation 200", "the last stimuli of the 1,200 in digits8:train",
         "1,100 are learned from", "use --validation 1 to 100"]),
    "learn-noise-price-without-calibrate": (
        ["learn", "--stimuli", "digits8", "--latents", "8", "--n-train", "40", "--n-test",
         "10", "--noise-price", "4", "--out", "{d}/new.h5"],
        ["--noise-price 4.0", "needs --calibrate and a positive number"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_exit_2_nothing_written(case, inputs, run_cli):
    argv, words = CASES[case]
    before = _snapshot(inputs)
    code, _, stderr = run_cli(*[a.format(d=inputs) for a in argv])
    assert code == 2, stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr, stderr
    for word in words:
        assert word in stderr, (word, stderr)
    assert _snapshot(inputs) == before


def test_unreachable_scheduler_one_line(inputs, run_cli, monkeypatch):
    """--scheduler nobody answers: one line after the (here shortened) timeout, exit 2."""
    from ipvae_brian.models.engines import distributed
    monkeypatch.setattr(distributed, "SCHEDULER_TIMEOUT_S", 1.0)
    before = _snapshot(inputs)
    start = time.perf_counter()
    code, _, stderr = run_cli(*SIM, "--stimuli", inputs / "s.npy", *SMALL, "--scheduler",
                              "tcp://127.0.0.1:1", "--out", inputs / "o.h5")
    assert code == 2 and stderr.count("\n") == 1, stderr
    assert "no Dask scheduler answered within 1 s" in stderr
    assert time.perf_counter() - start < 30
    assert _snapshot(inputs) == before


def test_cache_dir_is_a_file(inputs, run_cli, monkeypatch, tmp_path):
    monkeypatch.setenv("IPVAE_CACHE_DIR", str(inputs / "cache_file"))
    before = _snapshot(inputs)
    code, _, stderr = run_cli(*SIM, "--stimuli", inputs / "s.npy", *SMALL, "--out",
                              tmp_path / "o.h5")
    assert code == 2 and stderr.count("\n") == 1, stderr
    assert "IPVAE_CACHE_DIR" in stderr and "cache_file" in stderr
    assert _snapshot(inputs) == before and os.listdir(tmp_path) == []


def test_full_disk_during_simulate(inputs, run_cli, monkeypatch, tmp_path):
    """ENOSPC while the recording is written: one line, exit 2, no partial file."""
    from ipvae_brian.models import recording

    def full(self, chunk):
        raise OSError(errno.ENOSPC, "No space left on device", self.path)
    monkeypatch.setattr(recording.RecordingWriter, "append", full)
    before = _snapshot(inputs)
    code, _, stderr = run_cli(*SIM, "--stimuli", inputs / "s.npy", *SMALL, "--out",
                              tmp_path / "o.h5")
    assert code == 2 and stderr.count("\n") == 1, stderr
    assert "no space left" in stderr and "o.h5" in stderr
    assert _snapshot(inputs) == before and os.listdir(tmp_path) == []


def test_overwrite_replaces_an_existing_output(inputs, run_cli, tmp_path):
    out = tmp_path / "o.h5"
    argv = [*SIM, "--stimuli", inputs / "s.npy", *SMALL, "--out", out]
    assert run_cli(*argv)[0] == 0
    first = out.stat().st_mtime_ns
    assert run_cli(*argv)[0] == 2 and out.stat().st_mtime_ns == first
    assert run_cli(*argv, "--overwrite")[0] == 0 and out.stat().st_mtime_ns != first
    assert sorted(os.listdir(tmp_path)) == ["o.h5"]


def test_sweep_notices_changed_stimulus_content(inputs, run_cli, tmp_path):
    """Same spec and N, other pixels: the point is stale (exit 2 without --overwrite)."""
    stim = tmp_path / "x.npy"
    np.save(stim, np.random.default_rng(1).standard_normal((3, 16)))
    argv = ["sweep", "--set", "seed=0", "--stimuli", stim, *SMALL, "--engine", "runtime",
            "--out", tmp_path / "sw"]
    code, _, stderr = run_cli(*argv)
    assert code == 0, stderr
    np.save(stim, np.random.default_rng(2).standard_normal((3, 16)))
    before = _snapshot(tmp_path / "sw")
    code, _, stderr = run_cli(*argv)
    assert code == 2 and "the stimuli's pixels changed" in stderr, stderr
    assert _snapshot(tmp_path / "sw") == before
    code, _, stderr = run_cli(*argv[:-2], "--overwrite", "--out", tmp_path / "sw")
    assert code == 0, stderr
    with h5py.File(tmp_path / "sw" / "seed=0.h5") as f:
        np.testing.assert_array_equal(f["stimuli/x"][()], np.load(stim))


def test_corrupt_standalone_binary_is_rebuilt(tmp_path):
    """A damaged cached program (marker present) is detected by its digest and removed."""
    from ipvae_brian.models.engines import standalone
    d = tmp_path / "build"
    d.mkdir()
    (d / "main").write_bytes(b"\x7fELF" + b"\0" * 100)
    os.chmod(d / "main", 0o755)
    (d / standalone.COMPILED_MARKER).write_text("compiled\n")
    assert standalone.verified_build(str(d))                   # old marker: digest added
    assert "sha256 " in (d / standalone.COMPILED_MARKER).read_text()
    assert standalone.verified_build(str(d))
    (d / "main").write_bytes(b"garbage")                        # damaged since
    assert not standalone.verified_build(str(d))
    assert not (d / "main").exists() and not (d / standalone.COMPILED_MARKER).exists()


def test_interrupt_after_the_file_is_complete_exits_0(inputs, run_cli, monkeypatch, tmp_path):
    """Ctrl-C once the recording was renamed into place: it is kept, status 0, says so."""
    from ipvae_brian.models.run_summary import RunSummary

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(RunSummary, "describe", interrupted)
    out = tmp_path / "o.h5"
    code, _, stderr = run_cli(*SIM, "--stimuli", inputs / "s.npy", *SMALL, "--out", out)
    assert code == 0 and "written completely: kept" in stderr, stderr
    assert out.exists() and sorted(os.listdir(tmp_path)) == ["o.h5"]


# --- signals sent to a subprocess ---------------------------------------------------------------

#: ``python -c DRIVER HOOK MARKER ARGV...`` runs the command line as the program does
#: (``main()`` reading ``sys.argv``) with a hook: "chunks" creates MARKER once two chunks
#: are in the recording; the others send Ctrl-C to the process group (as a terminal does)
#: as the local Dask cluster stops ("cluster-stop"), after ``main`` returned ("after-main",
#: an atexit function) or once Python runs no handlers any more ("finalisation", an
#: object's ``__del__`` while the modules are torn down).
DRIVER = """
import atexit, os, signal, sys, time
hook, marker = sys.argv[1], sys.argv[2]
sys.argv = ["run_sim.py", *sys.argv[3:]]
from ipvae_brian.cli import main

def ctrl_c(killpg=os.killpg, getpgrp=os.getpgrp, sigint=signal.SIGINT, sleep=time.sleep):
    killpg(getpgrp(), sigint)
    sleep(0.5)

if hook == "chunks":
    from ipvae_brian.models.recording import RecordingWriter
    append = RecordingWriter.append
    def appended(self, chunk):
        append(self, chunk)
        if self.n_written >= 2 * len(chunk.counts):
            open(marker, "a").close()
    RecordingWriter.append = appended
elif hook == "cluster-stop":
    import distributed
    close = distributed.LocalCluster.close
    def closing(self, *args, **kwargs):
        ctrl_c()
        return close(self, *args, **kwargs)
    distributed.LocalCluster.close = closing
elif hook == "finalisation":
    class Late:
        def __del__(self, ctrl_c=ctrl_c):
            ctrl_c()
    late = Late()
code = main()
if hook == "after-main":
    atexit.register(ctrl_c)
sys.exit(code)
"""

#: engine name in the tables below -> options (dask: a local cluster of two workers)
ENGINES = {"runtime": ["--engine", "runtime", "--workers", "1"],
           "standalone": ["--engine", "standalone", "--workers", "1"],
           "dask": ["--engine", "runtime", "--workers", "2"]}


def _start(tmp_path, engine, *extra, steps="2048", hook=None):
    stim = tmp_path / "x.npy"
    if not stim.exists():
        np.save(stim, np.random.default_rng(0).standard_normal((200, 64)))
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    os.makedirs(env["TMPDIR"], exist_ok=True)
    program = [os.path.join(ROOT, "run_sim.py")] if hook is None else \
        ["-c", DRIVER, hook, str(tmp_path / "tmp" / "marker")]
    return subprocess.Popen(
        [sys.executable, *program, "simulate", "--stimuli", str(stim), "--random-params",
         "--latents", "16", "--steps", steps, *ENGINES[engine], "--chunk-size", "8",
         "--out", str(tmp_path / "r.h5"), *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, env=env)


def _wait_for(folder, proc, test, timeout=300):
    """Poll until a name in ``folder`` passes ``test`` (True), or the process ended."""
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if any(test(p.name) for p in folder.iterdir()):
            return True
        time.sleep(0.02)
    return False


def _left(tmp_path):
    """Files left in the run folder and anything left in the private TMPDIR (Brian2's
    reports, Dask's scratch folder)."""
    files = sorted(p.name for p in tmp_path.iterdir() if p.name not in ("x.npy", "tmp"))
    return files, sorted(p for p in os.listdir(tmp_path / "tmp") if p != "marker")


@pytest.mark.parametrize("moment,sig,engine,expected", [
    ("before", signal.SIGINT, "runtime", 130),
    ("during", signal.SIGINT, "runtime", 130),
    ("during", signal.SIGTERM, "runtime", 143),
    ("during-twice", signal.SIGINT, "runtime", 130),
    ("during", signal.SIGINT, "standalone", 130),
    ("after-two-chunks", signal.SIGINT, "standalone", 130),
    ("cluster-start", signal.SIGINT, "dask", 130),
    ("during", signal.SIGINT, "dask", 130),
    ("during", signal.SIGTERM, "dask", 143),
])
def test_signal_leaves_nothing(tmp_path, moment, sig, engine, expected):
    """Ctrl-C (to the process group, as a terminal sends it) or SIGTERM at a moment of a
    run: the documented status, one line, no output, no temporary file, nothing left in
    TMPDIR (no Brian2 report, no Dask scratch folder; Dask's workers ignore the Ctrl-C)."""
    proc = _start(tmp_path, engine, hook="chunks" if moment == "after-two-chunks" else None)
    if moment == "before":
        time.sleep(0.5)                           # importing, before any simulation
    elif moment == "cluster-start":               # the local cluster's scratch folder is made
        assert _wait_for(tmp_path / "tmp", proc, lambda n: n.startswith("ipvae-dask-")), \
            proc.communicate()
    elif moment == "after-two-chunks":            # the compiled program runs chunk 3 or later
        assert _wait_for(tmp_path / "tmp", proc, lambda n: n == "marker"), proc.communicate()
        time.sleep(0.3)
    else:
        assert _wait_for(tmp_path, proc, lambda n: n.endswith(".tmp")), proc.communicate()
        time.sleep(1.0)
    assert proc.poll() is None, proc.communicate()
    os.killpg(proc.pid, sig)
    if moment == "during-twice":
        time.sleep(0.05)
        os.killpg(proc.pid, sig)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == expected, stderr
    lines = stderr.strip().splitlines()
    assert "Traceback" not in stderr, stderr
    # ours is the one line; a standalone build interrupted while compiling also shows
    # make's own "Interrupt" lines (Brian2 replays the compiler's output on failure)
    assert len(lines) == 1 or engine == "standalone" and all(
        line.startswith("make: ") for line in lines[:-1]), stderr
    assert lines[-1] == "interrupted: no output file was written" if sig == signal.SIGINT \
        else lines[-1] == "terminated (SIGTERM): no output file was written", stderr
    assert _left(tmp_path) == ([], [])


@pytest.mark.parametrize("moment", ["cluster-stop", "after-main", "finalisation"])
def test_ctrl_c_as_a_dask_run_ends_keeps_the_complete_file(tmp_path, moment):
    """Ctrl-C once the recording is complete, while the local cluster stops or the
    process exits: status 0, the file kept and said so (nothing can be said once Python
    runs no handlers any more), nothing else left; never a death by SIGINT."""
    proc = _start(tmp_path, "dask", steps="16", hook=moment)
    _, stderr = proc.communicate(timeout=300)
    out = tmp_path / "r.h5"
    assert proc.returncode == 0, stderr
    assert stderr == ("" if moment == "finalisation" else
                      f"interrupted after {out} was written completely: kept\n")
    with h5py.File(out) as f:
        assert f["counts"].shape == (200, 16, 16)
    assert _left(tmp_path) == (["r.h5"], [])


def test_experiment_refuses_its_existing_outputs_unless_overwrite(inputs, run_cli, tmp_path):
    """``experiment`` writes recordings and a figure: an earlier run's are kept (one line,
    exit 2, before anything runs) unless --overwrite; the files it writes are the ones it
    declares (checked before it runs)."""
    from ipvae_brian.analysis.experiments import planned_outputs
    argv = ["experiment", "moving-bar", "--params", inputs / "p.h5", "--quick", "--out-dir",
            tmp_path / "bar"]
    code, _, stderr = run_cli(*argv)
    assert code == 0, stderr
    assert sorted(os.listdir(tmp_path / "bar")) == sorted(planned_outputs(["moving-bar"])) \
        == ["moving-bar.h5", "moving-bar.png"]
    before = _snapshot(tmp_path / "bar")
    code, stdout, stderr = run_cli(*argv)
    assert code == 2 and stdout == "", stdout
    assert stderr == (f"error: output '{tmp_path / 'bar' / 'moving-bar.h5'}' exists; pass "
                      f"--overwrite to replace it, or choose another output name\n")
    assert _snapshot(tmp_path / "bar") == before
    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "bar").iterdir()}
    code, _, stderr = run_cli(*argv, "--overwrite")
    assert code == 0, stderr
    assert all(p.stat().st_mtime_ns != stamps[p.name] for p in (tmp_path / "bar").iterdir())
    assert sorted(os.listdir(tmp_path / "bar")) == ["moving-bar.h5", "moving-bar.png"]
