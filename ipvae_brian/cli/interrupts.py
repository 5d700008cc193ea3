"""Ctrl-C and SIGTERM on the command line: exit 130 or 143, and say what is on disk.

While a command runs, :func:`handling_interrupts` turns the first SIGINT (Ctrl-C) into
``KeyboardInterrupt`` and the first SIGTERM into :class:`Terminated` (a subclass), and
ignores every later one, so that a second Ctrl-C cannot interrupt the clean-up (the
temporary output file removed by :func:`ipvae_brian.models.atomic_file.atomic_output`,
a Dask cluster closed). Brian2's own handler, which turns Ctrl-C into "stop after this
time step" and lets the run return truncated results, is switched off
(``prefs.core.stop_on_keyboard_interrupt``, :func:`ipvae_brian.models.network.configure_brian`).

Exit statuses: 130 (128 + SIGINT) after Ctrl-C, 143 (128 + SIGTERM) after SIGTERM, with one
line on stderr and nothing under the output name; or 0 if the command's output files
were already complete when the signal came (the line says they are kept).

A signal that comes after the command returned, while the program exits (threads of a
Dask cluster ending, Python's own finalisation), leaves the command's exit status as it
was: the first one says so on one line, later ones are ignored; in the last moments of
Python's finalisation, when it runs no handlers any more, it is ignored without a word
(Python would otherwise restore the default action, and the process would die of the
signal next to its complete files).
"""
from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys

#: Exit status after Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 128 + signal.SIGINT
#: Exit status after SIGTERM (128 + SIGTERM).
EXIT_TERMINATED = 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM."""


#: The first signal received while :func:`handling_interrupts` is active (None: none yet).
received: dict = {"signal": None}


def _handler(signum, frame):
    if received["signal"] is not None:
        return                     # already unwinding: let the clean-up finish
    received["signal"] = signum
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def _ignore_signals():
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, signal.SIG_IGN)


def _after_the_command(signum, frame):
    """A signal after the command returned, while the process exits: its exit status
    stands; say so once, ignore later signals."""
    _ignore_signals()
    received["signal"] = signum
    from ipvae_brian.models.atomic_file import completed_outputs
    code, line = interrupted_exit(None, getattr(received.get("args"), "final_outputs", []),
                                  completed_outputs)
    if code != 0:
        what = "terminated (SIGTERM)" if signum == signal.SIGTERM else "interrupted"
        line = f"{what} after the command had finished: its exit status stands"
    with contextlib.suppress(Exception):
        print(line, file=sys.stderr, flush=True)


@contextlib.contextmanager
def handling_interrupts(exiting: bool = False):
    """Install the handlers for the duration of a command; restore the previous ones.

    Parameters
    ----------
    exiting : bool
        The process ends when the command returns (the program, not a call of ``main``
        from Python): the previous handlers are not restored; a signal that comes while
        the process exits is reported and ignored (module docstring).
    """
    received["signal"] = None
    received.pop("args", None)
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in previous:
        signal.signal(s, _handler)
    if exiting:
        # Python puts back the default action of the signals it handles when it
        # finalises (after the atexit functions, registered later run first); it keeps
        # SIG_IGN
        atexit.register(_ignore_signals)
    try:
        yield received
    finally:
        for s, handler in previous.items():
            # after a signal the process is about to exit: a second Ctrl-C must not turn
            # the exit status into a death by SIGINT
            signal.signal(s, signal.SIG_IGN if received["signal"] is not None else
                          _after_the_command if exiting else handler)


def interrupted_exit(exc: BaseException | None, final_outputs, completed) -> tuple[int, str]:
    """The exit status and the one line to print after an interrupt.

    Parameters
    ----------
    exc : BaseException or None
        What unwound the command (``KeyboardInterrupt``, :class:`Terminated`, or another
        exception that followed the signal, e.g. a child process killed by it).
    final_outputs : list of str
        The files the command writes last (absolute paths); if all of them were renamed
        into place (``completed``) the command's work was done.
    completed : list of str
        :data:`ipvae_brian.models.atomic_file.completed_outputs`.

    Returns
    -------
    (int, str)
    """
    terminated = isinstance(exc, Terminated) or received["signal"] == signal.SIGTERM
    what = "terminated (SIGTERM)" if terminated else "interrupted"
    done = set(completed)
    if final_outputs and all(os.path.abspath(p) in done for p in final_outputs):
        names = ", ".join(final_outputs)
        return 0, f"{what} after {names} {'was' if len(final_outputs) == 1 else 'were'} " \
                  f"written completely: kept"
    code = EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    if completed:
        kept = ", ".join(os.path.relpath(p) for p in completed)
        return code, f"{what}: the files completed before are kept ({kept}); nothing else " \
                     f"was written"
    return code, f"{what}: no output file was written"
