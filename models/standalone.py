"""The ``cpp_standalone`` engine of :class:`models.network.IPVAENetwork`.

Brian2's standalone device turns the network into a C++ program (OpenMP over
all cores). We build it once per shape into the cache folder and rerun the
same binary for every chunk of stimuli with ``device.run(run_args=...)``
(Brian2 >= 2.6), which replaces, without recompiling:

- the values of the drive ``TimedArray`` (one chunk of stimuli, padded with
  zero drive to the fixed chunk size; padded stimuli are discarded);
- the parameters: ``latents.u0``, ``latents.b``, ``latents.eta`` and the
  lateral weights ``lateral.w``, so another parameter file of the same shape
  reuses the build;
- in streaming mode the starting potential ``latents.u``.

Brian2 compiles the random seed into the program; a line inserted with
``device.insert_code`` reseeds its generators from the environment variable
``IPVAE_SEED`` at the start of every run, so each chunk draws from its own
stream (see :func:`models.network.chunk_seed`).

Building regenerates the code into the same folder; Brian2 rewrites only the
files whose content changed, so ``make`` recompiles nothing on a second run
with the same shape. A file lock serialises processes using the same build.

OpenMP threads busy-wait at their barriers: two standalone simulations on the same
cores slow each other down many times over (measured: 3 programs x 2 threads on 2
cores, over 50x). Run one at a time per set of cores, or give each
``IPVAE_THREADS=1``. (``OMP_WAIT_POLICY=passive`` avoids the spinning but made a
single run 5x slower here.)

References
----------
Stimberg, Goodman & Nowotny (2020), "Brian2GeNN / standalone" and the Brian2
documentation, "Computational methods and efficiency: standalone code generation,
multiple runs with run_args".
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import time

import numpy as np

import brian2
from brian2 import TimedArray, device, prefs, set_device
from brian2.utils.filelock import FileLock

#: Environment variable read by the compiled program to seed its random generators.
SEED_VARIABLE = "IPVAE_SEED"

_RESEED_CODE = """
{{
    const char* _ipvae_seed = getenv("{var}");
    if (_ipvae_seed != NULL)
        for (int _i = 0; _i < {threads}; _i++)
            brian::_random_generators[_i].seed(strtoul(_ipvae_seed, NULL, 10) + _i);
}}
"""


def n_threads() -> int:
    """OpenMP threads: ``$IPVAE_THREADS`` if set, else the cores this process may use."""
    if os.environ.get("IPVAE_THREADS"):
        return max(1, int(os.environ["IPVAE_THREADS"]))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover (not Linux)
        return max(1, os.cpu_count() or 1)


def build_directory(net, chunk: int, threads: int) -> str:
    """Cache folder of the build for this network shape (shared across processes)."""
    from models.network import LATENT_EQUATIONS, MEMBRANE_UPDATE, POISSON_COUNTS
    p = net.params
    key = repr((brian2.__version__, p.n_latents, net.steps, net.substeps, chunk, net.movie,
                net.stream, net.record_u, net.draw_counts, net.lateral_inhibition, threads,
                float(net.bin_width), LATENT_EQUATIONS, MEMBRANE_UPDATE, POISSON_COUNTS))
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    root = os.path.dirname(prefs.codegen.runtime.cython.cache_dir)
    return os.path.join(root, "standalone", f"K{p.n_latents}_T{net.steps}_C{chunk}_{digest}")


@contextlib.contextmanager
def standalone_device(directory: str, threads: int):
    """Switch Brian2 to ``cpp_standalone`` for the block, then back to runtime."""
    set_device("cpp_standalone", directory=directory, build_on_run=False, with_output=False)
    prefs.devices.cpp_standalone.openmp_threads = threads
    try:
        yield device
    finally:
        device.reinit()
        set_device("runtime")


def run_standalone(net, frames: np.ndarray, n_stimuli: int, entropy: int, progress,
                   initial_u, initial_z):
    """Simulate ``n_stimuli`` stimuli whose drive rows are ``frames``; yield ChunkResults."""
    from models.network import chunk_seed
    K, T = net.params.n_latents, net.steps
    rows = T if net.movie else 1
    chunk = min(net.chunk_size, n_stimuli)
    threads = n_threads()
    directory = build_directory(net, chunk, threads)
    os.makedirs(os.path.dirname(directory), exist_ok=True)
    results = f"results_{os.getpid()}"
    start = time.perf_counter()
    with FileLock(directory + ".lock"), standalone_device(directory, threads):
        feedforward = TimedArray(np.zeros((chunk * rows, K)), dt=net._frame_dt(),
                                 name="feedforward")
        net._create_objects()
        monitors = net._monitors()
        net.network.add(*monitors)
        device.insert_code("main", _RESEED_CODE.format(var=SEED_VARIABLE, threads=threads))
        net.network.run(chunk * T * net.bin_width, namespace=net._namespace(feedforward))
        device.build(directory=directory, compile=True, run=False, with_output=False)
        net.timings = {"build_s": time.perf_counter() - start, "directory": directory,
                       "threads": threads}
        p = net.params
        weights = p.lateral_weights[np.asarray(net.lateral.j[:]), np.asarray(net.lateral.i[:])]
        u = p.u0 if initial_u is None else np.asarray(initial_u, dtype=float)
        try:
            for first in range(0, n_stimuli, chunk):
                n = min(chunk, n_stimuli - first)
                values = np.zeros((chunk * rows, K))
                values[:n * rows] = frames[first * rows:(first + n) * rows]
                run_args = {feedforward: values, net.latents.u0: p.u0, net.latents.b: p.bias,
                            net.latents.eta: p.eta, net.lateral.w: weights}
                if net.stream:
                    run_args[net.latents.u] = u
                if initial_z is not None:
                    run_args[net.latents.z] = np.asarray(initial_z)
                device.run_environment_variables[SEED_VARIABLE] = str(chunk_seed(entropy, first))
                device.run(run_args=run_args, results_directory=results, with_output=False)
                result = net.collect(first, n, 0.0, *monitors)
                if net.stream:
                    u = np.asarray(net.latents.u[:])
                device.delete(code=False, data=False, run_args=True, directory=False,
                              force=True)
                if progress is not None:
                    progress(first + n)
                yield result
        finally:
            shutil.rmtree(os.path.join(directory, results), ignore_errors=True)
