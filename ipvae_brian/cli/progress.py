"""Progress shown on the terminal: tqdm bars over stimuli, over simulated bins and over
the models of compare-models."""
from __future__ import annotations

import contextlib
import sys


class progress_bar:
    """A tqdm bar over stimuli (with time left), or nothing when quiet."""

    def __init__(self, total: int, quiet: bool):
        self.total, self.quiet, self.bar = total, quiet, None

    def __enter__(self):
        if not self.quiet:
            from tqdm import tqdm
            self.bar = tqdm(total=self.total, unit="stim", dynamic_ncols=True,
                            desc="simulating", file=sys.stdout)
        return self

    def update_to(self, done: float):
        if self.bar is not None:
            self.bar.n = round(done, 1)
            self.bar.refresh()

    def __exit__(self, *exc):
        if self.bar is not None:
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
