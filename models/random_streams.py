"""Random streams: one per stimulus, so counts do not depend on chunks or processes.

At the onset of stimulus n (its index in the whole set) the one neuron of
:class:`~ipvae_brian.models.populations.StimulusStreams` reseeds the generators that
Brian2's ``poisson()`` draws from with :func:`stimulus_seed` of (seed, n). Both engines
draw with MT19937 seeded by the same 32-bit value: the runtime engine (Cython) from
numpy's global ``RandomState`` through a 20,000-number buffer that the reseed empties,
the standalone engine from one ``std::mt19937`` per OpenMP thread (so there the counts
also depend on the number of threads, recorded as ``threads``).
"""
from __future__ import annotations

import numpy as np
from brian2 import Function
from brian2.devices.device import all_devices


_FMIX32 = (0x85EBCA6B, 0xC2B2AE35)  # MurmurHash3's 32-bit finaliser (a bijection of uint32)


def stream_key(seed: int | None) -> int:
    """The 32-bit key of a seed (any non-negative int, or None for fresh entropy), as the
    int32 that Brian2 stores: the first word of ``numpy.random.SeedSequence(seed)``."""
    word = np.random.SeedSequence(seed).generate_state(1, np.uint32)
    return int(word.view(np.int32)[0])


def stimulus_seed(key: int, stimulus: int, thread: int = 0, threads: int = 1) -> int:
    """Seed of the MT19937 generator of ``thread`` (of ``threads``) for one stimulus.

    ``s = fmix32((key + stimulus * threads + thread) mod 2^32)``, with fmix32 the
    finaliser of MurmurHash3 (a bijection of 32-bit words that spreads neighbouring
    inputs over the whole range). For one key, distinct (stimulus, thread) pairs get
    distinct seeds (up to 2^32 / threads stimuli), so no two stimuli of a run share a
    stream. The same computation runs in C++ and Cython inside the network
    (:data:`STIMULUS_ONSET_RESEED`); this is its Python twin.

    Examples
    --------
    >>> stimulus_seed(0, 0), stimulus_seed(0, 1)
    (0, 1364076727)
    """
    h = (int(key) + int(stimulus) * int(threads) + int(thread)) & 0xFFFFFFFF
    h ^= h >> 16
    h = (h * _FMIX32[0]) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * _FMIX32[1]) & 0xFFFFFFFF
    h ^= h >> 16
    return h


def _reseed_poisson_streams(key, stimulus, onset):
    """numpy target: at an onset, reseed numpy's generator for the stimulus and return
    the next index; else return the index unchanged."""
    stimulus, onset = np.asarray(stimulus), np.asarray(onset)
    for n in np.atleast_1d(stimulus)[np.atleast_1d(onset) != 0]:
        np.random.seed(stimulus_seed(key, n))
        all_devices["runtime"].rand_buffer_index[:] = 0
    return stimulus + onset


#: Brian2 function called on every step (slot ``start``, before any draw of the step):
#: where ``onset`` is 1 (the first step of a stimulus) it reseeds the generators behind
#: ``rand()`` (and so ``poisson()``) with :func:`stimulus_seed` and returns
#: ``stimulus + 1``; elsewhere it returns ``stimulus``. Not stateless: never hoisted.
reseed_poisson_streams = Function(_reseed_poisson_streams, arg_units=[1, 1, 1],
                                  return_unit=1, arg_types=["integer", "integer", "integer"],
                                  return_type="integer", stateless=False)
reseed_poisson_streams.implementations.add_implementation("cpp", code="""
uint32_t _ipvae_fmix32(uint32_t h)
{
    h ^= h >> 16; h *= 0x85EBCA6BU; h ^= h >> 13; h *= 0xC2B2AE35U; h ^= h >> 16;
    return h;
}
int32_t reseed_poisson_streams(int32_t key, int32_t stimulus, int32_t onset)
{
    if (!onset)
        return stimulus;
    // one generator per OpenMP thread (brian::_random_generators, behind _rand and poisson)
    const uint32_t threads = (uint32_t)brian::_random_generators.size();
    for (uint32_t thread = 0; thread < threads; thread++)
        brian::_random_generators[thread].seed(
            _ipvae_fmix32((uint32_t)key + (uint32_t)stimulus * threads + thread));
    return stimulus + 1;
}
""", name="reseed_poisson_streams")
reseed_poisson_streams.implementations.add_implementation("cython", code="""
cdef int reseed_poisson_streams(int key, int stimulus, int onset):
    if not onset:
        return stimulus
    # numpy's global RandomState feeds Brian2's Cython _rand through a buffer of 20,000
    # numbers; index 0 makes the next _rand() refill it from the reseeded generator
    cdef unsigned int h = (<unsigned int>key) + (<unsigned int>stimulus)
    cdef unsigned int m1 = 2246822507
    cdef unsigned int m2 = 3266489909
    h ^= h >> 16
    h = h * m1
    h ^= h >> 13
    h = h * m2
    h ^= h >> 16
    _numpy.random.seed(h)
    _namespace_ipvae_rand_buffer_index[0] = 0
    return stimulus + 1
""", name="reseed_poisson_streams",
    namespace={"_ipvae_rand_buffer_index":
               all_devices["runtime"].rand_buffer_index})
