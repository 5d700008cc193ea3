"""Whitened 16 x 16 natural-image patches ("natural16"), built as ``docs/data.md`` defines them.

Nothing is downloaded: the source photographs ship inside scikit-image and scikit-learn. The
patches are built deterministically on first use (about two seconds) and cached on disk as
``natural16-<split>-<sha256>.npz`` in the user cache folder (see :func:`cache_dir`), where
``<sha256>`` is a checksum of the definition (:func:`definition`), so that a changed definition
builds a new file instead of reading a stale one.

Definition (``docs/data.md``, quoted in short):

1. photographs as float64 in [0, 1], colour reduced to grey with the ITU-R BT.601 luma weights;
2. whitening per image (Olshausen & Field 1997): subtract the mean, multiply the 2-D FFT by
   ``R(f) = f * exp(-(f / f0)**4)`` with ``f0 = 0.4`` cycles/pixel, keep the real part of the
   inverse FFT, divide by the standard deviation of the whole filtered image, drop a 4-pixel
   border on every side;
3. patch ``i`` from image ``i mod n_images`` of the split's list, corner ``row`` then ``col`` drawn
   with ``numpy.random.default_rng(seed).integers``; candidates with pixel standard deviation
   below 0.5 are redrawn from the same generator; patches flattened row-major;
4. one global z-score with the mean and standard deviation of all 50,000 train patches, applied
   to both splits.

References
----------
Olshausen, B. A. & Field, D. J. (1997). Sparse coding with an overcomplete basis set: a strategy
employed by V1? Vision Research 37(23), 3311-3325.

ITU-R Recommendation BT.601 (luma weights 0.299, 0.587, 0.114).
"""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
import tempfile
import zipfile

import numpy as np

from ipvae_brian.stimuli.stimulus_set import StimulusError, StimulusSet

#: Bump when the code that implements the definition changes its output.
DEFINITION_VERSION = 1

#: ITU-R BT.601 luma weights for R, G, B.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)

#: Source photographs per split, in the order of ``docs/data.md``.
TRAIN_IMAGES = ("camera", "astronaut", "coffee", "grass", "brick", "rocket",
                "motorcycle_left", "china")
TEST_IMAGES = ("chelsea", "gravel", "flower")
SPLIT_IMAGES = {"train": TRAIN_IMAGES, "test": TEST_IMAGES}

#: Where each photograph comes from.
IMAGE_SOURCES = {
    "camera": "skimage.data.camera()",
    "astronaut": "skimage.data.astronaut()",
    "chelsea": "skimage.data.chelsea()",
    "coffee": "skimage.data.coffee()",
    "grass": "skimage.data.grass()",
    "gravel": "skimage.data.gravel()",
    "brick": "skimage.data.brick()",
    "rocket": "skimage.data.rocket()",
    "motorcycle_left": "skimage.io.imread(<skimage data folder>/motorcycle_left.png)",
    "china": "sklearn.datasets.load_sample_image('china.jpg')",
    "flower": "sklearn.datasets.load_sample_image('flower.jpg')",
}

#: Whitening roll-off frequency f0, cycles/pixel (Olshausen & Field 1997 use 0.4 of Nyquist in
#: cycles/picture; docs/data.md fixes 0.4 cycles/pixel).
F0 = 0.4
#: Border (pixels) dropped on every side of each whitened image.
BORDER = 4
#: Patch side, pixels (M = 256).
PATCH_SIZE = 16
#: Candidate patches whose pixel standard deviation is below this are redrawn.
MIN_PATCH_STD = 0.5
#: One random generator per split.
SPLIT_SEEDS = {"train": 0, "test": 1}
#: Default (and maximal) number of patches per split.
SPLIT_SIZES = {"train": 50_000, "test": 10_000}

SPLITS = ("train", "test")


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise StimulusError(
            f"split = {split!r} is not a natural16 split; allowed: 'train' or 'test'")
    return split


