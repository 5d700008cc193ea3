"""Contrast response functions at the preferred grating and their Naka-Rushton fits.

Protocol (Albrecht & Hamilton 1982; ``docs/ephys_reference.md``): gratings at the
preferred direction and SF at 8 contrasts (0 to 1; contrast 1 is the pixel
standard deviation of the natural16 patches), 32 + 32 bins, 10 trials
(``contrast_repeats``); Naka-Rushton fit per neuron to the mean over the trials.
The spontaneous rate is not subtracted: the fit's baseline R_0 holds it (Albrecht &
Hamilton 1982 fit it the same way). Fits whose n or c50 ended at a bound of the fit
(``NakaRushtonFit.at_bound``) are excluded from n and c50 and counted
(``summary["fits_at_bound"]``).
"""
from __future__ import annotations

import time

import numpy as np

from ipvae_brian.analysis import experiment_figures as figures
from ipvae_brian.analysis.contrast_response import fit_naka_rushton
from ipvae_brian.analysis.experiments.base import (RESPONSIVE_RATE_HZ, ExperimentResult,
                                                   block_cost, nan_per_neuron, repeat_stimuli,
                                                   run_block, runaway_notes, stack_stimuli)
from ipvae_brian.analysis.experiments.context import ExperimentContext
from ipvae_brian.analysis.experiments.orientation import grating_preferences
from ipvae_brian.analysis.experiments.preferred_gratings import (PreferredGratingExperiment,
                                                                 grating_condition_sets)
from ipvae_brian.analysis.experiments.protocol import Protocol, movie_frames, protocol_for


class ContrastExperiment(PreferredGratingExperiment):
    """Contrast response functions at the preferred grating and their Naka-Rushton fits."""

    name = "contrast"

    def block_work(self, ctx: ExperimentContext, p: Protocol) -> float:
        pairs = min(p.directions * len(p.sfs), p.max_neurons)
        return block_cost(pairs * len(p.contrasts) * p.contrast_repeats,
                          movie_frames(p, p.contrast_cycles))

    def run(self, ctx: ExperimentContext) -> ExperimentResult:
        start = time.perf_counter()
        p = protocol_for(ctx)
        prefs, prefs_block = grating_preferences(ctx)
        chosen, keys = self.analysed_neurons(ctx, prefs, p)
        if not keys:
            return self.skipped(ctx, start, prefs_block, "no responsive neuron in the "
                                "orientation grid: contrast responses not measured")
        frames = movie_frames(p, p.contrast_cycles)
        parts, cond = grating_condition_sets(ctx, p, keys, contrasts=p.contrasts, frames=frames)
        stimuli = repeat_stimuli(stack_stimuli("drifting_grating", parts, (ctx.side, ctx.side),
                                               cond, "drifting gratings at 8 contrasts at the "
                                               "analysed neurons' preferred direction and "
                                               "spatial frequency"),
                                 p.contrast_repeats)
        block = run_block(ctx, "contrast", stimuli, frames, (p.settle_bins, frames),
                          protocol={"experiment": "contrast", **p.as_dict()})
        K = ctx.n_latents
        nc = len(p.contrasts)
        rates = block.window_rates.reshape(p.contrast_repeats, len(keys), nc, K).mean(axis=0)
        key_index = {k: i for i, k in enumerate(keys)}
        out = {name: nan_per_neuron(K) for name in ("n", "c50", "r_max", "baseline",
                                                    "r_squared")}
        saturates = np.zeros(K, dtype=bool)
        at_bound = np.zeros(K, dtype=bool)
        curves = {}
        contrasts = np.asarray(p.contrasts)
        for k in chosen:
            i = key_index[(float(prefs.preferred_direction[k]), float(prefs.preferred_sf[k]))]
            curve = rates[i, :, k]
            if curve.max() < RESPONSIVE_RATE_HZ:
                continue
            fit = fit_naka_rushton(contrasts, curve)
            if fit.at_bound:
                at_bound[k] = True
                continue
            for name in out:
                out[name][k] = getattr(fit, name)
            saturates[k] = fit.saturates
            curves[int(k)] = (curve, fit)
        n_fit = int(np.isfinite(out["n"]).sum())
        fig = ctx.path("contrast.png")
        figures.contrast_figure(fig, contrasts, curves, out)
        out["saturates"] = np.where(np.isfinite(out["n"]), saturates.astype(float), np.nan)
        notes = [f"{len(chosen)} neurons sampled from the {int(prefs.responsive.sum())} "
                 f"responsive; {n_fit + int(at_bound.sum())} reach {RESPONSIVE_RATE_HZ:g} "
                 f"spikes/s at some contrast and were fitted ({p.contrast_repeats} trials per "
                 f"contrast); {int(at_bound.sum())} fits with n or c50 at a bound of the fit "
                 f"excluded; {int(saturates.sum())} of the {n_fit} kept saturate (c50 inside "
                 f"the tested contrasts). Contrast 1 = the natural16 pixel standard deviation "
                 f"(a grating of peak amplitude sqrt(2))"]
        summary = {"fits_at_bound": float(at_bound.sum()), "trials": float(p.contrast_repeats)}
        return ExperimentResult("contrast", out, {"contrasts": contrasts}, summary, K,
                                int(prefs.responsive.sum()), n_fit,
                                ([prefs_block.path] if prefs_block else []) + [block.path, fig],
                                notes + runaway_notes([block]), time.perf_counter() - start)


EXPERIMENT = ContrastExperiment()
