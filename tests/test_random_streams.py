"""The counter-based Poisson generator (models/random_streams.py): Poisson in distribution,
independent across neurons, steps and stimuli, and the same counts from C++, Cython and numpy."""
import numpy as np
import pytest
from scipy import stats

from ipvae_brian.models.engines import simulate_counts
from ipvae_brian.models.network import IPVAENetwork
from ipvae_brian.models.parameters import IPVAEParameters
from ipvae_brian.models.random_streams import counter_words, poisson_counts, stream_key


@pytest.mark.parametrize("lam", [0.02, 0.4, 1.0, 2.5, 9.99, 10.0, 37.0])
def test_counts_are_poisson(lam):
    """40,000 counters (one stimulus, 80 steps x 500 neurons): mean and variance within 4
    standard errors of lam, and a chi-square test against Poisson(lam) (bins with an
    expected count of at least 5, the tails pooled) at p > 0.001."""
    n = 40_000
    k = poisson_counts(np.full(n, lam), 7, 3, np.arange(n) // 500, np.arange(n) % 500)
    assert abs(k.mean() - lam) < 4 * np.sqrt(lam / n)
    assert abs(k.var() - lam) < 4 * np.sqrt((2 * lam ** 2 + lam) / n)
    values = np.arange(k.max() + 2)
    expected = n * stats.poisson.pmf(values, lam)
    keep = expected >= 5
    lo, hi = values[keep][0], values[keep][-1]
    observed = np.array([np.sum(k <= lo)] + [np.sum(k == v) for v in range(lo + 1, hi)]
                        + [np.sum(k >= hi)])
    probs = np.array([stats.poisson.cdf(lo, lam)] + [stats.poisson.pmf(v, lam) for v in
                                                      range(lo + 1, hi)]
                     + [stats.poisson.sf(hi - 1, lam)])
    if len(observed) > 1:
        assert stats.chisquare(observed, n * probs / probs.sum()).pvalue > 1e-3


def test_neighbouring_counters_are_uncorrelated():
    """Rate 1: the correlation of counts of neighbouring neurons, steps, stimuli and keys is
    within 4 / sqrt(n) of 0, and the counter words are all distinct."""
    steps, K = 100, 400
    s, k = np.arange(steps)[:, None], np.arange(K)[None, :]
    z = poisson_counts(np.ones((steps, K)), 11, 0, s, k).astype(float)
    pairs = [(z[:, :-1], z[:, 1:]), (z[:-1], z[1:]),
             (z, poisson_counts(np.ones((steps, K)), 11, 1, s, k)),
             (z, poisson_counts(np.ones((steps, K)), 12, 0, s, k))]
    for a, b in pairs:
        assert abs(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1]) < 4 / np.sqrt(np.size(a))
    words = counter_words(-5, np.arange(50)[:, None, None], s[None], k[None])
    assert np.unique(words).size == words.size


@pytest.mark.parametrize("engine", ["runtime", "standalone"])
def test_network_draws_the_numpy_twin_counts_in_every_bin(engine):
    """No lateral input and zero drive, so u follows its own update from u0 whatever the
    counts: every count of the network (4 stimuli from index 3, 6 bins, rates from 0.05 to
    60, a negative seed key) equals the numpy twin's draw from the same rates."""
    K, T = 12, 6
    params = IPVAEParameters.random(16, K, seed=2, column_norm=0.5).replace(
        u0=np.linspace(-3.0, 4.1, K))
    options = dict(engine=engine, lateral_inhibition=False, record_u=True, chunk_size=4)
    if engine == "standalone":
        options["threads"] = 1
    net = IPVAENetwork(params, steps=T, lateral="matrix", **options)
    seed = 21                                         # stream_key(21) < 0
    counts, u = simulate_counts(net, np.zeros((4, 16)), seed=seed, first_stimulus=3)
    expected = poisson_counts(np.exp(u.astype(np.float64)), stream_key(seed),
                              3 + np.arange(4)[:, None, None], np.arange(T)[None, :, None],
                              np.arange(K)[None, None, :])
    assert counts.sum() > 500 and (expected >= 10).any()
    np.testing.assert_array_equal(counts, expected)
