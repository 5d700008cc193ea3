"""The cpp_standalone build cache: one compilation per network shape, reused by later builds."""
import os

import numpy as np

from ipvae_brian.models.engines import simulate_counts, standalone
from ipvae_brian.models.network import IPVAENetwork
from ipvae_brian.models.parameters import IPVAEParameters


def test_a_rebuild_of_a_shape_neither_recompiles_nor_relinks_and_gives_the_same_counts():
    """A second build of the same shape (as in a new process: the first is unloaded)
    regenerates Brian2's objects but leaves the compiled program untouched: ``main``
    keeps its modification time (Brian2 rewrites main.cpp in a different order in every
    build, so make alone would relink it), and the counts are the same bit for bit."""
    params = IPVAEParameters.random(16, 8, seed=0, column_norm=0.5)
    x = np.random.default_rng(0).standard_normal((3, 16)) * 2

    def network():
        return IPVAENetwork(params, 6, engine="standalone", lateral="matrix", chunk_size=2)

    first, _ = simulate_counts(network(), x, seed=4)
    program = standalone._loaded
    main = os.path.join(program.directory, "main")
    assert os.path.exists(os.path.join(program.directory, standalone.COMPILED_MARKER))
    compiled_at = os.stat(main).st_mtime_ns
    program.unload()
    rebuilt = network()
    again, _ = simulate_counts(rebuilt, x, seed=4)
    assert standalone._loaded is not program
    assert rebuilt.timings["build_reused"] is False
    assert os.stat(main).st_mtime_ns == compiled_at
    np.testing.assert_array_equal(again, first)
    assert first.sum() > 0
