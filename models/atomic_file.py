"""Write a file under its final name only once it is complete.

A simulation can fail or be interrupted (Ctrl-C) half way; users must never
find a half-written HDF5 file under the name they asked for. We write to a
temporary file in the same folder (so the final ``os.replace`` is an atomic
rename on the same file system) and rename it on success; on any exception,
``KeyboardInterrupt`` and ``SystemExit`` included, the temporary file is
removed.
"""
from __future__ import annotations

import contextlib
import os
import tempfile

from ipvae_brian.models.errors import SimulationInputError


def check_output_path(path) -> str:
    """Return ``path`` as a string after checking that its folder exists and is writable.

    Raises
    ------
    SimulationInputError
        If the folder does not exist, is not a folder, or is not writable, or
        ``path`` names an existing folder.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise SimulationInputError(f"output path {path!r} is a folder, expected a file name")
    if not os.path.isdir(folder):
        raise SimulationInputError(f"output folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise SimulationInputError(f"output folder {folder!r} is not writable")
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_output(path):
    """Context manager yielding a temporary path that becomes ``path`` on success.

    Examples
    --------
    >>> import h5py, os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "out.h5")
    >>> with atomic_output(target) as tmp:
    ...     with h5py.File(tmp, "w") as f:
    ...         f["x"] = 1
    >>> os.path.exists(target)
    True
    """
    path = check_output_path(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=folder)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
