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
"""
from __future__ import annotations

import contextlib
import os
import signal

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


@contextlib.contextmanager
def handling_interrupts():
    """Install the handlers for the duration of a command; restore the previous ones."""
    received["signal"] = None
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in previous:
        signal.signal(s, _handler)
    try:
        yield received
    finally:
        for s, handler in previous.items():
            # after a signal the process is about to exit: a second Ctrl-C must not turn
            # the exit status into a death by SIGINT
            signal.signal(s, handler if received["signal"] is None else signal.SIG_IGN)


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
