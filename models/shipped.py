"""Parameter files that ship with the package (learned defaults), found by stimulus size.

``models/data/`` holds one parameter file per embedded data set; the command
that reproduces each is stored in the file's ``/params`` provenance and in the
README. ``run_sim.py simulate`` uses them when no ``--params`` is given.
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
