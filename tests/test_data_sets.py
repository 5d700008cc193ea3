"""Tests of the embedded data sets (docs/data.md): natural16, built once from a cold cache
into a temporary folder, and digits8. Tolerances come from the definitions (exact where the
formula is exact) or from sampling theory (stated beside each)."""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np
import pytest

from ipvae_brian.stimuli import catalog
from ipvae_brian.stimuli import natural16 as n16
from ipvae_brian.stimuli.digits8 import digits8
from ipvae_brian.stimuli.gratings import grating
from ipvae_brian.stimuli.stimulus_set import StimulusError


REPO = pathlib.Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------
# natural16
# ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def natural(tmp_path_factory):
    """Both default natural16 splits, built once from a cold cache in a temporary folder."""
    cache = tmp_path_factory.mktemp("ipvae-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IPVAE_CACHE_DIR", str(cache))
        start = time.perf_counter()
        train = n16.natural16("train")
        test = n16.natural16("test")
        seconds = time.perf_counter() - start
        yield {"train": train, "test": test, "cache": cache, "build_seconds": seconds}


def _sha(x: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()


def test_natural16_sizes_and_provenance(natural):
    train, test = natural["train"], natural["test"]
    assert train.x.shape == (50_000, 256) and test.x.shape == (10_000, 256)
    assert train.image_shape == (16, 16) and not train.is_movie
    assert train.name == "natural16:train" and test.name == "natural16:test"
    assert test.params["images"] == ["chelsea", "gravel", "flower"]
    assert test.params["seed"] == 1 and train.params["seed"] == 0
    json.dumps(train.params)  # storable in a recording
    # the build is reported, not asserted (docs: "measure it, don't make it a timed test")
    print(f"natural16 cold build (train + test): {natural['build_seconds']:.2f} s")


def test_natural16_train_is_z_scored_and_test_statistics_are_reported(natural):
    train, test = natural["train"], natural["test"]
    assert abs(np.mean(train.x)) < 1e-6
    assert abs(np.std(train.x) - 1.0) < 1e-6
    # the test split uses the train scalars: its own statistics are reported, not forced
    assert test.params["split_pixel_mean"] == pytest.approx(np.mean(test.x), abs=1e-12)
    assert test.params["split_pixel_std"] == pytest.approx(np.std(test.x), rel=1e-12)
    assert abs(np.std(test.x) - 1.0) > 1e-6
    assert test.params["train_mean"] == train.params["train_mean"]
    assert test.params["train_std"] == train.params["train_std"]
    print(f"natural16 test split: mean {np.mean(test.x):.4f}, std {np.std(test.x):.4f}")


def test_natural16_patches_pass_the_contrast_rule(natural):
    for split in ("train", "test"):
        s = natural[split]
        whitened_std = np.std(s.x, axis=1) * s.params["train_std"]  # undo the z-score scale
        assert whitened_std.min() >= n16.MIN_PATCH_STD * (1 - 1e-12)


def _independent_first_patches(split: str, count: int, train_mean: float, train_std: float):
    """docs/data.md re-implemented from its text for the first ``count`` patches."""
    import skimage.data
    import skimage.io
    from sklearn.datasets import load_sample_image

    def gray(a):
        a = a.astype(np.float64) / 255
        return a if a.ndim == 2 else 0.299 * a[..., 0] + 0.587 * a[..., 1] + 0.114 * a[..., 2]

    loaders = {
        "chelsea": skimage.data.chelsea, "gravel": skimage.data.gravel,
        "camera": skimage.data.camera, "astronaut": skimage.data.astronaut,
        "coffee": skimage.data.coffee, "grass": skimage.data.grass,
        "brick": skimage.data.brick, "rocket": skimage.data.rocket,
        "flower": lambda: load_sample_image("flower.jpg"),
        "china": lambda: load_sample_image("china.jpg"),
        "motorcycle_left": lambda: skimage.io.imread(
            pathlib.Path(skimage.data.__file__).parent / "motorcycle_left.png"),
    }
    names = {"train": ["camera", "astronaut", "coffee", "grass", "brick", "rocket",
                       "motorcycle_left", "china"],
             "test": ["chelsea", "gravel", "flower"]}[split]
    images = []
    for name in names:
        im = gray(loaders[name]())
        im = im - im.mean()
        fy = np.fft.fftfreq(im.shape[0])[:, None]
        fx = np.fft.fftfreq(im.shape[1])[None, :]
        f = np.sqrt(fx ** 2 + fy ** 2)
        out = np.real(np.fft.ifft2(np.fft.fft2(im) * f * np.exp(-(f / 0.4) ** 4)))
        images.append((out / out.std())[4:-4, 4:-4])
    rng = np.random.default_rng({"train": 0, "test": 1}[split])
    patches = []
    for i in range(count):
        im = images[i % len(images)]
        while True:
            r = rng.integers(0, im.shape[0] - 16 + 1)
            c = rng.integers(0, im.shape[1] - 16 + 1)
            p = im[r:r + 16, c:c + 16].reshape(-1)
            if np.std(p) >= 0.5:
                break
        patches.append(p)
    return (np.array(patches) - train_mean) / train_std


@pytest.mark.parametrize("split", ["train", "test"])
def test_natural16_matches_the_written_definition(natural, split):
    s = natural[split]
    expected = _independent_first_patches(split, 40, s.params["train_mean"],
                                          s.params["train_std"])
    np.testing.assert_allclose(s.x[:40], expected, rtol=0, atol=1e-12)


def test_natural16_identical_across_builds_and_processes(natural, tmp_path):
    rebuilt = n16.build_natural16()
    np.testing.assert_array_equal(rebuilt["train"][0], natural["train"].x)
    np.testing.assert_array_equal(rebuilt["test"][0], natural["test"].x)
    code = ("import hashlib, numpy as np\n"
            "from stimuli.natural16 import natural16\n"
            "for s in ('train', 'test'):\n"
            "    x = np.ascontiguousarray(natural16(s).x)\n"
            "    print(hashlib.sha256(x.tobytes()).hexdigest())\n")
    env = {**os.environ, "IPVAE_CACHE_DIR": str(tmp_path / "other-cache"),
           "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True,
                         capture_output=True, text=True, timeout=120).stdout.split()
    assert out == [_sha(natural["train"].x), _sha(natural["test"].x)]
    assert len(list((tmp_path / "other-cache").glob("natural16-*.npz"))) == 2


def test_natural16_cache_is_keyed_by_the_definition(natural, monkeypatch):
    monkeypatch.setenv("IPVAE_CACHE_DIR", str(natural["cache"]))
    sha = n16.definition_sha256()
    files = sorted(p.name for p in natural["cache"].glob("*.npz"))
    assert files == [f"natural16-test-{sha[:16]}.npz", f"natural16-train-{sha[:16]}.npz"]
    assert not list(natural["cache"].glob("*.tmp"))  # atomic writes leave no temp file
    # a changed definition gets another file name, so it rebuilds instead of reusing
    monkeypatch.setattr(n16, "F0", 0.5)
    assert n16.definition_sha256() != sha
    monkeypatch.setattr(n16, "F0", 0.4)
    monkeypatch.setattr(n16, "DEFINITION_VERSION", n16.DEFINITION_VERSION + 1)
    assert n16.definition_sha256() != sha
    monkeypatch.undo()
    # reading back from disk (not from memory) gives the same patches
    monkeypatch.setenv("IPVAE_CACHE_DIR", str(natural["cache"]))
    monkeypatch.setattr(n16, "_MEMO", {})
    np.testing.assert_array_equal(n16.natural16("test").x, natural["test"].x)
    # a damaged file is ignored, not trusted
    bad = natural["cache"] / "garbage.npz"
    bad.write_bytes(b"not a zip file")
    assert n16._read_cache(bad, "test", sha) is None


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("IPVAE_CACHE_DIR", str(tmp_path / "a"))
    assert n16.cache_dir() == tmp_path / "a"
    monkeypatch.delenv("IPVAE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert n16.cache_dir() == tmp_path / "xdg" / "ipvae-brian"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert n16.cache_dir() == pathlib.Path.home() / ".cache" / "ipvae-brian"


def test_natural16_subsets_and_bad_n(natural, monkeypatch):
    monkeypatch.setenv("IPVAE_CACHE_DIR", str(natural["cache"]))
    small = n16.natural16("test", n=100)
    np.testing.assert_array_equal(small.x, natural["test"].x[:100])
    assert small.params["n"] == 100
    with pytest.raises(StimulusError, match=r"n = 10001 .*allowed 1 to 10000"):
        n16.natural16("test", n=10_001)
    with pytest.raises(StimulusError, match=r"split = 'valid'.*'train' or 'test'"):
        n16.natural16("valid")


# Radially averaged power spectrum ------------------------------------------------------------

def _radial_power(image: np.ndarray, window: bool, n_bins: int = 64):
    x = image - image.mean()
    h, w = x.shape
    if window:  # Hann window: keeps the image border's discontinuity out of the spectrum
        x = x * np.outer(np.hanning(h), np.hanning(w))
    power = np.abs(np.fft.fft2(x)) ** 2 / x.size
    f = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]).ravel()
    edges = np.linspace(0.0, 0.5, n_bins + 1)
    idx = np.digitize(f, edges) - 1
    keep = idx < n_bins
    sums = np.bincount(idx[keep], power.ravel()[keep], n_bins)
    counts = np.maximum(np.bincount(idx[keep], minlength=n_bins), 1)
    return (edges[:-1] + edges[1:]) / 2, sums / counts


