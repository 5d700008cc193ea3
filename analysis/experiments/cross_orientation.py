"""Cross-orientation suppression: the preferred grating alone and with an orthogonal mask.

Protocol (Morrone et al. 1982; ``docs/ephys_reference.md``): drifting plaids at
the preferred direction and SF: the test grating (contrast 0.5, as in the
orientation grid) alone and with an orthogonal mask of equal contrast, 10 trials
each (``plaid_repeats``); XOS = 1 - R_plaid / R_test of the evoked responses (mean
rate over the trials minus the spontaneous rate of the orientation grid's blank
movie, clipped at 0), so that the index measures the suppression of the
stimulus-driven response and not of the spontaneous rate.
"""
from __future__ import annotations

import time

import numpy as np

from ipvae_brian.analysis import experiment_figures as figures
from ipvae_brian.analysis.cross_orientation import cross_orientation_suppression_index
from ipvae_brian.analysis.experiments.base import (RESPONSIVE_RATE_HZ, ExperimentResult,
                                                   block_cost, nan_per_neuron, repeat_stimuli,
                                                   run_block, runaway_notes, stack_stimuli)
from ipvae_brian.analysis.experiments.context import ExperimentContext
from ipvae_brian.analysis.experiments.orientation import evoked, grating_preferences
from ipvae_brian.analysis.experiments.preferred_gratings import PreferredGratingExperiment
from ipvae_brian.analysis.experiments.protocol import Protocol, movie_frames, protocol_for


class CrossOrientationExperiment(PreferredGratingExperiment):
    """Test grating alone and with an orthogonal mask (a plaid) at the preferred grating."""

    name = "cross-orientation"

    def block_work(self, ctx: ExperimentContext, p: Protocol) -> float:
        pairs = min(p.directions * len(p.sfs), p.max_neurons)
        return block_cost(pairs * 2 * p.plaid_repeats, movie_frames(p, p.contrast_cycles))

    def run(self, ctx: ExperimentContext) -> ExperimentResult:
        from ipvae_brian.stimuli.gratings import plaid
        start = time.perf_counter()
        p = protocol_for(ctx)
        prefs, prefs_block = grating_preferences(ctx)
        chosen, keys = self.analysed_neurons(ctx, prefs, p)
        if not keys:
            return self.skipped(ctx, start, prefs_block, "no responsive neuron in the "
                                "orientation grid: cross-orientation suppression not measured")
        frames = movie_frames(p, p.contrast_cycles)
        parts, cond = [], {"direction": [], "sf": [], "contrast": [], "mask_contrast": []}
        for direction, sf in keys:
            parts.append(plaid(orientation=direction, sf=sf, contrast=p.plaid_contrast,
                               mask_contrast=[0.0, p.plaid_contrast], tf=p.tf, frames=frames,
                               size=ctx.side))
            for mc in (0.0, p.plaid_contrast):
                cond["direction"].append(direction)
                cond["sf"].append(sf)
                cond["contrast"].append(p.plaid_contrast)
                cond["mask_contrast"].append(mc)
        stimuli = repeat_stimuli(stack_stimuli("plaid", parts, (ctx.side, ctx.side), cond,
                                               "drifting test grating alone (mask_contrast 0) "
                                               "and with an orthogonal mask of equal contrast, "
                                               "at the analysed neurons' preferred direction "
                                               "and spatial frequency"),
                                 p.plaid_repeats)
        block = run_block(ctx, "cross-orientation", stimuli, frames, (p.settle_bins, frames),
                          protocol={"experiment": "cross-orientation", **p.as_dict()})
        K = ctx.n_latents
        rates = block.window_rates.reshape(p.plaid_repeats, len(keys), 2, K).mean(axis=0)
        key_index = {k: i for i, k in enumerate(keys)}
        xos, test, both = nan_per_neuron(K), nan_per_neuron(K), nan_per_neuron(K)
        for k in chosen:
            i = key_index[(float(prefs.preferred_direction[k]), float(prefs.preferred_sf[k]))]
            test[k], both[k] = rates[i, 0, k], rates[i, 1, k]
            driven_test, driven_both = evoked(rates[i, :, k], prefs.spontaneous_rate[k])
            if test[k] >= RESPONSIVE_RATE_HZ and driven_test > 0:
                xos[k] = float(cross_orientation_suppression_index(driven_test, driven_both))
        n_ok = int(np.isfinite(xos).sum())
        fig = ctx.path("cross-orientation.png")
        figures.cross_orientation_figure(fig, test, both, xos)
        notes = [f"{len(chosen)} neurons sampled from the {int(prefs.responsive.sum())} "
                 f"responsive; {n_ok} fire >= {RESPONSIVE_RATE_HZ:g} spikes/s to the test "
                 f"grating alone, above their spontaneous rate (contrast "
                 f"{p.plaid_contrast:g}; mask contrast {p.plaid_contrast:g}; "
                 f"{p.plaid_repeats} trials; XOS of the evoked responses)"]
        return ExperimentResult("cross-orientation",
                                {"xos": xos, "test_rate": test, "plaid_rate": both}, {}, {}, K,
                                int(prefs.responsive.sum()), n_ok,
                                ([prefs_block.path] if prefs_block else []) + [block.path, fig],
                                notes + runaway_notes([block]), time.perf_counter() - start)


EXPERIMENT = CrossOrientationExperiment()
