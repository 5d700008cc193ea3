"""The Brian2 network computes docs/model.md's update: exactly for one step, and in distribution,
with both engines (Brian2 runtime and cpp_standalone) and both formulations of the lateral
term (event-driven synapses, and the matrix product of the same synapses' weights)."""
import numpy as np
import pytest
from brian2 import ms

from ipvae_brian.models.errors import SimulationInputError

from ipvae_brian.models.engines import simulate_counts
from ipvae_brian.models.network import IPVAENetwork
from ipvae_brian.models.parameters import IPVAEParameters
from ipvae_brian.models.reference import infer, membrane_update


ENGINES = ["runtime", "standalone"]
LATERAL = ["synapses", "matrix"]


@pytest.mark.parametrize("lateral", LATERAL)
@pytest.mark.parametrize("engine", ENGINES)
def test_one_step_equals_reference_with_clamps_active(engine, lateral):
    """Same u_t and injected z_t: Brian2's u_{t+1} equals the reference to 1e-10 (float64).

    The potential is recorded at the start of every bin, so with two bins the second
    recorded value is u_{t+1} = update(u_t, z_t)."""
    rng = np.random.default_rng(7)
    params = IPVAEParameters.random(64, 64, seed=3, column_norm=1.5).replace(
        log_bias=rng.normal(-3, 1, 64), log_lr=np.log(0.7))
    x = 4.0 * rng.standard_normal((1, 64))
    u = rng.uniform(-10.0, 12.0, 64)
    z = rng.poisson(np.exp(np.minimum(u, 2.5)))
    net = IPVAENetwork(params, steps=2, stream=True, draw_counts=False, record_u=True,
                       engine=engine, lateral=lateral)
    _, recorded = simulate_counts(net, x, initial_u=u, initial_z=z)
    np.testing.assert_array_equal(recorded[0, 0], u)
    u_brian = recorded[0, 1]
    u_ref = membrane_update(params, u[None], z[None], params.feedforward_drive(x))[0]
    # the states must exercise the soft clamps and the floor, or this test proves little
    drive = params.eta * (params.feedforward_drive(x)[0] + z @ params.lateral_weights
                          - params.bias)
    assert np.sum(u_ref <= params.u_floor + 1e-12) >= 3, "floor never active"
    assert np.sum(u + np.minimum(drive, params.c_du) > params.c_u - 1) >= 3, "c_u never active"
    assert np.sum(drive > params.c_du - 2) >= 1, "c_du never active"
    np.testing.assert_allclose(u_brian, u_ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("stream,movie,lateral", [
    (False, False, "synapses"), (True, False, "synapses"), (False, True, "synapses"),
    (True, True, "synapses"), (False, False, "matrix"), (True, True, "matrix")])
def test_replaying_recorded_counts_reproduces_every_potential(stream, movie, lateral, engine):
    """Over whole runs (resets, streaming, movies): feeding the network's own counts to the
    reference update reproduces every recorded u_t to 1e-10."""
    rng = np.random.default_rng(11)
    params = IPVAEParameters.random(36, 24, seed=5, column_norm=0.6)
    T, N = 12, 6
    x = 2.0 * rng.standard_normal((N, T, 36) if movie else (N, 36))
    net = IPVAENetwork(params, steps=T, stream=stream, movie=movie, record_u=True,
                       chunk_size=4, engine=engine, lateral=lateral)  # a full, a padded chunk
    counts, u = simulate_counts(net, x, seed=4)
    drive = params.feedforward_drive(x)
    expected = np.empty_like(u)
    state = params.u0.copy()
    for n in range(N):
        if not stream:
            state = params.u0.copy()
        for t in range(T):
            expected[n, t] = state
            d = drive[n, t] if movie else drive[n]
            state = membrane_update(params, state[None], counts[n, t][None].astype(float),
                                    d[None])[0]
    assert counts.sum() > 50, "too few spikes for a meaningful test"
    np.testing.assert_allclose(u, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("lateral", LATERAL)
@pytest.mark.parametrize("engine", ENGINES)
def test_counts_follow_the_reference_in_distribution(engine, lateral):
    """2,000 trials, K = 32, M = 64, T = 16: every neuron's mean count at every bin agrees
    with the numpy reference within 4.5 standard errors of the difference of two
    independent means, and counts given u are Poisson (variance / mean = 1)."""
    trials, T = 2000, 16
    params = IPVAEParameters.random(64, 32, seed=1, column_norm=0.5)
    x = np.repeat(np.random.default_rng(0).standard_normal((1, 64)), trials, axis=0)
    counts, u = simulate_counts(IPVAENetwork(params, steps=T, record_u=True, engine=engine,
                                             lateral=lateral), x, seed=1)
    ref, _ = infer(params, x, T, np.random.default_rng(2))
    counts = counts.astype(float)
    se = np.sqrt(counts.var(axis=0, ddof=1) / trials + ref.var(axis=0, ddof=1) / trials)
    diff = counts.mean(axis=0) - ref.mean(axis=0)
    active = se > 0
    assert active.sum() > 0.5 * active.size, "most neurons silent: the test would prove little"
    assert np.all(diff[~active] == 0)
    assert np.max(np.abs(diff[active] / se[active])) < 4.5
    # Poisson given u: E[(z - lam)^2] = lam, Var[(z - lam)^2] = lam + 2 lam^2 (4th central
    # moment minus the squared variance), so the pooled ratio has a known standard error.
    lam = np.exp(u)
    ratio = np.sum((counts - lam) ** 2) / np.sum(lam)
    ratio_se = np.sqrt(np.sum(lam + 2 * lam ** 2)) / np.sum(lam)
    assert abs(ratio - 1) < 4.5 * ratio_se
    assert abs(np.sum(counts - lam)) < 4.5 * np.sqrt(np.sum(lam))


@pytest.mark.parametrize("engine", ENGINES)
def test_lateral_inhibition_matters(engine):
    """Removing the lateral synapses changes the result: the equivalence above is not
    satisfied by a network without the K x K term."""
    params = IPVAEParameters.random(64, 32, seed=1, column_norm=0.5)
    x = np.random.default_rng(0).standard_normal((200, 64))
    net = IPVAENetwork(params, steps=16, lateral_inhibition=False, engine=engine)
    counts, _ = simulate_counts(net, x, seed=1)
    ref, _ = infer(params, x, 16, np.random.default_rng(2))
    assert counts[:, -1].mean() > 1.5 * ref[:, -1].mean()


@pytest.mark.parametrize("engine", ENGINES)
def test_same_seed_same_counts_different_seed_different_counts(engine):
    params = IPVAEParameters.random(64, 32, seed=1, column_norm=0.5)
    x = np.random.default_rng(0).standard_normal((10, 64))
    net = IPVAENetwork(params, steps=8, chunk_size=4, engine=engine)
    a, _ = simulate_counts(net, x, seed=3)
    b, _ = simulate_counts(net, x, seed=3)
    c, _ = simulate_counts(net, x, seed=4)
    assert a.sum() > 0
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # chunks draw from independent streams: identical stimuli in different chunks differ
    same, _ = simulate_counts(net, np.repeat(x[:1], 8, axis=0), seed=3)
    assert not np.array_equal(same[0], same[4])


@pytest.mark.parametrize("engine", ENGINES)
def test_matrix_product_and_synaptic_events_give_the_same_counts(engine):
    """The two formulations of the lateral term deliver the same sum_j W_ij z_j (up to the
    order of the additions, ~1e-15), so the same seed gives the same counts, in discrete
    and in continuous mode (where a step's spikes act within the bin). Brian2's indexed
    synaptic events and the product read the same synaptic weights ``w``."""
    params = IPVAEParameters.random(36, 24, seed=5, column_norm=0.6)
    x = 2.0 * np.random.default_rng(1).standard_normal((6, 36))
    for dt in (None, 2.5 * ms):
        runs = [simulate_counts(IPVAENetwork(params, 12, dt=dt, engine=engine, lateral=lateral,
                                             chunk_size=4), x, seed=4)[0]
                for lateral in LATERAL]
        assert runs[0].sum() > 100, "too few spikes for a meaningful comparison"
        np.testing.assert_array_equal(runs[0], runs[1])


def test_auto_lateral_says_which_formulation_and_why():
    """``lateral="auto"``: event-driven synapses for small runs, the product for many steps."""
    params = IPVAEParameters.random(16, 8, seed=0)
    small = IPVAENetwork(params, 10)
    assert small.resolve(10).lateral == "synapses"
    assert small.lateral_reason == "auto: event-driven synapses for 100 steps < 100,000"
    large = IPVAENetwork(params, 100)
    assert large.resolve(1000).lateral == "matrix"
    assert large.lateral_reason.startswith("auto: the lateral synapses' weights applied as one "
                                           "product per step for 100,000 steps >= 100,000")
    with pytest.raises(SimulationInputError, match="unknown lateral propagation 'dense'; "
                                                   "allowed: synapses, matrix, auto"):
        IPVAENetwork(params, 10, lateral="dense")
