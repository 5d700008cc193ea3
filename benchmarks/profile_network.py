#!/usr/bin/env python
"""Where the time of one simulation goes: Brian2's per-code-object profile.

Runs the discrete-mode network (cpp_standalone engine, one thread: one worker of the
default simulate path) on natural16 test patches with the shipped parameters, once with
each formulation of the lateral term, and prints ``brian2.profiling_summary``: the
Poisson draws (``poisson_counts``), the lateral term (``lateral_product``: the matrix
product of the synapses' weights with the counts; or ``lateral_pre``: the event-driven
propagation through the LateralInhibition synapses, plus ``lateral_pre_push_spikes``,
which queues the spiking synapses), the drive (``feedforward_drive``, the TimedArray
lookup), the membrane update (``membrane_update``), the onset reset and stimulus count,
and the counts monitor; then the time spent outside Brian2's run (HDF5 writing of the
counts) measured around it. The product runs ``--lanes`` stimuli side by side (default:
what ``simulate`` resolves to).

    python benchmarks/profile_network.py            # K = 512, N = 200, T = 128
    python benchmarks/profile_network.py --n 50     # quicker
    python benchmarks/profile_network.py --lateral matrix --lanes 1 --precision float32
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

from ipvae_brian.models.config import LANES, RunConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200, help="stimuli (default 200)")
    ap.add_argument("--steps", type=int, default=128, help="T (default 128)")
    ap.add_argument("--lateral", choices=("synapses", "matrix", "both"), default="both")
    ap.add_argument("--lanes", type=int, default=None,
                    help="stimuli side by side with the lateral product (default: what "
                    "simulate resolves to, %d)" % LANES)
    ap.add_argument("--precision", choices=("float64", "float32"), default="float64")
    args = ap.parse_args()
    from ipvae_brian.models.engines import run_chunks
    from ipvae_brian.models.network import IPVAENetwork
    from ipvae_brian.models.recording import RecordingWriter
    from ipvae_brian.models.shipped import default_parameters_path
    from ipvae_brian.models.parameters import IPVAEParameters
    from ipvae_brian.stimuli.natural16 import natural16
    stim = natural16("test", n=args.n)
    params = IPVAEParameters.load(default_parameters_path(256))
    for lateral in ("matrix", "synapses") if args.lateral == "both" else (args.lateral,):
        config = RunConfig(steps=args.steps, engine="standalone", threads=1,
                           chunk_size=args.n, lateral=lateral, precision=args.precision,
                           lanes=args.lanes if lateral == "matrix" else None)
        net = IPVAENetwork(params, config.resolve(args.n, params.n_latents))
        lanes = net.lanes
        net.profile = True
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            write = 0.0
            with RecordingWriter(os.path.join(folder, "r.h5"), params, stim, args.steps) as w:
                for chunk in run_chunks(net, stim.x, seed=0):
                    t0 = time.perf_counter()
                    w.append(chunk)
                    write += time.perf_counter() - t0
            total = time.perf_counter() - start - net.timings["build_s"]
        print(f"lateral = {lateral}, {lanes} lane(s), {args.precision}: "
              f"K = {params.n_latents}, N = {args.n}, T = {args.steps}: "
              f"{total:.1f} s after a {net.timings['build_s']:.1f} s build, "
              f"{args.n * args.steps / total:,.0f} stimulus-steps/s (standalone, 1 thread); "
              f"HDF5 writing {write:.2f} s ({100 * write / total:.1f}%)")
        print(net.profiling_summary())


if __name__ == "__main__":
    main()
