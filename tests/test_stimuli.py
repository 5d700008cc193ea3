"""Tests of stimuli/: the generators, the catalog and the preview figure (the embedded data
sets are in test_data_sets.py). Tolerances come from the definitions (exact where the formula is exact)
or from sampling theory (stated beside each)."""
from __future__ import annotations

import ast
import json
import math
import pathlib

import numpy as np
import pytest

from ipvae_brian.stimuli import catalog
from ipvae_brian.stimuli import natural16 as n16
from ipvae_brian.stimuli.digits8 import digits8
from ipvae_brian.stimuli.gratings import circular_aperture, drifting_grating, grating, plaid
from ipvae_brian.stimuli.moving_bar import bar_coverage, moving_bar
from ipvae_brian.stimuli.noise import sparse_noise, white_noise
from ipvae_brian.stimuli.stimulus_set import StimulusError, StimulusSet

REPO = pathlib.Path(__file__).resolve().parents[1]


# Gratings
# ------------------------------------------------------------------------------------------

def _fft_peak(image: np.ndarray):
    """(fx, fy) in cycles/pixel of the largest non-DC Fourier coefficient (y upward)."""
    n = image.shape[0]
    spectrum = np.abs(np.fft.fft2(image))
    spectrum[0, 0] = 0.0
    r, c = np.unravel_index(np.argmax(spectrum), spectrum.shape)
    freqs = np.fft.fftfreq(n)
    return freqs[c], -freqs[r]  # rows are counted downward, y upward


@pytest.mark.parametrize("size", [16, 32])
def test_grating_fft_peak_recovers_orientation_and_sf(size):
    one_bin = 1.0 / size
    for orientation in (0, 15, 30, 45, 60, 75, 90, 112.5, 135, 165):
        for sf in (0.1, 0.15, 0.2, 0.3, 0.4):
            image = grating(orientation=orientation, sf=sf, size=size).x[0].reshape(size, size)
            peak = np.array(_fft_peak(image))
            k = sf * np.array([math.cos(math.radians(orientation)),
                               math.sin(math.radians(orientation))])
            err = min(np.abs(peak - k).max(), np.abs(peak + k).max())  # real image: +-k
            assert err <= one_bin + 1e-12, (orientation, sf, peak, k)


def test_grating_on_the_fft_grid_is_recovered_exactly():
    size = 32
    for kx, ky in ((3, 0), (0, 5), (3, 2), (-4, 4), (2, -6)):
        sf = math.hypot(kx, ky) / size
        orientation = math.degrees(math.atan2(ky, kx))
        image = grating(orientation=orientation, sf=sf, size=size).x[0].reshape(size, size)
        fx, fy = _fft_peak(image)
        got_ori = math.degrees(math.atan2(fy, fx)) % 180
        assert got_ori == pytest.approx(orientation % 180, abs=1e-9)
        assert math.hypot(fx, fy) == pytest.approx(sf, abs=1e-12)


def test_orientation_convention():
    # 0 deg: vertical stripes (every row the same); 90 deg: horizontal stripes
    vertical = grating(orientation=0, sf=0.125).x[0].reshape(16, 16)
    assert np.allclose(vertical, vertical[0][None, :])
    horizontal = grating(orientation=90, sf=0.125).x[0].reshape(16, 16)
    assert np.allclose(horizontal, horizontal[:, :1])
    # y is upward: at 90 deg, sf 0.25, phase 90 the value is sqrt(2) sin(2 pi 0.25 y),
    # y = 7.5 - row: row 0 has y = 7.5 -> sin(3.75 pi) < 0, row 7 has y = 0.5 -> sin(pi/4) > 0
    g = grating(orientation=90, sf=0.25, phase=90).x[0].reshape(16, 16)
    y = 7.5 - np.arange(16)
    np.testing.assert_allclose(g[:, 0], math.sqrt(2) * np.sin(2 * math.pi * 0.25 * y),
                               atol=1e-12)
    # phase 0: a bright crest through the centre of an odd-sized image
    centre = grating(orientation=33, sf=0.2, size=17).x[0].reshape(17, 17)[8, 8]
    assert centre == pytest.approx(math.sqrt(2), abs=1e-12)


