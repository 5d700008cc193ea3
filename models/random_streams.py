"""Random streams: every count drawn from a counter, so counts depend on nothing but the seed.

The count of neuron k in step s of stimulus n (its index in the whole set) under seed key
c is a pure function of (c, n, s, k) and the rate: ``poisson_stream`` hashes the four
integers with SplitMix64's finaliser into uniform numbers (a counter-based generator, as in
Salmon et al. 2011, "Parallel random numbers: as easy as 1, 2, 3") and turns the first of
them into a Poisson count by inverting the CDF (below rate :data:`PTRS_FROM`; PTRS, Hormann
1993, from there on, with further uniforms of the same counter). No generator state exists:
the counts are the same bit for bit whatever the chunk size, the engine (C++ or Cython), the
number of threads or processes and the order in which stimuli, steps or neurons are visited.
The draw is written once in C++ (:data:`POISSON_STREAM_CPP`), which the Cython of the
runtime engine includes verbatim; a numpy twin (:func:`poisson_counts`) draws the same
counts for the reference, from the same constants.

Below that rate a count takes three rounds of the finaliser (two for the counter, one for its
uniform) and one uniform, where Brian2's ``poisson()`` takes 1 + z uniforms of MT19937 and
keeps one generator state per thread. The generator is named in every recording
(:data:`GENERATOR`).
"""
from __future__ import annotations

import numpy as np
from brian2 import Function

#: Rates from which a count is drawn by PTRS (Hormann 1993) instead of by inverting the CDF.
PTRS_FROM = 10

#: Terms of the Poisson CDF that every draw below rate :data:`PTRS_FROM` compares its
#: uniform with, without branches (the search continues past them only where the count is
#: at least this).
FIXED_TERMS = 8

#: Name of the generator, recorded with every simulation (root attribute ``random_generator``).
GENERATOR = (f"ipvae-counter-v1: splitmix64 hash of (seed key, stimulus, step, neuron); "
             f"Poisson by CDF inversion below rate {PTRS_FROM}, PTRS from {PTRS_FROM}")

#: SplitMix64 (Steele, Lea & Flood 2014): the finaliser's shifts and multipliers, and the
#: increment between the words of a counter (2^64 / golden ratio); formatted into the C++
#: and taken as uint64 by the numpy twin.
_SHIFTS = (30, 27, 31)
_MULTIPLIERS = (0xBF58476D1CE4E5B9, 0x94D049BB133111EB)
_GAMMA = 0x9E3779B97F4A7C15
#: Random bits of a uniform number: the top 53 bits of a word, times 2^-53.
_UNIFORM_BITS = 53
#: The Stirling series of log Gamma in Brian2's (and numpy's legacy) ``_loggam``.
_LOGGAM_A = (8.333333333333333e-02, -2.777777777777778e-03, 7.936507936507937e-04,
             -5.952380952380952e-04, 8.417508417508418e-04, -1.917526917526918e-03,
             6.410256410256410e-03, -2.955065359477124e-02, 1.796443723688307e-01,
             -1.39243221690590e+00)


def stream_key(seed: int | None) -> int:
    """The 32-bit key of a seed (any non-negative int, or None for fresh entropy), as the
    int32 that Brian2 stores: the first word of ``numpy.random.SeedSequence(seed)``."""
    word = np.random.SeedSequence(seed).generate_state(1, np.uint32)
    return int(word.view(np.int32)[0])


_SHIFTS_U64 = tuple(map(np.uint64, _SHIFTS))
_MULTIPLIERS_U64 = tuple(map(np.uint64, _MULTIPLIERS))


