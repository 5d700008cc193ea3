"""Write a file under its final name only once it is complete.

A simulation can fail or be interrupted (Ctrl-C) half way; users must never
find a half-written HDF5 file under the name they asked for. We write to a
temporary file in the same folder (so the final ``os.replace`` is an atomic
rename on the same file system) and rename it on success; on any exception,
``KeyboardInterrupt`` and ``SystemExit`` included, the temporary file is
removed.

The same module decides whether a command may write an output at all
(:func:`check_output_path`): an existing file is replaced only when the caller says so
(``overwrite=True``, the command line's ``--overwrite``), and an output that is one of
the run's inputs (the same file, by inode, under any name) is always refused, so that
``simulate --stimuli s.npy --out s.npy`` can never destroy its input. Every output
renamed into place is remembered (:data:`completed_outputs`), so that a command
interrupted after its file was complete can say so instead of claiming nothing was
written.
"""
from __future__ import annotations

import contextlib
import os
import tempfile

from ipvae_brian.models.errors import SimulationInputError


#: Absolute paths of the outputs renamed into place by :func:`atomic_output` in this
#: process, in order (the command line reads it when interrupted).
completed_outputs: list = []


def same_file(a, b) -> bool:
    """True if the paths ``a`` and ``b`` name the same existing file (same device and
    inode: a link or another spelling of the path counts)."""
    try:
        return os.path.samefile(os.fspath(a), os.fspath(b))
    except (OSError, TypeError, ValueError):
        return False


def check_output_path(path, inputs=(), overwrite: bool = True) -> str:
    """Return ``path`` as a string after checking that the file may be written there.

    Parameters
    ----------
    path : str or os.PathLike
        The output file.
    inputs : iterable of (str, path-like or None)
        The run's input files as ``(what, path)`` pairs (e.g. ``("--stimuli", "s.npy")``);
        None paths and names that are not files are skipped.
    overwrite : bool
        Whether an existing file may be replaced (the command line passes
        ``--overwrite``; library calls keep the old behaviour, True).

    Raises
    ------
    SimulationInputError
        If the folder does not exist, is not a folder, or is not writable; ``path``
        names an existing folder or something that is not a regular file (a pipe, a
        device); ``path`` is one of ``inputs``; or ``path`` exists and ``overwrite`` is
        False.

    Examples
    --------
    >>> import os, tempfile
    >>> stimuli = os.path.join(tempfile.mkdtemp(), "s.npy")
    >>> open(stimuli, "w").close()
    >>> check_output_path(stimuli, inputs=[("--stimuli", stimuli)])
    Traceback (most recent call last):
    ...
    ipvae_brian.models.errors.SimulationInputError: the output ... is the --stimuli input ...
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise SimulationInputError(f"output path {path!r} is a folder, expected a file name")
    if not os.path.isdir(folder):
        raise SimulationInputError(f"output folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise SimulationInputError(f"output folder {folder!r} is not writable")
    for what, source in inputs:
        if source is not None and same_file(path, source):
            raise SimulationInputError(
                f"the output {path!r} is the {what} input {os.fspath(source)!r}: writing it "
                f"would destroy the input; choose another output name")
    if os.path.lexists(path):
        if not os.path.isfile(path) or os.path.islink(path) and not os.path.exists(path):
            raise SimulationInputError(f"output path {path!r} exists and is not a regular "
                                       f"file; choose another output name")
        if not overwrite:
            raise SimulationInputError(f"output {path!r} exists; pass --overwrite to replace "
                                       f"it, or choose another output name")
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
        completed_outputs.append(os.path.abspath(path))
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
