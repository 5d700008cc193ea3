"""Receptive fields: spike-triggered averages on white noise, Gabor fits, STA against Phi.

Protocol (Ringach 2002; ``docs/ephys_reference.md``): 16,000 white-noise images
(Gaussian pixels, standard deviation 3), each shown for 8 bins (200 ms), streamed
without reset (white noise projects onto a column with standard deviation
contrast x ||Phi_k|| whatever its shape, far less than the natural patches the
columns were fitted to; with the shipped natural16 parameters contrast 1 left the
STAs noise-dominated, median STA-Phi correlation 0.16, while contrast 3 gives 0.78
with no runaways); spike-triggered average at the image lag (0 to 2 images) of
largest STA energy for the neurons with at least 100 spikes; 2-D Gabor fit (kept if
R^2 >= 0.5), Ringach's (nx, ny); correlation of every STA with the neuron's
dictionary column Phi_k.
"""
from __future__ import annotations

import time

import numpy as np

from ipvae_brian.analysis import experiment_figures as figures
from ipvae_brian.analysis.experiments.base import (Experiment, ExperimentResult, block_cost,
                                                   nan_per_neuron, run_block, runaway_notes)
from ipvae_brian.analysis.experiments.context import ExperimentContext
from ipvae_brian.analysis.experiments.protocol import protocol_for
from ipvae_brian.analysis.receptive_fields import (column_correlation, dictionary_overlap,
                                                   fit_gabor, spike_triggered_average)


class ReceptiveFieldExperiment(Experiment):
    """Spike-triggered averages on streamed white noise, Gabor fits, (nx, ny), STA vs Phi."""

    name = "rf"

    def estimated_work(self, ctx: ExperimentContext) -> float:
        p = protocol_for(ctx)
        return block_cost(p.rf_images, p.rf_hold_bins)

    def run(self, ctx: ExperimentContext) -> ExperimentResult:
        from ipvae_brian.stimuli.noise import white_noise
        start = time.perf_counter()
        p = protocol_for(ctx)
        stimuli = white_noise(n=p.rf_images, size=ctx.side, contrast=p.rf_contrast,
                              seed=ctx.block_seed("rf-stimuli") % (2 ** 31))
        block = run_block(ctx, "rf", stimuli, p.rf_hold_bins, (0, p.rf_hold_bins), stream=True,
                          protocol={"experiment": "rf", **p.as_dict()})
        K = ctx.n_latents
        x, c = stimuli.x, block.window_counts
        lags = min(p.rf_lags, p.rf_images - 1)
        stas = np.stack([spike_triggered_average(x[:x.shape[0] - lag], c[lag:])
                         for lag in range(lags)])                              # (lags, K, M)
        energy = np.nansum(stas ** 2, axis=2)                                   # (lags, K)
        best_lag = np.argmax(np.where(np.isfinite(energy), energy, -1), axis=0)
        sta = stas[best_lag, np.arange(K)]
        spikes = c.sum(axis=0)
        enough = spikes >= p.rf_min_spikes
        corr = nan_per_neuron(K)
        corr[enough] = column_correlation(sta[enough], ctx.params.Phi.T[enough])
        overlap = dictionary_overlap(ctx.params.Phi)
        nx, ny, r2 = nan_per_neuron(K), nan_per_neuron(K), nan_per_neuron(K)
        fit_ok = np.zeros(K, dtype=bool)
        fits = {}
        for k in np.flatnonzero(enough):
            fit = fit_gabor(sta[k], shape=(ctx.side, ctx.side))
            r2[k] = fit.r_squared
            if np.isfinite(fit.r_squared) and fit.r_squared >= p.rf_min_r_squared:
                nx[k], ny[k] = fit.nx, fit.ny
                fit_ok[k] = True
                fits[int(k)] = fit
        low = enough & (overlap <= np.median(overlap[enough])) if enough.any() else enough
        summary = {"median_sta_phi_correlation": float(np.nanmedian(corr)) if enough.any()
                   else float("nan"),
                   "median_sta_phi_correlation_low_overlap": float(np.nanmedian(corr[low]))
                   if low.any() else float("nan"),
                   "median_sta_phi_correlation_high_overlap":
                       float(np.nanmedian(corr[enough & ~low])) if (enough & ~low).any()
                       else float("nan"),
                   "overlap_split": float(np.median(overlap[enough])) if enough.any()
                   else float("nan"),
                   "n_gabor_fits": int(fit_ok.sum())}
        fig = ctx.path("rf.png")
        figures.rf_figure(fig, sta, ctx.params.Phi, corr, nx, ny, fits, (ctx.side, ctx.side))
        median_lag = float(np.median(best_lag[enough])) if enough.any() else 0
        notes = [f"{int(enough.sum())} neurons with >= {p.rf_min_spikes} spikes over "
                 f"{p.rf_images:,} noise images; {int(fit_ok.sum())} Gabor fits with R^2 >= "
                 f"{p.rf_min_r_squared:g}; STA at the image lag of largest energy "
                 f"(median lag {median_lag:g} images of {p.rf_hold_bins} bins)",
                 f"STA-Phi correlation: median {summary['median_sta_phi_correlation']:.3f}; "
                 f"{summary['median_sta_phi_correlation_low_overlap']:.3f} for the half with "
                 f"the lowest dictionary overlap (max |cos| <= "
                 f"{summary['overlap_split']:.3f}), "
                 f"{summary['median_sta_phi_correlation_high_overlap']:.3f} for the other half"]
        return ExperimentResult("rf", {"nx": nx, "ny": ny, "gabor_r_squared": r2,
                                       "sta_phi_correlation": corr,
                                       "dictionary_overlap": overlap,
                                       "sta_spikes": spikes.astype(float),
                                       "sta_lag": best_lag.astype(float)},
                                {"sta": sta}, summary, K, int(enough.sum()), int(fit_ok.sum()),
                                [block.path, fig], notes + runaway_notes([block]),
                                time.perf_counter() - start)


EXPERIMENT = ReceptiveFieldExperiment()
