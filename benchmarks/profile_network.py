#!/usr/bin/env python
"""Where the time of one simulation goes: Brian2's per-code-object profile.

Runs the discrete-mode network (runtime engine with Cython: the same code objects as
the cpp_standalone engine, generated for another target) on natural16 test patches
with the shipped parameters and prints ``brian2.profiling_summary``: the Poisson draws
(``poisson_counts``), the lateral term (``lateral_pre``: the event-driven propagation of
the counts through the LateralInhibition synapses, and ``lateral_pre_push_spikes``), the
membrane update (``membrane_update``, the state updater with the feed-forward TimedArray),
the onset reset and reseed, and the counts monitor; then the time spent outside Brian2's
run (HDF5 writing of the counts) measured around it.

    python benchmarks/profile_network.py            # K = 512, N = 500, T = 128
    python benchmarks/profile_network.py --n 100    # quicker
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=500, help="stimuli (default 500)")
    ap.add_argument("--steps", type=int, default=128, help="T (default 128)")
    args = ap.parse_args()
    import brian2
    from models.network import IPVAENetwork
    from models.recording import RecordingWriter
    from models.shipped import default_parameters_path
    from models.parameters import IPVAEParameters
    from stimuli.natural16 import natural16
    stim = natural16("test", n=args.n)
    params = IPVAEParameters.load(default_parameters_path(256))
    net = IPVAENetwork(params, args.steps, engine="runtime", chunk_size=args.n)
    net.profile = True
    warm = IPVAENetwork(params, args.steps, engine="runtime", chunk_size=4)
    warm.simulate(stim.x[:4], seed=0)                   # compile (or load) the Cython code
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        write = 0.0
        with RecordingWriter(os.path.join(folder, "r.h5"), params, stim, args.steps) as w:
            for chunk in net.run(stim.x, seed=0):
                t0 = time.perf_counter()
                w.append(chunk)
                write += time.perf_counter() - t0
        total = time.perf_counter() - start
    print(f"K = {params.n_latents}, N = {args.n}, T = {args.steps}: {total:.1f} s in all, "
          f"{args.n * args.steps / total:,.0f} stimulus-steps/s (runtime engine, 1 thread); "
          f"HDF5 writing {write:.2f} s ({100 * write / total:.1f}%)")
    print(brian2.profiling_summary(net.network, show=12))


if __name__ == "__main__":
    main()
