"""The engines that run an :class:`~ipvae_brian.models.network.IPVAENetwork`.

The network describes the Brian2 objects and runs them itself in this process with
Brian2's runtime device (``"runtime"``). The engines here import the network, never the
reverse (as in Brian2, where the standalone device imports ``Network``):

- :mod:`ipvae_brian.models.engines.standalone`: ``"standalone"``, Brian2's
  ``cpp_standalone`` device, compiled once per network shape and rerun per chunk;
- :mod:`ipvae_brian.models.engines.distributed`: the chunks of a run spread over Dask
  workers, each running one of the two engines above.

:func:`run_chunks` runs a network on the engine its configuration names.
"""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from ipvae_brian.models.config import ENGINES
from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.network import ChunkResult, IPVAENetwork, concatenate_chunks


def _run_standalone(net, x, seed, progress, initial_u, initial_z, first_stimulus):
    from ipvae_brian.models.engines.standalone import run_standalone
    frames, key = net.prepare(x, seed, initial_u, first_stimulus)
    n_stimuli = len(frames) // (net.steps if net.movie else 1)
    yield from run_standalone(net, frames, n_stimuli, key, progress, initial_u, initial_z,
                              int(first_stimulus))


def _run_runtime(net, x, seed, progress, initial_u, initial_z, first_stimulus):
    yield from net.run(x, seed=seed, progress=progress, initial_u=initial_u,
                       initial_z=initial_z, first_stimulus=first_stimulus)


#: The engines by name: each runs a network's chunks (the arguments of :func:`run_chunks`).
ENGINE_RUNNERS: dict[str, Callable[..., Iterator[ChunkResult]]] = {
    "runtime": _run_runtime, "standalone": _run_standalone}
assert tuple(ENGINE_RUNNERS) == ENGINES


def run_chunks(net: IPVAENetwork, x: np.ndarray, seed: int | None = None,
               progress: Callable[[float], None] | None = None,
               initial_u: np.ndarray | None = None, initial_z: np.ndarray | None = None,
               first_stimulus: int = 0) -> Iterator[ChunkResult]:
    """Simulate the stimuli ``x`` on the network's engine; yield one result per chunk.

    ``engine="auto"`` is resolved here for ``len(x)`` stimuli. The arguments are those
    of :meth:`IPVAENetwork.run`.
    """
    x = np.asarray(x)
    if x.ndim == 0:
        raise SimulationInputError("the stimuli must be an array of N stimuli")
    net.resolve(max(1, len(x)))
    yield from ENGINE_RUNNERS[net.engine](net, x, seed, progress, initial_u, initial_z,
                                          first_stimulus)


def simulate_counts(net: IPVAENetwork, x: np.ndarray, seed: int | None = None,
                    **kwargs) -> tuple[np.ndarray, np.ndarray | None]:
    """All counts (N, T, K) and u (or None) of a small set at once, on the network's engine."""
    return concatenate_chunks(run_chunks(net, x, seed=seed, **kwargs))


__all__ = ["run_chunks", "simulate_counts", "ENGINE_RUNNERS"]