def test_contrast_scales_pixel_std_linearly():
    contrasts = [0.0, 0.1, 0.25, 0.5, 1.0, 2.0]
    # whole number of cycles (sf = 2/16): std = contrast exactly (amplitude sqrt(2) * c)
    s = grating(orientation=0, sf=0.125, contrast=contrasts)
    np.testing.assert_allclose(s.x.std(axis=1), contrasts, atol=1e-12)
    # any grating: std(c) = c * std(1), exactly linear
    s = grating(orientation=37, sf=0.17, phase=20, contrast=contrasts, diameter=11)
    unit = s.x[contrasts.index(1.0)].std()
    np.testing.assert_allclose(s.x.std(axis=1), np.array(contrasts) * unit, rtol=1e-12)


def test_drifting_grating_phase_advances_by_2_pi_tf_per_bin():
    size, kx, ky = 32, 4, 4  # wave vector on the FFT grid: one coefficient carries the phase
    sf, orientation = math.hypot(kx, ky) / size, 45.0
    for tf in (0.0625, 0.1, -0.2, 0.37):
        movie = drifting_grating(orientation=orientation, sf=sf, tf=tf, frames=20,
                                 size=size).x[0].reshape(20, size, size)
        # coefficient at +k: rows count downward, so fy = +k_y sits at row index -ky
        coeff = np.fft.fft2(movie)[:, (-ky) % size, kx % size]
        # s = cos(k.x - phase - 2 pi tf t): the coefficient at +k goes as exp(-i (phase + 2 pi tf t))
        temporal_phase = -np.angle(coeff)
        step = np.angle(np.exp(1j * np.diff(temporal_phase)))
        np.testing.assert_allclose(step, 2 * math.pi * tf, atol=1e-9)


def test_drifting_grating_moves_along_its_orientation():
    # tf / sf = 1 pixel per bin: each frame is the previous one moved by one pixel
    right = drifting_grating(orientation=0, sf=0.125, tf=0.125, frames=5).x[0].reshape(5, 16, 16)
    np.testing.assert_allclose(right[1:], np.roll(right[:-1], 1, axis=2), atol=1e-12)
    up = drifting_grating(orientation=90, sf=0.125, tf=0.125, frames=5).x[0].reshape(5, 16, 16)
    np.testing.assert_allclose(up[1:], np.roll(up[:-1], -1, axis=1), atol=1e-12)
    # frame 0 of a drifting grating is the static grating
    np.testing.assert_allclose(
        drifting_grating(orientation=30, sf=0.1, phase=40, frames=3).x[0, 0],
        grating(orientation=30, sf=0.1, phase=40).x[0], atol=1e-12)


def test_aperture_has_grey_surround():
    d = 9.0
    s = grating(orientation=20, sf=0.15, diameter=d)
    full = grating(orientation=20, sf=0.15).x[0].reshape(16, 16)
    img = s.x[0].reshape(16, 16)
    rows, cols = np.mgrid[0:16, 0:16]
    r = np.hypot(rows - 7.5, cols - 7.5)
    assert np.all(img[r > d / 2] == 0.0)
    np.testing.assert_array_equal(img[r <= d / 2], full[r <= d / 2])
    assert circular_aperture(16, d).sum() == np.count_nonzero(r <= d / 2)
    # an off-centre aperture (x right, y up)
    shifted = circular_aperture(16, 4, center_x=3, center_y=2)
    rr, cc = np.nonzero(shifted)
    assert np.mean(cc) == pytest.approx(7.5 + 3) and np.mean(rr) == pytest.approx(7.5 - 2)


def test_grating_condition_grid():
    s = grating(orientation=[0, 45, 90], sf=0.1, contrast=[0.5, 1.0], diameter=[None, 8])
    assert s.n_stimuli == 12 and s.labels.tolist() == list(range(12))
    assert s.params["grid_order"] == ["orientation", "sf", "phase", "contrast", "diameter"]
    cond = s.conditions()
    assert cond["orientation"].tolist() == [0] * 4 + [45] * 4 + [90] * 4
    assert cond["contrast"].tolist() == [0.5, 0.5, 1.0, 1.0] * 3
    assert cond["diameter"].tolist() == [None, 8.0] * 6
    for i in range(12):
        one = grating(orientation=cond["orientation"][i], sf=0.1,
                      contrast=cond["contrast"][i], diameter=cond["diameter"][i])
        np.testing.assert_array_equal(s.x[i], one.x[0])
    # the grid survives a JSON round trip (as in a recording) and head()
    back = StimulusSet(s.name, s.x, s.image_shape, json.loads(json.dumps(s.params)), s.labels)
    assert back.head(5).conditions()["contrast"].tolist() == [0.5, 0.5, 1.0, 1.0, 0.5]
    assert s.params["orientation"] == [0.0, 45.0, 90.0] and s.params["sf"] == 0.1


