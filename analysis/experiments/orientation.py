"""Orientation tuning to drifting gratings, and the grating preferences later experiments use.

Protocol (Ringach et al. 2002; ``docs/ephys_reference.md``): full-field drifting
gratings at contrast 0.5, 24 directions (15 deg steps) x 6 spatial frequencies
(1/16 to 0.35 cycles/pixel in half-octave steps), 32 + 32 bins, each shown on 10
trials (``orientation_trials``), plus a blank (zero-contrast) movie on as many
trials: each neuron's spontaneous rate.

Held-out preferences: each neuron's preferred (direction, SF) is picked from the
even trials (0, 2, ...), and its tuning statistics are measured on the odd trials
at that SF, so that the noise that picked the peak does not also shape the
measured curve (with one trial per condition and the preference taken from the
same trials, trial noise alone makes a flat curve look tuned). A neuron is
responsive if its preferred response on the selection trials reaches 5 spikes/s.

Spontaneous rate: subtracted (clipped at 0) for the OSI, as Niell & Stryker
(2008) did; not for the circular variance and the bandwidth, which Ringach et
al. (2002) computed on the responses as measured. A bandwidth at its upper bound
of 90 deg (the curve never falls to 1/sqrt(2) of its peak) is not a measured
width: it is excluded and counted (``summary["bandwidth_at_bound"]``).

The grating experiments after this one (f1f0, contrast, size, cross-orientation)
reuse the preferences from all trials (:func:`grating_preferences`, kept in
``ctx.shared``): their own responses are new trials, so they are held out too.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from ipvae_brian.analysis import experiment_figures as figures
from ipvae_brian.analysis.experiments.base import (RESPONSIVE_RATE_HZ, Experiment,
                                                   ExperimentResult, block_cost, nan_per_neuron,
                                                   repeat_stimuli, responsive, run_block,
                                                   runaway_notes)
from ipvae_brian.analysis.experiments.context import ExperimentContext
from ipvae_brian.analysis.experiments.protocol import directions_deg, movie_frames, protocol_for
from ipvae_brian.analysis.orientation_tuning import (ORIENTATION_PERIOD, circular_variance,
                                                     orientation_bandwidth,
                                                     orientation_selectivity_index,
                                                     preferred_orientation)


@dataclasses.dataclass
class GratingPreferences:
    """Each neuron's preferred drift direction and spatial frequency (orientation experiment).

    Attributes
    ----------
    directions : ndarray, shape (n_dir,)
        Degrees.
    sfs : ndarray, shape (n_sf,)
        Cycles/pixel.
    trial_rates : ndarray, shape (n_trials, n_dir, n_sf, K)
        Rate (spikes/s) in the response window on every trial.
    spontaneous_rate : ndarray, shape (K,)
        Mean rate (spikes/s) to the blank movie over the trials.
    direction_index, sf_index : ndarray, shape (K,), int
        Position of each neuron's largest mean response over all trials.
    peak_rate : ndarray, shape (K,)
    responsive : ndarray, shape (K,), bool
        peak_rate >= RESPONSIVE_RATE_HZ.
    """

    directions: np.ndarray
    sfs: np.ndarray
    trial_rates: np.ndarray
    spontaneous_rate: np.ndarray
    direction_index: np.ndarray
    sf_index: np.ndarray
    peak_rate: np.ndarray
    responsive: np.ndarray

    @property
    def rates(self) -> np.ndarray:
        """Mean rate over the trials, shape (n_dir, n_sf, K)."""
        return self.trial_rates.mean(axis=0)

    @property
    def preferred_direction(self) -> np.ndarray:
        return self.directions[self.direction_index]

    @property
    def preferred_sf(self) -> np.ndarray:
        return self.sfs[self.sf_index]


def evoked(rates, spontaneous_rate) -> np.ndarray:
    """Rates minus the spontaneous rate, clipped at 0 (spikes/s), same shape as ``rates``.

    ``spontaneous_rate`` broadcasts against ``rates`` (neurons on the last axis).
    """
    return np.clip(np.asarray(rates, dtype=np.float64) - spontaneous_rate, 0.0, None)


def _largest(rates) -> tuple:
    """(direction index, sf index, peak) of each neuron's largest response.

    ``rates`` has shape (n_dir, n_sf, K); returns arrays of shape (K,).
    """
    n_dir, n_sf, K = rates.shape
    flat = rates.reshape(-1, K)
    best = np.argmax(flat, axis=0)
    d_idx, s_idx = np.unravel_index(best, (n_dir, n_sf))
    return d_idx, s_idx, flat[best, np.arange(K)]


def orientation_grid_work(ctx: ExperimentContext) -> float:
    """Simulation work (bin units) of the orientation grid (all trials, with the blank)."""
    p = protocol_for(ctx)
    return block_cost((p.directions * len(p.sfs) + 1) * p.orientation_trials,
                      movie_frames(p, p.orientation_cycles))


def grating_preferences(ctx: ExperimentContext):
    """Run (or reuse) the orientation grid; return (GratingPreferences, BlockResult or None)."""
    if "grating_preferences" in ctx.shared:
        return ctx.shared["grating_preferences"], None
    from ipvae_brian.stimuli.gratings import drifting_grating
    p = protocol_for(ctx)
    directions = directions_deg(p.directions)
    frames = movie_frames(p, p.orientation_cycles)
    grid = drifting_grating(orientation=list(directions), sf=list(p.sfs), tf=p.tf,
                            contrast=p.grating_contrast, frames=frames, size=ctx.side)
    n_cond = grid.n_stimuli
    with_blank = dataclasses.replace(
        grid, x=np.concatenate([grid.x, np.zeros_like(grid.x[:1])]),
        labels=np.arange(n_cond + 1),
        params={**grid.params, "blank": f"stimulus {n_cond} (the last of each trial) is a "
                f"blank movie (contrast 0): the spontaneous rate"})
    stimuli = repeat_stimuli(with_blank, p.orientation_trials)
    block = run_block(ctx, "orientation", stimuli, frames, (p.settle_bins, frames),
                      protocol={"experiment": "orientation", **p.as_dict()})
    K = ctx.n_latents
    per_trial = block.window_rates.reshape(p.orientation_trials, n_cond + 1, K)
    trial_rates = per_trial[:, :n_cond].reshape(p.orientation_trials, directions.size,
                                                len(p.sfs), K)
    d_idx, s_idx, peak = _largest(trial_rates.mean(axis=0))
    prefs = GratingPreferences(directions=directions, sfs=np.asarray(p.sfs),
                               trial_rates=trial_rates,
                               spontaneous_rate=per_trial[:, n_cond].mean(axis=0),
                               direction_index=d_idx, sf_index=s_idx, peak_rate=peak,
                               responsive=responsive(peak))
    ctx.shared["grating_preferences"] = prefs
    ctx.shared["grating_preferences_block"] = block
    return prefs, block


def held_out_tuning_curves(prefs: GratingPreferences):
    """Direction tuning curves at the SF preferred on the even trials, from the odd trials.

    Returns
    -------
    curves : ndarray, shape (K, n_dir)
        Mean rate (spikes/s) over the odd trials at each neuron's selected SF.
    selected_peak : ndarray, shape (K,)
        The largest mean rate over the even trials (the selection).
    held_out : bool
        False with a single trial (selection and measurement then share it).
    """
    trials = prefs.trial_rates.shape[0]
    held_out = trials >= 2
    selection = prefs.trial_rates[0::2].mean(axis=0)
    measurement = prefs.trial_rates[1::2].mean(axis=0) if held_out else selection
    _, s_idx, peak = _largest(selection)
    K = peak.size
    return measurement[:, s_idx, np.arange(K)].T, peak, held_out


class OrientationExperiment(Experiment):
    """Orientation tuning to drifting gratings (see the module notes)."""

    name = "orientation"

    def estimated_work(self, ctx: ExperimentContext) -> float:
        return orientation_grid_work(ctx)

    def run(self, ctx: ExperimentContext) -> ExperimentResult:
        start = time.perf_counter()
        prefs, block = grating_preferences(ctx)
        block = block or ctx.shared.get("grating_preferences_block")
        K = ctx.n_latents
        curves, selected_peak, held_out = held_out_tuning_curves(prefs)     # (K, n_dir)
        resp = responsive(selected_peak)
        cv, bw = nan_per_neuron(K), nan_per_neuron(K)
        osi, pref_o = nan_per_neuron(K), nan_per_neuron(K)
        if resp.any():
            cv[resp] = circular_variance(prefs.directions, curves[resp])
            bw[resp] = orientation_bandwidth(prefs.directions, curves[resp])
            osi[resp] = orientation_selectivity_index(
                prefs.directions, evoked(curves[resp], prefs.spontaneous_rate[resp, None]))
            pref_o[resp] = preferred_orientation(prefs.directions, curves[resp])
        at_bound = np.isfinite(bw) & (bw >= ORIENTATION_PERIOD / 2)
        bw[at_bound] = np.nan
        per_neuron = {"circular_variance": cv, "bandwidth": bw, "osi": osi,
                      "preferred_orientation": pref_o,
                      "preferred_sf": np.where(resp, prefs.preferred_sf, np.nan),
                      "peak_rate": prefs.peak_rate,
                      "spontaneous_rate": prefs.spontaneous_rate}
        fig = ctx.path("orientation.png")
        figures.orientation_figure(fig, prefs.directions, curves, per_neuron, resp)
        trials = prefs.trial_rates.shape[0]
        notes = [f"{trials} trials per condition; responsive: peak rate >= "
                 f"{RESPONSIVE_RATE_HZ:g} spikes/s over {prefs.directions.size} directions x "
                 f"{prefs.sfs.size} spatial frequencies on the "
                 + (f"{len(range(0, trials, 2))} even trials (preferred SF picked there), "
                    f"tuning statistics on the {len(range(1, trials, 2))} odd trials"
                    if held_out else "single trial (preference and tuning from the same "
                    "trial: not held out)"),
                 f"OSI on evoked rates (minus the spontaneous rate, median "
                 f"{np.median(prefs.spontaneous_rate):.3g} spikes/s, clipped at 0); CV and "
                 f"bandwidth on the rates as measured",
                 f"{int(at_bound.sum())} of {int(resp.sum())} bandwidths at the 90 deg bound "
                 f"(never fall to 1/sqrt(2) of the peak): excluded"]
        step = 360.0 / prefs.directions.size
        narrow = int(np.sum(bw[resp] < step / 2))
        if narrow:
            notes.append(f"{narrow} of {int(resp.sum())} bandwidths are below half the "
                         f"direction step ({step / 2:g} deg): those tuning curves fall below "
                         f"1/sqrt(2) of the peak at the next sampled direction, so the data "
                         f"only say the half-width is under {step:g} deg; the spline "
                         f"interpolation places it in between (no smoothing applied, unlike "
                         f"Ringach et al.'s 13.5 deg Hanning window)")
        notes += runaway_notes([block] if block else [])
        summary = {"trials": float(trials), "directions": float(prefs.directions.size),
                   "bandwidth_at_bound": float(at_bound.sum()),
                   "held_out": float(held_out)}
        return ExperimentResult("orientation", per_neuron, {"directions": prefs.directions,
                                                            "tuning_curves": curves},
                                summary, K, int(resp.sum()), int(resp.sum()),
                                ([block.path] if block else []) + [fig], notes,
                                time.perf_counter() - start)


EXPERIMENT = OrientationExperiment()
