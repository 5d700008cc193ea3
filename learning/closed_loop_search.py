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

**The closing calibration** (:func:`calibrate_bias_and_step`, ``learn --calibrate``) runs
once, after the last epoch, on held-out training stimuli (never in a minibatch, so the
search cannot fit its probe). It prices a spike in units of the Poisson noise it adds,

    b_k = c ||Phi_k / sigma||^2 / 2,   c in {2^(i/4)},  i = -4 .. 12  (1/2 to 8),

(:func:`~ipvae_brian.models.free_energy.poisson_noise_price`: the converged code is the
non-negative lasso with penalty b_k, and this b makes the penalty of a unit of rate c times
the noise it costs), keeps the fitted b if no c beats it, then takes one step on eta as
above and searches c again. Measured on natural16 (K = 512, beta = 8, 500 held-out
stimuli, 64 bins): the fitted b gives J = 223.04, its best common factor (4) 227.20, and b
at 1.41 times the noise price 221.78 (``docs/learning.md``).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ipvae_brian.models.free_energy import poisson_noise_price
from ipvae_brian.models.parameters import IPVAEParameters

#: Candidate factors of b and of eta (the current value, factor 1, included).
BIAS_FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0)
STEP_FACTORS = (0.5, 2 ** -0.5, 1.0, 2 ** 0.5, 2.0)

#: Candidate prices c of a unit of rate, in units of its Poisson noise: 2^(i/4), 1/2 to 8.
NOISE_PRICE_FACTORS = tuple(2.0 ** (i / 4) for i in range(-4, 13))


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
    J = objective(params)
    objectives = {"b x 1": J}
    bias_factor, params, J = _lowest_of(
        params, J, [(f"b x {f:.4g}", f, params.replace(log_bias=params.log_bias + np.log(f)))
                    for f in BIAS_FACTORS if f != 1.0], objective, objectives)
    objectives["eta x 1"] = J
    step_factor, params, J = _step_search(params, J, objective, objectives)
    return params, float(bias_factor or 1.0), float(step_factor or 1.0), objectives


def calibrate_bias_and_step(params: IPVAEParameters,
                            objective: Callable[[IPVAEParameters], float],
                            noise_price: float | None = None):
    """The closing calibration of b and eta (module docstring): b as c times the Poisson
    noise price, then eta, then c again, each by the lowest closed-loop J.

    With ``noise_price`` given, c is that value, not searched: b = c ||Phi_k / sigma||^2 / 2
    whatever J says (c is then the knob of the late code's sparsity: after the transient
    the KL to the previous bin vanishes and b alone prices a spike), and only eta is
    chosen by J.

    Parameters
    ----------
    params : IPVAEParameters
        The parameters after the last epoch.
    objective : callable
        J of parameters on held-out stimuli, common random numbers, +inf on a runaway.
    noise_price : float, optional
        A fixed c (positive); None: c searched on :data:`NOISE_PRICE_FACTORS`.

    Returns
    -------
    params : IPVAEParameters
    price : float or None
        c, the bias in units of the noise price (None: the fitted b was kept).
    step_factor : float
        The factor of eta.
    objectives : dict
        J of every candidate, in the order evaluated (the fitted parameters under
        "fitted").

    Examples
    --------
    With an objective lowest at b = 2 x the noise price and eta = 1:

    >>> p = IPVAEParameters(Phi=np.full((2, 1), 0.5), log_sigma=np.zeros(2), u0=np.zeros(1),
    ...                     log_bias=np.zeros(1), log_lr=0.0)
    >>> J = lambda q: (np.log(q.bias[0] / 0.25) - np.log(2)) ** 2 + q.log_lr ** 2
    >>> q, c, g, _ = calibrate_bias_and_step(p, J)
    >>> round(c, 6), g, round(float(q.bias[0]), 6)
    (2.0, 1.0, 0.5)
    """
    J_fitted = objective(params)
    objectives = {"fitted": J_fitted}
    price = poisson_noise_price(params)      # of the final Phi and sigma; eta leaves it
    if noise_price is not None:
        params = params.replace(log_bias=np.log(noise_price * price))
        J = objectives[f"b = {noise_price:.4g} x noise price (fixed)"] = objective(params)
        step_factor, params, _ = _step_search(params, J, objective, objectives)
        return params, float(noise_price), float(step_factor or 1.0), objectives

    def price_search(current, J_current, label):
        return _lowest_of(current, J_current,
                          [(f"{label}, b = {c:.4g} x noise price", c,
                            current.replace(log_bias=np.log(c * price)))
                           for c in NOISE_PRICE_FACTORS], objective, objectives)

    chosen, params, J = price_search(params, J_fitted, "eta as fitted")
    step_factor, stepped, J_step = _step_search(params, J, objective, objectives)
    if step_factor is not None:
        again, params, _ = price_search(stepped, J_step, f"eta x {step_factor:.4g}")
        chosen = again if again is not None else chosen
    return params, chosen, float(step_factor or 1.0), objectives


def chosen_objective(objectives: dict, noise_price: float | None = None) -> float:
    """J of the parameters :func:`calibrate_bias_and_step` returned, from its ``objectives``.

    Every step of the search keeps the lowest of the current parameters and its candidates,
    so the chosen J is the lowest J evaluated; with ``noise_price`` given the fitted
    parameters were scored but never a choice, so their J is left out.

    Examples
    --------
    >>> chosen_objective({"fitted": 1.0, "b = 4 x noise price (fixed)": 3.0, "eta x 2": 2.5}, 4.0)
    2.5
    """
    return min(J for name, J in objectives.items()
               if noise_price is None or name != "fitted")


def _lowest_of(current: IPVAEParameters, J_current: float, candidates: list,
               objective: Callable[[IPVAEParameters], float], objectives: dict):
    """The candidate of lowest J if it is below ``J_current``, else ``current``.

    ``candidates`` are (name, value, parameters); each J is recorded in ``objectives`` under
    its name, in order. Returns (value, parameters, J), value None when ``current`` stays.
    """
    best = (None, current, J_current)
    for name, value, candidate in candidates:
        objectives[name] = objective(candidate)
        if objectives[name] < best[2]:
            best = (value, candidate, objectives[name])
    return best


def _step_search(params: IPVAEParameters, J: float,
                 objective: Callable[[IPVAEParameters], float], objectives: dict):
    """eta times each factor of :data:`STEP_FACTORS` but 1: :func:`_lowest_of` them."""
    return _lowest_of(params, J, [(f"eta x {f:.4g}", f,
                                   params.replace(log_lr=params.log_lr + np.log(f)))
                                  for f in STEP_FACTORS if f != 1.0], objective, objectives)
