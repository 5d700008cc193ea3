"""Sinusoidal gratings, drifting gratings and plaids, in circular apertures or full field.

Conventions (all generators of this module)
-------------------------------------------
Coordinates
    ``x`` in pixels to the right (along columns), ``y`` in pixels upward (rows are counted
    downward, so ``y = (size - 1) / 2 - row``), origin at the image centre shifted by
    (``center_x``, ``center_y``).
Orientation
    The direction of the grating's wave vector, in degrees counter-clockwise from +x as the image
    is displayed (row 0 at the top). Orientation 0 gives vertical stripes (luminance varies
    along x), 90 horizontal stripes. The stripes themselves run at ``orientation + 90``.
    A drifting grating moves along its wave vector, so for drifting gratings ``orientation``
    is the drift direction (0 = rightward, 90 = upward) and matters modulo 360; for static
    gratings it matters modulo 180 (with the phase).
Pixel value
    ``s(x, y, t) = sqrt(2) * contrast * cos(2 pi sf (x cos(o) + y sin(o)) - phase - 2 pi tf t)``
    inside the aperture, 0 (the grey, mean level) outside. A full-field grating with a whole
    number of cycles therefore has pixel mean 0 and standard deviation ``contrast``, the same
    variance as the z-scored natural16 patches at contrast 1 (``docs/data.md``).
Phase
    ``phase`` in degrees; 0 puts a bright crest through the stimulus centre. The temporal phase
    at any fixed pixel advances by ``2 pi tf`` radians per bin (the pattern moves forward by
    ``tf / sf`` pixels per bin).
Aperture
    A hard-edged disc: pixels whose centres lie within ``diameter / 2`` of the stimulus centre
    show the grating, the rest are 0. ``diameter=None`` is full field.
Condition grids
    Parameters marked "scalar or sequence" may be given as lists; the set then holds the
    Cartesian product in the order the function lists (last varies fastest), ``labels`` holds
    the condition index and ``params["grid"]`` the values (``StimulusSet.conditions()`` maps
    back).

References
----------
Campbell, F. W. & Robson, J. G. (1968). Application of Fourier analysis to the visibility of
gratings. J Physiol 197, 551-566.
Cavanaugh, J. R., Bair, W. & Movshon, J. A. (2002). Nature and interaction of signals from the
receptive field center and surround in macaque V1 neurons. J Neurophysiol 88, 2530-2546
(apertures of increasing diameter).
Morrone, M. C., Burr, D. C. & Maffei, L. (1982). Functional implications of cross-orientation
inhibition of cortical visual cells. Proc R Soc Lond B 216, 335-354 (plaids).
"""
from __future__ import annotations

import math

import numpy as np

from ipvae_brian.stimuli.conditions import (check_diameters, check_int, check_real, check_reals,
                                check_spatial_frequency, condition_grid, pixel_coordinates)
from ipvae_brian.stimuli.stimulus_set import StimulusError, StimulusSet

#: Peak amplitude per unit contrast: a full-field sinusoid of amplitude sqrt(2) has unit
#: standard deviation, like the z-scored natural16 patches.
AMPLITUDE_PER_CONTRAST = math.sqrt(2.0)

CONVENTION = ("x rightward (columns), y upward (rows counted downward), origin at the image "
              "centre + (center_x, center_y); orientation = wave-vector direction, deg "
              "counter-clockwise from +x; value = sqrt(2)*contrast*cos(2*pi*sf*(x*cos(o) + "
              "y*sin(o)) - phase - 2*pi*tf*t) inside the aperture, 0 outside")

UNITS = {"orientation": "deg", "sf": "cycles/pixel", "phase": "deg", "contrast": "1",
         "mask_contrast": "1", "mask_sf": "cycles/pixel", "mask_phase": "deg",
         "diameter": "pixels", "tf": "cycles/bin", "frames": "bins", "size": "pixels",
         "center_x": "pixels", "center_y": "pixels"}


