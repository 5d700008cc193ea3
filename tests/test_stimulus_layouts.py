"""Stimulus files: every array layout is read as what it is, an ambiguous one is refused
with both readings named, and the simulate header says what it understood."""
import h5py
import numpy as np
import pytest

from ipvae_brian.models.parameters import IPVAEParameters
from ipvae_brian.stimuli.stimulus_file import choose_layout, load_stimulus_file
from ipvae_brian.stimuli.stimulus_set import StimulusError

SHIPPED = (256, 64)   # the pixel counts parameters ship for


def _save(tmp_path, shape, name="x.npy"):
    x = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    np.save(tmp_path / name, x)
    return tmp_path / name, x


def test_flat_images_n_by_m(tmp_path):
    path, x = _save(tmp_path, (5, 64))
    s = load_stimulus_file(str(path), pixels=SHIPPED)
    assert (s.n_stimuli, s.n_pixels, s.image_shape, s.is_movie) == (5, 64, (8, 8), False)
    np.testing.assert_array_equal(s.x, x)


def test_image_stack_n_h_w_is_images_not_movies(tmp_path):
    # the case: (N, 16, 16) was read as N movies of 16 frames of 4 x 4 pixels
    path, x = _save(tmp_path, (7, 16, 16))
    s = load_stimulus_file(str(path), pixels=SHIPPED, steps=16)
    assert (s.n_stimuli, s.image_shape, s.is_movie) == (7, (16, 16), False)
    np.testing.assert_array_equal(s.x[3].reshape(16, 16), x[3])   # row-major, no transpose
    assert s.params["layout"] == "images" and s.params["file_shape"] == [7, 16, 16]


def test_non_square_image_stack(tmp_path):
    path, x = _save(tmp_path, (3, 4, 16))
    s = load_stimulus_file(str(path), pixels=(64,), pixels_required=True)
    assert (s.image_shape, s.is_movie, s.n_pixels) == ((4, 16), False, 64)


def test_flat_movies_n_t_m(tmp_path):
    path, x = _save(tmp_path, (4, 12, 256))
    s = load_stimulus_file(str(path), pixels=SHIPPED)
    assert (s.n_stimuli, s.n_frames, s.image_shape, s.is_movie) == (4, 12, (16, 16), True)
    np.testing.assert_array_equal(s.x, x)


def test_movies_n_t_h_w(tmp_path):
    path, x = _save(tmp_path, (3, 5, 8, 8))
    s = load_stimulus_file(str(path))
    assert (s.n_stimuli, s.n_frames, s.image_shape, s.is_movie) == (3, 5, (8, 8), True)
    np.testing.assert_array_equal(s.x[2, 4].reshape(8, 8), x[2, 4])


def test_hdf5_image_shape_attribute_decides(tmp_path):
    path = tmp_path / "x.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.zeros((2, 8, 64))).attrs["image_shape"] = (8, 8)
    s = load_stimulus_file(str(path))          # any M would fit: the attribute decides
    assert (s.is_movie, s.n_frames, s.image_shape) == (True, 8, (8, 8))


AMBIGUOUS = ("{path} of shape (6, 8, 8) can be read two ways with these parameters: 6 images "
             "of 8 x 8 pixels (M = 64), or 6 movies of 8 frames of 8 pixels (M = 8); say "
             "which with --stimulus-layout images or --stimulus-layout movies")


def test_ambiguous_shape_is_refused_naming_both_readings(tmp_path):
    path, _ = _save(tmp_path, (6, 8, 8))
    with pytest.raises(StimulusError) as info:
        load_stimulus_file(str(path), pixels=None, steps=8)   # random parameters: any M
    assert str(info.value) == AMBIGUOUS.format(path=path)
    # the flag picks one; --steps that no movie fits also decides
    assert not load_stimulus_file(str(path), layout="images").is_movie
    assert load_stimulus_file(str(path), layout="movies").n_frames == 8
    assert not load_stimulus_file(str(path), steps=16).is_movie


def test_choose_layout_by_the_parameters_pixels():
    assert choose_layout((9, 16, 16), pixels=SHIPPED) == "images"
    assert choose_layout((9, 32, 256), pixels=SHIPPED) == "movies"
    assert choose_layout((9, 8, 8), pixels=(64,), pixels_required=True) == "images"
    assert choose_layout((9, 8, 8), pixels=(8,), pixels_required=True) == "movies"
    with pytest.raises(StimulusError, match="can be read two ways"):
        choose_layout((9, 16, 16), pixels=(256, 16))


def test_cli_ambiguous_message_and_exit_2(run_cli, tmp_path):
    path, _ = _save(tmp_path, (6, 8, 8))
    out = tmp_path / "r.h5"
    code, stdout, stderr = run_cli("simulate", "--stimuli", path, "--random-params",
                                   "--latents", 8, "--steps", 8, "--out", out, "--quiet")
    assert code == 2 and stderr == "error: " + AMBIGUOUS.format(path=path) + "\n"
    assert not out.exists()


def test_cli_header_names_the_shape_understood(run_cli, tmp_path):
    path, _ = _save(tmp_path, (3, 8, 8))
    params = tmp_path / "p.h5"
    IPVAEParameters.random(64, 8, seed=0).save(params)
    out = tmp_path / "r.h5"
    code, stdout, stderr = run_cli("simulate", "--stimuli", path, "--params", params,
                                   "--steps", 4, "--out", out, "--engine", "runtime")
    assert code == 0, stderr
    assert "file array of shape (3, 8, 8) read as 3 images of 8 x 8 pixels" in stdout
    with h5py.File(out, "r") as f:
        assert f["counts"].shape == (3, 4, 8) and f["stimuli/x"].shape == (3, 64)
