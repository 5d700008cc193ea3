#!/usr/bin/env python
"""The main job timed from the outside: ours as a user types it against the batched peers.

Ours is the whole command, ``python run_sim.py simulate --n N --steps T --precision P
--out FILE --quiet`` (natural16 test patches; the shipped parameters at K = 512, else
``--params`` of a file made here, see below), started with :mod:`subprocess` and timed
from its start to its exit: interpreter start-up, imports, stimuli and parameters, the
local Dask cluster, the build, the simulation and the HDF5 writing all count. Each
command is run once to warm the compiled-code cache, then timed on its second run. The
first run of each precision is in a fresh, empty ``IPVAE_CACHE_DIR`` (nothing compiled,
natural16 not yet built): its wall time is reported as the time to first output of a cold
first run. Peak memory of our command: the largest single process (``os.wait4``'s
resource usage of the child, which covers its waited-for children) and the sum over the
process tree (sampled every 0.1 s with psutil: the parent and its Dask workers; at least the
largest process).

The peers do the same update on the same work (same parameters, same patches, same T) in
fresh processes through ``benchmarks/throughput.py``'s workers: numpy float64 and numpy
float32, 1,000 stimuli per matrix (OpenBLAS on every core), and PyTorch float32 on the CPU
(``--torch-threads``, default 2) when ``import torch`` works; they time their loop only
(no start-up, nothing written). Printed: stimulus-steps per second (N T / seconds) of each,
the ratios ours / peer, and the peak memory.

Other K: no learned parameters ship for K != 512. There, the parameters are random with
the shipped ones' scale: each column of Phi a uniformly random direction with a norm drawn
from the shipped columns' norms, u0 and log_bias drawn (with replacement) from the shipped
neurons' values, and log_sigma, log_lr and the clamps the shipped ones (seed 0). The run's
fraction of zero counts (from the numpy float64 peer) is printed beside it.

    python benchmarks/main_job.py --quick          # smoke test, under a minute
    python benchmarks/main_job.py                  # K = 512, N = 10,000, T = 128 (~15 min)
    python benchmarks/main_job.py --sizes 128:10000,2048:2000 --no-cold
    python benchmarks/main_job.py --sizes 512:10000,128:10000,2048:2000 --continuous 200

Continuous mode (``--continuous N``): ours only (the peers have no continuous mode), the
whole command with ``--mode continuous --dt tau/8`` (``--substeps``) on N stimuli at the
first size, reported as wall seconds per simulated second (N T tau simulated; second run)
and against the discrete run of the same stimuli.

The machines this runs on are shared and noisy: compare the ratios of one run.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import throughput  # noqa: E402  (the peers' workers and their fresh-process runner)

PRECISIONS = ("float64", "float32")


def shipped_like_parameters(K: int, path: str, seed: int = 0) -> str:
    """Write random parameters with the shipped ones' scale (module docstring) to ``path``."""
    from ipvae_brian.models.parameters import IPVAEParameters
    from ipvae_brian.models.shipped import default_parameters_path
    shipped = IPVAEParameters.load(default_parameters_path(256))
    rng = np.random.default_rng(seed)
    norms = rng.choice(np.linalg.norm(shipped.Phi, axis=0), K)
    Phi = rng.standard_normal((shipped.n_pixels, K))
    Phi *= norms / np.linalg.norm(Phi, axis=0)
    neurons = rng.choice(shipped.n_latents, K)
    params = shipped.replace(Phi=Phi, u0=shipped.u0[neurons], log_bias=shipped.log_bias[neurons],
                             provenance={"init": "shipped-like random (benchmarks/main_job.py)",
                                         "seed": seed, "K": K})
    params.save(path)
    return path


def _tree_rss(pid: int) -> tuple[int, int]:
    """(sum of RSS over the process tree of ``pid``, largest RSS of one of them), bytes."""
    import psutil
    try:
        root = psutil.Process(pid)
        processes = [root] + root.children(recursive=True)
    except psutil.Error:
        return 0, 0
    sizes = []
    for p in processes:
        try:
            sizes.append(p.memory_info().rss)
        except psutil.Error:
            pass
    return sum(sizes), max(sizes, default=0)