def _mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser, a bijection of uint64 words (arrays: wraps modulo 2^64)."""
    (s1, s2, s3), (m1, m2) = _SHIFTS_U64, _MULTIPLIERS_U64
    z = (z ^ (z >> s1)) * m1
    z = (z ^ (z >> s2)) * m2
    return z ^ (z >> s3)


def _u64(a) -> np.ndarray:
    """int32 values (Brian2's integers, negative keys included) as their uint32 bits, uint64."""
    return np.atleast_1d(np.asarray(a, dtype=np.int64)).astype(np.uint32).astype(np.uint64)


def counter_words(key, stimulus, step, neuron) -> np.ndarray:
    """The counter's base word of each (key, stimulus, step, neuron) (broadcast), uint64:
    ``mix64(mix64(key << 32 | stimulus) ^ (step << 32 | neuron))``. Uniform j of a draw
    is ``(mix64(base + (j + 1) gamma) >> 11) / 2^53`` (:func:`counter_uniform`)."""
    with np.errstate(over="ignore"):
        stream = _mix64((_u64(key) << np.uint64(32)) | _u64(stimulus))
        return _mix64(stream ^ ((_u64(step) << np.uint64(32)) | _u64(neuron)))


def counter_uniform(base: np.ndarray, j: int) -> np.ndarray:
    """Uniform number j (0, 1, ...) in [0, 1) of the counters ``base``: 53 random bits."""
    with np.errstate(over="ignore"):
        word = _mix64(base + np.uint64(j + 1) * np.uint64(_GAMMA))
    return (word >> np.uint64(64 - _UNIFORM_BITS)).astype(np.float64) * 2.0 ** -_UNIFORM_BITS


def poisson_counts(lam, key, stimulus, step, neuron) -> np.ndarray:
    """Poisson(lam) counts of the counters (key, stimulus, step, neuron): the numpy twin
    of the network's draw (:data:`poisson_head` and :data:`poisson_finish`; the same counts
    except where the uniform falls within a few units in the last place of a CDF term,
    as the vectorised exp of the C++ version may differ from numpy's there; arguments
    broadcast).

    Parameters
    ----------
    lam : array_like of float64
        Rates (expected counts of the step), >= 0.
    key, stimulus, step, neuron : array_like of int
        The seed's key (:func:`stream_key`), the stimulus's index in the whole set, the
        step's index since its onset, the neuron's index.

    Returns
    -------
    ndarray of int64, the broadcast shape

    Examples
    --------
    >>> poisson_counts([0.5, 2.0, 30.0], 0, 0, 0, [0, 1, 2]).tolist()
    [1, 3, 38]
    """
    lam = np.asarray(lam, dtype=np.float64)
    base = counter_words(key, stimulus, step, neuron)
    shape = np.broadcast_shapes(lam.shape, base.shape)
    lam, base = np.broadcast_to(lam, shape).ravel(), np.broadcast_to(base, shape).ravel()
    u = counter_uniform(base, 0)
    p = np.exp(-lam)
    cdf = p.copy()
    k = np.zeros(lam.shape, dtype=np.int64)
    for j in range(1, FIXED_TERMS + 1):      # k = #{j < FIXED_TERMS: F(j) < u}
        k += u > cdf
        p *= lam * (1.0 / j)
        cdf += p
    active = np.flatnonzero((lam < PTRS_FROM) & (k == FIXED_TERMS) & (u > cdf) & (p > 0))
    while active.size:                       # the tail: the first k with u <= F(k)
        k[active] += 1
        p[active] *= lam[active] / k[active]
        cdf[active] += p[active]
        active = active[(u[active] > cdf[active]) & (p[active] > 0)]
    for idx in np.flatnonzero(lam >= PTRS_FROM):
        k[idx] = _ptrs(float(lam[idx]), base[idx:idx + 1])
    return k.reshape(shape)


def _ptrs(lam: float, base: np.ndarray) -> int:
    """PTRS (Hormann 1993) as Brian2 2.9 codes it, from uniforms 1, 2, ... of ``base``."""
    slam, loglam = np.sqrt(lam), np.log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2)
    j = 1
    while True:
        U = float(counter_uniform(base, j)[0]) - 0.5
        V = float(counter_uniform(base, j + 1)[0])
        j += 2
        us = 0.5 - abs(U)
        k = int(np.floor((2 * a / us + b) * U + lam + 0.43))
        if us >= 0.07 and V <= vr:
            return k
        if k < 0 or (us < 0.013 and V > us):
            continue
        if (np.log(V) + np.log(invalpha) - np.log(a / (us * us) + b)
                <= -lam + k * loglam - _loggam(k + 1)):
            return k


def _loggam(x: float) -> float:
    """log Gamma(x) by the Stirling series of Brian2's (and numpy's legacy) ``_loggam``."""
    x0, n = x, 0
    if x in (1.0, 2.0):
        return 0.0
    if x <= 7.0:
        n = int(7 - x)
        x0 = x + n
    x2 = 1.0 / (x0 * x0)
    gl0 = _LOGGAM_A[9]
    for k in range(8, -1, -1):
        gl0 = gl0 * x2 + _LOGGAM_A[k]
    gl = gl0 / x0 + 0.5 * np.log(2 * np.pi) + (x0 - 0.5) * np.log(x0) - x0
    if x <= 7.0:
        for _ in range(n):
            gl -= np.log(x0 - 1.0)
            x0 -= 1.0
    return float(gl)


