"""Orientation tuning to drifting gratings, and the grating preferences later experiments use.

Protocol (Ringach et al. 2002; ``docs/ephys_reference.md``): full-field drifting
gratings at contrast 0.5, 24 directions (15 deg steps) x 6 spatial frequencies
(1/16 to 0.35 cycles/pixel in half-octave steps), 32 + 32 bins. Each neuron's
preferred (direction, SF) is its largest response; a neuron is responsive if that
response reaches 5 spikes/s. Its direction tuning curve at the preferred SF gives
the circular variance, the bandwidth at 1/sqrt(2) and the OSI. The grating
experiments after this one (f1f0, contrast, size, cross-orientation) reuse these
preferences (:func:`grating_preferences`, kept in ``ctx.shared``).
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from ipvae_brian.analysis import experiment_figures as figures
from ipvae_brian.analysis.experiments.base import (RESPONSIVE_RATE_HZ, Experiment,
                                                   ExperimentResult, block_cost, nan_per_neuron,
                                                   responsive, run_block, runaway_notes)
from ipvae_brian.analysis.experiments.context import ExperimentContext
from ipvae_brian.analysis.experiments.protocol import directions_deg, movie_frames, protocol_for
from ipvae_brian.analysis.orientation_tuning import (circular_variance, orientation_bandwidth,
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
    rates : ndarray, shape (n_dir, n_sf, K)
        Mean rate (spikes/s) in the response window.
    direction_index, sf_index : ndarray, shape (K,), int
        Position of each neuron's largest response.
    peak_rate : ndarray, shape (K,)
    responsive : ndarray, shape (K,), bool
        peak_rate >= RESPONSIVE_RATE_HZ.
    """

    directions: np.ndarray
    sfs: np.ndarray
    rates: np.ndarray
    direction_index: np.ndarray
    sf_index: np.ndarray
    peak_rate: np.ndarray
    responsive: np.ndarray

    @property
    def preferred_direction(self) -> np.ndarray:
        return self.directions[self.direction_index]

    @property
    def preferred_sf(self) -> np.ndarray:
        return self.sfs[self.sf_index]


def orientation_grid_work(ctx: ExperimentContext) -> float:
    """Simulation work (bin units) of the orientation grid."""
    p = protocol_for(ctx)
    return block_cost(p.directions * len(p.sfs), movie_frames(p, p.orientation_cycles))


def grating_preferences(ctx: ExperimentContext):
    """Run (or reuse) the orientation grid; return (GratingPreferences, BlockResult or None)."""
    if "grating_preferences" in ctx.shared:
        return ctx.shared["grating_preferences"], None
    from ipvae_brian.stimuli.gratings import drifting_grating
    p = protocol_for(ctx)
    directions = directions_deg(p.directions)
    frames = movie_frames(p, p.orientation_cycles)
    stimuli = drifting_grating(orientation=list(directions), sf=list(p.sfs), tf=p.tf,
                               contrast=p.grating_contrast, frames=frames, size=ctx.side)
    block = run_block(ctx, "orientation", stimuli, frames, (p.settle_bins, frames),
                      protocol={"experiment": "orientation", **p.as_dict()})
    K = ctx.n_latents
    rates = block.window_rates.reshape(directions.size, len(p.sfs), K)
    flat = rates.reshape(-1, K)
    best = np.argmax(flat, axis=0)
    d_idx, s_idx = np.unravel_index(best, (directions.size, len(p.sfs)))
    peak = flat[best, np.arange(K)]
    prefs = GratingPreferences(directions=directions, sfs=np.asarray(p.sfs), rates=rates,
                               direction_index=d_idx, sf_index=s_idx, peak_rate=peak,
                               responsive=responsive(peak))
    ctx.shared["grating_preferences"] = prefs
    ctx.shared["grating_preferences_block"] = block
    return prefs, block


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
        curves = prefs.rates[:, prefs.sf_index, np.arange(K)].T        # (K, n_dir)
        resp = prefs.responsive
        cv, bw = nan_per_neuron(K), nan_per_neuron(K)
        osi, pref_o = nan_per_neuron(K), nan_per_neuron(K)
        if resp.any():
            cv[resp] = circular_variance(prefs.directions, curves[resp])
            bw[resp] = orientation_bandwidth(prefs.directions, curves[resp])
            osi[resp] = orientation_selectivity_index(prefs.directions, curves[resp])
            pref_o[resp] = preferred_orientation(prefs.directions, curves[resp])
        per_neuron = {"circular_variance": cv, "bandwidth": bw, "osi": osi,
                      "preferred_orientation": pref_o,
                      "preferred_sf": np.where(resp, prefs.preferred_sf, np.nan),
                      "peak_rate": prefs.peak_rate}
        fig = ctx.path("orientation.png")
        figures.orientation_figure(fig, prefs.directions, curves, per_neuron, resp)
        notes = [f"responsive: peak rate >= {RESPONSIVE_RATE_HZ:g} spikes/s over "
                 f"{prefs.directions.size} directions x {prefs.sfs.size} spatial frequencies"]
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
        return ExperimentResult("orientation", per_neuron, {"directions": prefs.directions,
                                                            "tuning_curves": curves},
                                {}, K, int(resp.sum()), int(resp.sum()),
                                ([block.path] if block else []) + [fig], notes,
                                time.perf_counter() - start)


EXPERIMENT = OrientationExperiment()
