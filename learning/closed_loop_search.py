r"""A closed-loop search of the two scalars that set the dynamics' time course and fixed
point: a common factor of the biases b and the step size eta.

The gradient of :mod:`~ipvae_brian.learning.objective_gradient` holds the recorded counts
fixed, so it cannot see the network's answer to a change of b or eta: with fewer spikes
there is less lateral inhibition, and a larger step brings every later bin closer to the
posterior. Its estimate for these two scalars is biased (measured on natural16, K = 512,
beta = 8, after 3 epochs: eta falls every epoch, and b sits at 0.2 of the Poisson-noise
weight ||Phi_k / sigma||^2 / 2 while the closed-loop free energy is lowest near twice
that weight; ``docs/learning.md``). Here the objective itself decides, with the network in
the loop:

    J(theta) = mean over stimuli and all T bins of F_t,   counts drawn by the network

is evaluated on a fixed probe of training stimuli with common random numbers (the same
seed for every candidate, so differences are not sampling noise) for

    log b + log c_b,   c_b in {1/4, 1/2, 1, 2, 4},      then
    log eta + log c_eta,   c_eta in {1/2, 1/sqrt 2, 1, sqrt 2, 2},

and each factor with the lowest J is kept (1 unless a candidate lowers J; a candidate
with a stimulus that ran away is not taken). It is a coordinate descent step on the same
objective, taken after every ``search_every`` minibatches of the alternation.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ipvae_brian.models.parameters import IPVAEParameters

#: Candidate factors of b and of eta (the current value, factor 1, included).
BIAS_FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0)
STEP_FACTORS = (0.5, 2 ** -0.5, 1.0, 2 ** 0.5, 2.0)


def search_bias_and_step(params: IPVAEParameters,
                         objective: Callable[[IPVAEParameters], float]):
    """One coordinate step on log b (a common factor) then on log eta (module docstring).

    Parameters
    ----------
    params : IPVAEParameters
    objective : callable
        J of parameters: the closed-loop free energy on the probe with common random
        numbers, +inf where a stimulus ran away
        (:func:`ipvae_brian.learning.alternation.closed_loop_objective`).

    Returns
    -------
    params : IPVAEParameters
        With b and eta multiplied by the chosen factors.
    bias_factor, step_factor : float
    objectives : dict
        J at every candidate, {"b x 0.25": ..., "eta x 2": ...}.
    """
    objectives = {}

    def best(candidates, name):
        scores = []
        for factor, candidate in candidates:
            J = objective(candidate)
            objectives[f"{name} x {factor:.4g}"] = J
            scores.append(J)
        i = int(np.argmin(scores))
        keep = [factor for factor, _ in candidates].index(1.0)
        return candidates[i] if scores[i] < scores[keep] else candidates[keep]

    bias_factor, params = best([(f, params.replace(log_bias=params.log_bias + np.log(f)))
                                for f in BIAS_FACTORS], "b")
    step_factor, params = best([(f, params.replace(log_lr=params.log_lr + np.log(f)))
                                for f in STEP_FACTORS], "eta")
    return params, float(bias_factor), float(step_factor), objectives
