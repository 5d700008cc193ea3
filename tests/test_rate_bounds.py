"""High rates and the bounds of the update, in both modes.

At u near 3 (about 20 counts per bin) the network's discrete mode equals docs/model.md's
update (``models.reference``) to 1e-10 and its continuous mode gives the discrete mode's
bin-averaged counts within sampling error; one bin of the continuous mode equals its steps
of the reference with the bounds active (the soft bounds c_du and c_u, the cap at c_u and
the floors on u and du); and the floor on du, as in the authors' code, keeps u from falling
by more than |u_floor| in one bin.
"""
import numpy as np
import pytest
from brian2 import ms

from ipvae_brian.models.engines import simulate_counts
from ipvae_brian.models.network import IPVAENetwork
from ipvae_brian.models.parameters import IPVAEParameters
from ipvae_brian.models.reference import membrane_update, softplus

ENGINES = ["runtime", "standalone"]
M, K, T, TRIALS = 64, 32, 16, 200
SUBSTEPS = 50  # dt = tau / 50, 0.5 ms for 25 ms bins


@pytest.fixture(scope="module")
def high_rates():
    """Parameters and stimuli that hold u near 3 in both modes.

    Random parameters (M = 64, K = 32) with u0 ~ U[2.5, 3.5] (12 to 33 counts per bin)
    and weak lateral weights (column norm 0.05: one spike moves its own neuron's u by
    eta ||Phi_k||^2 = 0.0025), and one stimulus whose drive makes u0 the fixed point of
    the expected discrete update: Phi^T x = b - W exp(u0) + softplus(u0 - c_u) / eta, so
    that E[du] = 0 at u0 (the last term cancels the ceiling's pull, 1e-3 to 4e-3 per bin
    here). u then stays near u0 for all T bins, so the within-bin drift that separates
    the two modes' counts is ~0 and the comparison below needs no systematic term.
    Before the ceiling's pull was scaled by dt / tau, the continuous mode's counts fell
    to 0.64 of the discrete mode's by t = 15 on these parameters.
    """
    rng = np.random.default_rng(0)
    params = IPVAEParameters.random(M, K, seed=4, column_norm=0.05)
    u0 = rng.uniform(2.5, 3.5, K)
    params = params.replace(u0=u0, log_bias=np.full(K, -4.0))
    target = (params.bias - params.lateral_weights @ np.exp(u0)
              + softplus(u0 - params.c_u) / params.eta)
    x, *_ = np.linalg.lstsq(params.Phi.T / params.sigma ** 2, target, rcond=None)
    np.testing.assert_allclose(params.feedforward_drive(x), target, atol=1e-9)
    return params, np.repeat(x[None], TRIALS, axis=0)


def test_discrete_mode_equals_the_reference_at_high_rates(high_rates):
    """Replaying the network's own counts through the reference reproduces every u_t."""
    params, x = high_rates
    counts, u = simulate_counts(IPVAENetwork(params, T, record_u=True, chunk_size=100),
                                x[:20], seed=3)
    assert counts.mean() > 15 and u.mean() > 2.7, "rates not high: the test proves little"
    expected = np.empty_like(u)
    state = np.broadcast_to(params.u0, (len(u), K)).copy()
    drive = params.feedforward_drive(x[:20])
    for t in range(T):
        expected[:, t] = state
        state = membrane_update(params, state, counts[:, t].astype(float), drive)
    np.testing.assert_allclose(u, expected, rtol=0, atol=1e-10)


def test_continuous_counts_equal_discrete_at_high_rates(high_rates):
    """Every neuron's and the population's mean count at every bin, 200 trials each:
    continuous mode (dt = tau / 50) against discrete mode within 4.5 standard errors of
    the difference of two independent means (measured: at most 3.5 per neuron, 1.2 for
    the population; before the fix the population differed by up to 100)."""
    params, x = high_rates
    runs = {}
    for substeps in (1, SUBSTEPS):
        net = IPVAENetwork(params, T, dt=25 * ms / substeps, engine="runtime")
        runs[substeps] = simulate_counts(net, x, seed=3)[0].astype(float)
    discrete, continuous = runs[1], runs[SUBSTEPS]
    assert discrete.mean() > 15, "rates not high: the test proves little"
    n = len(discrete)
    se = np.sqrt(discrete.var(axis=0, ddof=1) / n + continuous.var(axis=0, ddof=1) / n)
    diff = continuous.mean(axis=0) - discrete.mean(axis=0)
    assert np.max(np.abs(diff) / se) < 4.5, f"worst neuron: {np.max(np.abs(diff) / se):.2f} se"
    d, c = discrete.mean(axis=2), continuous.mean(axis=2)  # population mean, (N, T)
    pooled_se = np.sqrt(d.var(axis=0, ddof=1) / n + c.var(axis=0, ddof=1) / n)
    z = (c.mean(axis=0) - d.mean(axis=0)) / pooled_se
    assert np.max(np.abs(z)) < 4.5, f"population mean per bin off by {z.round(2)} se"


