"""The float32 path (``precision="float32"``, ``simulate --precision float32``) has its own
equivalence tests: against the float32 numpy reference, count by count and to a float32
tolerance derived below, on both engines and both formulations of the lateral term; against
the float64 path in distribution; and the counts of a seed do not depend on the workers.
The float64 path keeps its 1e-10 tests (tests/test_network_equivalence.py).

The tolerance. eps = 2^-24 is float32's unit roundoff. The network (float32 variables, some
intermediates in double: see the generated code) and the reference (every operation in
float32) start a step from the same u_t, counts z_t and float32-rounded drive and constants,
and round differently: each rounding of an intermediate value y costs at most eps |y| on
either side. A difference inside du is multiplied by eta; the soft bound on du, the floors
and the soft ceiling are 1-Lipschitz; and u_{t+1} depends on u_t with a slope in [0, 1]
(du does not depend on u; d/dv [v - softplus(v - c_u)] = 1 - sigmoid(v - c_u)). So the
differences of the steps add up and never grow: |u_t(net) - u_t(ref)| <= sum_{s<t} r_s with,
per step and neuron, counting both sides (factor 2)::

    r = 2 eps [ eta K L                         the lateral sum: K terms, any order
                + 4 eta (|I| + |b| + L)         (I - b) dt/tau + lateral, times eta
                + 7 (|c_du| + |du| + 1)         the soft bound (softplus within 4 ulps)
                + 7 (|u| + |v| + |c_u| + 1) ]   u + du, the floor, the soft ceiling

with L = sum_j |W_kj| z_j, I the drive and du, v the step's values. At these sizes the bound
is about 5e-4 after 16 bins (the differences found are 30 times smaller); a float32 time (a
wrong drive row), a lost term or a float16 computation exceeds it by orders of magnitude.

The counts. Brian2's ``poisson()`` draws below rate 10 by the multiplication method: the
count is the number of arrivals within [0, lambda] of a unit-rate Poisson process built
from the uniform numbers (the partial sums of -log U), so the same uniforms give another
count at lambda' only if an arrival falls between lambda and lambda': probability
|lambda' - lambda| ~ lambda (|u(network) - u(reference)| + 2 eps) (the potentials' difference,
and the C++ engine's float exp). Summed over a run's draws this is the expected number of
draws that differ (PTRS, above rate 10, likewise moves its result only if the rate moves
across a boundary); a differing draw would change the rest of its stimulus. With the
differences of u found here that expectation is about 1e-3, so the test requires identical
counts (and that the expectation be below 0.01: the chance that a correct float32 path fails
this seed's comparison is below 1%).
"""
import h5py
import numpy as np
import pytest

from ipvae_brian.models.config import RunConfig
from ipvae_brian.models.engines import simulate_counts
from ipvae_brian.models.engines.distributed import SimulationCluster
from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.network import IPVAENetwork
from ipvae_brian.models.parameters import IPVAEParameters
from ipvae_brian.models.random_streams import GENERATOR
from ipvae_brian.models.reference import NetworkStreams, UpdateConstants, infer, membrane_update

EPS32 = 2.0 ** -24
M, K = 64, 32


def _params():
    return IPVAEParameters.random(M, K, seed=1, column_norm=0.5)


def _stimuli(n, seed=0):
    return np.random.default_rng(seed).standard_normal((n, M))


def replay_float32(params, x, counts):
    """The float32 reference update fed with the network's counts: u (N, T, K) float32, and
    the bound of the module docstring on |u(network) - u(reference)| for every entry."""
    N, T, K = counts.shape
    constants = UpdateConstants.of(params, np.float32)
    drive32 = params.feedforward_drive(x).astype(np.float32)
    drive, W, b, eta = drive32.astype(float), params.lateral_weights, params.bias, params.eta
    u = np.empty((N, T, K), dtype=np.float32)
    bound = np.zeros((N, T, K))
    state = np.broadcast_to(params.u0.astype(np.float32), (N, K)).copy()
    total = np.zeros((N, K))
    for t in range(T):
        u[:, t], bound[:, t] = state, total
        z = counts[:, t].astype(float)
        L = z @ np.abs(W)
        du = np.maximum(eta * (drive - b + z @ W), params.u_floor)
        v = state + np.minimum(du, params.c_du)
        total = total + 2 * EPS32 * (
            eta * K * L + 4 * eta * (np.abs(drive) + b + L)
            + 7 * (abs(params.c_du) + np.abs(du) + 1)
            + 7 * (np.abs(state) + np.abs(v) + abs(params.c_u) + 1))
        state = membrane_update(constants, state, counts[:, t], drive32)
    return u, bound


