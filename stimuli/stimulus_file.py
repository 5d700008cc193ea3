"""Stimuli read from a user's file (``.npy`` or HDF5).

Accepted layouts:

- ``.npy``: an array of shape (N, M) (images) or (N, T, M) (movies);
- HDF5 (``.h5``, ``.hdf5``): the dataset ``/stimuli/x`` (the layout of our
  recordings, so a recording's stimuli can be replayed) or, failing that, ``/x``.
  An ``image_shape`` attribute on the dataset, if present, gives (H, W).

Images are assumed square (H = W = sqrt(M)) unless the file says otherwise;
a pixel count that is not a square is kept as one row (1 x M).
"""
from __future__ import annotations

import os

import numpy as np

from ipvae_brian.stimuli.stimulus_set import StimulusError, StimulusSet

#: Dataset names looked up in an HDF5 stimulus file, in order.
HDF5_DATASETS = ("stimuli/x", "x")


def square_image_shape(m: int) -> tuple:
    """(H, W) of M pixels: a square image if M is a perfect square, else one row (1, M)."""
    side = int(round(np.sqrt(m)))
    return (side, side) if side * side == m else (1, m)


def load_stimulus_file(path: str) -> StimulusSet:
    """Read stimuli from ``path`` (see the module docstring for the layouts).

    Raises
    ------
    StimulusError
        If the file is missing, unreadable, of an unknown type, or holds no stimulus array.
    """
    if not os.path.exists(path):
        raise StimulusError(f"stimulus file {path!r} does not exist")
    ext = os.path.splitext(path)[1].lower()
    image_shape = None
    if ext == ".npy":
        try:
            x = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise StimulusError(f"{path}: not a readable .npy array: {exc}") from None
    elif ext in (".h5", ".hdf5"):
        import h5py
        try:
            with h5py.File(path, "r") as f:
                name = next((n for n in HDF5_DATASETS if n in f), None)
                if name is None:
                    raise StimulusError(f"{path}: no stimulus dataset (looked for "
                                        f"{', '.join('/' + n for n in HDF5_DATASETS)})")
                x = f[name][()]
                shape = f[name].attrs.get("image_shape", f[name].parent.attrs.get("image_shape"))
                image_shape = None if shape is None else tuple(int(s) for s in shape)
        except OSError as exc:
            raise StimulusError(f"{path}: not a readable HDF5 file (truncated or corrupt?): "
                                f"{exc}") from None
    else:
        raise StimulusError(f"{path}: unknown stimulus file type {ext!r} (use .npy, .h5 or "
                            f".hdf5)")
    if not np.issubdtype(np.asarray(x).dtype, np.number):
        raise StimulusError(f"{path}: the stimulus array is not numeric ({x.dtype})")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim not in (2, 3):
        raise StimulusError(f"{path}: stimuli must be N x M or N x T x M, got shape {x.shape}")
    return StimulusSet(name=f"file:{os.path.basename(path)}", x=x,
                       image_shape=image_shape or square_image_shape(x.shape[-1]),
                       params={"path": os.path.abspath(path)})