def circular_aperture(size: int = 16, diameter: float | None = None, center_x: float = 0.0,
                      center_y: float = 0.0) -> np.ndarray:
    """A hard-edged disc mask.

    Parameters
    ----------
    size : int
        Image side, pixels.
    diameter : float or None
        Disc diameter, pixels; None for full field (all ones).
    center_x, center_y : float
        Disc centre relative to the image centre, pixels (x rightward, y upward).

    Returns
    -------
    ndarray, shape (size, size), float64
        1 where the pixel centre lies within ``diameter / 2`` of the disc centre, else 0.
    """
    size = check_int("size", size, lo=2, unit="pixels")
    if isinstance(diameter, (list, tuple, np.ndarray)):
        raise StimulusError("diameter must be one value (pixels > 0) or None for full field")
    diameter = check_diameters("diameter", diameter)[0]
    if diameter is None:
        return np.ones((size, size))
    x, y = pixel_coordinates(size)
    r2 = (x - center_x) ** 2 + (y - center_y) ** 2
    return (r2 <= (diameter / 2.0) ** 2).astype(np.float64)


def _sinusoid(size, orientation, sf, phase, contrast, center_x, center_y, tf=0.0, frames=None):
    """Grating pixels: shape (size, size), or (frames, size, size) when ``frames`` is given."""
    x, y = pixel_coordinates(size)
    theta = math.radians(orientation)
    u = (x - center_x) * math.cos(theta) + (y - center_y) * math.sin(theta)
    spatial = 2.0 * math.pi * sf * u - math.radians(phase)
    amplitude = AMPLITUDE_PER_CONTRAST * contrast
    if frames is None:
        return amplitude * np.cos(spatial)
    t = np.arange(frames, dtype=np.float64)[:, None, None]
    return amplitude * np.cos(spatial[None] - 2.0 * math.pi * tf * t)


def _record(axes_given: dict, grid: dict, extra: dict) -> dict:
    params = {}
    for key, given in axes_given.items():
        values = grid[key]
        params[key] = values if isinstance(given, (list, tuple, np.ndarray)) else values[0]
    params.update(extra)
    params["grid"] = grid
    params["grid_order"] = list(grid)
    params["units"] = {k: UNITS[k] for k in list(grid) + list(extra) if k in UNITS}
    params["convention"] = CONVENTION
    return params


def _common(size, center_x, center_y):
    size = check_int("size", size, lo=2, unit="pixels")
    center_x = check_real("center_x", center_x, unit="pixels")
    center_y = check_real("center_y", center_y, unit="pixels")
    return size, center_x, center_y


def grating(orientation=0.0, sf=0.125, phase=0.0, contrast=1.0, diameter=None, size=16,
            center_x=0.0, center_y=0.0) -> StimulusSet:
    """Static sinusoidal gratings, one image per condition.

    Parameters
    ----------
    orientation : float or sequence of float
        Wave-vector direction, degrees counter-clockwise from +x (0 = vertical stripes);
        any finite value.
    sf : float or sequence of float
        Spatial frequency, cycles/pixel, 0 to 0.5 (Nyquist).
    phase : float or sequence of float
        Spatial phase, degrees; 0 puts a bright crest through the stimulus centre.
    contrast : float or sequence of float
        >= 0; peak amplitude ``sqrt(2) * contrast``, so a full-field grating has pixel standard
        deviation ``contrast`` (1 = the natural16 pixel variance).
    diameter : float, None or sequence
        Circular aperture diameter, pixels (> 0), grey (0) outside; None = full field.
    size : int
        Image side, pixels (image is ``size x size``, M = size**2).
    center_x, center_y : float
        Stimulus centre (aperture and phase origin) relative to the image centre, pixels,
        x rightward, y upward.

    Returns
    -------
    StimulusSet
        ``x`` of shape (N, size**2) with N the number of conditions, in the order
        orientation, sf, phase, contrast, diameter (last fastest); ``labels`` = condition index.

    References
    ----------
    Campbell & Robson (1968), J Physiol 197, 551-566.
    """
    size, center_x, center_y = _common(size, center_x, center_y)
    axes_given = {"orientation": orientation, "sf": sf, "phase": phase, "contrast": contrast,
                  "diameter": diameter}
    grid, conditions = condition_grid({
        "orientation": check_reals("orientation", orientation, unit="deg"),
        "sf": check_spatial_frequency("sf", sf),
        "phase": check_reals("phase", phase, unit="deg"),
        "contrast": check_reals("contrast", contrast, lo=0.0),
        "diameter": check_diameters("diameter", diameter),
    })
    x = np.empty((len(conditions), size * size))
    for i, c in enumerate(conditions):
        image = _sinusoid(size, c["orientation"], c["sf"], c["phase"], c["contrast"],
                          center_x, center_y)
        image *= circular_aperture(size, c["diameter"], center_x, center_y)
        x[i] = image.reshape(-1)
    params = _record(axes_given, grid, {"size": size, "center_x": center_x,
                                        "center_y": center_y})
    return StimulusSet(name="grating", x=x, image_shape=(size, size), params=params,
                       labels=np.arange(len(conditions)))