def test_plaid_is_test_plus_orthogonal_mask():
    p = plaid(orientation=30, sf=0.15, phase=10, contrast=0.5, mask_contrast=[0.0, 0.3])
    test_alone = grating(orientation=30, sf=0.15, phase=10, contrast=0.5).x[0]
    mask = grating(orientation=120, sf=0.15, contrast=0.3).x[0]
    np.testing.assert_allclose(p.x[0], test_alone, atol=1e-12)
    np.testing.assert_allclose(p.x[1], test_alone + mask, atol=1e-12)
    # whole cycles for both components: variance = c_test^2 + c_mask^2
    q = plaid(orientation=0, sf=0.125, contrast=0.5, mask_contrast=0.25)
    assert q.x[0].var() == pytest.approx(0.5 ** 2 + 0.25 ** 2, abs=1e-12)
    assert plaid(frames=6, tf=0.1).x.shape == (1, 6, 256)


# ------------------------------------------------------------------------------------------
# Moving bar
# ------------------------------------------------------------------------------------------

def _u(direction, size=16):
    c = (size - 1) / 2
    rows, cols = np.mgrid[0:size, 0:size]
    t = math.radians(direction)
    return ((cols - c) * math.cos(t) + (c - rows) * math.sin(t)).ravel()


@pytest.mark.parametrize("direction", [0, 30, 45, 90, 135, 180, 200, 270, 333])
def test_moving_bar_crosses_the_whole_field(direction):
    frames, blank = 24, 3
    movie = moving_bar(direction=direction, frames=frames, blank=blank).x[0]
    assert movie.shape == (frames + 2 * blank, 256)
    assert np.all(movie[:blank] == 0) and np.all(movie[-blank:] == 0)
    sweep = movie[blank:blank + frames]
    u = _u(direction)
    # first sweep frame touches the entry edge, last touches the exit edge
    assert sweep[0][np.argmin(u)] > 0 and sweep[-1][np.argmax(u)] > 0
    assert sweep[0][np.argmax(u)] == 0 and sweep[-1][np.argmin(u)] == 0
    # every pixel is crossed, and the bar advances every frame along the direction
    assert np.all(sweep.max(axis=0) > 0)
    centroid = (sweep * u).sum(axis=1) / sweep.sum(axis=1)
    assert np.all(np.diff(centroid) > 0)


def test_moving_bar_without_blank_starts_at_the_edge():
    movie = moving_bar(direction=0, frames=16, blank=0).x[0].reshape(16, 16, 16)
    assert np.all(movie[0][:, 0] > 0)       # column 0 (left edge) lit on frame 0
    assert np.all(movie[-1][:, -1] > 0)     # column 15 (right edge) lit on the last frame
    up = moving_bar(direction=90, frames=16, blank=0).x[0].reshape(16, 16, 16)
    assert np.all(up[0][-1, :] > 0) and np.all(up[-1][0, :] > 0)  # bottom row first, top last


def test_moving_bar_width_and_amplitude_are_exact():
    width, contrast = 0.2, 0.7
    amp = contrast / math.sqrt(width)
    movie = moving_bar(direction=0, frames=13, blank=0, width=width,
                       contrast=contrast).x[0].reshape(13, 16, 16)
    # the bar is 0.2 x 16 = 3.2 pixels wide in every row of every frame (exact coverage)
    np.testing.assert_allclose(movie.sum(axis=2) / amp, 3.2, atol=1e-12)
    assert movie.max() == pytest.approx(amp, abs=1e-12)
    # an oblique strip through the centre: area = sqrt(2) * 16 * w - w^2 / 2 inside the square
    w = 3.2
    mid = bar_coverage(16, 45.0, -w / 2, w / 2)
    assert mid.sum() == pytest.approx(math.sqrt(2) * 16 * w - w ** 2 / 2, abs=1e-9)
    dark = moving_bar(direction=0, frames=13, blank=0, polarity=-1, contrast=contrast).x[0]
    np.testing.assert_array_equal(dark, -movie.reshape(13, 256))


