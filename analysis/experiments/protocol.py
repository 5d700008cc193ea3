"""The sizes and stimulus parameters of every V1 experiment (one :class:`Protocol`).

Time: one bin is 25 ms. Drifting gratings move at ``tf`` = 1/32 cycle per bin
(1.25 Hz, an 800 ms period). The model integrates its drive in log-rate space
(u_{t+1} = u_t + eta (I_ff - b - ...)) without a leak below threshold, so its
response falls steeply with temporal frequency: with a Gabor dictionary (eta 0.5,
column norm 0.5) the mean response at the preferred grating was 10 to 20 times
smaller at 1/16 cycle per bin than at 1/32. Every movie starts from u = u0 (the
prior); the first ``settle_bins`` (32 bins, one full cycle, 800 ms) are left out
of every response window, so that responses are steady-state responses that no
longer depend on the grating's phase at onset; the window then spans whole
cycles. ``Protocol.quick()`` shrinks every number for smoke tests.

Trials: every grating condition (orientation grid, contrast, size, plaids,
F1/F0) is shown on 10 trials (``orientation_trials``, ``contrast_repeats``,
``size_repeats``, ``plaid_repeats``, ``f1f0_repeats``), each from u = u0 with
its own spikes. The orientation grid also shows a blank (zero-contrast) movie on
as many trials: each neuron's spontaneous rate. To keep the default
``compare-v1`` near 25 minutes on 2 cores with 10 trials, the experiments at the
preferred grating analyse at most ``max_neurons`` = 64 neurons (was 128 with
1 to 4 trials); the bins of every experiment are ``Experiment.estimated_work``.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ipvae_brian.analysis.experiments.context import ExperimentContext


@dataclasses.dataclass(frozen=True)
class Protocol:
    """Sizes and stimulus parameters of every experiment (see each experiment's module)."""

    directions: int = 24
    sfs: tuple = (0.0625, 0.0884, 0.125, 0.1768, 0.25, 0.3536)
    tf: float = 1 / 32
    settle_bins: int = 32
    orientation_cycles: int = 1
    orientation_trials: int = 10
    grating_contrast: float = 0.5
    max_neurons: int = 64
    contrasts: tuple = (0.0, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 3 / 4, 1.0)
    contrast_cycles: int = 1
    contrast_repeats: int = 10
    diameters: tuple = (1 / 8, 3 / 16, 1 / 4, 3 / 8, 1 / 2, 3 / 4, 1.0, None)
    size_repeats: int = 10
    centre_offset: float = 1 / 4
    plaid_contrast: float = 0.5
    plaid_repeats: int = 10
    f1f0_cycles: int = 2
    f1f0_repeats: int = 10
    rf_images: int = 16000
    rf_hold_bins: int = 8
    rf_lags: int = 3
    rf_contrast: float = 3.0
    rf_min_spikes: int = 100
    rf_min_r_squared: float = 0.5
    bar_directions: int = 16
    bar_repeats: int = 4
    bar_blank: int = 4
    natural_images: int = 2000
    natural_aperture_images: int = 500
    natural_steps: int = 32
    natural_skip: int = 8
    repeat_images: int = 8
    repeat_trials: int = 32
    repeat_substeps: int = 50
    isi_min_intervals: int = 20

    @classmethod
    def quick(cls) -> "Protocol":
        """Smallest sizes that still exercise every step (seconds per experiment at K = 16)."""
        return cls(directions=8, sfs=(0.125, 0.25), settle_bins=8, orientation_trials=2,
                   max_neurons=6, contrasts=(0.0, 0.125, 0.25, 0.5, 1.0),
                   contrast_repeats=1, diameters=(0.25, 0.5, 1.0, None), size_repeats=1,
                   plaid_repeats=1, f1f0_cycles=1, f1f0_repeats=1, rf_images=2000, rf_lags=2,
                   rf_min_spikes=50,
                   rf_min_r_squared=0.3, bar_directions=8, bar_repeats=1, bar_blank=2,
                   natural_images=48, natural_aperture_images=12, natural_steps=16,
                   natural_skip=4, repeat_images=2, repeat_trials=12, repeat_substeps=5,
                   isi_min_intervals=4)

    def as_dict(self) -> dict:
        """The fields, tuples as lists (JSON-serialisable, stored in every recording)."""
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in dataclasses.asdict(self).items()}


def protocol_for(ctx: ExperimentContext) -> Protocol:
    """The protocol of a context: default or quick sizes, with its overrides applied."""
    base = Protocol.quick() if ctx.quick else Protocol()
    return dataclasses.replace(base, **ctx.protocol_overrides)


def movie_frames(p: Protocol, cycles: int) -> int:
    """Frames of a grating movie: the settling bins, then ``cycles`` whole periods."""
    period = int(round(1 / p.tf))
    return p.settle_bins + cycles * period


def directions_deg(n: int) -> np.ndarray:
    """``n`` equally spaced directions from 0 deg, shape (n,)."""
    return np.arange(n) * (360.0 / n)
