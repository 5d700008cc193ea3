"""Stimuli read from a user's file (``.npy`` or HDF5).

Files: ``.npy``, or HDF5 (``.h5``, ``.hdf5``) with the dataset ``/stimuli/x`` (the
layout of our recordings, so a recording's stimuli can be replayed) or, failing that,
``/x``. An ``image_shape`` attribute on the dataset (or its group), if present, gives (H, W).

Array layouts:

- (N, M): N images of M pixels, flattened row-major;
- (N, H, W): N images of H x W pixels (the numpy / scikit-image image stack);
- (N, T, M): N movies of T frames of M pixels;
- (N, T, H, W): N movies of T frames of H x W pixels.

A 3-D array (N, A, B) is thus read either as images of A x B pixels or as movies of A
frames of B pixels. :func:`choose_layout` decides: the ``image_shape`` attribute if the
file has one; else the reading the chosen parameters can run (their pixel count M, and
T = ``--steps`` for movies); an array that both readings fit is refused with a message
naming both and the flag (``--stimulus-layout images|movies``) that picks one.

Flat images are assumed square (H = W = sqrt(M)) unless the file says otherwise;
a pixel count that is not a square is kept as one row (1 x M).
"""
from __future__ import annotations

import os

import numpy as np

from ipvae_brian.stimuli.stimulus_set import StimulusError, StimulusSet

#: Dataset names looked up in an HDF5 stimulus file, in order.
HDF5_DATASETS = ("stimuli/x", "x")

#: The two readings of a 3-D array (N, A, B), named as ``--stimulus-layout`` takes them.
LAYOUTS = ("images", "movies")

#: The command-line flag that picks a reading (named in the ambiguity message).
LAYOUT_FLAG = "--stimulus-layout"


def square_image_shape(m: int) -> tuple:
    """(H, W) of M pixels: a square image if M is a perfect square, else one row (1, M)."""
    side = int(round(np.sqrt(m)))
    return (side, side) if side * side == m else (1, m)


def _reading(layout: str, shape: tuple) -> str:
    """The words for one reading of a 3-D array of ``shape``."""
    n, a, b = shape
    if layout == "images":
        return f"{n} images of {a} x {b} pixels (M = {a * b})"
    return f"{n} movies of {a} frames of {b} pixels (M = {b})"


def choose_layout(shape: tuple, layout: str | None = None, pixels=None,
                  pixels_required: bool = False, steps: int | None = None,
                  image_shape: tuple | None = None, source: str = "the stimulus array") -> str:
    """How to read a 3-D stimulus array (N, A, B): ``"images"`` or ``"movies"``.

    Parameters
    ----------
    shape : tuple of int
        (N, A, B).
    layout : {"images", "movies"}, optional
        The user's choice (``--stimulus-layout``); returned as is.
    pixels : collection of int, optional
        The pixel counts M the chosen parameters run (a ``--params`` file's M, or the
        sizes parameters ship for); None: any M (random parameters).
    pixels_required : bool
        True when ``pixels`` is a parameter file's M: if no reading fits it, the array is
        read as images and the pixel-count check names the mismatch. False (shipped
        parameters): if no reading fits, random parameters stand in for any M.
    steps : int, optional
        T of the run (``--steps``); a movie reading needs A == T.
    image_shape : tuple of int, optional
        (H, W) from the file; decides when H W is B (movies) or A B (images).
    source : str
        How the array is named in the message.

    Raises
    ------
    StimulusError
        Both readings fit the parameters and nothing else decides (message names both
        readings and the flag).

    Examples
    --------
    >>> choose_layout((100, 16, 16), pixels=(256, 64))
    'images'
    >>> choose_layout((100, 16, 64), pixels=(256, 64))
    'movies'
    """
    if layout is not None:
        if layout not in LAYOUTS:
            raise StimulusError(f"{LAYOUT_FLAG} {layout!r} is not one of {', '.join(LAYOUTS)}")
        return layout
    n, a, b = shape
    if image_shape is not None and int(np.prod(image_shape)) in (b, a * b) and a != 1:
        return "movies" if int(np.prod(image_shape)) == b else "images"
    fits = {"images": a * b, "movies": b}
    possible = [name for name, m in fits.items() if pixels is None or m in pixels]
    if steps is not None and a != steps and "movies" in possible:
        possible.remove("movies")
    if not possible:
        possible = ["images"] if pixels_required else [
            name for name in LAYOUTS if name == "images" or steps is None or a == steps]
    if len(possible) == 1:
        return possible[0]
    raise StimulusError(
        f"{source} of shape {tuple(shape)} can be read two ways with these parameters: "
        f"{_reading('images', shape)}, or {_reading('movies', shape)}; say which with "
        f"{LAYOUT_FLAG} images or {LAYOUT_FLAG} movies")


