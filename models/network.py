"""The iP-VAE as a Brian2 spiking network, in discrete bins or in continuous time.

Discrete mode (the paper's algorithm): one Brian2 time step is one time bin of
width tau (``bin_width``). In every bin the K latent neurons of a
:class:`LatentPopulation` draw integer spike counts from their membrane
potentials, the :class:`LateralInhibition` synapses carry each count to every
neuron, and the membrane potentials take one step of natural-gradient descent
on the free energy (model.md; Vafaii, Galor & Yates 2025)::

    z_t     ~ Poisson(exp(u_t))                                   (counts of bin t)
    du_t    = eta * (Phi^T x / sigma^2 - (Phi^T diag(1/sigma^2) Phi) z_t - b)
    du_t   <- c_du - softplus(c_du - du_t)                         (soft upper bound)
    u_{t+1} = c_u - softplus(c_u - max(u_t + du_t, u_floor))       (soft bound, hard floor)

Read as a spiking network, ``Phi^T x / sigma^2`` is a feed-forward current
I_ff (fixed while the stimulus is), and ``-(Phi^T diag(1/sigma^2) Phi)`` is the
K x K matrix W of lateral synapses (its diagonal is self-inhibition): every
spike of neuron j moves neuron i's input by W_ij. The prediction error
(x - Phi z) / sigma^2 is never sent as a signal.

Continuous mode: the same equation strings with a time step dt much smaller
than the bin (``dt = bin_width / n``). In each step a neuron fires
Poisson(exp(u) dt / tau) spikes, i.e. a Poisson process of rate exp(u) / tau;
every spike of neuron j moves u_i by eta W_ij at the end of the step in which
it occurs; between spikes u drifts by eta (I_ff - b) / tau per unit time. Over
one bin the expected change of u is therefore eta (I_ff - b + sum_j W_ij
E[z_j]), the discrete update, and the expected count is exp(u) per bin. The
two modes differ in the order of events within a bin: in discrete mode all
counts of a bin are drawn from u_t and act together at the end of the bin; in
continuous mode a spike early in the bin already inhibits (or excites) the
others for the rest of it, so the rates follow the dynamics within the bin.
The differences are O(dt/tau) per step plus this within-bin feedback, which is
small while eta |W| exp(u) << 1. The soft bounds are applied every step. The
bound on the change, c_du - softplus(c_du - du), pulls even a small du down by
about exp(du - c_du); applied tau/dt times per bin this pull would grow with
the number of steps, so in continuous mode that bound is shifted by
``bound_shift = log(tau / dt)`` (exactly 0 in discrete mode), which keeps its
pull per bin equal to the discrete mode's. The soft ceiling c_u on u itself is
not shifted: it must stay a ceiling on the rate (exp(c_u) counts per bin) in
both modes. Its pull on a potential well below it, about (tau/dt) exp(u - c_u)
per bin, is below 2e-3 per bin for u < 0 at tau/dt = 50.

Order of operations within one step (Brian2 scheduling slots):

=====================  ===============================================================
slot                   what happens
=====================  ===============================================================
``start``              at the onset of each stimulus: u <- u0 (not in streaming mode),
                       and the random generators are reseeded for this stimulus
``before_thresholds``  z = poisson(exp(u) dt / tau), the counts of this step
``thresholds``         neurons with z > 0 emit a spike event (continuous mode records
                       the events with their z)
``before_synapses``    discrete mode records z of every neuron
``synapses``           the lateral input: each event adds w_ij z_j to ``lateral`` of
                       every neuron i, or (``lateral="matrix"``) one product per step
                       writes lateral_i = sum_j W_ij z_j for all i at once
``after_synapses``     the membrane update, then ``lateral`` <- 0
=====================  ===============================================================

The lateral propagation exploits the sparse counts (the paper reports 37% to 77%
zeros): either formulation of :class:`LateralInhibition` costs (number of neurons
with a non-zero count) x K multiply-adds per step, not K^2.

Many stimuli run back to back in one long ``Network.run`` per chunk of
stimuli (``Network.run`` costs ~0.2 s of ``gc.collect()`` per call, so never one
run per stimulus): the feed-forward drive of the chunk is a 2-D ``TimedArray``
(one row per stimulus, or per frame for movies) and a ``run_regularly``
operation resets u every T bins.

Random streams: one per stimulus. At the onset of stimulus n (its index in the
whole set, not in the chunk) a one-neuron :class:`StimulusStreams` group
reseeds the generators that Brian2's ``poisson()`` draws from with
:func:`stimulus_seed` of (seed, n); the draws of a stimulus therefore depend
on the seed and its index only, so the counts are bit-for-bit the same
whatever the chunk size, the number of processes the stimuli are spread over
and their order (in streaming mode too: u still carries over from the previous
stimulus, but each stimulus draws from its own stream). Both engines draw with
MT19937 seeded by the same 32-bit value: the runtime engine (Cython) from
numpy's global ``RandomState`` through a 20,000-number buffer that the reseed
empties, the standalone engine from one ``std::mt19937`` per OpenMP thread, so
there the counts also depend on the number of threads (recorded as
``threads``; one thread per simulation is the reproducible setting).
"""
from __future__ import annotations

import dataclasses
import os
import types
from typing import Callable, Iterator

import numpy as np

import brian2
from brian2 import (Function, Network, NeuronGroup, SpikeMonitor, StateMonitor, Synapses,
                    TimedArray, check_units, implementation, ms, prefs)
from brian2.devices.device import all_devices, get_device

from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.stimulus_array import check_stimulus_array
from ipvae_brian.models.parameters import IPVAEParameters