def _spectral_slope(images, window=True, band=(0.05, 0.25)) -> float:
    """Log-log slope of the mean radially averaged power spectrum (images at unit variance)."""
    spectra = [_radial_power(im / im.std(), window) for im in images]
    f = spectra[0][0]
    mean = np.mean([s for _, s in spectra], axis=0)
    sel = (f >= band[0]) & (f <= band[1])
    return float(np.polyfit(np.log(f[sel]), np.log(mean[sel]), 1)[0])


@pytest.mark.parametrize("split", ["train", "test"])
def test_raw_photographs_fall_about_as_f_minus_2(split):
    # Natural images: power ~ f^-alpha with alpha about 2; single photographs range over about
    # 1.6 to 3.0 (amplitude slopes -0.8 to -1.5, Tolhurst, Tadmor & Chao 1992, Ophthal Physiol
    # Opt 12, 229; van der Schaaf & van Hateren 1996, Vision Res 36, 2759).
    slope = _spectral_slope(n16.load_images(split))
    print(f"{split}: raw power-spectrum slope {slope:.2f}")
    assert -3.0 <= slope <= -1.6


@pytest.mark.parametrize("split", ["train", "test"])
def test_whitening_multiplies_the_power_spectrum_by_the_filter(split):
    # |FFT(whitened)|^2 = |FFT(raw)|^2 * R(f)^2 exactly before cropping, so the log-log slope
    # rises by the slope of R(f)^2 over the band (about +1.85); the bins' finite width and
    # the normalisation leave a few thousandths.
    f = np.linspace(0, 0.5, 65)
    centres = (f[:-1] + f[1:]) / 2
    sel = (centres >= 0.05) & (centres <= 0.25)
    r2 = (centres * np.exp(-(centres / n16.F0) ** 4)) ** 2
    filter_slope = np.polyfit(np.log(centres[sel]), np.log(r2[sel]), 1)[0]
    for image in n16.load_images(split):
        rise = (_spectral_slope([n16.whiten(image, border=0)], window=False)
                - _spectral_slope([image], window=False))
        assert rise == pytest.approx(filter_slope, abs=0.03)