def describe_layout(stimuli: StimulusSet) -> str | None:
    """One line saying how a stimulus file's array was read, or None for other sets.

    Examples
    --------
    >>> s = StimulusSet("file:x.npy", np.zeros((2, 4)), (2, 2),
    ...                 params={"file_shape": [2, 2, 2], "layout": "images"})
    >>> describe_layout(s)
    'file array of shape (2, 2, 2) read as 2 images of 2 x 2 pixels'
    """
    shape = stimuli.params.get("file_shape")
    if shape is None:
        return None
    h, w = stimuli.image_shape
    what = (f"{stimuli.n_stimuli} movies of {stimuli.n_frames} frames of {h} x {w} pixels"
            if stimuli.is_movie else f"{stimuli.n_stimuli} images of {h} x {w} pixels")
    return f"file array of shape {tuple(shape)} read as {what}"


def load_stimulus_file(path: str, layout: str | None = None, pixels=None,
                       pixels_required: bool = False,
                       steps: int | None = None, rows: int | None = None) -> StimulusSet:
    """Read stimuli from ``path`` (see the module docstring for the layouts).

    Parameters
    ----------
    path : str
    rows : int, optional
        Read only the first ``rows`` stimuli (the array's first axis); None: all. The
        file's declared size is checked before anything is read
        (:mod:`ipvae_brian.stimuli.input_limits`).
    layout, pixels, pixels_required, steps
        How to read a 3-D array (N, A, B): see :func:`choose_layout`.

    Returns
    -------
    StimulusSet
        ``params`` hold the file's ``path``, its array's ``file_shape`` and the ``layout``
        read (:func:`describe_layout` says it in words).

    Raises
    ------
    StimulusError
        If the file is missing, unreadable, of an unknown type, holds no stimulus array,
        or holds a 3-D array both readings of which fit the parameters.
    """
    if not os.path.exists(path):
        raise StimulusError(f"stimulus file {path!r} does not exist")
    ext = os.path.splitext(path)[1].lower()
    image_shape = None
    if ext == ".npy":
        from ipvae_brian.stimuli.input_limits import read_npy_rows
        x = read_npy_rows(path, rows, error=StimulusError)
    elif ext in (".h5", ".hdf5"):
        import h5py
        try:
            with h5py.File(path, "r") as f:
                name = next((n for n in HDF5_DATASETS if n in f), None)
                if name is None:
                    raise StimulusError(f"{path}: no stimulus dataset (looked for "
                                        f"{', '.join('/' + n for n in HDF5_DATASETS)})")
                from ipvae_brian.stimuli.input_limits import read_dataset
                x = read_dataset(f, name, path, rows, error=StimulusError)
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
    if np.iscomplexobj(x):
        raise StimulusError(f"{path}: the stimulus array is complex ({x.dtype}); pixels must "
                            f"be real numbers")
    x = np.asarray(x, dtype=np.float64)
    file_shape = [int(s) for s in x.shape]
    if x.ndim == 2:
        read_as = "images"
    elif x.ndim == 3:
        read_as = choose_layout(x.shape, layout, pixels, pixels_required, steps, image_shape,
                                source=path)
        if read_as == "images":
            image_shape = x.shape[1:]
            x = x.reshape(x.shape[0], -1)
        elif image_shape is not None and int(np.prod(image_shape)) != x.shape[-1]:
            image_shape = None
    elif x.ndim == 4:
        read_as, image_shape = "movies", x.shape[2:]
        x = x.reshape(x.shape[0], x.shape[1], -1)
    else:
        raise StimulusError(f"{path}: stimuli must be N x M or N x H x W (images), or "
                            f"N x T x M or N x T x H x W (movies); got shape {x.shape}")
    if layout is not None and layout != read_as:
        raise StimulusError(f"{path}: {LAYOUT_FLAG} {layout} does not apply to an array of "
                            f"shape {tuple(file_shape)} (always read as {read_as})")
    return StimulusSet(name=f"file:{os.path.basename(path)}", x=x,
                       image_shape=image_shape or square_image_shape(x.shape[-1]),
                       params={"path": os.path.abspath(path), "file_shape": file_shape,
                               "layout": read_as})
