"""White noise and sparse noise for receptive-field mapping (reverse correlation).

Both are scaled, like every synthetic stimulus, to the pixel variance of the z-scored
natural16 patches at contrast 1 (``docs/data.md``): white-noise pixels have variance
``contrast**2``; sparse-noise dots have amplitude ``contrast * sqrt(M)`` so that, over the set,
each pixel's mean square (and each frame's mean-square pixel value) is ``contrast**2``.

Each generator is a pure function of its parameters and ``seed``
(``numpy.random.default_rng(seed)``); the first ``n`` stimuli of a larger set equal the set of
``n`` with the same seed, so a set can be extended without changing what was already shown.

References
----------
Jones, J. P. & Palmer, L. A. (1987). The two-dimensional spatial structure of simple receptive
fields in cat striate cortex. J Neurophysiol 58, 1187-1211 (sparse noise).
Ringach, D. L., Sapiro, G. & Shapley, R. (1997). A subspace reverse-correlation technique for
the study of visual neurons. Vision Res 37, 2455-2464.
Chichilnisky, E. J. (2001). A simple white noise analysis of neuronal light responses.
Network 12, 199-213 (white noise, spike-triggered average).
"""
from __future__ import annotations

import math

import numpy as np

from ipvae_brian.stimuli.conditions import check_int, check_real
from ipvae_brian.stimuli.stimulus_set import StimulusError, StimulusSet

DISTRIBUTIONS = ("gaussian", "binary")


def white_noise(n=1000, size=16, contrast=1.0, distribution="gaussian", frames=None,
                seed=0) -> StimulusSet:
    """Independent pixel noise, as images or movies.

    Parameters
    ----------
    n : int
        Number of stimuli, >= 1.
    size : int
        Image side, pixels (M = size**2).
    contrast : float
        >= 0; pixel standard deviation (1 = the natural16 pixel variance).
    distribution : {"gaussian", "binary"}
        Gaussian pixels ``contrast * N(0, 1)``, or binary pixels ``+-contrast`` with equal
        probability.
    frames : int or None
        None for images (N x M); an integer >= 1 for movies with a fresh frame every bin
        (N x frames x M).
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    StimulusSet
        ``x`` of shape (n, size**2) or (n, frames, size**2), float64.

    References
    ----------
    Chichilnisky (2001), Network 12, 199-213.
    """
    n = check_int("n", n, lo=1)
    size = check_int("size", size, lo=1, unit="pixels")
    contrast = check_real("contrast", contrast, lo=0.0)
    seed = check_int("seed", seed, lo=0)
    if frames is not None:
        frames = check_int("frames", frames, lo=1, unit="bins")
    if distribution not in DISTRIBUTIONS:
        raise StimulusError(f"distribution = {distribution!r} is not allowed; allowed values: "
                            f"{', '.join(DISTRIBUTIONS)}")
    shape = (n, size * size) if frames is None else (n, frames, size * size)
    rng = np.random.default_rng(seed)
    if distribution == "gaussian":
        x = contrast * rng.standard_normal(shape)
    else:
        x = contrast * (2.0 * rng.integers(0, 2, size=shape) - 1.0)
    params = {"n": n, "size": size, "contrast": contrast, "distribution": distribution,
              "frames": frames, "seed": seed,
              "units": {"contrast": "pixel standard deviation", "size": "pixels",
                        "frames": "bins"}}
    return StimulusSet(name="white_noise", x=x, image_shape=(size, size), params=params)


def sparse_noise(n=None, size=16, contrast=1.0, seed=0) -> StimulusSet:
    """Single bright or dark pixels on a grey (zero) field.

    Stimulus ``k`` has label ``L`` in ``0 .. 2M - 1``: pixel ``L mod M`` (row-major) is set to
    ``+a`` for ``L < M`` (bright) and to ``-a`` for ``L >= M`` (dark), with
    ``a = contrast * sqrt(M)``, all other pixels 0.

    Parameters
    ----------
    n : int or None
        None: the exhaustive set of all 2M dots in label order (each pixel bright, then each
        pixel dark), whose pixel mean is 0 and mean square exactly ``contrast**2``.
        An integer >= 1: ``n`` labels drawn uniformly with ``numpy.random.default_rng(seed)``.
    size : int
        Image side, pixels (M = size**2).
    contrast : float
        >= 0; dot amplitude ``contrast * sqrt(M)``.
    seed : int
        Seed for the random order (unused when ``n`` is None).

    Returns
    -------
    StimulusSet
        ``x`` of shape (n or 2M, size**2); ``labels`` as above.

    References
    ----------
    Jones & Palmer (1987), J Neurophysiol 58, 1187-1211; Ringach, Sapiro & Shapley (1997),
    Vision Res 37, 2455-2464.
    """
    size = check_int("size", size, lo=1, unit="pixels")
    contrast = check_real("contrast", contrast, lo=0.0)
    seed = check_int("seed", seed, lo=0)
    m = size * size
    if n is None:
        labels = np.arange(2 * m)
    else:
        n = check_int("n", n, lo=1)
        labels = np.random.default_rng(seed).integers(0, 2 * m, size=n)
    amplitude = contrast * math.sqrt(m)
    x = np.zeros((labels.size, m))
    rows = np.arange(labels.size)
    x[rows, labels % m] = np.where(labels < m, amplitude, -amplitude)
    params = {"n": None if n is None else n, "size": size, "contrast": contrast,
              "seed": seed, "amplitude": amplitude,
              "label_code": "label L: pixel L mod M (row-major), bright if L < M else dark",
              "units": {"contrast": "dot amplitude / sqrt(M)", "amplitude": "pixel value",
                        "size": "pixels"}}
    return StimulusSet(name="sparse_noise", x=x, image_shape=(size, size), params=params,
                       labels=labels)