def run_ours(args: list[str], cache: str | None) -> dict:
    """Run ``python run_sim.py simulate ARGS`` in a fresh process (``IPVAE_CACHE_DIR`` =
    ``cache``, or as it is if None); its wall time and memory."""
    env = dict(os.environ, **({"IPVAE_CACHE_DIR": cache} if cache else {}))
    cmd = [sys.executable, os.path.join(ROOT, "run_sim.py"), "simulate", *args]
    peak = {"sum": 0}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    done = threading.Event()

    def sample():
        while not done.wait(0.1):
            peak["sum"] = max(peak["sum"], _tree_rss(proc.pid)[0])
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n"
                           f"{stderr.decode()[-3000:]}")
    largest = usage.ru_maxrss / 1024.0     # exact; the sampled sum can miss a short peak
    return {"seconds": seconds, "largest_mib": largest,
            "tree_mib": max(largest, peak["sum"] / 2 ** 20)}


def warmup_stimuli(K: int, N: int, T: int) -> int:
    """Fewest stimuli whose run builds the same programs as N's: two chunks of the size
    N's run resolves to (the same chunk, engine and worker processes), at most N."""
    from ipvae_brian.models.config import RunConfig
    config = RunConfig(steps=T).resolve(N, K)
    return min(N, max(2 * config.chunk_size, -(-100_000 // T)))


def measure_size(K, N, T, params_path, caches, cold, torch_threads, folder) -> dict:
    """Ours at both precisions (warm-up or cold run, then the timed run) and the peers."""
    result = {"K": K, "N": N, "T": T, "ours": {}, "cold": {}}
    base = ["--n", str(N), "--steps", str(T), "--quiet"]
    if params_path:
        base += ["--params", params_path]
    for precision in PRECISIONS:
        out = os.path.join(folder, f"K{K}_{precision}.h5")
        command = base + ["--precision", precision, "--overwrite", "--out", out]
        if cold:
            result["cold"][precision] = run_ours(command, caches[precision])
        else:
            n = warmup_stimuli(K, N, T)
            run_ours(["--n", str(n)] + command[2:], caches[precision])
        result["ours"][precision] = run_ours(command, caches[precision])
    peer = dict(K=K, N=N, T=T, params_path=params_path)
    result["numpy"] = {dtype: throughput.measure("numpy", dtype=dtype, **peer)
                       for dtype in PRECISIONS}
    result["torch"] = (throughput.measure("torch", threads=torch_threads, **peer)
                       if throughput.torch_available() else None)
    return result


def measure_continuous(K, N, T, params_path, cache, substeps, folder) -> None:
    """Continuous mode's cost: the whole command at dt = tau / substeps on N stimuli (warm-up
    run, then the timed one), against the discrete command on the same stimuli."""
    bin_ms = 25.0
    base = ["--n", str(N), "--steps", str(T), "--quiet", "--overwrite"]
    if params_path:
        base += ["--params", params_path]
    out = os.path.join(folder, f"K{K}_continuous.h5")
    continuous = base + ["--mode", "continuous", "--dt", repr(bin_ms / substeps), "--out", out]
    discrete = base + ["--out", os.path.join(folder, f"K{K}_discrete_{N}.h5")]
    seconds = {}
    for name, command in (("continuous", continuous), ("discrete", discrete)):
        run_ours(command, cache)                          # warm-up (build)
        seconds[name] = run_ours(command, cache)["seconds"]
    simulated = N * T * bin_ms / 1e3
    print(f"\nContinuous mode, K = {K}, N = {N}, T = {T}, dt = tau / {substeps} "
          f"({bin_ms / substeps:g} ms): {seconds['continuous']:.1f} s for {simulated:.0f} s "
          f"simulated = {seconds['continuous'] / simulated:.3f} s per simulated second "
          f"({seconds['continuous'] / seconds['discrete']:.1f}x the discrete command's "
          f"{seconds['discrete']:.1f} s on the same stimuli)")


def report(r: dict, torch_threads: int, source: str) -> None:
    K, N, T = r["K"], r["N"], r["T"]
    work = N * T
    print(f"\nK = {K}, N = {N:,}, T = {T} ({source}; zeros {r['numpy']['float64']['zeros']:.2f})")
    peers = [("numpy float64 batched", r["numpy"]["float64"]),
             ("numpy float32 batched", r["numpy"]["float32"])]
    if r["torch"] is not None:
        peers.append((f"PyTorch float32 CPU, {torch_threads} threads", r["torch"]))
    print("| run | seconds | stimulus-steps/s | peak MiB |")
    print("|---|---|---|---|")
    for precision in PRECISIONS:
        o = r["ours"][precision]
        print(f"| ours {precision}, whole command | {o['seconds']:.1f} | "
              f"{work / o['seconds']:,.0f} | {o['tree_mib']:,.0f} (largest process "
              f"{o['largest_mib']:,.0f}) |")
    for name, p in peers:
        print(f"| {name} | {p['seconds']:.1f} | {p['steps_per_s']:,.0f} | "
              f"{p['peak_mib']:,.0f} |")
    print("\n| ours / peer | " + " | ".join(name for name, _ in peers) + " |")
    print("|---|" + "---|" * len(peers))
    for precision in PRECISIONS:
        rate = work / r["ours"][precision]["seconds"]
        print(f"| ours {precision} | " + " | ".join(f"{rate / p['steps_per_s']:.3g}"
                                                   for _, p in peers) + " |")
    if r["torch"] is None:
        print("(PyTorch: `import torch` fails here, no PyTorch peer measured)")
    for precision, c in r["cold"].items():
        print(f"Time to first output of a cold first run (fresh IPVAE_CACHE_DIR, {precision}):"
              f" {c['seconds']:.1f} s (second run: {r['ours'][precision]['seconds']:.1f} s)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="512:10000",
                    help="comma-separated K:N (default 512:10000; e.g. "
                    "512:10000,128:10000,2048:2000)")
    ap.add_argument("--steps", type=int, default=128, help="T, bins per stimulus")
    ap.add_argument("--torch-threads", type=int, default=2)
    ap.add_argument("--no-cold", action="store_true",
                    help="skip the cold first runs (fresh cache); warm up with fewer stimuli")
    ap.add_argument("--cache", default=None,
                    help="with --no-cold: the IPVAE_CACHE_DIR to warm and use (default: "
                    "the current one)")
    ap.add_argument("--continuous", type=int, default=0, metavar="N",
                    help="also time continuous mode on N stimuli at the first size (0: no)")
    ap.add_argument("--substeps", type=int, default=8,
                    help="continuous mode: dt = tau / SUBSTEPS (default 8)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: K = 512, N = 50, T = 16, no cold runs")
    args = ap.parse_args()
    if args.quick:
        args.sizes, args.steps, args.no_cold = "512:50", 16, True
    sizes = [tuple(int(v) for v in item.split(":")) for item in args.sizes.split(",")]
    T = args.steps
    print(f"Work: natural16 test patches (M = 256), T = {T} bins, discrete mode; "
          f"{os.cpu_count()} cores; PyTorch "
          f"{'found' if throughput.torch_available() else 'not installed'}. Ours: "
          f"`run_sim.py simulate` as typed, timed from outside, second run.")
    with tempfile.TemporaryDirectory(prefix="main-job-") as folder:
        caches = {p: (args.cache if args.no_cold else os.path.join(folder, f"cache-{p}"))
                  for p in PRECISIONS}
        for i, (K, N) in enumerate(sizes):
            params_path, source = None, "shipped natural16 parameters"
            if K != 512:
                params_path = shipped_like_parameters(K, os.path.join(folder, f"K{K}.h5"))
                source = "random parameters of the shipped scale (see --help)"
            cold = not args.no_cold and i == 0
            result = measure_size(K, N, T, params_path, caches, cold, args.torch_threads,
                                  folder)
            report(result, args.torch_threads, source)
            if args.continuous and i == 0:
                measure_continuous(K, args.continuous, T, params_path, caches["float64"],
                                   args.substeps, folder)


if __name__ == "__main__":
    main()