@pytest.mark.parametrize("engine,lateral", [("runtime", "synapses"), ("runtime", "matrix"),
                                            ("standalone", "synapses"),
                                            ("standalone", "matrix")])
def test_float32_network_equals_the_float32_reference(engine, lateral):
    """u within the derived float32 bound of the float32 reference fed the network's counts;
    the reference drawing from the network's streams draws the same counts."""
    params, x, T, seed = _params(), _stimuli(8), 16, 3
    net = IPVAENetwork(params, steps=T, record_u=True, engine=engine, lateral=lateral,
                       chunk_size=4, threads=1, precision="float32")  # a full, a padded chunk
    counts, u = simulate_counts(net, x, seed=seed)
    assert u.dtype == np.float32
    assert counts.sum() > 500, "too few spikes for a meaningful test"
    expected, bound = replay_float32(params, x, counts)
    difference = np.abs(u.astype(float) - expected)
    assert np.all(difference <= bound)
    assert bound.max() < 1e-3, "the bound would prove little"
    drawn, _ = infer(params, x, T, NetworkStreams(seed), dtype=np.float32)
    expected_flips = np.sum(np.exp(u.astype(float)) * (difference + 2 * EPS32))
    assert expected_flips < 0.01
    np.testing.assert_array_equal(drawn, counts)


@pytest.mark.parametrize("engine,lateral", [("runtime", "matrix"), ("standalone", "matrix")])
def test_the_reference_draws_the_float64_network_counts_from_its_streams(engine, lateral):
    """The control of the test above: the float64 network's counts are exactly those the
    reference draws from :class:`NetworkStreams` (its port of the streams and of Brian2's
    Poisson algorithm is right), and its u equal the float64 reference's to 1e-10."""
    params, x, T, seed = _params(), _stimuli(8), 16, 3
    net = IPVAENetwork(params, steps=T, record_u=True, engine=engine, lateral=lateral,
                       chunk_size=4, threads=1)
    counts, u = simulate_counts(net, x, seed=seed)
    drawn, potentials = infer(params, x, T, NetworkStreams(seed))
    assert counts.sum() > 500
    np.testing.assert_array_equal(drawn, counts)
    np.testing.assert_allclose(u, potentials, rtol=0, atol=1e-10)
    other, _ = infer(params, x, T, NetworkStreams(seed + 1))
    assert not np.array_equal(other, counts)


def test_float32_counts_follow_float64_in_distribution():
    """200 stimuli, K = 32, T = 32, independent seeds: for every neuron and bin the mean
    count over the stimuli agrees between float32 and float64 within 4.5 standard errors of
    the mean paired difference (the two runs' draws are independent, so the difference of a
    stimulus's counts has the variance of two Poisson samples, about 2 lambda, plus what the
    earlier draws add; its standard error is estimated from the 200 differences). With
    1,024 cells a correct implementation exceeds 4.5 somewhere with probability ~0.7%; the
    seeds are fixed. The count pooled over all cells is compared likewise."""
    params, x, T = _params(), _stimuli(200, seed=5), 32
    runs = {precision: simulate_counts(IPVAENetwork(params, steps=T, engine="runtime",
                                                    precision=precision), x, seed=seed)[0]
            for precision, seed in (("float64", 1), ("float32", 2))}
    d = runs["float32"].astype(float) - runs["float64"].astype(float)
    se = d.std(axis=0, ddof=1) / np.sqrt(len(x))
    active = se > 0
    assert active.mean() > 0.5, "most neurons silent: the test would prove little"
    assert np.all(d.mean(axis=0)[~active] == 0)
    assert np.max(np.abs(d.mean(axis=0)[active] / se[active])) < 4.5
    pooled = d.reshape(len(x), -1).mean(axis=1)
    assert abs(pooled.mean()) < 4.5 * pooled.std(ddof=1) / np.sqrt(len(x))
    assert runs["float64"].mean() > 0.2


