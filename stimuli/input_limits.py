"""Input files read safely, and sizes checked against the memory before allocating.

Every reader of a user's file (parameter files, recordings, stimulus files) goes through
these checks, so that a bad file is one line naming it, never a hang or a traceback:

- a named pipe, a device or a socket given as a file is refused (reading a pipe blocks
  until someone writes to it; ``/dev/zero`` never ends);
- an HDF5 object read as an array must be a dataset (not a group) of numbers (not text,
  not complex), whose declared size fits in memory
  (:func:`check_allocation`): a header can declare 2^40 rows
  that the file does not hold;
- only the rows asked for are read, and a corrupt (unreadable) chunk is reported with
  the file's name.

Sizes: :func:`check_allocation` refuses an estimate above the available memory
(``MemAvailable`` of ``/proc/meminfo``, else the free physical pages;
``$IPVAE_MEMORY_LIMIT`` in bytes overrides both), naming the estimate. The lowest layer
of the package (stimuli) holds these checks so that every reader can use them; each
caller passes the exception class of its own layer (``error``).
"""
from __future__ import annotations

import os
import stat

import numpy as np


def available_memory() -> int:
    """Bytes of memory this process can still allocate without swapping (an estimate)."""
    if os.environ.get("IPVAE_MEMORY_LIMIT"):
        return int(float(os.environ["IPVAE_MEMORY_LIMIT"]))
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover (not Linux)
        pass
    try:  # pragma: no cover
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return 2 ** 62


def format_bytes(n: float) -> str:
    """``1.5 GB``-style text of a byte count (powers of 1000).

    >>> format_bytes(320e9), format_bytes(2 ** 40 * 256 * 8)
    ('320 GB', '2.25 PB')
    """
    for unit in ("B", "kB", "MB", "GB", "TB", "PB", "EB"):
        if abs(n) < 1000 or unit == "EB":
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} EB"  # pragma: no cover


def check_allocation(nbytes: float, what: str, hint: str = "", error=ValueError) -> None:
    """Refuse an allocation of ``nbytes`` that exceeds the available memory.

    Parameters
    ----------
    nbytes : float
        The estimate.
    what : str
        What would allocate it, with the sizes it follows from (the message's start).
    hint : str
        What to change, appended to the message.

    error : type
        The exception raised (a ``ValueError`` subclass of the caller's layer).

    Raises
    ------
    error
        ``"{what} would need {estimate} of memory, more than the {available} available"``.
    """
    available = available_memory()
    if nbytes > available:
        raise error(
            f"{what} would need about {format_bytes(nbytes)} of memory, more than the "
            f"{format_bytes(available)} available{'; ' + hint if hint else ''}")


def input_file(source) -> str | None:
    """``source`` if it names an existing file system entry (a path given where a spec is
    also accepted, e.g. ``--stimuli``), else None."""
    if source is None:
        return None
    source = os.fspath(source)
    return source if os.path.lexists(source) else None


