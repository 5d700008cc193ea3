r"""Adam steps on the fitted parameters of an iP-VAE, with its state kept for resuming.

For every fitted parameter p with gradient g (``learning.objective_gradient``),
after n steps:

.. math::

    m \leftarrow \beta_1 m + (1 - \beta_1) g, \qquad
    v \leftarrow \beta_2 v + (1 - \beta_2) g^2, \qquad
    p \leftarrow p - \alpha_p \frac{m / (1 - \beta_1^n)}{\sqrt{v / (1 - \beta_2^n)} + \epsilon}

(Kingma & Ba 2015), with one step size alpha_p per parameter: Phi moves by about
``dictionary_rate`` per element and step, the log-parameters and u0 by about
``parameter_rate``. After the step u0 is projected onto [u_floor, c_u], the range the
membrane potential can take. Deterministic: no randomness.

References
----------
Kingma, D. P. & Ba, J. (2015). Adam: a method for stochastic optimization. ICLR.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ipvae_brian.learning.objective_gradient import FITTED_PARAMETERS, Gradient
from ipvae_brian.models.parameters import IPVAEParameters

#: Adam's decay rates of the first and second moments, and epsilon (Kingma & Ba's values).
BETA1, BETA2, EPSILON = 0.9, 0.999, 1e-8


@dataclasses.dataclass
class AdamState:
    """Step count and moments of every fitted parameter (arrays shaped like them)."""

    steps: int
    first: dict
    second: dict

    @classmethod
    def zeros(cls, params: IPVAEParameters) -> "AdamState":
        shapes = {name: np.shape(getattr(params, name)) for name in FITTED_PARAMETERS}
        return cls(0, {n: np.zeros(s) for n, s in shapes.items()},
                   {n: np.zeros(s) for n, s in shapes.items()})

    def arrays(self) -> dict:
        """The state as flat named arrays (to store in a file)."""
        out = {"steps": np.array(self.steps)}
        for name in FITTED_PARAMETERS:
            out[f"first_{name}"] = np.asarray(self.first[name])
            out[f"second_{name}"] = np.asarray(self.second[name])
        return out

    @classmethod
    def from_arrays(cls, arrays: dict) -> "AdamState":
        return cls(int(arrays["steps"]),
                   {n: np.array(arrays[f"first_{n}"], dtype=np.float64) for n in FITTED_PARAMETERS},
                   {n: np.array(arrays[f"second_{n}"], dtype=np.float64)
                    for n in FITTED_PARAMETERS})


#: The group of a parameter file that holds the Adam state of the run that wrote it.
STATE_GROUP = "adam_state"


def read_state(path: str) -> AdamState | None:
    """The Adam state stored in parameter file ``path`` (None if it holds none)."""
    from ipvae_brian.models.parameters import open_hdf5
    with open_hdf5(path) as f:
        if STATE_GROUP not in f:
            return None
        return AdamState.from_arrays({key: f[STATE_GROUP][key][()]
                                      for key in f[STATE_GROUP]})


def step_sizes(dictionary_rate: float, parameter_rate: float) -> dict:
    """alpha of every fitted parameter: ``dictionary_rate`` for Phi, ``parameter_rate``
    for log_sigma, u0, log_bias and log_lr."""
    return {name: dictionary_rate if name == "Phi" else parameter_rate
            for name in FITTED_PARAMETERS}


def adam_step(params: IPVAEParameters, grad: Gradient, state: AdamState,
              rates: dict) -> IPVAEParameters:
    """One Adam step (module docstring); updates ``state`` in place, returns new parameters.

    Parameters
    ----------
    params : IPVAEParameters
    grad : Gradient
        dJ/dtheta at ``params``.
    state : AdamState
    rates : dict
        alpha of every fitted parameter (:func:`step_sizes`).
    """
    state.steps += 1
    n = state.steps
    new = {}
    for name in FITTED_PARAMETERS:
        g = np.asarray(getattr(grad, name), dtype=np.float64)
        state.first[name] = BETA1 * state.first[name] + (1 - BETA1) * g
        state.second[name] = BETA2 * state.second[name] + (1 - BETA2) * g ** 2
        m_hat = state.first[name] / (1 - BETA1 ** n)
        v_hat = state.second[name] / (1 - BETA2 ** n)
        value = np.asarray(getattr(params, name), dtype=np.float64) - \
            rates[name] * m_hat / (np.sqrt(v_hat) + EPSILON)
        new[name] = float(value) if value.ndim == 0 else value
    new["u0"] = np.clip(new["u0"], params.u_floor, params.c_u)
    return params.replace(**new)