@pytest.mark.xfail(strict=True, reason=(
    "ACCEPTANCE GAP: docs/data.md's filter R(f) = f exp(-(f/0.4)^4) flattens only f^-2 "
    "spectra; these photographs fall as about f^-2.6 to f^-2.7 between 0.05 and 0.25 "
    "cycles/pixel, so the whitened slope is about -0.9 (train) and -0.75 (test), outside "
    "+-0.3. Needs a decision on the definition (docs/data.md), not a code fix."))
@pytest.mark.parametrize("split", ["train", "test"])
def test_whitened_images_have_a_flat_spectrum(split):
    whitened = [n16.whiten(im) for im in n16.load_images(split)]
    slope = _spectral_slope(whitened)
    print(f"{split}: whitened power-spectrum slope {slope:.2f}")
    assert abs(slope) <= 0.3


# ------------------------------------------------------------------------------------------
# digits8
# ------------------------------------------------------------------------------------------

def test_digits8_split_scale_and_labels():
    from sklearn.datasets import load_digits
    ref = load_digits()
    train, test = digits8("train"), digits8("test")
    assert train.x.shape == (1200, 64) and test.x.shape == (597, 64)
    assert train.image_shape == (8, 8)
    np.testing.assert_array_equal(train.x, ref.data[:1200] / 16.0)
    np.testing.assert_array_equal(test.labels, ref.target[1200:])
    assert train.x.min() == 0.0 and train.x.max() == 1.0
    assert set(np.unique(train.labels)) == set(range(10))
    assert digits8("test", n=10).labels.tolist() == ref.target[1200:1210].tolist()
    with pytest.raises(StimulusError, match=r"n = 600 .*allowed 1 to 597"):
        digits8("test", n=600)


