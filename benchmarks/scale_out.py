#!/usr/bin/env python
"""Scale-out with Dask: throughput against the number of local workers, and Dask's overhead.

The same work (natural16 test patches, random parameters, the cpp_standalone engine with
one thread per simulation, the same chunk size) written to a recording file, measured
in a fresh process for each of:

- ``in-process``: ``--workers 1``, no Dask at all (the reference);
- ``dask-1``: a LocalCluster of 1 worker process, through ``--scheduler`` (Dask's
  overhead: task submission, pickling, sending the counts back over TCP, the worker's own
  build);
- ``dask-2``, ...: LocalClusters of more worker processes (the scaling).

Printed per setting: the simulation's wall time (from the first task to the closed file)
and stimulus-bins per second, the time to start the cluster (separately), the build
(code generation; compilation is done once beforehand) per process, the share of the
workers' wall time spent inside the chunks' simulations (the rest is build, Dask,
transfer, waiting; on a loaded machine this share is the measure least disturbed by
other processes), and the overhead or speed-up relative to in-process.

    python benchmarks/scale_out.py --quick        # N = 400, K = 64, T = 32 (about a minute)
    python benchmarks/scale_out.py                # N = 10,000, K = 512, T = 128

The machines this runs on are shared and noisy: compare the ratios measured in one run,
not absolute figures across runs. With W workers on a machine with fewer than W free
cores the workers share cores and the speed-up shrinks accordingly.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _work(N, K, T, chunk):
    from ipvae_brian.models.config import RunConfig
    from ipvae_brian.models.parameters import IPVAEParameters
    from ipvae_brian.stimuli.natural16 import natural16
    stimuli = natural16("test", n=N)
    params = IPVAEParameters.random(stimuli.n_pixels, K, seed=0)
    config = RunConfig(steps=T, engine="standalone", chunk_size=chunk)
    return (params, config.resolve(N, K)), stimuli


def measure(setting: str, N: int, K: int, T: int, chunk: int) -> dict:
    """One measurement (run in a fresh process)."""
    import logging
    from ipvae_brian.models.engines.distributed import SimulationCluster
    from ipvae_brian.models.simulation import Simulation
    (params, config), stimuli = _work(N, K, T, chunk)
    workers = 1 if setting == "in-process" else int(setting.split("-")[1])
    out = os.path.join(tempfile.mkdtemp(prefix="ipvae-bench-"), "r.h5")
    start = time.perf_counter()
    local = None
    if setting == "in-process":
        cluster = SimulationCluster(workers=1)
    else:
        from distributed import Client, LocalCluster
        local = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                             dashboard_address=None, silence_logs=logging.ERROR)
        Client(local).wait_for_workers(workers)
        cluster = SimulationCluster(scheduler=local.scheduler_address)
    with cluster:
        started = time.perf_counter()
        Simulation(params, stimuli, config, cluster=cluster).run(0, out=out)
        done = time.perf_counter()
    if local is not None:
        local.close()
    os.remove(out)
    os.rmdir(os.path.dirname(out))
    builds = {}
    for h in cluster.history:
        builds[h["pid"]] = max(builds.get(h["pid"], 0.0), h["build_s"])
    return {"setting": setting, "workers": workers, "N": N, "K": K, "T": T,
            "chunk": config.chunk_size, "engine": config.engine, "threads": config.threads,
            "startup_s": started - start, "simulate_s": done - started,
            "stimulus_bins_per_s": N * T / (done - started),
            "build_s_per_process": sorted(builds.values()), "processes": len(builds),
            "tasks_s": sum(h["seconds"] for h in cluster.history)}


def warm_up(N, K, T, chunk) -> float:
    """Compile the program of this shape once (into the shared cache); seconds taken."""
    from ipvae_brian.models.engines import run_chunks
    from ipvae_brian.models.engines.distributed import network_for
    (params, config), stimuli = _work(min(N, chunk), K, T, chunk)
    start = time.perf_counter()
    for _ in run_chunks(network_for(params, config), stimuli.x[:1], seed=0):
        pass
    return time.perf_counter() - start


def _in_fresh_process(args: list) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", json.dumps(args)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"measurement {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 400, K = 64, T = 32")
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--latents", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--chunk-size", type=int, default=None,
                        help="stimuli per task (default: the simulator's, 2^24 counts)")
    parser.add_argument("--workers", default="1,2", help="Dask worker counts to measure")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        task = json.loads(args.worker)
        if task[0] == "warm-up":
            print(json.dumps({"warm_up_s": warm_up(*task[1:])}))
        else:
            print(json.dumps(measure(*task)))
        return 0
    N = args.n or (400 if args.quick else 10_000)
    K = args.latents or (64 if args.quick else 512)
    T = args.steps or (32 if args.quick else 128)
    from ipvae_brian.models.config import TASK_ENTRIES
    chunk = args.chunk_size or min(max(1, TASK_ENTRIES // (K * T)), N)
    settings = ["in-process"] + [f"dask-{w}" for w in args.workers.split(",")]
    print(f"Scale-out benchmark: N = {N:,} natural16 test patches, K = {K}, T = {T}, "
          f"chunks of {chunk} stimuli, cpp_standalone with 1 thread per simulation; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    warm = _in_fresh_process(["warm-up", N, K, T, chunk])["warm_up_s"]
    print(f"build (compile once into the cache, or find it there): {warm:.1f} s", flush=True)
    results = []
    for repeat in range(args.repeats):
        for setting in settings:
            r = _in_fresh_process([setting, N, K, T, chunk])
            r["repeat"] = repeat
            results.append(r)
            print(f"  {setting:<11} simulate {r['simulate_s']:8.1f} s "
                  f"({r['stimulus_bins_per_s']:10,.0f} stimulus-bins/s), cluster start "
                  f"{r['startup_s']:5.1f} s, build per process "
                  f"{', '.join(f'{b:.1f}' for b in r['build_s_per_process'])} s; "
                  f"simulating {100 * r['tasks_s'] / (r['workers'] * r['simulate_s']):.0f}% "
                  f"of the workers' wall time", flush=True)
    best = {}
    for r in results:
        if r["setting"] not in best or r["simulate_s"] < best[r["setting"]]["simulate_s"]:
            best[r["setting"]] = r
    ref = best["in-process"]["simulate_s"]
    print(f"\nSummary (best of {args.repeats}; in-process = {ref:.1f} s, "
          f"load average now {os.getloadavg()[0]:.1f}):")
    for setting in settings:
        r = best[setting]
        line = (f"  {setting:<11} {r['stimulus_bins_per_s']:10,.0f} stimulus-bins/s, "
                f"{ref / r['simulate_s']:.2f}x in-process")
        if setting == "dask-1":
            over = r["simulate_s"] / ref - 1
            with_start = (r["simulate_s"] + r["startup_s"]) / ref - 1
            line += (f"; Dask overhead {100 * over:+.1f}% ({100 * with_start:+.1f}% with the "
                     f"cluster's start)")
        print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"warm_up_s": warm, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