# ------------------------------------------------------------------------------------------
# Noise
# ------------------------------------------------------------------------------------------

def test_white_noise_statistics_and_seeds():
    n, c = 2000, 0.8
    s = white_noise(n=n, contrast=c, seed=3)
    count = s.x.size
    # sampling error of the mean: c / sqrt(count); of the variance: c^2 sqrt(2 / count)
    assert abs(s.x.mean()) < 5 * c / math.sqrt(count)
    assert abs(s.x.var() / c ** 2 - 1) < 5 * math.sqrt(2 / count)
    np.testing.assert_array_equal(white_noise(n=100, contrast=c, seed=3).x, s.x[:100])
    assert not np.array_equal(white_noise(n=10, seed=4).x, white_noise(n=10, seed=3).x)
    b = white_noise(n=50, distribution="binary", contrast=0.5, seed=1)
    assert set(np.unique(b.x)) == {-0.5, 0.5}
    np.testing.assert_array_equal(white_noise(n=20, distribution="binary", contrast=0.5,
                                              seed=1).x, b.x[:20])
    assert white_noise(n=4, frames=7).x.shape == (4, 7, 256)


def test_sparse_noise_single_pixels():
    c = 0.5
    s = sparse_noise(contrast=c)
    m = 256
    assert s.x.shape == (2 * m, m)
    nonzero = np.count_nonzero(s.x, axis=1)
    assert np.all(nonzero == 1)
    np.testing.assert_allclose(np.abs(s.x).max(axis=1), c * math.sqrt(m))
    pix = np.argmax(np.abs(s.x), axis=1)
    sign = np.sign(s.x[np.arange(2 * m), pix])
    np.testing.assert_array_equal(pix, s.labels % m)
    np.testing.assert_array_equal(sign, np.where(s.labels < m, 1, -1))
    # exhaustive set: mean 0, mean square exactly contrast^2 (the natural16 variance at c = 1)
    assert s.x.mean() == pytest.approx(0.0, abs=1e-15)
    assert np.mean(s.x ** 2) == pytest.approx(c ** 2, rel=1e-12)
    r = sparse_noise(n=300, seed=5)
    np.testing.assert_array_equal(sparse_noise(n=30, seed=5).x, r.x[:30])
    assert r.labels.min() >= 0 and r.labels.max() < 2 * m


# ------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------

def test_bad_parameters_name_the_parameter_and_its_range():
    with pytest.raises(StimulusError) as e:
        grating(contrast=-0.5)
    assert "contrast = -0.5" in str(e.value) and "allowed range: contrast >= 0" in str(e.value)
    with pytest.raises(StimulusError) as e:
        grating(sf=0.6)
    msg = str(e.value)
    assert "sf = 0.6" in msg and "Nyquist" in msg and "0 <= sf <= 0.5 cycles/pixel" in msg
    with pytest.raises(StimulusError, match=r"tf = 0.7 .*-0.5 <= tf <= 0.5 cycles/bin"):
        drifting_grating(tf=0.7)
    with pytest.raises(StimulusError, match=r"diameter = -3 pixels .*diameter > 0 pixels"):
        grating(diameter=-3)
    with pytest.raises(StimulusError, match=r"frames = 1 bins .*frames >= 2 bins"):
        moving_bar(frames=1)
    with pytest.raises(StimulusError, match=r"polarity = 2 .*1 \(bright\) or -1 \(dark\)"):
        moving_bar(polarity=2)
    with pytest.raises(StimulusError, match=r"mask_contrast = -1 .*mask_contrast >= 0"):
        plaid(mask_contrast=-1)
    with pytest.raises(StimulusError, match=r"distribution = 'pink' .*gaussian, binary"):
        white_noise(distribution="pink")


def test_catalog_errors_list_the_valid_choices():
    with pytest.raises(StimulusError) as e:
        catalog.load("natural32:test")
    msg = str(e.value)
    assert "unknown stimulus set 'natural32'" in msg
    assert all(name in msg for name in ("natural16", "digits8", "grating", "moving_bar",
                                        "white_noise", "sparse_noise"))
    with pytest.raises(StimulusError) as e:
        catalog.load("grating:orientation=45,spatial_frequency=0.1")
    assert "unknown parameter 'spatial_frequency' for grating" in str(e.value)
    assert "orientation, sf, phase, contrast, diameter" in str(e.value)
    with pytest.raises(StimulusError, match=r"n = 600 .*allowed 1 to 597"):
        catalog.load("digits8:test", n=600)
    with pytest.raises(StimulusError, match=r"n = 13 .*allowed 1 to 12"):
        catalog.load("grating:orientation=0/30/60/90/120/150,contrast=0.5/1", n=13)
    with pytest.raises(StimulusError, match=r"split = 'validation' .*train or test"):
        catalog.load("digits8:validation")
    with pytest.raises(StimulusError, match=r"contrast = -1 .*contrast >= 0"):
        catalog.load("grating:contrast=-1")