def definition() -> dict:
    """The parameters that define the data set (hashed into the cache file name).

    Returns
    -------
    dict
        JSON-serialisable; includes :data:`DEFINITION_VERSION` and the versions of the packages
        that ship the photographs (a package update may change a photograph).
    """
    import skimage
    import sklearn
    return {
        "name": "natural16",
        "definition_version": DEFINITION_VERSION,
        "images": {"train": list(TRAIN_IMAGES), "test": list(TEST_IMAGES)},
        "image_sources": IMAGE_SOURCES,
        "luma_weights": list(LUMA_WEIGHTS),
        "whitening": {"filter": "f * exp(-(f / f0)**4)", "f0_cycles_per_pixel": F0,
                      "border_pixels": BORDER},
        "patch_size": PATCH_SIZE,
        "min_patch_std": MIN_PATCH_STD,
        "seeds": SPLIT_SEEDS,
        "sizes": SPLIT_SIZES,
        "normalisation": "global z-score with the mean and std of all train patches",
        "packages": {"scikit-image": skimage.__version__, "scikit-learn": sklearn.__version__},
    }


def definition_sha256(definition_dict: dict | None = None) -> str:
    """SHA-256 of a definition (default :func:`definition`), as 64 hex digits.

    Parameters
    ----------
    definition_dict : dict, optional
        JSON-serialisable definition; serialised with sorted keys before hashing.

    Returns
    -------
    str
    """
    if definition_dict is None:
        definition_dict = definition()
    text = json.dumps(definition_dict, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cache_dir() -> pathlib.Path:
    """The folder that holds built data sets.

    Returns
    -------
    pathlib.Path
        ``$IPVAE_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/ipvae-brian``, else
        ``~/.cache/ipvae-brian``. Not created here.
    """
    explicit = os.environ.get("IPVAE_CACHE_DIR")
    if explicit:
        return pathlib.Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = pathlib.Path(xdg).expanduser() if xdg else pathlib.Path.home() / ".cache"
    return base / "ipvae-brian"


def cache_path(split: str, sha256: str | None = None) -> pathlib.Path:
    """Cache file of one split: ``<cache_dir>/natural16-<split>-<sha256[:16]>.npz``."""
    _check_split(split)
    sha256 = sha256 or definition_sha256()
    return cache_dir() / f"natural16-{split}-{sha256[:16]}.npz"


# --------------------------------------------------------------------------------------------
# Source photographs and whitening
# --------------------------------------------------------------------------------------------

def _to_gray(image: np.ndarray) -> np.ndarray:
    """8-bit image -> float64 grey in [0, 1] (BT.601 luma on the first three channels)."""
    x = np.asarray(image).astype(np.float64) / 255.0
    if x.ndim == 3:
        w = LUMA_WEIGHTS
        x = w[0] * x[..., 0] + w[1] * x[..., 1] + w[2] * x[..., 2]
    elif x.ndim != 2:
        raise StimulusError(f"source image has unexpected shape {x.shape}")
    return x


def load_image(name: str) -> np.ndarray:
    """One source photograph, un-whitened.

    Parameters
    ----------
    name : str
        One of :data:`IMAGE_SOURCES`.

    Returns
    -------
    ndarray, shape (H, W), float64
        Grey levels in [0, 1].
    """
    if name not in IMAGE_SOURCES:
        raise StimulusError(
            f"image = {name!r} is not a natural16 source; allowed: {', '.join(IMAGE_SOURCES)}")
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image
        raw = load_sample_image(f"{name}.jpg")
    elif name == "motorcycle_left":
        import skimage.data
        import skimage.io
        folder = pathlib.Path(skimage.data.__file__).parent
        raw = skimage.io.imread(folder / "motorcycle_left.png")
    else:
        import skimage.data
        raw = getattr(skimage.data, name)()
    return _to_gray(raw)


def load_images(split: str) -> list[np.ndarray]:
    """The raw (un-whitened) grey photographs of a split, in definition order.

    Parameters
    ----------
    split : {"train", "test"}

    Returns
    -------
    list of ndarray, each shape (H_i, W_i), float64 in [0, 1]
    """
    return [load_image(name) for name in SPLIT_IMAGES[_check_split(split)]]


def whitening_filter(shape: tuple, f0: float = F0) -> np.ndarray:
    """The whitening filter ``R(f) = f * exp(-(f / f0)**4)`` on the unshifted FFT grid.

    Parameters
    ----------
    shape : (int, int)
        Image shape ``(H, W)``.
    f0 : float
        Roll-off frequency, cycles/pixel.

    Returns
    -------
    ndarray, shape (H, W), float64
        Gain per 2-D frequency of ``numpy.fft.fft2``; ``f`` is the radial frequency (cycles/pixel)
        from ``numpy.fft.fftfreq`` on both axes.
    """
    h, w = shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    f = np.sqrt(fx ** 2 + fy ** 2)
    return f * np.exp(-(f / f0) ** 4)


def whiten(image: np.ndarray, f0: float = F0, border: int = BORDER) -> np.ndarray:
    """Whiten one photograph as ``docs/data.md`` defines (Olshausen & Field 1997).

    Parameters
    ----------
    image : ndarray, shape (H, W)
        Grey image.
    f0 : float
        Roll-off frequency of the filter, cycles/pixel (default 0.4).
    border : int
        Pixels dropped on every side after filtering (default 4; 0 keeps the whole image).

    Returns
    -------
    ndarray, shape (H - 2 * border, W - 2 * border), float64
        Filtered image divided by the standard deviation of the whole (uncropped) filtered image.

    References
    ----------
    Olshausen & Field (1997), Vision Research 37, 3311-3325.
    """
    x = np.asarray(image, dtype=np.float64)
    x = x - x.mean()
    filtered = np.real(np.fft.ifft2(np.fft.fft2(x) * whitening_filter(x.shape, f0)))
    filtered = filtered / np.std(filtered)
    if border:
        filtered = filtered[border:-border, border:-border]
    return filtered


# --------------------------------------------------------------------------------------------
# Patches
# --------------------------------------------------------------------------------------------

def sample_patches(images: list, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw patches from whitened images by the rule of ``docs/data.md``.

    Parameters
    ----------
    images : list of ndarray, each shape (H_i, W_i)
        Whitened, cropped images, in definition order.
    n : int
        Number of patches.
    seed : int
        Seed of the one ``numpy.random.default_rng`` used for all corners.

    Returns
    -------
    patches : ndarray, shape (n, 256), float64
        Patch ``i`` from image ``i mod len(images)``, flattened row-major, not normalised.
    origins : ndarray, shape (n, 3), int64
        ``(image index, row, col)`` of each patch's top-left corner.
    """
    rng = np.random.default_rng(seed)
    p = PATCH_SIZE
    patches = np.empty((n, p * p), dtype=np.float64)
    origins = np.empty((n, 3), dtype=np.int64)
    n_images = len(images)
    for i in range(n):
        k = i % n_images
        image = images[k]
        h, w = image.shape
        while True:
            row = rng.integers(0, h - p + 1)
            col = rng.integers(0, w - p + 1)
            candidate = image[row:row + p, col:col + p].reshape(-1)
            if np.std(candidate) >= MIN_PATCH_STD:
                break
        patches[i] = candidate
        origins[i] = (k, row, col)
    return patches, origins


def build_natural16() -> dict:
    """Build both splits from scratch (no cache).

    Returns
    -------
    dict
        ``{"train": (x, origins), "test": (x, origins), "train_mean": float,
        "train_std": float}`` with ``x`` of shape (50000, 256) and (10000, 256), float64,
        z-scored with the train scalars.
    """
    raw = {}
    for split in SPLITS:
        whitened = [whiten(image) for image in load_images(split)]
        raw[split] = sample_patches(whitened, SPLIT_SIZES[split], SPLIT_SEEDS[split])
    train_mean = float(np.mean(raw["train"][0]))
    train_std = float(np.std(raw["train"][0]))
    out = {"train_mean": train_mean, "train_std": train_std}
    for split in SPLITS:
        x, origins = raw[split]
        out[split] = ((x - train_mean) / train_std, origins)
    return out


def _write_atomic(path: pathlib.Path, arrays: dict) -> None:
    """Write an ``.npz`` to a temporary file in the same folder, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _read_cache(path: pathlib.Path, split: str, sha256: str) -> dict | None:
    """A cached split, or None if it is missing, unreadable or not of this definition."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["definition_sha256"]) != sha256:
                return None
            x = data["x"]
            if x.shape != (SPLIT_SIZES[split], PATCH_SIZE * PATCH_SIZE) or x.dtype != np.float64:
                return None
            return {"x": x, "origins": data["origins"],
                    "train_mean": float(data["train_mean"]),
                    "train_std": float(data["train_std"])}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None


_MEMO: dict = {}


def _load_split(split: str) -> dict:
    """One full split, from memory, from the cache file, or built (and cached)."""
    sha256 = definition_sha256()
    path = cache_path(split, sha256)
    key = (str(path), sha256)
    if key in _MEMO:
        return _MEMO[key]
    cached = _read_cache(path, split, sha256)
    if cached is None:
        built = build_natural16()
        for name in SPLITS:
            x, origins = built[name]
            _write_atomic(cache_path(name, sha256), {
                "x": x, "origins": origins,
                "train_mean": np.float64(built["train_mean"]),
                "train_std": np.float64(built["train_std"]),
                "definition_sha256": np.str_(sha256),
                "definition_json": np.str_(json.dumps(definition(), sort_keys=True)),
            })
        x, origins = built[split]
        cached = {"x": x, "origins": origins, "train_mean": built["train_mean"],
                  "train_std": built["train_std"]}
    cached["x"].setflags(write=False)
    cached["origins"].setflags(write=False)
    _MEMO[key] = cached
    return cached


def patch_origins(split: str = "train") -> np.ndarray:
    """Where each patch of a split was cut.

    Parameters
    ----------
    split : {"train", "test"}

    Returns
    -------
    ndarray, shape (N, 3), int64
        ``(image index in SPLIT_IMAGES[split], row, col)`` of each patch's top-left corner in the
        cropped whitened image.
    """
    return _load_split(_check_split(split))["origins"]


def natural16(split: str = "train", n: int | None = None) -> StimulusSet:
    """Whitened, globally z-scored 16 x 16 natural-image patches (``docs/data.md``).

    Parameters
    ----------
    split : {"train", "test"}
        Train patches come from 8 photographs, test patches from 3 others (split by image).
    n : int, optional
        Take the first ``n`` patches of the split's fixed sequence (1 to 50,000 for train,
        1 to 10,000 for test); default all.

    Returns
    -------
    StimulusSet
        ``name`` ``"natural16:<split>"``; ``x`` of shape (n, 256), float64, read-only;
        ``image_shape`` (16, 16). ``params`` hold the split, ``n``, the definition checksum, the
        normalisation scalars (``train_mean``, ``train_std``, in whitened units) and the split's
        own pixel statistics over all its patches (``split_pixel_mean``, ``split_pixel_std``;
        reported, not forced: only the train split is 0 and 1 by construction).

    References
    ----------
    Olshausen & Field (1997), Vision Research 37, 3311-3325 (whitening).
    """
    _check_split(split)
    data = _load_split(split)
    x = data["x"]
    if "split_pixel_mean" not in data:
        data["split_pixel_mean"] = float(np.mean(x))
        data["split_pixel_std"] = float(np.std(x))
    params = {
        "split": split,
        "n": int(x.shape[0]),
        "images": list(SPLIT_IMAGES[split]),
        "patch_size": PATCH_SIZE,
        "whitening_f0_cycles_per_pixel": F0,
        "border_pixels": BORDER,
        "min_patch_std": MIN_PATCH_STD,
        "seed": SPLIT_SEEDS[split],
        "train_mean": data["train_mean"],
        "train_std": data["train_std"],
        "split_pixel_mean": data["split_pixel_mean"],
        "split_pixel_std": data["split_pixel_std"],
        "definition_version": DEFINITION_VERSION,
        "definition_sha256": definition_sha256(),
        "source": "docs/data.md (natural16)",
    }
    full = StimulusSet(name=f"natural16:{split}", x=x, image_shape=(PATCH_SIZE, PATCH_SIZE),
                       params=params)
    if n is None:
        return full
    return full.head(_check_count(n, x.shape[0], full.name))


def _check_count(n, available: int, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= available:
        raise StimulusError(
            f"n = {n!r} is out of range: the set {name!r} has {available:,} stimuli "
            f"(allowed 1 to {available})")
    return int(n)
