"""The container every stimulus generator returns and every recording stores.

A :class:`StimulusSet` is the unit that flows from ``stimuli/`` into the
network (``models/``) and from there into a recording: the pixel array, the
geometry needed to draw it, and the generator name and parameters that made
it, so that a recording alone says what was shown.
"""
from __future__ import annotations

import dataclasses
import json

import numpy as np


class StimulusError(ValueError):
    """A stimulus set or generator parameter is invalid (message names it)."""


@dataclasses.dataclass(frozen=True)
class StimulusSet:
    """Stimuli with their provenance.

    Parameters
    ----------
    name : str
        Generator or data-set name, e.g. ``"natural16:test"`` or ``"grating"``.
    x : ndarray, shape (N, M) or (N, T, M), float64
        Static stimuli (one image per stimulus) or movies (T frames per
        stimulus); pixels flattened row-major from an ``H x W`` image.
    image_shape : tuple of int
        ``(H, W)`` with ``H * W == M``.
    params : dict
        JSON-serialisable generator parameters (physical units documented by
        each generator); stored as attributes of ``/stimuli`` in recordings.
    labels : ndarray, shape (N,), optional
        Class labels or condition indices, when the set has them.
    """

    name: str
    x: np.ndarray
    image_shape: tuple
    params: dict = dataclasses.field(default_factory=dict)
    labels: np.ndarray | None = None

    def __post_init__(self):
        if np.iscomplexobj(self.x):
            raise StimulusError(f"the stimuli are complex ({np.asarray(self.x).dtype}); pixels "
                                f"must be real numbers")
        x = np.asarray(self.x, dtype=np.float64)
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "image_shape", tuple(int(s) for s in self.image_shape))
        if x.ndim not in (2, 3):
            raise StimulusError(
                f"stimuli must be N x M (images) or N x T x M (movies), got shape {x.shape}")
        if x.shape[0] < 1:
            raise StimulusError("the stimulus set is empty (N = 0)")
        h, w = self.image_shape
        if h * w != x.shape[-1]:
            raise StimulusError(
                f"image_shape {self.image_shape} does not match {x.shape[-1]} pixels per stimulus")
        if not np.all(np.isfinite(x)):
            bad = int(np.count_nonzero(~np.isfinite(x)))
            raise StimulusError(f"stimuli contain {bad} NaN or infinite pixel values")
        if self.labels is not None:
            labels = np.asarray(self.labels)
            if labels.shape != (x.shape[0],):
                raise StimulusError(
                    f"labels have shape {labels.shape}, expected ({x.shape[0]},)")
            object.__setattr__(self, "labels", labels)
        json.dumps(self.params)  # fail early if the parameters cannot be stored

    @property
    def n_stimuli(self) -> int:
        """N, the number of stimuli (images or movies)."""
        return self.x.shape[0]

    @property
    def n_pixels(self) -> int:
        """M, the number of pixels per frame."""
        return self.x.shape[-1]

    @property
    def is_movie(self) -> bool:
        """True for N x T x M movies (the input changes every bin)."""
        return self.x.ndim == 3

    @property
    def n_frames(self) -> int | None:
        """T of a movie, None for static images."""
        return self.x.shape[1] if self.is_movie else None

    def conditions(self) -> dict:
        """Per-stimulus parameter values of a set built over a condition grid.

        Returns
        -------
        dict of str -> ndarray, each shape (N,)
            For generators called with sequences (``params["grid"]``, Cartesian product in
            ``params["grid_order"]``, last fastest; ``labels`` = condition index): the value of
            each grid parameter for every stimulus. Empty for sets without a grid.
        """
        grid = self.params.get("grid")
        if not grid or self.labels is None:
            return {}
        order = self.params.get("grid_order", list(grid))
        shape = tuple(len(grid[k]) for k in order)
        index = np.unravel_index(np.asarray(self.labels, dtype=np.int64), shape)
        return {k: np.asarray(grid[k], dtype=object if None in grid[k] else None)[i]
                for k, i in zip(order, index)}

    def head(self, n: int) -> "StimulusSet":
        """The first ``n`` stimuli, with the same provenance plus ``n``."""
        if not 1 <= n <= self.n_stimuli:
            raise StimulusError(
                f"n = {n} is out of range: the set {self.name!r} has {self.n_stimuli} stimuli "
                f"(allowed 1 to {self.n_stimuli})")
        labels = None if self.labels is None else self.labels[:n]
        return dataclasses.replace(self, x=self.x[:n], labels=labels,
                                   params={**self.params, "n": int(n)})