#: C++ of ``poisson_stream(lam, key, stimulus, step, neuron)``, the whole draw, and of its
#: parts: the counter's base word (``_ipvae_counter``, :func:`counter_words`), its uniforms
#: (``_ipvae_uniform``, :func:`counter_uniform`), the first :data:`FIXED_TERMS` terms of the
#: CDF without branches (``_ipvae_cdf_terms``) and PTRS. The one source of the draw for both
#: engines: the standalone engine compiles it, the runtime engine's Cython includes it
#: verbatim (:data:`_POISSON_CYTHON`).
POISSON_STREAM_CPP = """
static inline uint64_t _ipvae_mix64(uint64_t z)
{
    z = (z ^ (z >> %(S1)d)) * %(M1)s;
    z = (z ^ (z >> %(S2)d)) * %(M2)s;
    return z ^ (z >> %(S3)d);
}
static inline uint64_t _ipvae_counter(int32_t key, int32_t stimulus, int32_t step,
                                      int32_t neuron)
{
    const uint64_t stream = _ipvae_mix64(((uint64_t)(uint32_t)key << 32) | (uint32_t)stimulus);
    return _ipvae_mix64(stream ^ (((uint64_t)(uint32_t)step << 32) | (uint32_t)neuron));
}
static inline double _ipvae_uniform(uint64_t base, uint64_t j)
{
    return (double)(_ipvae_mix64(base + (j + 1) * %(GAMMA)s) >> %(DROP)d) * %(ULP)s;
}
static const double _ipvae_inverse[%(J)d + 1] = {%(INV)s};   // 1 / j
static inline int32_t _ipvae_cdf_terms(double lam, double u, double* p, double* cdf)
{
    // k = #{j < %(J)d: F(j) < u}, without branches; leaves P(%(J)d) in *p and F(%(J)d) in *cdf
    int32_t k = 0;
    *p = exp(-lam);
    *cdf = *p;
    #pragma GCC unroll %(J)d
    for (int32_t j = 1; j <= %(J)d; j++)
    {
        k += (u > *cdf);
        *p *= lam * _ipvae_inverse[j];
        *cdf += *p;
    }
    return k;
}
static double _ipvae_loggam(double x)
{
    static const double a[10] = {%(A)s};
    double x0 = x, x2, gl, gl0;
    int32_t n = 0;
    if (x == 1.0 || x == 2.0)
        return 0.0;
    if (x <= 7.0) { n = (int32_t)(7 - x); x0 = x + n; }
    x2 = 1.0 / (x0 * x0);
    gl0 = a[9];
    for (int32_t k = 8; k >= 0; k--) { gl0 *= x2; gl0 += a[k]; }
    gl = gl0 / x0 + 0.5 * log(2 * M_PI) + (x0 - 0.5) * log(x0) - x0;
    if (x <= 7.0)
        for (int32_t k = 1; k <= n; k++) { gl -= log(x0 - 1.0); x0 -= 1.0; }
    return gl;
}
static int32_t _ipvae_ptrs(double lam, uint64_t base)
{
    const double slam = sqrt(lam), loglam = log(lam);
    const double b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b;
    const double invalpha = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2);
    for (uint64_t j = 1; ; j += 2)
    {
        const double U = _ipvae_uniform(base, j) - 0.5, V = _ipvae_uniform(base, j + 1);
        const double us = 0.5 - fabs(U);
        const int32_t k = (int32_t)floor((2 * a / us + b) * U + lam + 0.43);
        if (us >= 0.07 && V <= vr)
            return k;
        if (k < 0 || (us < 0.013 && V > us))
            continue;
        if (log(V) + log(invalpha) - log(a / (us * us) + b) <= -lam + k * loglam - _ipvae_loggam(k + 1))
            return k;
    }
}
static inline int32_t poisson_stream(double lam, int32_t key, int32_t stimulus, int32_t step,
                                     int32_t neuron)
{
    const uint64_t base = _ipvae_counter(key, stimulus, step, neuron);
    if (lam >= %(PTRS_FROM)d)
        return _ipvae_ptrs(lam, base);
    const double u = _ipvae_uniform(base, 0);
    double p, cdf;
    int32_t k = _ipvae_cdf_terms(lam, u, &p, &cdf);
    if (k == %(J)d)                           // the tail: the first k with u <= F(k)
        while (u > cdf && p > 0)
        {
            k++;
            p *= lam / k;
            cdf += p;
        }
    return k;
}
""" % {"S1": _SHIFTS[0], "S2": _SHIFTS[1], "S3": _SHIFTS[2],
       "M1": "0x%XULL" % _MULTIPLIERS[0], "M2": "0x%XULL" % _MULTIPLIERS[1],
       "GAMMA": "0x%XULL" % _GAMMA, "DROP": 64 - _UNIFORM_BITS,
       "ULP": repr(2.0 ** -_UNIFORM_BITS), "A": ", ".join(repr(a) for a in _LOGGAM_A),
       "J": FIXED_TERMS, "PTRS_FROM": PTRS_FROM,
       "INV": ", ".join(["0.0"] + [repr(1.0 / j) for j in range(1, FIXED_TERMS + 1)])}