def drifting_grating(orientation=0.0, sf=0.125, tf=0.0625, phase=0.0, contrast=1.0,
                     diameter=None, frames=64, size=16, center_x=0.0,
                     center_y=0.0) -> StimulusSet:
    """Drifting sinusoidal gratings, one movie per condition.

    Parameters
    ----------
    orientation : float or sequence of float
        Drift direction = wave-vector direction, degrees counter-clockwise from +x
        (0 = vertical stripes moving rightward, 90 = horizontal stripes moving upward).
    sf : float or sequence of float
        Spatial frequency, cycles/pixel, 0 to 0.5 (Nyquist).
    tf : float or sequence of float
        Temporal frequency, cycles/bin, -0.5 to 0.5 (temporal Nyquist); the phase at every pixel
        advances by ``2 pi tf`` radians per bin; negative values drift backward.
    phase : float or sequence of float
        Spatial phase at frame 0, degrees.
    contrast : float or sequence of float
        >= 0; pixel standard deviation of a full-field grating.
    diameter : float, None or sequence
        Circular aperture diameter, pixels; None = full field.
    frames : int
        Frames per movie (bins), >= 1.
    size : int
        Image side, pixels.
    center_x, center_y : float
        Stimulus centre relative to the image centre, pixels.

    Returns
    -------
    StimulusSet
        ``x`` of shape (N, frames, size**2), conditions in the order orientation, sf, tf,
        phase, contrast, diameter (last fastest); ``labels`` = condition index.

    References
    ----------
    Skottun, B. C. et al. (1991). Classifying simple and complex cells on the basis of response
    modulation. Vision Res 31, 1079-1086 (drifting gratings, F1/F0).
    """
    size, center_x, center_y = _common(size, center_x, center_y)
    frames = check_int("frames", frames, lo=1, unit="bins")
    axes_given = {"orientation": orientation, "sf": sf, "tf": tf, "phase": phase,
                  "contrast": contrast, "diameter": diameter}
    grid, conditions = condition_grid({
        "orientation": check_reals("orientation", orientation, unit="deg"),
        "sf": check_spatial_frequency("sf", sf),
        "tf": check_reals("tf", tf, lo=-0.5, hi=0.5, unit="cycles/bin",
                          why="(above the temporal Nyquist limit of 0.5 cycles/bin)"),
        "phase": check_reals("phase", phase, unit="deg"),
        "contrast": check_reals("contrast", contrast, lo=0.0),
        "diameter": check_diameters("diameter", diameter),
    })
    x = np.empty((len(conditions), frames, size * size))
    for i, c in enumerate(conditions):
        movie = _sinusoid(size, c["orientation"], c["sf"], c["phase"], c["contrast"],
                          center_x, center_y, tf=c["tf"], frames=frames)
        movie *= circular_aperture(size, c["diameter"], center_x, center_y)[None]
        x[i] = movie.reshape(frames, -1)
    params = _record(axes_given, grid, {"frames": frames, "size": size,
                                        "center_x": center_x, "center_y": center_y})
    return StimulusSet(name="drifting_grating", x=x, image_shape=(size, size), params=params,
                       labels=np.arange(len(conditions)))