#: Nominal width tau of one time bin. The discrete update does not depend on it;
#: it only sets the time axis of recordings (spike times, rasters, PSTHs in seconds).
BIN_WIDTH = 25 * ms

#: The two ways of running the same network (see :class:`IPVAENetwork`).
ENGINES = ("runtime", "standalone", "auto")

#: ``engine="auto"`` uses cpp_standalone from this many simulation steps (stimuli x steps);
#: below it the one-time compilation (~10 s) would not pay off.
STANDALONE_MIN_BINS = 100_000

#: Largest number of count entries (stimuli x bins x neurons) simulated per
#: ``Network.run`` call (or standalone run); bounds the memory of one chunk (2 bytes
#: per entry in the count array, plus the spike events) while keeping the per-run
#: overhead small: at K = 512, T = 128 (1,024 stimuli per chunk) the standalone engine
#: ran 20% faster than with 256 per chunk, for ~1 GB peak memory.
CHUNK_ENTRIES = 2 ** 26

#: Continuous mode also keeps every spike of a chunk (time, neuron, stimulus: 16 bytes
#: each, about 8 count entries' worth, and a bin often holds more than one spike), so one
#: count entry there counts as this many when chunks are sized: measured with the
#: shipped parameters (about 2.5 spikes per neuron and bin), N = 10,000 stimuli took 7.8x
#: the peak memory of N = 1,000 with unweighted entries.
SPIKE_ENTRY_WEIGHT = 16

def chunk_entries(steps: int, n_latents: int, record_u: bool, continuous: bool) -> int:
    """Weighted count entries of one stimulus, the unit in which chunks are sized."""
    return (steps * n_latents * (5 if record_u else 1)
            * (SPIKE_ENTRY_WEIGHT if continuous else 1))


# --- the model, as Brian2 strings ---------------------------------------------------------

LATENT_EQUATIONS = """
u : 1                                  # membrane potential u_k: log firing rate, log(counts/bin)
z : integer                            # spike count z_k of the current step (bin)
lateral : 1                            # lateral input sum_j W_kj z_j of this step (synapses)
I_ff = feedforward(t - t_chunk, i) : 1  # feed-forward drive (Phi^T x / sigma^2)_k of the stimulus
u0 : 1 (constant)                      # prior log-rate u0_k, where u starts for every stimulus
b : 1 (constant)                       # bias b_k = exp(log_bias_k), a drive toward silence
eta : 1 (shared, constant)             # step size eta = exp(log_lr)
t_chunk : second (shared)              # start time of the current chunk of stimuli
"""

#: z_t ~ Poisson(exp(u_t)): exp(u) counts per bin of width tau, i.e. exp(u) dt / tau per step.
POISSON_COUNTS = "z = poisson(exp(u) * dt / tau)"

#: One step of the membrane potential (model.md). ``lateral`` = sum_j W_kj z_j = -(Phi^T
#: Sigma^-1 Phi z)_k; with dt = tau, du = eta (Phi^T x / sigma^2 - Phi^T Sigma^-1 Phi z - b).
#: ``bound_shift`` = log(tau / dt) is 0 in discrete mode (see the module docstring). The
#: last line but one is the soft upper bound c_u and the hard floor u_floor on the potential.
MEMBRANE_UPDATE = """
du = eta * ((I_ff - b) * dt / tau + lateral)        # natural-gradient step on F
du_bounded = (c_du + bound_shift) - softplus((c_du + bound_shift) - du)    # soft bound on du
u = c_u - softplus(c_u - clip(u + du_bounded, u_floor, inf))  # soft bound c_u, hard floor
lateral = 0                                         # consumed, refilled in the next step
"""

#: Reset of the potential to the prior at the onset of every stimulus.
STIMULUS_ONSET_RESET = "u = u0"

#: The one neuron of :class:`StimulusStreams`: which stimulus starts next, and the seed's key.
STIMULUS_STREAM_EQUATIONS = """
stimulus : integer                       # index (in the whole set) of the next stimulus to start
stream_key : integer (shared, constant)  # 32-bit key of the seed (see stream_key())
"""

#: At every stimulus onset: reseed the generators for this stimulus, count it.
STIMULUS_ONSET_RESEED = "stimulus = reseed_poisson_streams(stream_key, stimulus)"

#: Weight of the lateral synapse from neuron j (pre) to neuron i (post).
LATERAL_SYNAPSE_MODEL = "w : 1 (constant)   # W_ij = -(Phi^T diag(1/sigma^2) Phi)_ij"

#: Each of the z_j spikes of neuron j in this step moves neuron i's input by W_ij.
LATERAL_ON_PRE = "lateral_post += w * z_pre"

#: The same input as one product per step (``lateral="matrix"``), computed once per step
#: by the one neuron of :class:`LateralProduct`: lateral_i = sum_j W_ij z_j for every
#: latent neuron i, with W the weights of the lateral synapses and z this step's counts,
#: summed over the columns j of W whose count is non-zero; ``spiking`` = how many were.
LATERAL_MATRIX_PRODUCT = "spiking = lateral_product()"

#: The two formulations of the lateral term (see :class:`LateralInhibition`); a network
#: also takes "auto" (:meth:`IPVAENetwork.choose_lateral`).
LATERAL_PROPAGATIONS = ("synapses", "matrix")


@implementation("cpp", """
double softplus(double x)
{
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}
""")
@implementation("cython", """
cdef double softplus(double x):
    if x > 0:
        return x + log1p(exp(-x))
    return log1p(exp(x))
""")
@check_units(x=1, result=1)
def softplus(x):
    """log(1 + exp(x)) without overflow (numpy target; C++/Cython versions above)."""
    return np.logaddexp(0.0, x)


