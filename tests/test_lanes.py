"""Stimuli side by side (RunConfig.lanes): the same counts and potentials as one stimulus at
a time, whatever the lanes, chunks and workers; resolved where it can run, refused elsewhere."""
import numpy as np
import pytest

from ipvae_brian.models.config import LANES, RunConfig
from ipvae_brian.models.engines import simulate_counts
from ipvae_brian.models.engines.distributed import SimulationCluster
from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.network import IPVAENetwork
from ipvae_brian.models.parameters import IPVAEParameters

M, K, T = 64, 80, 8      # K = 80: not a multiple of the product's 64-row blocks


def _params():
    return IPVAEParameters.random(M, K, seed=1, column_norm=0.5).replace(
        u0=np.linspace(-2.0, 1.0, K))


def _x(n):
    return np.random.default_rng(0).standard_normal((n, M))


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_lanes_give_the_numbers_of_one_stimulus_at_a_time(precision):
    """7 stimuli from index 2, chunks of 6 (a full and a padded one): 4 lanes (2 groups per
    chunk, the last padded) give the counts and potentials of 1 lane, bit for bit."""
    results = []
    for lanes in (1, 4):
        net = IPVAENetwork(_params(), steps=T, engine="standalone", chunk_size=6, threads=1,
                           lateral="matrix", lanes=lanes, record_u=True, precision=precision)
        assert net.lanes == lanes
        results.append(simulate_counts(net, _x(7), seed=3, first_stimulus=2))
    (c1, u1), (c4, u4) = results
    assert c1.shape == (7, T, K) and c1.sum() > 1000 and (c1 == 0).mean() > 0.2
    np.testing.assert_array_equal(c1, c4)
    np.testing.assert_array_equal(u1, u4)


def test_counts_on_lanes_do_not_depend_on_workers_chunks_or_lanes():
    """Two worker processes, chunks of 5 in 4 lanes, against this process, chunks of 7 in
    3 lanes: the same counts for every stimulus (each draws from its own counters)."""
    params, x = _params(), _x(13)
    config = RunConfig(steps=T, engine="standalone", lateral="matrix")
    spread_config = config.replace(lanes=4, chunk_size=5).resolve(len(x), K)
    here_config = config.replace(lanes=3, chunk_size=7).resolve(len(x), K)
    assert (spread_config.lanes, here_config.lanes) == (4, 3)
    with SimulationCluster(workers=2) as cluster:
        cluster.client.wait_for_workers(2, timeout=120)
        spread = np.concatenate([c.counts for c in cluster.simulate(params, spread_config, x,
                                                                    seed=5)])
        pids = {h["pid"] for h in cluster.history}
    with SimulationCluster(workers=1) as here:
        alone = np.concatenate([c.counts for c in here.simulate(params, here_config, x,
                                                                seed=5)])
    assert len(pids) == 2, "the chunks did not use 2 workers"
    assert spread.sum() > 1000
    np.testing.assert_array_equal(spread, alone)


def test_resolve_picks_lanes_where_they_run_and_refuses_them_elsewhere():
    """The main job resolves to 16 lanes (standalone, lateral product); small runtime runs,
    streaming and continuous mode to 1; asking for lanes there is one clear error."""
    main = RunConfig(steps=128).resolve(10_000, 512)
    assert (main.engine, main.lateral, main.lanes) == ("standalone", "matrix", LANES)
    assert RunConfig(steps=128).resolve(10_000, 512).recording_attrs()["lanes"] == LANES
    assert RunConfig(steps=4).resolve(3, 8).lanes == 1                  # runtime engine
    assert RunConfig(steps=128, stream=True).resolve(10_000, 512).lanes == 1
    assert RunConfig(steps=128, dt=0.025 / 8).resolve(10_000, 512).lanes == 1
    assert RunConfig(steps=128, engine="standalone", lateral="matrix").resolve(5, 8).lanes == 5
    for bad in (dict(engine="runtime"), dict(stream=True), dict(lateral="synapses"),
                dict(dt=0.025 / 8)):
        with pytest.raises(SimulationInputError, match="--lanes 4: stimuli side by side need"):
            RunConfig(steps=16, lanes=4, **bad)
    with pytest.raises(SimulationInputError, match="--lanes 4: stimuli side by side need"):
        RunConfig(steps=4, lanes=4).resolve(3, 8)                        # resolves to runtime