def test_float32_time_stays_float64_over_a_long_run():
    """A float32 time would be off by up to 2^-24 t, more than the drive's row tolerance
    (dt / 32) from about 2^19 steps on: 48,000 stimuli x 17 bins (816,000 steps, one
    standalone run, no draws) read the first-bin drive of stimuli 44,061, 44,066, ... from
    the previous row (as Brian2 hoisted ``t - t_chunk`` into a float32 before the fix).
    With no counts u_1 = update(u0, 0, drive of its own stimulus) for every stimulus."""
    N, T, K_small = 48000, 17, 2
    params = IPVAEParameters.random(4, K_small, seed=0)
    x = 20 * np.random.default_rng(0).standard_normal((N, 4))
    net = IPVAENetwork(params, steps=T, bin_width=0.7, dt=0.7, engine="standalone",
                       lateral="matrix", draw_counts=False, record_u=True, chunk_size=N,
                       threads=1, precision="float32")
    _, u = simulate_counts(net, x, seed=0, initial_z=np.zeros(K_small, dtype=int))
    drive = params.feedforward_drive(x).astype(np.float32)
    zeros = np.zeros((N, K_small))
    start = np.broadcast_to(params.u0, (N, K_small))
    expected = membrane_update(params, start, zeros, drive, dtype=np.float32)
    previous = membrane_update(params, start, zeros, np.roll(drive, 1, axis=0),
                               dtype=np.float32)
    assert np.mean(np.abs(previous - expected).max(axis=1) > 1e-2) > 0.9
    np.testing.assert_allclose(u[:, 1], expected, rtol=0, atol=1e-4)


@pytest.fixture(scope="module")
def cluster():
    """A SimulationCluster with its own LocalCluster of 2 worker processes x 1 thread."""
    with SimulationCluster(workers=2) as c:
        c.client.wait_for_workers(2, timeout=120)
        yield c


@pytest.mark.parametrize("engine", ["runtime", "standalone"])
def test_float32_counts_do_not_depend_on_the_workers(cluster, engine):
    """Float32, the same seed: this process with chunks of 7 and 2 worker processes with
    chunks of 4 give the same counts for every stimulus (as tests/test_distributed.py
    checks for float64)."""
    params = IPVAEParameters.random(M, 16, seed=1, column_norm=0.5)
    x = _stimuli(30)

    def counts(where, chunk):
        config = RunConfig(steps=8, engine=engine, chunk_size=chunk, precision="float32")
        config = config.resolve(chunk, params.n_latents)
        return np.concatenate([c.counts for c in where.simulate(params, config, x, seed=2)])

    with SimulationCluster(workers=1) as here:
        alone = counts(here, 7)
    cluster.history.clear()
    spread = counts(cluster, 4)
    assert alone.sum() > 100, "too few spikes to compare"
    np.testing.assert_array_equal(alone, spread)
    assert len({h["pid"] for h in cluster.history}) == 2, "the chunks did not use 2 workers"


def test_simulate_precision_is_recorded(run_cli, tmp_path):
    """``simulate`` records the precision (format version 3, which also names the random
    generator) and stores u in it: float32 by default (the command's default; the Python
    API's RunConfig stays float64), float64 with ``--precision float64``; another
    precision is refused in one line."""
    stimuli = tmp_path / "x.npy"
    np.save(stimuli, _stimuli(4))
    assert RunConfig().precision == "float64"
    for precision, recorded in (("float64", "float64"), (None, "float32")):
        out = tmp_path / f"{recorded}.h5"
        extra = ("--precision", precision) if precision else ()
        code, stdout, stderr = run_cli("simulate", "--stimuli", stimuli, "--random-params",
                                       "--latents", 8, "--steps", 4, "--record", "u",
                                       "--out", out, *extra)
        assert code == 0, stderr
        assert f"precision: {recorded}" in stdout
        with h5py.File(out, "r") as f:
            assert f.attrs["format_version"] == 3
            assert f.attrs["random_generator"] == GENERATOR
            assert f.attrs["precision"] == recorded
            assert f["u"].dtype == np.dtype(recorded)
    code, _, stderr = run_cli("simulate", "--stimuli", stimuli, "--random-params",
                              "--precision", "float16", "--out", tmp_path / "no.h5")
    assert code == 2 and "invalid choice: 'float16'" in stderr
    assert not (tmp_path / "no.h5").exists()
    with pytest.raises(SimulationInputError, match="unknown precision 'float16'; allowed: "
                                                   "float64, float32"):
        RunConfig(precision="float16")