def plaid(orientation=0.0, sf=0.125, phase=0.0, contrast=0.5, mask_contrast=0.5,
          diameter=None, mask_sf=None, mask_phase=0.0, tf=0.0, frames=None, size=16,
          center_x=0.0, center_y=0.0) -> StimulusSet:
    """Plaids: a test grating plus an orthogonal mask grating, each at its own contrast.

    The plaid is the sum of ``grating(orientation, sf, phase, contrast)`` and
    ``grating(orientation + 90, mask_sf, mask_phase, mask_contrast)`` inside one aperture, so
    its full-field pixel variance is ``contrast**2 + mask_contrast**2``. With
    ``mask_contrast = 0`` it is the test grating alone (the reference condition of a
    cross-orientation suppression experiment).

    Parameters
    ----------
    orientation : float or sequence of float
        Test grating's wave-vector direction, degrees counter-clockwise from +x; the mask's is
        ``orientation + 90``.
    sf : float or sequence of float
        Test spatial frequency, cycles/pixel, 0 to 0.5.
    phase : float or sequence of float
        Test spatial phase, degrees.
    contrast : float or sequence of float
        Test contrast, >= 0.
    mask_contrast : float or sequence of float
        Mask contrast, >= 0.
    diameter : float, None or sequence
        Circular aperture diameter, pixels; None = full field.
    mask_sf : float or None
        Mask spatial frequency, cycles/pixel (None = same as the test's).
    mask_phase : float
        Mask spatial phase, degrees.
    tf : float
        Temporal frequency of both components, cycles/bin, -0.5 to 0.5 (used when ``frames``
        is given; each component drifts along its own wave vector).
    frames : int or None
        None for static plaids (N x M); an integer >= 1 for movies (N x frames x M).
    size : int
        Image side, pixels.
    center_x, center_y : float
        Stimulus centre relative to the image centre, pixels.

    Returns
    -------
    StimulusSet
        ``x`` of shape (N, size**2), or (N, frames, size**2) with ``frames``; conditions in the
        order orientation, sf, phase, contrast, mask_contrast, diameter (last fastest);
        ``labels`` = condition index.

    References
    ----------
    Morrone, Burr & Maffei (1982), Proc R Soc Lond B 216, 335-354; Priebe & Ferster (2006),
    Nat Neurosci 9, 552-561.
    """
    size, center_x, center_y = _common(size, center_x, center_y)
    if mask_sf is not None:
        mask_sf = check_spatial_frequency("mask_sf", mask_sf)[0]
    mask_phase = check_real("mask_phase", mask_phase, unit="deg")
    tf = check_real("tf", tf, lo=-0.5, hi=0.5, unit="cycles/bin",
                    why="(above the temporal Nyquist limit of 0.5 cycles/bin)")
    if frames is not None:
        frames = check_int("frames", frames, lo=1, unit="bins")
    axes_given = {"orientation": orientation, "sf": sf, "phase": phase, "contrast": contrast,
                  "mask_contrast": mask_contrast, "diameter": diameter}
    grid, conditions = condition_grid({
        "orientation": check_reals("orientation", orientation, unit="deg"),
        "sf": check_spatial_frequency("sf", sf),
        "phase": check_reals("phase", phase, unit="deg"),
        "contrast": check_reals("contrast", contrast, lo=0.0),
        "mask_contrast": check_reals("mask_contrast", mask_contrast, lo=0.0),
        "diameter": check_diameters("diameter", diameter),
    })
    shape = (len(conditions), size * size) if frames is None else \
        (len(conditions), frames, size * size)
    x = np.empty(shape)
    for i, c in enumerate(conditions):
        test = _sinusoid(size, c["orientation"], c["sf"], c["phase"], c["contrast"],
                         center_x, center_y, tf=tf, frames=frames)
        mask = _sinusoid(size, c["orientation"] + 90.0,
                         c["sf"] if mask_sf is None else mask_sf, mask_phase,
                         c["mask_contrast"], center_x, center_y, tf=tf, frames=frames)
        pix = (test + mask) * circular_aperture(size, c["diameter"], center_x, center_y)
        x[i] = pix.reshape(shape[1:])
    params = _record(axes_given, grid, {
        "mask_sf": mask_sf, "mask_phase": mask_phase, "mask_orientation": "orientation + 90",
        "tf": tf, "frames": frames, "size": size, "center_x": center_x, "center_y": center_y})
    return StimulusSet(name="plaid", x=x, image_shape=(size, size), params=params,
                       labels=np.arange(len(conditions)))


__all__ = ["grating", "drifting_grating", "plaid", "circular_aperture",
           "AMPLITUDE_PER_CONTRAST"]
