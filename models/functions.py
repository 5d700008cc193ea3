"""Brian2 functions with C++ and Cython implementations used by the model's equations.

- :func:`softplus` (``softplus`` in :data:`~ipvae_brian.models.equations.MEMBRANE_UPDATE`):
  without branches, max(x, 0) + log1p(exp(-|x|)) (the same numbers as x + log1p(exp(-x))
  for x > 0 and log1p(exp(x)) otherwise), so the update vectorises; one C++ source
  (:data:`SOFTPLUS_CPP`) for both engines (the runtime engine's Cython includes it
  verbatim), and in C++ a float overload for the float32 network;
- the bodies of ``lateral_product()`` (:class:`~ipvae_brian.models.populations.LateralProduct`,
  the lateral term as one product per step, for one stimulus or several side by side),
  formatted with the Brian2 names of the arrays.

The counter-based Poisson draw is in :mod:`ipvae_brian.models.random_streams`.
"""
from __future__ import annotations

import numpy as np
from brian2 import check_units, implementation


#: C++ of ``softplus`` in double, the C++ and (included verbatim) the Cython version.
SOFTPLUS_CPP = """
static inline double softplus(double x)
{
    return fmax(x, 0.0) + log1p(exp(-fabs(x)));
}
"""


@implementation("cpp", SOFTPLUS_CPP + """
static inline float softplus(float x)      // the float32 network's: expf, log1pf
{
    return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x)));
}
""")
@implementation("cython", '''
cdef extern from *:
    """%s"""
    double softplus(double x)
''' % SOFTPLUS_CPP)
@check_units(x=1, result=1)
def softplus(x):
    """log(1 + exp(x)) without overflow (numpy target; C++/Cython versions above)."""
    return np.logaddexp(0.0, x)


#: C++ (standalone) body of ``lateral_product()``; ``{w}``, ``{z}``, ``{lateral}`` are the
#: Brian2 names of the synapses' weights and the latents' counts and input, ``{K}`` is K,
#: ``{real}`` the C type of the weights and the input (``double`` or ``float``, the network's
#: precision); each product w z_j is formed in double, as in the Cython version.
LATERAL_PRODUCT_CPP = """
int32_t lateral_product()
{{
    // lateral_i = sum_j W_ij z_j over the neurons j with z_j > 0; column j of W (the
    // synapses of presynaptic neuron j) is w[j*K .. j*K + K-1]
    const {real}* __restrict w = &brian::{w}[0];
    const int32_t* __restrict z = brian::{z};
    {real}* __restrict lateral = brian::{lateral};
    int32_t spiking = 0;
    for (size_t i = 0; i < {K}; i++)
        lateral[i] = 0.0;
    for (size_t j = 0; j < {K}; j++)
    {{
        if (z[j] == 0)
            continue;
        spiking++;
        const double zj = z[j];
        const {real}* __restrict column = w + j * {K};
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

#: C++ (standalone) body of ``lateral_product()`` for ``{lanes}`` stimuli side by side:
#: lateral[b K + i] = sum_j W_ij z[b K + j] for every lane b, the same sums in the same
#: order (j ascending) as :data:`LATERAL_PRODUCT_CPP`, but each product w z_j formed in
#: ``{real}`` (that one forms it in double: the same numbers in float64). At the first
#: call W is packed once
#: into blocks of 64 rows (block r holds rows r .. r + 63 of column 0, then of column 1, ...);
#: every step lists each lane's non-zero counts by tiles of JB columns, then applies each
#: tile of W (64 rows x JB columns, 32 KiB, which stays in the L1 cache) to every lane's
#: counts in that tile, accumulating 64 rows at a time in vector registers (GCC vector
#: extensions). One stimulus at a time streams all of W from memory every step instead.
LATERAL_PRODUCT_LANES_CPP = """
int32_t lateral_product()
{{
    typedef {real} _ipvae_real;
    typedef _ipvae_real _ipvae_vreal __attribute__((vector_size(64)));
    const size_t K = {K}, LANES = {lanes}, BLOCK = 64;
    const size_t VL = 64 / sizeof(_ipvae_real), NV = BLOCK / VL;
    const size_t KP = (K + BLOCK - 1) / BLOCK * BLOCK;          // rows padded to blocks
    const size_t JB = 32768 / (BLOCK * sizeof(_ipvae_real));    // columns of a tile
    const size_t NJ = (K + JB - 1) / JB;                         // tiles per block
    static _ipvae_real* packed = 0;
    static _ipvae_real* sums = 0;
    static _ipvae_real* values = 0;
    static int32_t* columns = 0;
    static int32_t* starts = 0;
    const {real}* __restrict w = &brian::{w}[0];
    const int32_t* __restrict z = brian::{z};
    {real}* __restrict lateral = brian::{lateral};
    if (!packed)
    {{
        packed = new _ipvae_real[KP * K]();
        sums = new _ipvae_real[LANES * KP];
        values = new _ipvae_real[LANES * K];
        columns = new int32_t[LANES * K];
        starts = new int32_t[LANES * (NJ + 1)];
        for (size_t r = 0; r < K; r += BLOCK)
            for (size_t j = 0; j < K; j++)
                for (size_t ii = 0; ii < BLOCK && r + ii < K; ii++)
                    packed[r * K + j * BLOCK + ii] = w[j * K + r + ii];
    }}
    int32_t spiking = 0;
    for (size_t b = 0; b < LANES; b++)       // each lane's non-zero counts, tile by tile
    {{
        int32_t c = 0;
        for (size_t jb = 0; jb < NJ; jb++)
        {{
            starts[b * (NJ + 1) + jb] = c;
            const size_t end = (jb + 1) * JB < K ? (jb + 1) * JB : K;
            for (size_t j = jb * JB; j < end; j++)
            {{
                const int32_t zj = z[b * K + j];
                columns[b * K + c] = (int32_t)j;
                values[b * K + c] = (_ipvae_real)zj;
                c += zj != 0;
            }}
        }}
        starts[b * (NJ + 1) + NJ] = c;
        spiking += c;
    }}
    for (size_t k = 0; k < LANES * KP; k++)
        sums[k] = 0;
    for (size_t r = 0; r < KP; r += BLOCK)
    {{
        const _ipvae_real* __restrict block = packed + r * K;
        for (size_t jb = 0; jb < NJ; jb++)
            for (size_t b = 0; b < LANES; b++)
            {{
                const int32_t first = starts[b * (NJ + 1) + jb], last = starts[b * (NJ + 1) + jb + 1];
                if (first == last)
                    continue;
                _ipvae_real* __restrict out = sums + b * KP + r;
                _ipvae_vreal acc[NV];
                for (size_t v = 0; v < NV; v++)
                    __builtin_memcpy(&acc[v], out + v * VL, sizeof(_ipvae_vreal));
                for (int32_t n = first; n < last; n++)
                {{
                    const _ipvae_real zj = values[b * K + n];
                    const _ipvae_real* __restrict column = block + (size_t)columns[b * K + n] * BLOCK;
                    for (size_t v = 0; v < NV; v++)
                    {{
                        _ipvae_vreal wv;
                        __builtin_memcpy(&wv, column + v * VL, sizeof(_ipvae_vreal));
                        acc[v] += wv * zj;
                    }}
                }}
                for (size_t v = 0; v < NV; v++)
                    __builtin_memcpy(out + v * VL, &acc[v], sizeof(_ipvae_vreal));
            }}
    }}
    for (size_t b = 0; b < LANES; b++)
        for (size_t i = 0; i < K; i++)
            lateral[b * K + i] = sums[b * KP + i];
    return spiking;
}}
"""
