"""Parameter files that ship with the package (learned defaults), found by stimulus size.

``models/data/`` holds one parameter file per embedded data set; the command
that reproduces each is stored in the file's ``/params`` provenance and in the
README. ``ipvae simulate`` uses them when no ``--params`` is given (:func:`resolve_parameters`).
"""
from __future__ import annotations

import os

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

#: Shipped parameter files by number of pixels M.
SHIPPED_PARAMETERS = {
    256: "natural16_K512.h5",   # 16 x 16 whitened natural patches (stimuli.natural16)
    64: "digits8.h5",           # 8 x 8 digits (stimuli.digits8)
}


def default_parameters_path(n_pixels: int) -> str | None:
    """Path of the shipped parameter file for stimuli of ``n_pixels`` pixels, or None."""
    name = SHIPPED_PARAMETERS.get(int(n_pixels))
    if name is None:
        return None
    path = os.path.join(DATA_DIR, name)
    return path if os.path.exists(path) else None


def resolve_parameters(n_pixels: int, path: str | None = None, random: bool = False,
                       n_latents: int = 512, seed: int = 0):
    """The parameters of a run: a file, random ones, or the shipped default for the size.

    Parameters
    ----------
    n_pixels : int
        M, the pixels of the stimuli the parameters must fit.
    path : str, optional
        A parameter file (``IPVAEParameters.load``).
    random : bool
        The authors' random initialisation (seeded by ``seed``, ``n_latents`` neurons).
    n_latents, seed : int
        For random parameters.

    Returns
    -------
    (IPVAEParameters, str, str or None)
        The parameters, where they came from (a path or ``"random (seed S, K = K)"``), and
        a note when random parameters stand in because nothing ships for ``n_pixels``.
    """
    from ipvae_brian.models.errors import SimulationInputError
    from ipvae_brian.models.parameters import IPVAEParameters
    if path and random:
        raise SimulationInputError("--params and --random-params exclude each other")
    random_source = f"random (seed {seed}, K = {n_latents})"
    if random:
        return IPVAEParameters.random(n_pixels, n_latents, seed=seed), random_source, None
    path = path or default_parameters_path(n_pixels)
    if path is None:
        note = (f"note: no --params given and no shipped parameters for M = {n_pixels} "
                f"pixels; using random parameters (seed {seed}, K = {n_latents})")
        return IPVAEParameters.random(n_pixels, n_latents, seed=seed), random_source, note
    return IPVAEParameters.load(path), path, None


def parameter_pixel_counts(path: str | None = None, random: bool = False):
    """The pixel counts M that the run's parameters accept, for reading a stimulus file.

    Parameters
    ----------
    path : str, optional
        A ``--params`` file (its M, required).
    random : bool
        ``--random-params``: any M.

    Returns
    -------
    (tuple of int or None, bool)
        The pixel counts (None: any) and whether they are required (a file's M) or only
        preferred (the sizes parameters ship for; random ones stand in for others). The
        ``pixels`` and ``pixels_required`` of
        :func:`ipvae_brian.stimuli.stimulus_file.choose_layout`.
    """
    if random:
        return None, False
    if path:
        from ipvae_brian.models.parameters import IPVAEParameters
        return (IPVAEParameters.load(path).n_pixels,), True
    return tuple(m for m in SHIPPED_PARAMETERS if default_parameters_path(m)), False
