"""HDF5 round trips of parameters and recordings; files readable with plain h5py."""
import json
import os

import h5py
import numpy as np
import pytest

from ipvae_brian.models.errors import FileFormatError, ParameterError
from ipvae_brian.models.network import IPVAENetwork
from ipvae_brian.models.parameters import IPVAEParameters
from ipvae_brian.models.recording import Recording, RecordingWriter
from ipvae_brian.stimuli.stimulus_set import StimulusSet


def _all_datasets(f):
    found = []
    f.visititems(lambda name, obj: found.append(obj) if isinstance(obj, h5py.Dataset) else None)
    return found


def test_parameters_round_trip(tmp_path):
    p = IPVAEParameters.random(20, 7, seed=2).replace(
        log_lr=-0.3, c_u=9.0, beta=3.5, provenance={"seed": 2, "note": "test"})
    path = tmp_path / "p.h5"
    p.save(path)
    q = IPVAEParameters.load(path)
    for name in ("Phi", "log_sigma", "u0", "log_bias"):
        np.testing.assert_array_equal(getattr(q, name), getattr(p, name))
    for name in ("log_lr", "c_u", "c_du", "u_floor", "beta"):
        assert getattr(q, name) == getattr(p, name)
    assert q.provenance == {"seed": 2, "note": "test"}
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == "ipvae-brian/parameters"
        assert f.attrs["format_version"] == 1
        assert all("description" in d.attrs for d in _all_datasets(f))


def test_recording_round_trip(tmp_path):
    params = IPVAEParameters.random(16, 10, seed=1, column_norm=0.8)
    x = np.random.default_rng(3).standard_normal((7, 16))
    stim = StimulusSet("test-noise", x, (4, 4), params={"sigma": 1.0, "tags": [1, 2]},
                       labels=np.arange(7))
    net = IPVAENetwork(params, steps=5, record_u=True, chunk_size=3)
    chunks = list(net.run(x, seed=9))
    path = tmp_path / "rec.h5"
    with RecordingWriter(path, params, stim, 5, attrs={"seed": 9, "mode": "discrete"},
                         record=("u", "recon")) as w:
        for c in chunks:
            w.append(c)
    counts = np.concatenate([c.counts for c in chunks])
    u = np.concatenate([c.u for c in chunks])
    with Recording.open(path) as rec:
        np.testing.assert_array_equal(rec.counts[()], counts)
        np.testing.assert_array_equal(rec.u[()], u)
        np.testing.assert_array_equal(rec.reconstructions[()],
                                      (counts @ params.Phi.T).astype(np.float32))
        np.testing.assert_array_equal(rec.stimuli.x, x)
        np.testing.assert_array_equal(rec.stimuli.labels, np.arange(7))
        assert rec.stimuli.params == {"sigma": 1.0, "tags": [1, 2]}
        assert rec.stimuli.image_shape == (4, 4)
        np.testing.assert_array_equal(rec.params.Phi, params.Phi)
        assert rec.attrs["seed"] == 9 and rec.attrs["steps"] == 5
    with h5py.File(path, "r") as f:  # plain h5py, no project code
        assert f.attrs["format"] == "ipvae-brian/recording"
        assert f["counts"].shape == (7, 5, 10) and f["counts"].dtype == np.uint16
        assert f["stimuli"].attrs["generator"] == "test-noise"
        assert f["stimuli"].attrs["param_sigma"] == 1.0
        assert json.loads(f["stimuli"].attrs["params"])["tags"] == [1, 2]
        missing = [d.name for d in _all_datasets(f) if "description" not in d.attrs]
        assert missing == []


def test_incomplete_recording_is_not_left_behind(tmp_path):
    params = IPVAEParameters.random(16, 4, seed=1)
    stim = StimulusSet("s", np.zeros((3, 16)), (4, 4))
    path = tmp_path / "rec.h5"
    with pytest.raises(RuntimeError):
        with RecordingWriter(path, params, stim, 2):
            raise RuntimeError("simulated crash")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("change,message", [
    (dict(u0=np.zeros(5)), "u0 has shape (5,), expected (4,)"),
    (dict(log_sigma=np.zeros(3)), "log_sigma has shape (3,), expected (16,)"),
    (dict(Phi=np.full((16, 4), np.nan)), "parameter Phi contains 64 NaN or infinite value(s)"),
    (dict(log_lr=np.inf), "parameter log_lr contains 1 NaN or infinite value(s)"),
    (dict(u_floor=12.0), "u_floor (12.0) must be below c_u (10.0)"),
])
def test_invalid_parameters_are_rejected(change, message):
    with pytest.raises(ParameterError) as err:
        IPVAEParameters.random(16, 4, seed=0).replace(**change)
    assert message in str(err.value)


def test_sigma_soft_clamp():
    p = IPVAEParameters.random(3, 2, seed=0).replace(log_sigma=np.array([0.0, 50.0, -50.0]))
    np.testing.assert_allclose(p.sigma, [1.0, np.exp(3.45), np.exp(-3.45)], rtol=1e-9)


def test_corrupt_parameter_file(tmp_path):
    path = tmp_path / "p.h5"
    IPVAEParameters.random(64, 32, seed=0).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(FileFormatError, match="not a readable HDF5 file"):
        IPVAEParameters.load(path)


def test_output_files_get_the_usual_permissions_not_mkstemp_0600(tmp_path):
    # files are written to a mkstemp temporary (mode 0600) and renamed; other users of a
    # lab's shared folder must still be able to read them: mode = 0666 & ~umask
    import stat
    from ipvae_brian.models.atomic_file import atomic_output
    old = os.umask(0o022)
    try:
        with atomic_output(tmp_path / "out.h5") as tmp:
            open(tmp, "w").write("x")
        assert stat.S_IMODE(os.stat(tmp_path / "out.h5").st_mode) == 0o644
        os.umask(0o002)
        IPVAEParameters.random(4, 3, seed=0).save(tmp_path / "p.h5")
        assert stat.S_IMODE(os.stat(tmp_path / "p.h5").st_mode) == 0o664
    finally:
        os.umask(old)