# ------------------------------------------------------------------------------------------
# Catalog
# ------------------------------------------------------------------------------------------

def test_available_lists_every_set_with_sizes():
    entries = catalog.available()
    assert [e["name"] for e in entries] == ["natural16", "digits8", "grating",
                                           "drifting_grating", "plaid", "moving_bar",
                                           "white_noise", "sparse_noise"]
    for e in entries:
        assert set(e) == {"name", "kind", "size", "description", "parameters"}
        assert e["kind"] in ("data set", "generator") and e["size"] and e["parameters"]
    by_name = {e["name"]: e for e in entries}
    assert by_name["natural16"]["size"] == "50,000 train / 10,000 test patches, 16x16"
    assert "1,200 train / 597 test" in by_name["digits8"]["size"]
    # every generator parameter is listed with its unit or meaning and its default
    for entry in catalog.ENTRIES.values():
        if entry.kind == "generator":
            for key in catalog._generator_parameters(entry.function):
                assert key in catalog.PARAMETER_HELP
                assert f"{key} (" in by_name[entry.name]["parameters"]


def test_spec_parsing():
    assert catalog.parse_spec("grating:orientation=0/45,sf=0.1,diameter=none") == (
        "grating", [], {"orientation": [0, 45], "sf": 0.1, "diameter": None})
    assert catalog.parse_spec("natural16:test") == ("natural16", ["test"], {})
    assert catalog.parse_value("-3") == -3 and catalog.parse_value("1e-2") == 0.01
    with pytest.raises(StimulusError, match="empty argument"):
        catalog.parse_spec("grating:sf=0.1,,contrast=1")


# ------------------------------------------------------------------------------------------
# Preview figure, package hygiene
# ------------------------------------------------------------------------------------------

def test_preview_figures(tmp_path):
    from PIL import Image

    from ipvae_brian.analysis.stimulus_figures import plot_stimulus_preview
    images = plot_stimulus_preview(catalog.load("grating:orientation=0/45/90,sf=0.1/0.2"),
                                   tmp_path / "grating.png", n_examples=6)
    movies = plot_stimulus_preview(catalog.load("moving_bar:direction=0/90,frames=12,blank=2"),
                                   tmp_path / "bar.png", n_examples=8)
    for path in (images, movies):
        with Image.open(path) as im:
            assert im.format == "PNG"
            assert im.info["dpi"] == pytest.approx((200, 200), abs=0.5)
            width, height = im.size
        assert width > 400 and height > 300
    with Image.open(movies) as im:
        assert im.size[0] > im.size[1] * 2  # a strip: 8 frames per row, 2 rows


def test_stimuli_imports_point_one_way():
    forbidden = ("models", "learning", "analysis", "cli", "run_sim")
    for path in (REPO / "stimuli").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mods = [node.module or ""]
            else:
                continue
            for mod in mods:
                parts = mod.split(".")
                top = parts[1] if parts[0] == "ipvae_brian" and len(parts) > 1 else parts[0]
                assert top not in forbidden, f"{path.name} imports {mod}"


def test_public_functions_have_numpydoc_sections():
    import ipvae_brian.stimuli as stimuli
    functions = [grating, drifting_grating, plaid, circular_aperture, moving_bar, bar_coverage,
                 white_noise, sparse_noise, digits8, n16.natural16, n16.whiten,
                 n16.load_images, n16.load_image, n16.sample_patches, catalog.load,
                 catalog.parse_spec]
    for f in functions:
        doc = f.__doc__ or ""
        assert "Parameters\n    ----------" in doc and "Returns\n    -------" in doc, f.__name__
    assert "Returns\n    -------" in catalog.available.__doc__
    assert callable(stimuli.natural16.natural16) and callable(stimuli.moving_bar.moving_bar)
