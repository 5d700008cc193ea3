"""Progress shown on the terminal: tqdm bars over stimuli and over simulated bins."""
from __future__ import annotations

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
    """One tqdm bar over all experiments, in simulated bins (analysis.experiment_runner)."""

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