# ------------------------------------------------------------------------------------------

def test_spec_examples_load(natural, monkeypatch):
    monkeypatch.setenv("IPVAE_CACHE_DIR", str(natural["cache"]))
    s = catalog.load("natural16:test", n=1000)
    assert s.x.shape == (1000, 256) and s.params["spec"] == "natural16:test"
    np.testing.assert_array_equal(s.x, natural["test"].x[:1000])
    assert catalog.load("natural16", n=5).name == "natural16:test"   # default split
    assert catalog.load("digits8:train").labels.shape == (1200,)
    g = catalog.load("grating:orientation=45,sf=0.1,contrast=0.5")
    assert g.x.shape == (1, 256) and g.params["orientation"] == 45.0
    assert g.params["contrast"] == 0.5 and g.x.std() == pytest.approx(
        grating(orientation=45, sf=0.1).x.std() * 0.5, rel=1e-12)
    d = catalog.load("drifting_grating:orientation=0,sf=0.125,tf=0.0625,frames=64")
    assert d.x.shape == (1, 64, 256)
    b = catalog.load("moving_bar:direction=90,frames=32,blank=4")
    assert b.x.shape == (1, 40, 256) and b.params["direction"] == 90.0
    assert catalog.load("white_noise:n=500").x.shape == (500, 256)
    assert catalog.load("white_noise", n=20).x.shape == (20, 256)
    assert catalog.load("sparse_noise").x.shape == (512, 256)
    p = catalog.load("plaid:orientation=0/90,contrast=0.5,mask_contrast=0/0.5,diameter=none")
    assert p.n_stimuli == 4 and p.conditions()["mask_contrast"].tolist() == [0, 0.5, 0, 0.5]
    # seeds: the command's seed unless the spec sets one
    a = catalog.load("white_noise:n=5", seed=1).x
    assert not np.array_equal(a, catalog.load("white_noise:n=5", seed=2).x)
    np.testing.assert_array_equal(a, catalog.load("white_noise:n=5,seed=1", seed=9).x)
