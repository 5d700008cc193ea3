#!/usr/bin/env python
"""Throughput and memory of the simulator against the batched numpy reference (and PyTorch).

Every measurement runs in its own fresh process (so its peak memory is its own) on
the same work: the same parameters, the same natural16 test patches, the same T.
Each side may use every core (numpy through OpenBLAS, our simulator through
Brian2's cpp_standalone with OpenMP). Printed per work size: stimulus-steps per
second for each side, their ratio, peak resident memory, and our one-time
build/compile cost separately from the simulation.

    python benchmarks/throughput.py            # the full table (about 10 minutes)
    python benchmarks/throughput.py --quick    # small sizes, a smoke test

The machines this runs on are shared and noisy: compare the ratios measured in
one run, not absolute figures across runs.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

_PROCESS_START = time.perf_counter()   # a worker's clock starts before it imports anything

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --- workers (each runs in a fresh process) ---------------------------------------------

def _parameters(K, M=256, params_path=None):
    """The parameters of a run: ``params_path`` if given, else the shipped ones for K = 512
    (M = 256), else random ones."""
    from ipvae_brian.models.parameters import IPVAEParameters
    from ipvae_brian.models.shipped import default_parameters_path
    if params_path is not None:
        return IPVAEParameters.load(params_path), f"parameters from {params_path}"
    path = default_parameters_path(M)
    if path is not None:
        from ipvae_brian.models.parameters import IPVAEParameters as P
        params = P.load(path)
        if params.n_latents == K:
            return params, "shipped learned parameters"
    return IPVAEParameters.random(M, K, seed=0), "random parameters (no learned ones for this K)"


def _stimuli(n):
    from ipvae_brian.stimuli.natural16 import natural16
    return natural16("test", n=n).x


def _peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker_numpy(K, N, T, batch=1000, dtype="float64", params_path=None):
    """The reference update (models.reference.membrane_update), B stimuli per matrix, in
    ``dtype`` (the constants W, b, eta, ... rounded and computed once, as a numpy user
    would; numpy's Poisson sampler draws in float64 whatever the rates' type)."""
    import numpy as np
    from ipvae_brian.models.reference import UpdateConstants, membrane_update
    params, _ = _parameters(K, params_path=params_path)
    constants = UpdateConstants.of(params, dtype)
    x = _stimuli(N)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    zeros = 0
    for first in range(0, N, batch):
        drive = params.feedforward_drive(x[first:first + batch]).astype(dtype)
        u = np.broadcast_to(params.u0.astype(dtype), drive.shape).copy()
        for _ in range(T):
            z = rng.poisson(np.exp(u))
            zeros += int(np.count_nonzero(z == 0))
            u = membrane_update(constants, u, z, drive)
    elapsed = time.perf_counter() - start
    return {"steps_per_s": N * T / elapsed, "seconds": elapsed, "peak_mib": _peak_mib(),
            "zeros": zeros / (N * T * K)}


def worker_torch(K, N, T, batch=1000, params_path=None, threads=None):
    """The same update in PyTorch float32 on the CPU (only if torch is installed), on
    ``threads`` threads (default: torch's)."""
    import numpy as np
    import torch
    if threads:
        torch.set_num_threads(int(threads))
    params, _ = _parameters(K, params_path=params_path)
    x = _stimuli(N)
    torch.manual_seed(0)
    f = torch.float32
    W = torch.tensor(params.lateral_weights, dtype=f)
    b = torch.tensor(params.bias, dtype=f)
    eta, c_u, c_du = params.eta, params.c_u, params.c_du
    sp = torch.nn.functional.softplus
    start = time.perf_counter()
    with torch.no_grad():
        for first in range(0, N, batch):
            drive = torch.tensor(params.feedforward_drive(x[first:first + batch]), dtype=f)
            u = torch.tensor(np.broadcast_to(params.u0, drive.shape).copy(), dtype=f)
            for _ in range(T):
                z = torch.poisson(torch.exp(u))
                du = torch.clamp(eta * (drive + z @ W - b), min=params.u_floor)
                du = c_du - sp(c_du - du)
                u = c_u - sp(c_u - torch.clamp(u + du, min=params.u_floor))
    elapsed = time.perf_counter() - start
    return {"steps_per_s": N * T / elapsed, "seconds": elapsed, "peak_mib": _peak_mib(),
            "threads": torch.get_num_threads()}


def worker_ours(K, N, T, dt_ms=None, write=True, engine="auto", workers=None):
    """Our simulator, the path ``ipvae simulate`` takes (:class:`Simulation`): chunks of
    stimuli on a ``SimulationCluster`` (by default one single-threaded Brian2 simulation
    per core, on a local Dask cluster), streamed by this process into one HDF5 recording."""
    from ipvae_brian.models.config import RunConfig
    from ipvae_brian.models.simulation import Simulation
    from ipvae_brian.stimuli.stimulus_set import StimulusSet
    params, source = _parameters(K)
    stim = StimulusSet("natural16:test", _stimuli(N), (16, 16))
    config = RunConfig(steps=T, engine=engine, workers=workers,
                       dt=None if dt_ms is None else dt_ms / 1e3)
    t0 = time.perf_counter()
    simulation = Simulation(params, stim, config)
    cluster, c = simulation.cluster, simulation.config
    counted = {"first_chunk": None, "simulating": None}

    def on_chunk(chunk):
        if counted["first_chunk"] is None:
            counted["first_chunk"] = time.perf_counter() - _PROCESS_START
            task = cluster.history[0]       # it began simulating after its build
            counted["simulating"] = (time.perf_counter() - _PROCESS_START - task["seconds"]
                                     + task["build_s"])

    with cluster, tempfile.TemporaryDirectory() as folder:
        startup = time.perf_counter() - t0
        start = time.perf_counter()
        summary = simulation.run(0, out=os.path.join(folder, "r.h5") if write else None,
                                 keep=False, on_chunk=on_chunk).summary
        elapsed = time.perf_counter() - start
        peak = _peak_mib()
        if cluster.client is not None:           # the workers' own peaks add up
            peak += sum(cluster.client.run(_peak_mib).values())
        n_workers = cluster.workers if cluster.client is not None else 1
        # every worker builds once (in parallel): the slowest build is the one-time cost
        build = max(h["build_s"] for h in cluster.history)
    simulated = elapsed - build
    return {"steps_per_s": N * T / simulated, "seconds": simulated, "build_s": build,
            "startup_s": startup, "first_chunk_s": counted["first_chunk"], "peak_mib": peak,
            "simulating_after_s": counted["simulating"],
            "engine": c.engine, "lateral": c.lateral, "params": source,
            "spikes": int(summary.total_counts), "zeros": summary.zeros_all / N,
            "sim_steps": N * T * c.substeps, "threads": c.threads, "workers": n_workers}


WORKERS = {"numpy": worker_numpy, "torch": worker_torch, "ours": worker_ours}


# --- driver ----------------------------------------------------------------------------------

def measure(kind, **kw):
    """Run one worker in a fresh process; return its result dict (or None if unavailable)."""
    env = kw.pop("_env", None) or os.environ.copy()
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind, json.dumps(kw)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    if proc.returncode != 0:
        if "ModuleNotFoundError" in proc.stderr:
            return None
        raise RuntimeError(f"{kind} {kw} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def torch_available() -> bool:
    import importlib.util
    return importlib.util.find_spec("torch") is not None


def row(cells, widths):
    return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("spec", nargs="?", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker](**json.loads(args.spec))))
        return
    T = 128
    sizes = ([(512, 200)] if args.quick else
             [(512, 1000), (512, 10000), (128, 1000), (2048, 1000)])
    has_torch = torch_available()
    print(f"Work: natural16 test patches (M = 256), T = {T} bins, discrete mode; "
          f"{os.cpu_count()} cores; PyTorch {'found' if has_torch else 'not installed'}.")
    # one-time cost: a cold compile into an empty cache, then a warm build
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, IPVAE_CACHE_DIR=cache)
        cold = measure("ours", K=512, N=1000, T=T, _env=env)
        warm = measure("ours", K=512, N=1000, T=T, _env=env)
    print(f"Parameters: {cold['params']}. Ours: engine {cold['engine']}, lateral term "
          f"{cold['lateral']}, "
          f"{cold['workers']} worker process(es) x {cold['threads']} thread (the default path "
          f"of run_sim.py simulate); numpy: OpenBLAS threads on every core.")
    print(f"One-time cost at K = 512: cold compile {cold['build_s']:.1f} s; a later run with "
          f"the same shape builds in {warm['build_s']:.1f} s and starts simulating "
          f"{warm['simulating_after_s']:.1f} s after its process started (imports, stimuli, "
          f"parameters, the local Dask cluster: {warm['startup_s']:.1f} s, the build) and has "
          f"its first chunk {warm['first_chunk_s']:.1f} s after it started.\n")
    widths = (5, 6, 14, 14, 9, 14, 9, 14, 9, 8)
    print(row(("K", "N", "numpy steps/s", "ours steps/s", "ratio", "torch32 steps/s",
               "ratio", "peak MiB np/ours", "zeros", "build s"), widths))
    print(row(["---"] * len(widths), widths))
    memory = {}
    for K, N in sizes:
        ref = measure("numpy", K=K, N=N, T=T)
        ours = measure("ours", K=K, N=N, T=T)
        tor = measure("torch", K=K, N=N, T=T) if has_torch else None
        memory[(K, N)] = ours["peak_mib"]
        print(row((K, f"{N:,}", f"{ref['steps_per_s']:,.0f}", f"{ours['steps_per_s']:,.0f}",
                   f"{ours['steps_per_s'] / ref['steps_per_s']:.2f}",
                   f"{tor['steps_per_s']:,.0f}" if tor else "-",
                   f"{ours['steps_per_s'] / tor['steps_per_s']:.2f}" if tor else "-",
                   f"{ref['peak_mib']:,.0f} / {ours['peak_mib']:,.0f}",
                   f"{ours['zeros']:.2f}", f"{ours['build_s']:.1f}"), widths), flush=True)
    if (512, 10000) in memory:
        print(f"\nPeak memory, discrete mode, K = 512: N = 10,000 / N = 1,000 = "
              f"{memory[(512, 10000)] / memory[(512, 1000)]:.2f}")
    # continuous mode: cost per simulated second, per step and per spike
    print("\nContinuous mode (K = 512, bin 25 ms, dt = 0.5 ms, cpp_standalone, lateral term as "
          "auto chooses; the build time is excluded):")
    runs = []
    for N, T_c, scale in ((20, 40, 1.0), (20, 40, 0.0)) if args.quick else \
            ((100, 40, 0.0), (100, 40, 0.5), (100, 40, 1.0)):
        r = measure("ours_scaled", K=512, N=N, T=T_c, dt_ms=0.5, scale=scale)
        runs.append(r)
        print(f"  stimulus contrast x{scale:g}: {N * T_c * 0.025:.0f} s simulated in "
              f"{r['seconds']:.1f} s ({r['seconds'] / (N * T_c * 0.025) * 1e3:.0f} ms per "
              f"simulated second), {r['spikes']:,} spikes, {r['sim_steps']:,} steps")
    import numpy as np
    A = np.array([[r["sim_steps"], r["spikes"]] for r in runs], dtype=float)
    t = np.array([r["seconds"] for r in runs])
    per_step, per_spike = np.linalg.lstsq(A, t, rcond=None)[0]
    print(f"  cost model: {per_step * 1e6:.1f} us per time step (all 512 neurons) + "
          f"{per_spike * 1e6:.2f} us per spike (its K = 512 lateral multiply-adds; lateral "
          f"term {runs[0]['lateral']})")
    if not args.quick:
        small = measure("ours_scaled", K=512, N=1000, T=4, dt_ms=0.5, scale=1.0)
        large = measure("ours_scaled", K=512, N=10000, T=4, dt_ms=0.5, scale=1.0)
        print(f"  peak memory, N = 10,000 / N = 1,000 (T = 4 bins): "
              f"{large['peak_mib']:,.0f} / {small['peak_mib']:,.0f} MiB = "
              f"{large['peak_mib'] / small['peak_mib']:.2f}")


def worker_ours_scaled(K, N, T, dt_ms, scale, engine="standalone"):
    """``worker_ours`` on patches scaled by ``scale`` (0 = blank: almost no spikes)."""
    import ipvae_brian.stimuli.natural16 as n16
    original = n16.natural16

    def scaled(split, n=None):
        s = original(split, n=n)
        import dataclasses
        return dataclasses.replace(s, x=s.x * scale)
    n16.natural16 = scaled
    return worker_ours(K, N, T, dt_ms=dt_ms, engine=engine)


WORKERS["ours_scaled"] = worker_ours_scaled

if __name__ == "__main__":
    main()
