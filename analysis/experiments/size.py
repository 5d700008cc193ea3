"""Size tuning at the preferred grating, with the aperture on the projective field's centre.

Protocol (Cavanaugh et al. 2002; ``docs/ephys_reference.md``): gratings at the
preferred direction and SF, contrast 0.5, in discs of 7 diameters (1/8 to 1 of the
image side) and full field, centred on the grid point (of a 3 x 3 grid at 0 and
+-1/4 of the side) nearest the centroid of the neuron's projective field Phi_k^2;
10 trials per condition (``size_repeats``); surround-suppression index of the evoked
responses (mean rate over the trials minus the spontaneous rate of the orientation
grid's blank movie, clipped at 0), so that the index measures the suppression
of the stimulus-driven response and not of the spontaneous rate.
"""
from __future__ import annotations

import time

import numpy as np

from ipvae_brian.analysis import experiment_figures as figures
from ipvae_brian.analysis.experiments.base import (RESPONSIVE_RATE_HZ, ExperimentResult,
                                                   block_cost, nan_per_neuron, repeat_stimuli,
                                                   run_block, runaway_notes, sample_neurons,
                                                   stack_stimuli)
from ipvae_brian.analysis.experiments.context import ExperimentContext
from ipvae_brian.analysis.experiments.geometry import (aperture_centres, nearest_centre,
                                                       receptive_field_centres)
from ipvae_brian.analysis.experiments.orientation import evoked, grating_preferences
from ipvae_brian.analysis.experiments.preferred_gratings import (PreferredGratingExperiment,
                                                                 grating_condition_sets)
from ipvae_brian.analysis.experiments.protocol import Protocol, movie_frames, protocol_for
from ipvae_brian.analysis.size_tuning import preferred_diameter, surround_suppression_index


class SizeExperiment(PreferredGratingExperiment):
    """Size tuning at the preferred grating, aperture on the projective field's centre."""

    name = "size"

    def block_work(self, ctx: ExperimentContext, p: Protocol) -> float:
        return block_cost(p.max_neurons * len(p.diameters) * p.size_repeats,
                          movie_frames(p, p.contrast_cycles))

    def run(self, ctx: ExperimentContext) -> ExperimentResult:
        start = time.perf_counter()
        p = protocol_for(ctx)
        prefs, prefs_block = grating_preferences(ctx)
        chosen = sample_neurons(ctx, prefs.responsive, p.max_neurons, "size")
        if chosen.size == 0:
            return self.skipped(ctx, start, prefs_block, "no responsive neuron in the "
                                "orientation grid: size tuning not measured")
        centres = aperture_centres(ctx.side, p.centre_offset)
        centre_of = nearest_centre(receptive_field_centres(ctx.params), centres)
        keys = sorted({(float(prefs.preferred_direction[k]), float(prefs.preferred_sf[k]),
                        int(centre_of[k])) for k in chosen})
        diameters = [None if d is None else d * ctx.side for d in p.diameters]
        frames = movie_frames(p, p.contrast_cycles)
        parts, cond = grating_condition_sets(ctx, p, keys, diameters=diameters,
                                             centres=centres, frames=frames)
        stimuli = repeat_stimuli(stack_stimuli("drifting_grating", parts, (ctx.side, ctx.side),
                                               cond, "drifting gratings in discs of growing "
                                               "diameter centred near the analysed neurons' "
                                               "projective fields"),
                                 p.size_repeats)
        block = run_block(ctx, "size", stimuli, frames, (p.settle_bins, frames),
                          protocol={"experiment": "size", **p.as_dict()})
        K = ctx.n_latents
        nd = len(diameters)
        rates = block.window_rates.reshape(p.size_repeats, len(keys), nd, K).mean(axis=0)
        key_index = {k: i for i, k in enumerate(keys)}
        d_values = np.array([np.inf if d is None else d for d in diameters])
        si, pref_d = nan_per_neuron(K), nan_per_neuron(K)
        curves = {}
        for k in chosen:
            i = key_index[(float(prefs.preferred_direction[k]), float(prefs.preferred_sf[k]),
                           int(centre_of[k]))]
            curve = rates[i, :, k]
            if curve.max() < RESPONSIVE_RATE_HZ:
                continue
            driven = evoked(curve, prefs.spontaneous_rate[k])
            if not np.any(driven > 0):
                continue
            si[k] = float(surround_suppression_index(d_values, driven))
            pref_d[k] = float(preferred_diameter(d_values, driven))
            curves[int(k)] = curve
        n_ok = int(np.isfinite(si).sum())
        fig = ctx.path("size.png")
        figures.size_figure(fig, d_values, curves, si, ctx.side)
        notes = [f"{chosen.size} neurons sampled from the {int(prefs.responsive.sum())} "
                 f"responsive; {n_ok} reach {RESPONSIVE_RATE_HZ:g} spikes/s at some diameter "
                 f"and exceed their spontaneous rate ({p.size_repeats} trials; SI of the "
                 f"evoked responses); "
                 f"the largest stimulus is a full-field grating; aperture centres on a 3 x 3 "
                 f"grid (spacing {p.centre_offset * ctx.side:g} px) nearest each neuron's "
                 f"projective-field centroid"]
        return ExperimentResult("size", {"si": si, "preferred_diameter": pref_d},
                                {"diameters": d_values}, {}, K, int(prefs.responsive.sum()),
                                n_ok,
                                ([prefs_block.path] if prefs_block else []) + [block.path, fig],
                                notes + runaway_notes([block]), time.perf_counter() - start)


EXPERIMENT = SizeExperiment()
