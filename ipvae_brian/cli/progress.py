"""Progress shown on the terminal: tqdm bars over stimuli, over simulated bins and over
the models of compare-models."""
from __future__ import annotations

import contextlib
import sys


#: How long a network shape's first run takes to generate and compile its code, by
#: engine: measured cold (empty IPVAE_CACHE_DIR) at K = 512, M = 256 on a 2-core machine
#: (runtime: 27 s to the first stimulus; standalone: about 2 min); later runs reuse it.
COMPILE_ESTIMATE = {"runtime": "about 30 s", "standalone": "about 2 min"}


def preparing_text(engine: str | None) -> str:
    """What a bar says before its first stimulus: code generation and compilation."""
    estimate = COMPILE_ESTIMATE.get(engine or "", "up to 2 min")
    return f"generating and compiling the network's code (first run of a shape: {estimate})"


#: The ticker: a tiny separate process that redraws the bar's line every second while
#: the network's code is generated and compiled. (A thread cannot: Cython's compiler and
#: Brian2's code generation hold the GIL for many seconds at a time.)
_TICKER = r"""
import shutil, sys, time
line, start = sys.argv[1], time.monotonic() - float(sys.argv[2])
while True:
    s = int(time.monotonic() - start)
    text = f"{line} [{s // 60:02d}:{s % 60:02d} elapsed]"
    width = shutil.get_terminal_size((100, 24)).columns - 1
    sys.stdout.write("\r" + (text if len(text) <= width else text[:width - 3] + "..."))
    sys.stdout.flush()
    time.sleep(1.0)
"""


class progress_bar:
    """A tqdm bar over stimuli (with time left), or nothing when quiet.

    Until the first progress arrives (the network's code is being generated and compiled
    on a shape's first run), the line says so with its elapsed time, redrawn every second,
    so that a long compilation never looks like a hang; when it ends, a line says how long
    the preparation took.
    """

    def __init__(self, total: int, quiet: bool, engine: str | None = None):
        self.total, self.quiet, self.bar = total, quiet, None
        self.engine, self._ticker, self._start = engine, None, None

    def __enter__(self):
        if not self.quiet:
            import subprocess
            import time
            from tqdm import tqdm
            self._start = time.monotonic()
            self.bar = tqdm(total=self.total, unit="stim", dynamic_ncols=True,
                            desc="simulating", file=sys.stdout, leave=True, delay=0)
            sys.stdout.flush()
            try:
                self._ticker = subprocess.Popen(
                    [sys.executable, "-c", _TICKER, f"simulating: {preparing_text(self.engine)}",
                     f"{time.monotonic() - self._start:.2f}"],
                    stdout=sys.stdout, stderr=subprocess.DEVNULL)
            except (OSError, ValueError):       # no real stdout (e.g. captured): no ticker
                self._ticker = None
        return self

    def _stop_ticker(self):
        if self._ticker is not None:
            self._ticker.terminate()
            self._ticker.wait()
            self._ticker = None
            import time
            waited = time.monotonic() - self._start
            sys.stdout.write("\r\033[K")
            self.bar.write(f"  network ready after {waited:.0f} s (code generation and "
                           f"compilation; cached for later runs of this shape)")

    def update_to(self, done: float):
        if self.bar is not None:
            self._stop_ticker()
            self.bar.n = round(done, 1)
            self.bar.refresh()

    def __exit__(self, *exc):
        if self.bar is not None:
            if self._ticker is not None:
                self._ticker.terminate()
                self._ticker.wait()
            self.bar.close()


class V1ProgressBar:
    """One tqdm bar over all experiments, in simulated bins (a ProgressReporter of
    ``analysis.experiments.context``); a context manager that closes the bar."""

    def __init__(self, total: float):
        from tqdm import tqdm
        self.bar = tqdm(total=round(total), unit="bin", unit_scale=True, dynamic_ncols=True,
                        file=sys.stdout, desc="V1 experiments")
        self.base, self.estimate, self.done = 0.0, 0.0, 0.0

    def start(self, name: str, estimate: float):
        self.estimate, self.done = estimate, 0.0
        self.bar.set_description(name)

    def advance(self, units: float):
        # never run past this experiment's estimate (it is an upper bound, mostly)
        self.done += units
        self.bar.n = round(self.base + min(self.done, 0.99 * self.estimate))
        self.bar.refresh()

    def describe(self, text: str):
        self.bar.set_postfix_str(text, refresh=True)

    def finish(self):
        self.base += self.estimate
        self.bar.n = round(self.base)
        self.bar.refresh()

    def close(self):
        self.bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class ComparisonProgressBars:
    """compare-models on the terminal: a bar over the models, one over the current phase.

    Implements ``ipvae_brian.workflows.model_comparison.ComparisonProgress``; its
    :meth:`write` is the comparison's ``report``: printed above the bars while they run.
    """

    def __init__(self):
        self.models = None

    def start(self, n_models: int):
        from tqdm import tqdm
        self.models = tqdm(total=n_models, desc="models", unit="model", position=0,
                           dynamic_ncols=True, file=sys.stdout)

    def model(self, name: str):
        self.models.set_postfix_str(name)

    @contextlib.contextmanager
    def phase(self, total: int, description: str, unit: str):
        from tqdm import tqdm
        with tqdm(total=total, desc=description, unit=unit, leave=False, position=1,
                  dynamic_ncols=True, file=sys.stdout) as bar:
            yield lambda done: bar.update(int(done) - bar.n)

    def model_done(self):
        self.models.update(1)

    def close(self):
        if self.models is not None:
            self.models.close()
            self.models = None

    def write(self, text: str):
        if self.models is not None:
            from tqdm import tqdm
            tqdm.write(text, file=sys.stdout)
        else:
            print(text, flush=True)


class LearningProgressBar:
    """A tqdm bar over the minibatches of ``learn`` (none when quiet); a context manager.

    :meth:`update_to` is ``run_learning``'s ``progress`` (the bar appears at its first
    call); :meth:`write` prints a line above the bar while it is shown.
    """

    def __init__(self, quiet: bool):
        self.quiet, self.bar = quiet, None

    def __enter__(self):
        return self

    def update_to(self, done: int, total: int):
        if self.bar is None and not self.quiet:
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit="batch", desc="learning", file=sys.stdout,
                            dynamic_ncols=True)
        if self.bar is not None and done:
            self.bar.n = done
            self.bar.refresh()

    def write(self, text: str):
        (self.bar.write if self.bar is not None else print)(text)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()


class ByteProgressBar:
    """A tqdm bar over bytes written (an export), shown from its first update; a context
    manager. :meth:`update_to` takes ``(done, total)``, as ``export_nwb``'s ``progress``."""

    def __init__(self, description: str, quiet: bool = False):
        self.description, self.quiet, self.bar = description, quiet, None

    def __enter__(self):
        return self

    def update_to(self, done: int, total: int):
        if self.quiet:
            return
        if self.bar is None:
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                            desc=self.description, dynamic_ncols=True, file=sys.stdout)
        self.bar.total = max(total, done)
        self.bar.n = done
        self.bar.refresh()

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
