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


def test_new_clamps_rerun_the_loaded_program_and_give_the_reference_potentials():
    """The clamps c_u, c_du and u_floor are run-time values of the loaded program (learning
    releases them every minibatch): parameters that differ only in their clamps reuse the
    loaded build (no rebuild, same folder), and the recorded potentials are those of the
    numpy reference update with the new clamps, with the clamps active."""
    from ipvae_brian.models.config import RunConfig
    from ipvae_brian.models.reference import membrane_update
    from ipvae_brian.models.simulation import simulate
    base = IPVAEParameters.random(16, 8, seed=1, column_norm=0.8).replace(
        u0=np.full(8, 0.5), log_lr=np.log(0.5))
    x = np.random.default_rng(1).standard_normal((4, 16)) * 3
    config = RunConfig(steps=6, record=("u",), engine="standalone", chunk_size=4,
                       threads=1, workers=1)
    folders = []
    for clamp in (1.0, 1.5, 3.0):
        params = base.replace(c_u=clamp, c_du=clamp, u_floor=-2.0)
        result = simulate(params, x, config, seed=2)
        folders.append(standalone._loaded.directory)
        u = np.broadcast_to(params.u0, (4, 8)).copy()
        drive = params.feedforward_drive(x)
        for t in range(6):
            np.testing.assert_allclose(result.u[:, t], u, atol=1e-12)
            u = membrane_update(params, u, result.counts[:, t].astype(float), drive)
        assert result.u.max() <= clamp + 1e-12            # the ceiling at work
    assert len(set(folders)) == 1
