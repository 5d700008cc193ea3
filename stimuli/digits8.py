"""scikit-learn's 8 x 8 handwritten digits ("digits8"), as ``docs/data.md`` defines them.

``sklearn.datasets.load_digits``: 1,797 images of 8 x 8 pixels (M = 64) with labels 0-9, pixel
values 0-16 divided by 16 (so in [0, 1]). Split: the first 1,200 images for training, the other
597 for test (no shuffling, no stratification). Used for the linear read-out benchmark in place
of MNIST, which cannot ship.

References
----------
Alpaydin, E. & Kaynak, C. (1998). Optical Recognition of Handwritten Digits. UCI Machine
Learning Repository (the data behind ``load_digits``).
"""
from __future__ import annotations

import numpy as np

from ipvae_brian.stimuli.stimulus_set import StimulusError, StimulusSet

#: Images 0 .. N_TRAIN - 1 are the train split, the rest the test split.
N_TRAIN = 1200
#: Pixel values of ``load_digits`` run from 0 to this.
PIXEL_MAX = 16.0
SPLITS = ("train", "test")


def digits8(split: str = "train", n: int | None = None) -> StimulusSet:
    """The 8 x 8 digits with their labels.

    Parameters
    ----------
    split : {"train", "test"}
        ``"train"``: images 0-1199; ``"test"``: images 1200-1796.
    n : int, optional
        Take the first ``n`` images of the split (1 to 1,200 or 1 to 597); default all.

    Returns
    -------
    StimulusSet
        ``name`` ``"digits8:<split>"``; ``x`` of shape (n, 64), float64 in [0, 1];
        ``image_shape`` (8, 8); ``labels`` int64 digits 0-9.
    """
    if split not in SPLITS:
        raise StimulusError(f"split = {split!r} is not a digits8 split; allowed: 'train' or 'test'")
    from sklearn.datasets import load_digits
    digits = load_digits()
    part = slice(0, N_TRAIN) if split == "train" else slice(N_TRAIN, None)
    x = digits.data[part].astype(np.float64) / PIXEL_MAX
    labels = digits.target[part].astype(np.int64)
    params = {"split": split, "n": int(x.shape[0]),
              "source": "sklearn.datasets.load_digits", "pixel_scale": "value / 16",
              "split_rule": f"first {N_TRAIN} images train, the rest test",
              "n_classes": 10}
    full = StimulusSet(name=f"digits8:{split}", x=x, image_shape=(8, 8), params=params,
                       labels=labels)
    if n is None:
        return full
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise StimulusError(f"n = {n!r} is not an integer; allowed 1 to {full.n_stimuli}")
    return full.head(int(n))
