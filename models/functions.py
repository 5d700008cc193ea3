"""Brian2 functions with C++ and Cython implementations used by the model's equations.

- :func:`softplus` (``softplus`` in :data:`~ipvae_brian.models.equations.MEMBRANE_UPDATE`):
  in C++ without branches, max(x, 0) + log1p(exp(-|x|)) (the same numbers as x + log1p(exp(-x))
  for x > 0 and log1p(exp(x)) otherwise), so the update vectorises, with a float overload
  for the float32 network;
- the bodies of ``lateral_product()`` (:class:`~ipvae_brian.models.populations.LateralProduct`,
  the lateral term as one product per step), formatted with the Brian2 names of the arrays.

The counter-based Poisson draw is in :mod:`ipvae_brian.models.random_streams`.
"""
from __future__ import annotations

import numpy as np
from brian2 import check_units, implementation


@implementation("cpp", """
static inline double softplus(double x)
{
    return fmax(x, 0.0) + log1p(exp(-fabs(x)));
}
static inline float softplus(float x)      // the float32 network's: expf, log1pf
{
    return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x)));
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