#: C++ of the draw in two passes, so that the common case vectorises: ``poisson_head``
#: without branches (the hash, exp and the first :data:`FIXED_TERMS` CDF terms; -1 where
#: the count is at least :data:`FIXED_TERMS` or the rate at least :data:`PTRS_FROM`), then
#: ``poisson_finish``, which keeps a count and redraws a -1 with the whole algorithm.
POISSON_HEAD_CPP = POISSON_STREAM_CPP + """
static inline int32_t poisson_head(double lam, int32_t key, int32_t stimulus, int32_t step,
                                   int32_t neuron)
{
    const double u = _ipvae_uniform(_ipvae_counter(key, stimulus, step, neuron), 0);
    double p, cdf;
    const int32_t k = _ipvae_cdf_terms(lam, u, &p, &cdf);
    return (k == %(J)d || lam >= %(PTRS_FROM)d) ? -1 : k;
}
""" % {"J": FIXED_TERMS, "PTRS_FROM": PTRS_FROM}
POISSON_FINISH_CPP = POISSON_STREAM_CPP + """
static inline int32_t poisson_finish(int32_t z, double u, double scale, int32_t key,
                                     int32_t stimulus, int32_t step, int32_t neuron)
{
    return z >= 0 ? z : poisson_stream(exp(u) * scale, key, stimulus, step, neuron);
}
"""

#: Cython of both passes for the runtime engine (compiled as C++): :data:`POISSON_STREAM_CPP`
#: included verbatim, ``poisson_head`` being the whole draw (never -1).
_POISSON_CYTHON = '''
cdef extern from *:
    """%s"""
    int poisson_stream(double lam, int key, int stimulus, int step, int neuron)

cdef int poisson_head(double lam, int key, int stimulus, int step, int neuron):
    return poisson_stream(lam, key, stimulus, step, neuron)

cdef int poisson_finish(int z, double u, double scale, int key, int stimulus, int step,
                        int neuron):
    if z >= 0:
        return z
    return poisson_stream(exp(u) * scale, key, stimulus, step, neuron)
''' % POISSON_STREAM_CPP


def _poisson_head(lam, key, stimulus, step, neuron):
    """numpy target of :data:`poisson_head` (the whole draw: never -1)."""
    return poisson_counts(lam, key, stimulus, step, neuron)


def _poisson_finish(z, u, scale, key, stimulus, step, neuron):
    """numpy target of :data:`poisson_finish`."""
    z = np.asarray(z)
    redraw = poisson_counts(np.exp(u) * scale, key, stimulus, step, neuron)
    return np.where(z >= 0, z, redraw)


#: Brian2 function ``poisson_head(lam, key, stimulus, step, neuron)``: the Poisson(lam) count
#: of the counter (key, stimulus, step, neuron) (:func:`poisson_counts`), or -1 where the C++
#: version leaves it to :data:`poisson_finish` (count >= 8 or lam >= 10). Pure.
poisson_head = Function(_poisson_head, arg_units=[1, 1, 1, 1, 1], return_unit=1,
                        arg_types=["float", "integer", "integer", "integer", "integer"],
                        return_type="integer", stateless=True)
poisson_head.implementations.add_implementation("cpp", code=POISSON_HEAD_CPP,
                                                name="poisson_head")
poisson_head.implementations.add_implementation("cython", code=_POISSON_CYTHON,
                                                name="poisson_head")

#: Brian2 function ``poisson_finish(z, u, scale, key, stimulus, step, neuron)``: z where z >= 0,
#: else the count of rate exp(u) scale from the counter (the whole algorithm). Pure.
poisson_finish = Function(_poisson_finish, arg_units=[1, 1, 1, 1, 1, 1, 1], return_unit=1,
                          arg_types=["integer", "float", "float", "integer", "integer",
                                     "integer", "integer"],
                          return_type="integer", stateless=True)
poisson_finish.implementations.add_implementation("cpp", code=POISSON_FINISH_CPP,
                                                  name="poisson_finish")
poisson_finish.implementations.add_implementation("cython", code=_POISSON_CYTHON,
                                                  name="poisson_finish")
