"""Simple and complex cells: F1/F0 of the responses to the preferred drifting grating.

Protocol (Skottun et al. 1991; ``docs/ephys_reference.md``): gratings at each
analysed neuron's preferred direction and SF, 32 + 64 bins (2 cycles), 10 trials
(``f1f0_repeats``); F1/F0 of the PSTH over the 20 cycles. F0 is the evoked mean
rate, the spontaneous rate (blank movie of the orientation grid) subtracted, as
Skottun et al. (1991) define it; a neuron whose mean rate does not exceed its
spontaneous rate has no F1/F0.
"""
from __future__ import annotations

import time

import numpy as np

from ipvae_brian.analysis import experiment_figures as figures
from ipvae_brian.analysis.experiments.base import (BIN_WIDTH_S, RESPONSIVE_RATE_HZ,
                                                   ExperimentResult, block_cost, nan_per_neuron,
                                                   repeat_stimuli, run_block, runaway_notes,
                                                   stack_stimuli)
from ipvae_brian.analysis.experiments.context import ExperimentContext
from ipvae_brian.analysis.experiments.orientation import grating_preferences
from ipvae_brian.analysis.experiments.preferred_gratings import (PreferredGratingExperiment,
                                                                 grating_condition_sets)
from ipvae_brian.analysis.experiments.protocol import Protocol, movie_frames, protocol_for
from ipvae_brian.analysis.response_modulation import bimodality_coefficient, f1_f0


class F1F0Experiment(PreferredGratingExperiment):
    """F1/F0 of responses to drifting gratings at the preferred direction and SF."""

    name = "f1f0"

    def block_work(self, ctx: ExperimentContext, p: Protocol) -> float:
        pairs = min(p.directions * len(p.sfs), p.max_neurons)
        return block_cost(pairs * p.f1f0_repeats, movie_frames(p, p.f1f0_cycles))

    def run(self, ctx: ExperimentContext) -> ExperimentResult:
        start = time.perf_counter()
        p = protocol_for(ctx)
        prefs, prefs_block = grating_preferences(ctx)
        chosen, keys = self.analysed_neurons(ctx, prefs, p)
        if not keys:
            return self.skipped(ctx, start, prefs_block, "no responsive neuron in the "
                                "orientation grid: F1/F0 not measured")
        frames = movie_frames(p, p.f1f0_cycles)
        parts, cond = grating_condition_sets(ctx, p, keys, frames=frames)
        stimuli = repeat_stimuli(stack_stimuli("drifting_grating", parts, (ctx.side, ctx.side),
                                               cond, "drifting gratings at the analysed "
                                               "neurons' preferred direction and spatial "
                                               "frequency"),
                                 p.f1f0_repeats)
        block = run_block(ctx, "f1f0", stimuli, frames, (p.settle_bins, frames),
                          keep_counts=True, protocol={"experiment": "f1f0", **p.as_dict()})
        K = ctx.n_latents
        n_cond = len(keys)
        counts = block.counts[:, p.settle_bins:].astype(np.float64)
        psth = counts.reshape(p.f1f0_repeats, n_cond, -1, K).mean(axis=0)   # (cond, bins, K)
        key_index = {k: i for i, k in enumerate(keys)}
        ratio, f0 = nan_per_neuron(K), nan_per_neuron(K)
        examples = {}
        for k in chosen:
            i = key_index[(float(prefs.preferred_direction[k]), float(prefs.preferred_sf[k]))]
            trace = psth[i, :, k]
            f0[k] = trace.mean() / BIN_WIDTH_S
            evoked_f0 = f0[k] - prefs.spontaneous_rate[k]
            if f0[k] >= RESPONSIVE_RATE_HZ and evoked_f0 > 0:
                # F1 does not change when a constant is subtracted: F1 / F0_evoked is
                # F1 / F0 of the trace as measured times F0 / F0_evoked
                ratio[k] = float(f1_f0(trace, p.tf)) * f0[k] / evoked_f0
                examples[int(k)] = trace / BIN_WIDTH_S
        n_resp = int(np.isfinite(ratio).sum())
        fig = ctx.path("f1f0.png")
        figures.f1f0_figure(fig, ratio, examples, p.tf)
        summary = {"bimodality_coefficient": bimodality_coefficient(ratio),
                   "fraction_simple": float(np.mean(ratio[np.isfinite(ratio)] > 1))
                   if n_resp else float("nan")}
        notes = [f"{len(chosen)} neurons sampled from the {int(prefs.responsive.sum())} "
                 f"responsive to gratings; {n_resp} fire >= {RESPONSIVE_RATE_HZ:g} spikes/s at "
                 f"their preferred grating (F0 = mean over {p.f1f0_cycles} cycles x "
                 f"{p.f1f0_repeats} trials; F0 minus the spontaneous rate, median "
                 f"{np.median(prefs.spontaneous_rate):.3g} spikes/s)"]
        return ExperimentResult("f1f0", {"f1f0": ratio, "f0_rate": f0}, {}, summary, K,
                                int(prefs.responsive.sum()), n_resp,
                                ([prefs_block.path] if prefs_block else []) + [block.path, fig],
                                notes + runaway_notes([block]), time.perf_counter() - start)


EXPERIMENT = F1F0Experiment()