def check_regular_file(path, what: str = "file", error=ValueError) -> str:
    """Return ``path`` if it is an existing regular file (or a link to one).

    Raises
    ------
    error
        If it does not exist, is a folder, or is a named pipe, device or socket.
    """
    path = os.fspath(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise error(f"{what} {path!r} does not exist") from None
    except OSError as exc:
        raise error(f"{what} {path!r} cannot be read: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        raise error(f"{what} {path!r} is a folder, expected a file")
    if not stat.S_ISREG(mode):
        kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(mode) else
                "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else
                "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
        raise error(f"{what} {path!r} is {kind}, not a regular file; save the data to a "
                    f"file and give its name")
    return path


def check_dataset(parent, name: str, source: str, rows: int | None = None,
                  error=ValueError):
    """The h5py dataset ``parent[name]`` after checking that it can be read as numbers.

    Parameters
    ----------
    parent : h5py.Group
    name : str
    source : str
        The file's name, for the messages.
    rows : int, optional
        Only the first ``rows`` rows will be read (their size is what is checked).

    Raises
    ------
    error
        Missing, a group, not numeric (text, compound) or complex, or larger than memory.
    """
    import h5py
    obj = parent.get(name)
    where = f"{source}: {parent.name.rstrip('/')}/{name}"
    if obj is None:
        raise error(f"{where} is missing")
    if not isinstance(obj, h5py.Dataset):
        raise error(f"{where} is a group, expected a dataset of numbers")
    if np.issubdtype(obj.dtype, np.complexfloating):
        raise error(f"{where} holds complex numbers ({obj.dtype}); expected real "
                              f"numbers")
    if not (np.issubdtype(obj.dtype, np.number) or obj.dtype == np.bool_):
        raise error(f"{where} holds {obj.dtype} values (text?), expected numbers")
    shape = tuple(obj.shape)
    if rows is not None and shape:
        shape = (min(int(rows), shape[0]),) + shape[1:]
    check_allocation(float(np.prod(shape, dtype=float)) * max(8, obj.dtype.itemsize),
                     f"{where} declares shape {tuple(obj.shape)}; reading "
                     f"{'it' if rows is None else f'{shape[0]:,} rows'}",
                     "the file is corrupt or not what it seems", error)
    return obj


def read_dataset(parent, name: str, source: str, rows: int | None = None,
                 error=ValueError) -> np.ndarray:
    """Read ``parent[name]`` (its first ``rows`` rows) after :func:`check_dataset`; a
    corrupt chunk is an ``error`` naming the file."""
    obj = check_dataset(parent, name, source, rows, error)
    try:
        return obj[()] if rows is None or not obj.shape else obj[:int(rows)]
    except (OSError, ValueError, TypeError) as exc:
        text = " ".join(str(exc).split())
        raise error(f"{source}: {obj.name} cannot be read (corrupt or truncated "
                              f"file?): {text}") from None


class CheckedDataset:
    """An h5py dataset whose reads report a corrupt chunk with the file's name.

    Indexing reads as h5py does; a failing read raises ``error`` naming
    the file and the dataset. Every other attribute (``shape``, ``dtype``, ``attrs``,
    ``chunks``, ...) is the dataset's.
    """

    def __init__(self, dataset, source: str, error=ValueError):
        self._dataset = dataset
        self._source = source
        self._error = error

    def __getitem__(self, index):
        try:
            return self._dataset[index]
        except (OSError, RuntimeError) as exc:
            text = " ".join(str(exc).split())
            raise self._error(f"{self._source}: {self._dataset.name} cannot be read "
                                  f"(corrupt or truncated file?): {text}") from None

    def __array__(self, dtype=None, copy=None):
        values = self[()]
        return values if dtype is None else values.astype(dtype)

    def __len__(self):
        return len(self._dataset)

    def __getattr__(self, name):
        return getattr(self._dataset, name)


def read_npy_rows(path: str, rows: int | None = None, error=ValueError) -> np.ndarray:
    """The first ``rows`` rows (all: None) of a ``.npy`` file, reading nothing else.

    The array is memory-mapped, so its header is checked against the file (a header
    declaring more rows than the file holds is refused) and against the memory before
    the rows asked for are copied.

    Raises
    ------
    error
        Not a readable ``.npy`` array, or larger than the memory.
    """
    try:
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        text = " ".join(str(exc).split())
        raise error(f"{path}: not a readable .npy array (truncated, or a header that "
                    f"declares more than the file holds?): {text}") from None
    part = mapped if rows is None or mapped.ndim == 0 else mapped[:int(rows)]
    try:
        check_allocation(float(part.size) * max(8, part.dtype.itemsize),
                         f"{path}: reading the array of shape {mapped.shape} ({len(part):,} "
                         f"rows)" if part.ndim else f"{path}", "read fewer stimuli (--n)", error)
    except ValueError as exc:
        raise error(str(exc)) from None
    return np.array(part)