# --- random streams: one per stimulus ---------------------------------------------------------

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


def _reseed_poisson_streams(key, stimulus):
    """numpy target: reseed numpy's generator for the stimulus; return the next index."""
    stimulus = np.asarray(stimulus)
    for n in np.atleast_1d(stimulus):
        np.random.seed(stimulus_seed(key, n))
        all_devices["runtime"].rand_buffer_index[:] = 0
    return stimulus + 1


#: Brian2 function called at every stimulus onset (slot ``start``, before any draw of the
#: stimulus): reseeds the generators behind ``rand()`` (and so ``poisson()``) with
#: :func:`stimulus_seed` and returns ``stimulus + 1``. Not stateless: never hoisted.
reseed_poisson_streams = Function(_reseed_poisson_streams, arg_units=[1, 1], return_unit=1,
                                  arg_types=["integer", "integer"], return_type="integer",
                                  stateless=False)
reseed_poisson_streams.implementations.add_implementation("cpp", code="""
uint32_t _ipvae_fmix32(uint32_t h)
{
    h ^= h >> 16; h *= 0x85EBCA6BU; h ^= h >> 13; h *= 0xC2B2AE35U; h ^= h >> 16;
    return h;
}
int32_t reseed_poisson_streams(int32_t key, int32_t stimulus)
{
    // one generator per OpenMP thread (brian::_random_generators, behind _rand and poisson)
    const uint32_t threads = (uint32_t)brian::_random_generators.size();
    for (uint32_t thread = 0; thread < threads; thread++)
        brian::_random_generators[thread].seed(
            _ipvae_fmix32((uint32_t)key + (uint32_t)stimulus * threads + thread));
    return stimulus + 1;
}
""", name="reseed_poisson_streams")
reseed_poisson_streams.implementations.add_implementation("cython", code="""
cdef int reseed_poisson_streams(int key, int stimulus):
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


# --- the network's parts --------------------------------------------------------------------

class LatentPopulation(NeuronGroup):
    """K latent neurons whose state variable is the membrane potential u.

    A neuron "spikes" in a bin when its count z is positive; the event carries
    z spikes to the :class:`LateralInhibition` synapses.

    Parameters
    ----------
    params : IPVAEParameters
    bin_width : Quantity
        tau, the width of one time bin.
    dt : Quantity
        Simulation time step (equal to ``bin_width`` in discrete mode).
    """

    def __init__(self, params: IPVAEParameters, bin_width, dt, name="latents"):
        super().__init__(params.n_latents, LATENT_EQUATIONS, threshold="z > 0", reset="",
                         dt=dt, name=name)
        self.u0 = params.u0
        self.b = params.bias
        self.eta = params.eta
        self.u = params.u0


class LateralInhibition(Synapses):
    """All-to-all synapses W = -Phi^T diag(1/sigma^2) Phi, self-connections included.

    W is symmetric; its diagonal -||Phi_k||^2_{Sigma^-1} is each neuron's
    self-inhibition per spike, and an off-diagonal entry is negative
    (competition) for overlapping dictionary elements and positive for
    anti-correlated ones. The synapses are ordered by presynaptic neuron: the K
    synapses of neuron j (column j of W, W_ij for i = 0..K-1) are contiguous.

    Two ways to deliver the input sum_j W_ij z_j of a step, the same numbers in the
    same order of summation:

    - ``propagation="synapses"``: event-driven (``on_pre``): each neuron with a
      count z_j > 0 emits an event, and Brian2 visits its K synapses one by one
      through their pre- and postsynaptic index arrays, adding w_ij z_j to
      ``lateral`` of neuron i: (spiking neurons) x K indexed additions per step.
    - ``propagation="matrix"``: no ``on_pre``; once per step, the one neuron of
      :class:`LateralProduct` (attribute ``product``) adds z_j times column j of
      these synapses' own weights ``w`` to ``lateral`` for every neuron j with
      z_j > 0: the same (spiking neurons) x K multiply-adds, over contiguous memory
      and without per-synapse indices, so the compiler vectorises them. Measured at
      K = 512 (benchmarks/profile_network.py): an indexed synaptic addition costs
      about 5 ns here, a vectorised one well under 1 ns.

    The weights ``w`` (which a standalone run replaces with ``run_args``) live in
    these synapses in both formulations.
    """

    def __init__(self, latents: LatentPopulation, params: IPVAEParameters,
                 propagation: str = "synapses", name="lateral"):
        if propagation not in LATERAL_PROPAGATIONS:
            raise SimulationInputError(f"unknown lateral propagation {propagation!r}; "
                                       f"allowed: {', '.join(LATERAL_PROPAGATIONS)}")
        super().__init__(latents, latents, model=LATERAL_SYNAPSE_MODEL,
                         on_pre=LATERAL_ON_PRE if propagation == "synapses" else None,
                         clock=latents.clock, name=name)
        self.add_attribute("propagation")
        self.add_attribute("product")
        self.propagation = propagation
        K = params.n_latents
        pre, post = np.repeat(np.arange(K), K), np.tile(np.arange(K), K)
        self.connect(i=pre, j=post)
        self.w = params.lateral_weights[post, pre]
        self.product = (LateralProduct(self, latents, K, name=name + "_matrix")
                        if propagation == "matrix" else None)


#: C++ (standalone) body of ``lateral_product()``; ``{w}``, ``{z}``, ``{lateral}`` are the
#: Brian2 names of the synapses' weights and the latents' counts and input, ``{K}`` is K.
LATERAL_PRODUCT_CPP = """
int32_t lateral_product()
{{
    // lateral_i = sum_j W_ij z_j over the neurons j with z_j > 0; column j of W (the
    // synapses of presynaptic neuron j) is w[j*K .. j*K + K-1]
    const double* __restrict w = &brian::{w}[0];
    const int32_t* __restrict z = brian::{z};
    double* __restrict lateral = brian::{lateral};
    int32_t spiking = 0;
    for (size_t i = 0; i < {K}; i++)
        lateral[i] = 0.0;
    for (size_t j = 0; j < {K}; j++)
    {{
        if (z[j] == 0)
            continue;
        spiking++;
        const double zj = z[j];
        const double* __restrict column = w + j * {K};
        for (size_t i = 0; i < {K}; i++)
            lateral[i] += column[i] * zj;
    }}
    return spiking;
}}
"""

#: Cython (runtime) body of ``lateral_product()``: the same loops over the live arrays.
LATERAL_PRODUCT_CYTHON = """
cdef int lateral_product():
    # lateral_i = sum_j W_ij z_j over the neurons j with z_j > 0; column j of W (the
    # synapses of presynaptic neuron j) is w[j*K .. j*K + K-1]
    cdef size_t i, j, column
    cdef int spiking = 0
    cdef double zj
    for i in range({K}):
        _namespace_ipvae_lateral[i] = 0.0
    for j in range({K}):
        if _namespace_ipvae_counts[j] == 0:
            continue
        spiking += 1
        zj = _namespace_ipvae_counts[j]
        column = j * {K}
        for i in range({K}):
            _namespace_ipvae_lateral[i] += _namespace_ipvae_weights[column + i] * zj
    return spiking
"""


class LateralProduct(NeuronGroup):
    """One auxiliary neuron that applies the lateral synapses as one product per step.

    Its ``run_regularly`` operation ``lateral_product`` (slot ``synapses``, after the
    counts are drawn and before the membrane update) runs :data:`LATERAL_MATRIX_PRODUCT`
    once per step: the Brian2 function ``lateral_product()`` writes lateral_i = sum_j
    W_ij z_j into the latents' ``lateral`` from the synapses' weights ``w`` and the
    latents' counts ``z``, and returns how many neurons spiked (kept in ``spiking``).
    The C++ version reads and writes the arrays by their Brian2 names; the Cython
    version receives the live arrays in its namespace, so later changes to ``w`` are
    seen.

    Parameters
    ----------
    synapses : LateralInhibition
        Whose weights are W (presynaptic-major: w[j K + i] = W_ij).
    latents : LatentPopulation
        Whose counts z are read and whose ``lateral`` is written.
    K : int
        Number of latent neurons.
    """

    def __init__(self, synapses: Synapses, latents: NeuronGroup, K: int, name="lateral_matrix"):
        super().__init__(1, "spiking : integer   # neurons with z > 0 in the last step",
                         clock=latents.clock, name=name)
        lateral = latents.variables["lateral"].get_value()
        counts = latents.variables["z"].get_value()
        weights = synapses.variables["w"]

        def _lateral_product():  # numpy target (and Brian2's unit checks)
            W = np.asarray(weights.get_value()).reshape(K, K).T   # W[i, j] = w[j K + i]
            lateral[:] = W @ counts.astype(float)
            return np.count_nonzero(counts)

        function = Function(_lateral_product, arg_units=[], return_unit=1, arg_types=[],
                            return_type="integer", stateless=False)
        function.implementations.add_implementation("cpp", code=LATERAL_PRODUCT_CPP.format(
            w=f"_dynamic_array_{synapses.name}_w", z=f"_array_{latents.name}_z",
            lateral=f"_array_{latents.name}_lateral", K=K), name="lateral_product")
        namespace = None
        if get_device() is all_devices["runtime"]:
            namespace = {"_ipvae_weights": weights.get_value(), "_ipvae_counts": counts,
                         "_ipvae_lateral": lateral}
        function.implementations.add_implementation(
            "cython", code=LATERAL_PRODUCT_CYTHON.format(K=K), name="lateral_product",
            namespace=namespace)
        self.add_attribute("function")
        self.add_attribute("operation")
        self.function = function
        self.operation = self.run_regularly(LATERAL_MATRIX_PRODUCT, when="synapses",
                                            name="lateral_product")


class StimulusStreams(NeuronGroup):
    """One auxiliary neuron that gives every stimulus its own random stream.

    Its ``run_regularly`` operation (slot ``start``, every T bins, i.e. at each
    stimulus onset and before that stimulus's first Poisson draw) reseeds the
    generators of Brian2's ``rand()``/``poisson()`` from (seed key, stimulus index)
    and counts the stimulus. Set ``stimulus`` to the global index of the first
    stimulus of a run and ``stream_key`` to :func:`stream_key` of the seed.

    Parameters
    ----------
    steps : int
        T, bins per stimulus.
    bin_width, dt : Quantity
        The bin width tau and the simulation time step.
    """

    def __init__(self, steps: int, bin_width, dt, name="stimulus_streams"):
        super().__init__(1, STIMULUS_STREAM_EQUATIONS, dt=dt, name=name)
        self.add_attribute("onset_reseed")
        self.onset_reseed = self.run_regularly(
            STIMULUS_ONSET_RESEED, dt=steps * bin_width, when="start",
            name=name + "_onset_reseed")


@dataclasses.dataclass
class ChunkResult:
    """What the network produced for a block of consecutive stimuli.

    Attributes
    ----------
    first : int
        Index of the chunk's first stimulus in the whole set.
    counts : ndarray, shape (n, T, K), unsigned int
        Spike counts z_t per bin (in continuous mode: the spikes falling in each bin).
    u : ndarray, shape (n, T, K), float64, or None
        Membrane potentials u_t at the start of every bin (if recorded).
    spike_times : ndarray, shape (S,), float64, or None
        Continuous mode: time of every spike in seconds from the start of its
        stimulus (the start of the dt step it fell in); None in discrete mode.
    spike_neurons, spike_stimuli : ndarray, shape (S,), or None
        Neuron index and (global) stimulus index of every spike.
    """

    first: int
    counts: np.ndarray
    u: np.ndarray | None = None
    spike_times: np.ndarray | None = None
    spike_neurons: np.ndarray | None = None
    spike_stimuli: np.ndarray | None = None


def count_dtype(params: IPVAEParameters) -> np.dtype:
    """Unsigned integer type for the counts: uint16 while the clamp c_u keeps
    exp(u) (at most ~exp(c_u) + 6 sqrt(exp(c_u)) counts per bin) well below 65,535."""
    ceiling = np.exp(params.c_u)
    return np.dtype(np.uint16 if ceiling + 10 * np.sqrt(ceiling) < 65535 else np.uint32)


def configure_brian(cache_dir: str | None = None) -> None:
    """Brian2 preferences for this package: one shared on-disk code cache, quiet logs.

    The Cython cache folder is ``$IPVAE_CACHE_DIR/brian2-cython`` (default
    ``~/.cache/ipvae-brian/brian2-cython``) so that every process, test and CI job
    reuses the same compiled code (a cold compile takes ~20 s).
    """
    if cache_dir is None:
        root = os.environ.get("IPVAE_CACHE_DIR") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "ipvae-brian")
        cache_dir = os.path.join(root, "brian2-cython")
    os.makedirs(cache_dir, exist_ok=True)
    prefs.codegen.runtime.cython.cache_dir = cache_dir
    prefs.codegen.runtime.cython.multiprocess_safe = True
    brian2.BrianLogger.log_level_error()  # warnings surface as our own messages instead


class IPVAENetwork:
    """The iP-VAE as a Brian2 network, run over many stimuli in chunks.

    Two engines run the same Brian2 objects and equation strings:

    - ``"runtime"``: Brian2's runtime mode with Cython code generation; the
      objects live in this process (tests inspect and set their variables).
    - ``"standalone"``: Brian2's ``cpp_standalone`` device with OpenMP
      (``threads``, default all cores). The network is compiled once per shape into the cache folder
      (reused by later runs and processes) and rerun for every chunk with
      ``device.run(run_args=...)``, which sets the chunk's drive (TimedArray),
      the parameters (u0, b, eta, the lateral weights) and the random streams
      without recompiling. About 2x faster than the runtime engine at K = 512. The
      compiled program stays loaded in the process for later runs of the
      same shape (see :mod:`models.standalone`).

    ``"auto"`` picks the standalone engine for work of at least
    :data:`STANDALONE_MIN_BINS` stimulus-bins (it pays its one-time compilation
    back), else the runtime engine; :attr:`engine_reason` says why.

    Parameters
    ----------
    params : IPVAEParameters
    steps : int
        T, the number of bins per stimulus.
    stream : bool
        False (default): u <- u0 at the onset of every stimulus. True: no reset;
        the stimuli (or movie frames) form one continuous input sequence.
    movie : bool
        True if the stimuli are movies (N x T x M, frame t drives bin t).
    bin_width : Quantity
        tau, the width of one bin (default 25 ms; in discrete mode it only sets
        the time axis).
    dt : Quantity, optional
        Simulation time step. Default (None): ``bin_width``, the discrete mode.
        A divisor of ``bin_width`` (e.g. 0.5 ms for 25 ms bins) gives the
        continuous-time mode, with spike times.
    record_u : bool
        Also record u_t at the start of every bin (N x T x K floats: memory heavy).
    chunk_size : int, optional
        Stimuli per chunk (one ``Network.run`` or standalone run each; default:
        as many as fit in :data:`CHUNK_ENTRIES` count entries). The counts do not
        depend on it: every stimulus draws from its own stream (module docstring).
    pad_chunks : bool
        If True, every run is compiled for exactly ``chunk_size`` stimuli (a shorter
        run is padded with zero drive), so that runs of any length reuse one build
        (the distributed runner's tasks); if False (default), for min(chunk_size, N).
    engine : {"runtime", "standalone", "auto"}
    threads : int, optional
        OpenMP threads of the standalone engine (default: ``$IPVAE_THREADS`` or
        all cores this process may use). Its counts depend on this number (one
        generator per thread); the runtime engine is single-threaded.
    lateral_inhibition : bool
        False removes the lateral synapses (a control: the network is then K
        independent neurons driven by I_ff and b only).
    draw_counts : bool
        If False the Poisson draw is switched off and the counts keep the value
        given as ``initial_z`` to :meth:`run` (used by the tests to inject counts).

    Examples
    --------
    >>> net = IPVAENetwork(IPVAEParameters.random(64, 32, seed=1), steps=16)
    >>> counts, _ = net.simulate(np.zeros((3, 64)), seed=0)
    >>> counts.shape
    (3, 16, 32)
    """

    def __init__(self, params: IPVAEParameters, steps: int, *, stream: bool = False,
                 movie: bool = False, bin_width=BIN_WIDTH, dt=None, record_u: bool = False,
                 chunk_size: int | None = None, engine: str = "runtime",
                 lateral_inhibition: bool = True, draw_counts: bool = True,
                 threads: int | None = None, pad_chunks: bool = False,
                 lateral: str = "auto"):
        if int(steps) != steps or steps < 1:
            raise SimulationInputError(f"--steps must be a positive integer, got {steps}")
        if not float(bin_width) > 0:
            raise SimulationInputError(f"the bin width must be positive, got {bin_width}")
        dt = bin_width if dt is None else dt
        ratio = float(bin_width / dt) if float(dt) > 0 else -1.0
        if ratio < 1 - 1e-9 or abs(ratio - round(ratio)) > 1e-6 * ratio:
            raise SimulationInputError(
                f"dt ({dt}) must be positive and divide the bin width ({bin_width}) a whole "
                f"number of times")
        if engine not in ENGINES:
            raise SimulationInputError(f"unknown engine {engine!r}; allowed: {', '.join(ENGINES)}")
        if lateral not in LATERAL_PROPAGATIONS + ("auto",):
            raise SimulationInputError(f"unknown lateral propagation {lateral!r}; allowed: "
                                       f"{', '.join(LATERAL_PROPAGATIONS)}, auto")
        configure_brian()
        self.params = params
        self.steps = int(steps)
        self.stream = stream
        self.movie = movie
        self.bin_width = bin_width
        self.substeps = int(round(ratio))
        self.dt = bin_width / self.substeps
        self.continuous = self.substeps > 1
        self.record_u = record_u
        self.engine = engine
        self.engine_reason = f"{engine} engine requested"
        self.lateral_inhibition = lateral_inhibition
        self.lateral = lateral
        self.lateral_reason = f"{lateral} requested"
        self.draw_counts = draw_counts
        #: standalone engine: seconds spent building (code generation + compilation)
        self.timings = {}
        #: time every code object (see :meth:`profiling_summary`)
        self.profile = False
        #: standalone engine with :attr:`profile`: seconds per code object, summed over runs
        self.profiling_info = {}
        entries = chunk_entries(self.steps, params.n_latents, record_u, self.continuous)
        if chunk_size is not None and (int(chunk_size) != chunk_size or chunk_size < 1):
            raise SimulationInputError(f"the chunk size must be a positive integer, got "
                                       f"{chunk_size}")
        self.chunk_size = int(chunk_size or max(1, CHUNK_ENTRIES // entries))
        self.pad_chunks = bool(pad_chunks)
        if threads is not None and (int(threads) != threads or threads < 1):
            raise SimulationInputError(f"threads must be a positive integer, got {threads}")
        self._threads = None if threads is None else int(threads)

    @property
    def mode(self) -> str:
        """"discrete" (dt = bin width) or "continuous" (dt < bin width)."""
        return "continuous" if self.continuous else "discrete"

    @property
    def threads(self) -> int:
        """Threads of one simulation: 1 for the runtime engine; for the standalone engine
        the ``threads`` argument, else :func:`models.standalone.n_threads`."""
        if self.engine == "runtime":
            return 1
        if self._threads is not None:
            return self._threads
        from ipvae_brian.models.standalone import n_threads
        return n_threads()

    def build_objects(self) -> types.SimpleNamespace:
        """The Brian2 objects of the network, created in whatever device is active.

        Returns a namespace with ``latents``, ``lateral``, ``streams`` (the
        :class:`StimulusStreams`), the operations ``poisson_counts``,
        ``membrane_update`` and (unless streaming) ``onset_reset``, and the
        ``network`` holding them all (monitors are added per run).
        """
        if self.lateral == "auto":
            raise RuntimeError("resolve lateral='auto' with choose_lateral() before building")
        o = types.SimpleNamespace()
        o.latents = LatentPopulation(self.params, self.bin_width, dt=self.dt)
        o.lateral = LateralInhibition(o.latents, self.params, propagation=self.lateral)
        o.lateral.active = self.lateral_inhibition
        o.streams = StimulusStreams(self.steps, self.bin_width, dt=self.dt)
        o.poisson_counts = o.latents.run_regularly(
            POISSON_COUNTS, when="before_thresholds", name="poisson_counts")
        o.poisson_counts.active = self.draw_counts
        o.membrane_update = o.latents.run_regularly(
            MEMBRANE_UPDATE, when="after_synapses", name="membrane_update")
        o.network = Network(o.latents, o.lateral, o.streams, o.streams.onset_reseed,
                            o.poisson_counts, o.membrane_update)
        if o.lateral.product is not None:
            o.lateral.product.operation.active = self.lateral_inhibition
            o.network.add(o.lateral.product, o.lateral.product.operation)
        o.onset_reset = None
        if not self.stream:
            o.onset_reset = o.latents.run_regularly(
                STIMULUS_ONSET_RESET, dt=self.steps * self.bin_width, when="start",
                name="stimulus_onset_reset")
            o.network.add(o.onset_reset)
        return o

    def _create_objects(self) -> None:
        """Runtime engine: build the objects and keep them as attributes of the network."""
        o = self.build_objects()
        self.latents, self.lateral_synapses, self.streams = o.latents, o.lateral, o.streams
        self.objects = o
        self.poisson_counts, self.membrane_update = o.poisson_counts, o.membrane_update
        self.onset_reset, self.network = o.onset_reset, o.network

    def monitors(self, latents: LatentPopulation) -> list:
        """The counts and, if asked, u at the start of every bin.

        Discrete mode records the counts z of every neuron and bin as they are (a
        ``StateMonitor``, 4 bytes per neuron and bin, stored in (bin, neuron) order, which
        is the layout of :attr:`ChunkResult.counts`); continuous mode records the spike
        events with their z (a ``SpikeMonitor``: time, neuron and count, 16 bytes per
        event, but the steps are short and most counts are zero). At the shipped
        parameters' density (about half the counts non-zero) the dense record is 2.4x
        fewer bytes to write and read back than the events, and 1.4x faster overall.
        """
        if self.continuous:
            monitors = [SpikeMonitor(latents, variables=["z"], name="counts_monitor")]
        else:
            monitors = [StateMonitor(latents, "z", record=True, when="before_synapses",
                                     name="counts_monitor")]
        if self.record_u:
            monitors.append(StateMonitor(latents, "u", record=True,
                                         when="before_thresholds", order=-1,
                                         dt=self.bin_width, name="u_monitor"))
        return monitors

    def namespace(self, feedforward: TimedArray, objects: types.SimpleNamespace) -> dict:
        """Names the equation strings use besides the groups' own variables."""
        p = self.params
        names = {"feedforward": feedforward, "softplus": softplus, "tau": self.bin_width,
                 "c_u": p.c_u, "c_du": p.c_du, "u_floor": p.u_floor,
                 "bound_shift": float(np.log(self.substeps)),
                 "reseed_poisson_streams": reseed_poisson_streams}
        if objects.lateral.product is not None:
            names["lateral_product"] = objects.lateral.product.function
        return names

    def frame_dt(self):
        """Duration of one row of the drive TimedArray: a bin (movies) or a stimulus."""
        return self.bin_width if self.movie else self.steps * self.bin_width

    def chunk_rows(self, n_stimuli: int) -> int:
        """Stimuli per run as compiled (shorter runs are padded): the chunk size with
        ``pad_chunks``, else min(chunk size, ``n_stimuli``)."""
        return self.chunk_size if self.pad_chunks else min(self.chunk_size, n_stimuli)

    def check_stimuli(self, x: np.ndarray) -> np.ndarray:
        """Validate a stimulus array against the parameters and the mode; return it as float64."""
        x = check_stimulus_array(
            x, self.params.n_pixels, ndim=3 if self.movie else 2,
            expected="N x T x M (movies)" if self.movie else "N x M (one image per stimulus)")
        if self.movie and x.shape[1] != self.steps:
            raise SimulationInputError(
                f"the movies have {x.shape[1]} frames but --steps is {self.steps}: one frame "
                f"drives one bin, so they must match")
        return x

    def choose_engine(self, n_stimuli: int) -> str:
        """Resolve ``engine="auto"`` for a run of ``n_stimuli`` (sets :attr:`engine_reason`)."""
        if self.engine != "auto":
            return self.engine
        bins = n_stimuli * self.steps * self.substeps
        if bins >= STANDALONE_MIN_BINS:
            self.engine_reason = (f"auto: cpp_standalone for {bins:,} steps >= "
                                  f"{STANDALONE_MIN_BINS:,} (compiled once per shape, cached)")
            return "standalone"
        self.engine_reason = (f"auto: runtime for {bins:,} steps < {STANDALONE_MIN_BINS:,} "
                              f"(too little work to pay for a compilation)")
        return "runtime"

    def choose_lateral(self, n_stimuli: int) -> str:
        """Resolve ``lateral="auto"`` for a run of ``n_stimuli`` (sets :attr:`lateral` and
        :attr:`lateral_reason`); see :class:`LateralInhibition` for the two formulations."""
        if self.lateral != "auto":
            return self.lateral
        bins = n_stimuli * self.steps * self.substeps
        if bins >= STANDALONE_MIN_BINS:
            self.lateral = "matrix"
            self.lateral_reason = (
                f"auto: the lateral synapses' weights applied as one product per step for "
                f"{bins:,} steps >= {STANDALONE_MIN_BINS:,} (the same multiply-adds as the "
                f"synaptic events, vectorised over contiguous columns of W instead of visited "
                f"one synapse at a time through index arrays); --lateral synapses for "
                f"event-driven synapses")
        else:
            self.lateral = "synapses"
            self.lateral_reason = (f"auto: event-driven synapses for {bins:,} steps < "
                                   f"{STANDALONE_MIN_BINS:,}")
        return self.lateral

    def run(self, x: np.ndarray, seed: int | None = None,
            progress: Callable[[float], None] | None = None,
            initial_u: np.ndarray | None = None,
            initial_z: np.ndarray | None = None,
            first_stimulus: int = 0) -> Iterator[ChunkResult]:
        """Simulate the stimuli, yielding one :class:`ChunkResult` per chunk.

        Parameters
        ----------
        x : ndarray, shape (N, M), or (N, T, M) for movies
        seed : int, optional
            Seed of the Poisson draws. Stimulus n draws from its own stream, seeded
            from (seed, n) at its onset (:func:`stimulus_seed`), so the same seed,
            engine and number of threads give the same counts bit for bit, whatever
            the chunk size or the split of the set over processes. None: fresh entropy.
        progress : callable, optional
            Called with the number of stimuli of ``x`` done so far (a float).
        initial_u : ndarray, shape (K,), optional
            Streaming mode only: the potential at the start (default u0).
        initial_z : ndarray, shape (K,), optional
            With ``draw_counts=False``: the counts the network uses in every step.
        first_stimulus : int
            Index of ``x[0]`` in the whole stimulus set, when ``x`` is one part of it:
            it selects the random streams, and ``ChunkResult.first`` and the spikes'
            stimulus indices count from it.
        """
        x = self.check_stimuli(x)
        if initial_u is not None and not self.stream:
            raise SimulationInputError("initial_u is only used in streaming mode (no reset)")
        if int(first_stimulus) != first_stimulus or first_stimulus < 0:
            raise SimulationInputError(f"first_stimulus must be a non-negative integer, got "
                                       f"{first_stimulus}")
        key = stream_key(seed)
        self.choose_lateral(x.shape[0])
        drive = self.params.feedforward_drive(x)
        frames = drive.reshape(-1, self.params.n_latents)  # rows of the drive TimedArray
        if self.choose_engine(x.shape[0]) == "standalone":
            from ipvae_brian.models.standalone import run_standalone
            yield from run_standalone(self, frames, x.shape[0], key, progress, initial_u,
                                      initial_z, int(first_stimulus))
            return
        if not hasattr(self, "latents"):
            self._create_objects()
        if self.stream:
            self.latents.u = self.params.u0 if initial_u is None else initial_u
        if initial_z is not None:
            self.latents.z = initial_z
        self.streams.stream_key = key
        rows = self.steps if self.movie else 1
        chunk = self.chunk_rows(x.shape[0])
        for first in range(0, x.shape[0], self.chunk_size):
            n = min(self.chunk_size, x.shape[0] - first)
            # Brian2 compiles the TimedArray's name and number of rows into the Cython
            # code: one fixed name, and padding to a fixed length, keep it one compiled
            # module per shape (an unnamed one per chunk recompiled every new chunk)
            values = np.zeros((chunk * rows, self.params.n_latents))
            values[:n * rows] = frames[first * rows:(first + n) * rows]
            feedforward = TimedArray(values, dt=self.frame_dt(), name="feedforward")
            self.streams.stimulus = first_stimulus + first
            self.latents.t_chunk = self.network.t
            monitors = self.monitors(self.latents)
            self.network.add(*monitors)
            t_chunk = float(self.network.t)
            report = None if progress is None else self._progress_report(progress, first, n)
            try:
                self.network.run(n * self.steps * self.bin_width,
                                 namespace=self.namespace(feedforward, self.objects),
                                 report=report, report_period=1 * brian2.second,
                                 profile=self.profile)
            finally:
                self.network.remove(*monitors)
            result = self.collect(first_stimulus + first, n, t_chunk, *monitors)
            if progress is not None:
                progress(first + n)
            yield result

    @staticmethod
    def _progress_report(progress, first: int, n: int):
        """Brian2 ``report`` callback turning a chunk's completed fraction into stimuli done."""
        def report(elapsed, completed, start, duration):
            progress(first + completed * n)
        return report

    def collect(self, first, n, t_chunk, counts_monitor, u_monitor=None) -> ChunkResult:
        """Turn a chunk's monitors into counts per bin (and spike times, u).

        Bins after the chunk's ``n`` stimuli (padding of a fixed-size standalone chunk)
        are dropped.
        """
        K, T, sub = self.params.n_latents, self.steps, self.substeps
        if not self.continuous:        # z of every bin and neuron, (bins, K), as recorded
            z = np.asarray(counts_monitor.variables["z"].get_value())[:n * T]
            counts = z.reshape(n, T, K).astype(count_dtype(self.params))
        else:                          # spike events with their z
            t = np.asarray(counts_monitor.t_)
            step = np.rint((t - t_chunk if t_chunk else t) / float(self.dt)).astype(np.int64)
            cut = int(np.searchsorted(step, n * T * sub))   # events come in time order
            step = step[:cut]
            neuron, z = np.asarray(counts_monitor.i)[:cut], np.asarray(counts_monitor.z)[:cut]
            flat = (step // sub) * K + neuron                # into counts (n, T, K), flattened
            counts = np.bincount(flat, weights=z, minlength=n * T * K).reshape(n, T, K)
            counts = counts.astype(count_dtype(self.params))
        u = None
        if u_monitor is not None:
            u = np.asarray(u_monitor.variables["u"].get_value())[:n * T].reshape(n, T, K)
        if not self.continuous:
            return ChunkResult(first=first, counts=counts, u=u)
        # a step with z > 1 holds z spikes at the same time (the start of the step)
        step, neuron = np.repeat(step, z), np.repeat(neuron, z)
        stimulus = step // (sub * T)
        times = (step - stimulus * sub * T) * float(self.dt)
        return ChunkResult(first=first, counts=counts, u=u, spike_times=times,
                           spike_neurons=neuron.astype(np.uint32),
                           spike_stimuli=(stimulus + first).astype(np.uint32))

    def profiling_summary(self, show: int = 12) -> str:
        """Time per code object of the runs so far (set :attr:`profile` before them)."""
        if self.engine == "runtime" or not self.profiling_info:
            return str(brian2.profiling_summary(self.network, show=show))
        total = sum(self.profiling_info.values())
        rows = sorted(self.profiling_info.items(), key=lambda item: -item[1])[:show]
        return "\n".join(f"{name:<44s}{seconds:8.2f} s {100 * seconds / total:8.2f} %"
                         for name, seconds in rows)

    def simulate(self, x: np.ndarray, seed: int | None = None, **kwargs):
        """All counts (and u if recorded) at once: ``(counts (N,T,K), u (N,T,K) or None)``.

        Convenience for small sets; use :meth:`run` to stream large ones to a file.
        """
        chunks = list(self.run(x, seed=seed, **kwargs))
        counts = np.concatenate([c.counts for c in chunks])
        u = np.concatenate([c.u for c in chunks]) if self.record_u else None
        return counts, u
