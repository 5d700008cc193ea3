"""What a run, a stimulus set or a file's array would allocate, checked before allocating.

A size that cannot fit (``--steps 1000000000``, ``--latents 200000``,
``white_noise:n=1e11``, a file whose header declares 2^40 rows) is refused with one line
naming the estimate and the memory available, instead of starting, growing and ending in
a ``MemoryError`` (or the machine swapping). The estimates count the large arrays only
(counts, potentials, drive, synapses, stimuli); they are lower bounds of the real peak,
so nothing that fits is refused.

Available memory and the check itself: :mod:`ipvae_brian.stimuli.input_limits`.
"""
from __future__ import annotations

from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.stimuli.input_limits import available_memory, check_allocation, format_bytes

#: Bytes per lateral synapse in Brian2 (weight, pre and post index, the synapse's entry
#: in the pre- and postsynaptic index arrays, its delay): the K^2 synapses dominate the
#: network's own memory at large K.
BYTES_PER_SYNAPSE = 40

#: Bytes per count entry of a discrete-mode chunk: the monitor's z (8) plus the counts
#: array it becomes (up to 4).
BYTES_PER_COUNT = 12


def run_memory(n_stimuli: int, steps: int, n_latents: int, n_pixels: int, chunk: int,
               movie: bool = False, record_u: bool = False, substeps: int = 1) -> dict:
    """The large allocations of a simulation, in bytes, by what they hold.

    Parameters
    ----------
    n_stimuli, steps, n_latents, n_pixels : int
        N, T, K, M.
    chunk : int
        Stimuli per chunk (one Brian2 run).
    movie, record_u : bool
    substeps : int
        Time steps per bin (continuous mode).

    Returns
    -------
    dict of str -> float
        ``stimuli`` (N x [T x] M float64), ``drive`` (the feed-forward drive of the
        stimuli, N x [T x] K), ``counts`` (one chunk's counts and monitor), ``u`` (one
        chunk's potentials, if recorded), ``synapses`` (K^2 lateral synapses and the
        K x K weight matrix).
    """
    rows = steps if movie else 1
    chunk = min(chunk, n_stimuli)
    sizes = {"stimuli": 8.0 * n_stimuli * rows * n_pixels,
             "drive": 8.0 * n_stimuli * rows * n_latents,
             "counts": float(BYTES_PER_COUNT) * chunk * steps * n_latents * max(1, substeps),
             "synapses": (BYTES_PER_SYNAPSE + 8.0) * n_latents ** 2}
    if record_u:
        sizes["u"] = 16.0 * chunk * steps * n_latents
    return sizes


def check_run_memory(n_stimuli: int, steps: int, n_latents: int, n_pixels: int, chunk: int,
                     **options) -> None:
    """Refuse a simulation whose arrays (:func:`run_memory`) exceed the available memory,
    naming the sizes and the largest part."""
    sizes = run_memory(n_stimuli, steps, n_latents, n_pixels, chunk, **options)
    largest = max(sizes, key=sizes.get)
    parts = {"stimuli": "the stimuli", "drive": "the feed-forward drive",
             "counts": f"the counts of one chunk ({min(chunk, n_stimuli):,} stimuli x "
                       f"{steps:,} bins x {n_latents:,} neurons)",
             "synapses": f"the {n_latents:,}^2 lateral synapses", "u": "the recorded u"}
    check_allocation(sum(sizes.values()),
                     f"the run (N = {n_stimuli:,} stimuli, T = {steps:,} bins, K = "
                     f"{n_latents:,} neurons, M = {n_pixels:,} pixels; mostly "
                     f"{parts[largest]}: {format_bytes(sizes[largest])})",
                     "use fewer stimuli (--n), bins (--steps) or neurons (--latents)",
                     SimulationInputError)


__all__ = ["run_memory", "check_run_memory", "available_memory", "check_allocation",
           "format_bytes", "BYTES_PER_SYNAPSE"]