def _one_bin(params, engine, u, z, x, substeps):
    """u at the end of one bin of ``substeps`` steps from u with the counts fixed at z."""
    net = IPVAENetwork(params, steps=2, stream=True, draw_counts=False, record_u=True,
                       engine=engine, dt=25 * ms / substeps)
    _, recorded = simulate_counts(net, x, initial_u=u, initial_z=z)
    np.testing.assert_array_equal(recorded[0, 0], u)
    return recorded[0, 1]


@pytest.mark.parametrize("engine", ENGINES)
def test_one_bin_of_continuous_mode_equals_its_steps_of_the_reference(engine):
    """With the counts of every step held fixed (z injected, no draws), one bin of the
    continuous mode (dt = tau / 3) is 3 steps of the reference update with ``substeps`` =
    3, to 1e-10, on states that exercise the floor on du, the cap at c_u, the soft ceiling
    c_u and the floor on u. (Few steps per bin: with the counts held, more steps drive
    every neuron to a bound.)"""
    substeps = 3
    rng = np.random.default_rng(6)
    params = IPVAEParameters.random(64, 64, seed=3, column_norm=1.5).replace(
        log_bias=rng.normal(-3, 1, 64), log_lr=np.log(0.7))
    x = 4.0 * rng.standard_normal((1, 64))
    u = rng.uniform(-10.0, 12.0, 64)
    z = rng.poisson(np.exp(np.minimum(u, 2.0)) / substeps)
    u_brian = _one_bin(params, engine, u, z, x, substeps)
    drive = params.feedforward_drive(x)
    state = u[None]
    for _ in range(substeps):
        state = membrane_update(params, state, z[None].astype(float), drive, substeps=substeps)
    du_step = params.eta * ((drive[0] - params.bias) / substeps + z @ params.lateral_weights)
    assert np.sum(du_step < params.u_floor) >= 3, "du floor never active"
    assert np.sum(u > params.c_u) >= 3, "cap at c_u never active"
    assert np.sum((state[0] > params.c_u - 3) & (state[0] < params.c_u)) >= 1, \
        "soft ceiling never active"
    assert np.sum(state[0] <= params.u_floor) >= 3, "floor on u never active"
    np.testing.assert_allclose(u_brian, state[0], rtol=0, atol=1e-10)


@pytest.mark.parametrize("engine", ENGINES)
def test_du_floor_limits_the_fall_of_one_bin(engine):
    """Discrete mode, strong inhibition (du < u_floor = -8) on neurons with u_t in (0, 10):
    the network equals the reference to 1e-10, and u falls by |u_floor| (plus the soft
    bounds' pulls: 2e-8 from c_du, softplus(u_t + u_floor - c_u) from c_u) instead of
    reaching the floor on u, as in the authors' code."""
    rng = np.random.default_rng(9)
    params = IPVAEParameters.random(64, 64, seed=3, column_norm=1.5).replace(
        log_bias=rng.normal(-3, 1, 64), log_lr=np.log(0.7))
    x = 4.0 * rng.standard_normal((1, 64))
    u = rng.uniform(-8.0, 10.0, 64)
    z = rng.poisson(np.exp(np.minimum(u, 2.0)))
    u_brian = _one_bin(params, engine, u, z, x, substeps=1)
    u_ref = membrane_update(params, u[None], z[None].astype(float),
                            params.feedforward_drive(x))[0]
    np.testing.assert_allclose(u_brian, u_ref, rtol=0, atol=1e-10)
    du = params.eta * (params.feedforward_drive(x)[0] + z @ params.lateral_weights
                       - params.bias)
    binding = (du < params.u_floor - 1) & (u > 1)
    assert binding.sum() >= 3, "the du floor never binds: the test proves little"
    fall = u[binding] + params.u_floor - u_brian[binding]  # beyond |u_floor|
    assert np.all(fall >= 0)
    assert np.all(fall <= softplus(u[binding] + params.u_floor - params.c_u) + 1e-7)
    # without the floor on du these neurons would have fallen further (to u_floor or du)
    assert np.all(np.maximum(u + du, params.u_floor)[binding] < u_brian[binding] - 1)
    assert np.all(u_brian >= u + params.u_floor - softplus(u + params.u_floor - params.c_u) - 1e-7)
