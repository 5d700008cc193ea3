"""The teacher-forced free energy of a recording and its hand-derived gradient.

The gradient is checked against central finite differences for every fitted parameter,
with the clamps and floors active (small c_u and c_du so that the soft bounds bend), for
windows that start at the onset and later; the objective equals the free energy of the
recording at the parameters that made it; and an Adam step lowers it."""
import numpy as np
import pytest

from ipvae_brian.learning.adam import AdamState, adam_step, step_sizes
from ipvae_brian.learning.objective_gradient import FITTED_PARAMETERS, objective_and_gradient
from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.free_energy import free_energy
from ipvae_brian.models.parameters import IPVAEParameters
from ipvae_brian.models.reference import infer


def recording(seed=0, c_u=3.0, c_du=2.0):
    rng = np.random.default_rng(seed)
    M, K, N, T = 6, 5, 4, 5
    params = IPVAEParameters.random(M, K, seed=1, column_norm=0.8).replace(
        u0=rng.uniform(-1, 1, K), log_sigma=rng.normal(0, 0.3, M),
        log_bias=rng.normal(-1, 0.3, K), log_lr=np.log(0.5), c_u=c_u, c_du=c_du, beta=1.7)
    x = rng.normal(0, 1, (N, M))
    counts, u = infer(params, x, T, np.random.default_rng(3))
    return params, x, counts, u


def with_value(params, name, value):
    return params.replace(**{name: value if np.ndim(value) else float(value)})


@pytest.mark.parametrize("onset, propagate", [(True, False), (False, False), (True, True),
                                              (False, True)])
def test_gradient_matches_central_finite_differences(onset, propagate):
    params, x, counts, u = recording()
    _, grad = objective_and_gradient(params, x, counts, u, onset=onset, propagate=propagate)
    h = 1e-6
    for name in FITTED_PARAMETERS:
        value = np.array(getattr(params, name), dtype=float)
        numeric = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            up, down = value.copy(), value.copy()
            up[index] += h
            down[index] -= h
            numeric[index] = (
                objective_and_gradient(with_value(params, name, up), x, counts, u,
                                       gradient=False, onset=onset, propagate=propagate)[0]
                - objective_and_gradient(with_value(params, name, down), x, counts, u,
                                         gradient=False, onset=onset,
                                         propagate=propagate)[0]) / (2 * h)
        # central differences of a smooth function: error O(h^2) + rounding ~1e-10
        np.testing.assert_allclose(getattr(grad, name), numeric, atol=1e-7, rtol=1e-6,
                                   err_msg=name)
    if not onset:
        np.testing.assert_array_equal(grad.u0, 0.0)   # a later window does not see u0


@pytest.mark.parametrize("propagate", [False, True])
def test_objective_is_the_free_energy_at_the_recordings_parameters(propagate):
    params, x, counts, u = recording(c_u=10.0, c_du=10.0)
    value, _ = objective_and_gradient(params, x, counts, u, gradient=False, propagate=propagate)
    assert value == pytest.approx(float(np.mean(free_energy(params, x, counts, u))), rel=1e-12)


def test_adam_steps_lower_the_objective_of_a_fixed_recording():
    params, x, counts, u = recording()
    state = AdamState.zeros(params)
    values = []
    for _ in range(30):
        value, grad = objective_and_gradient(params, x, counts, u)
        values.append(value)
        params = adam_step(params, grad, state, step_sizes(1e-2, 1e-2))
    assert values[-1] < values[0] - 0.1
    assert state.steps == 30


def test_recordings_whose_shapes_disagree_get_clear_errors():
    params, x, counts, u = recording()
    with pytest.raises(SimulationInputError, match="the recorded potentials u have shape"):
        objective_and_gradient(params, x, counts, u[:, :-1])
    with pytest.raises(SimulationInputError, match="at least 2 recorded bins"):
        objective_and_gradient(params, x, counts[:, :1], u[:, :1])
    with pytest.raises(SimulationInputError, match=r"the stimuli have shape \(3, 6\)"):
        objective_and_gradient(params, x[:3], counts, u)
    with pytest.raises(SimulationInputError, match="N x T x K with K = 5"):
        objective_and_gradient(params, x, counts[..., :4], u[..., :4])
