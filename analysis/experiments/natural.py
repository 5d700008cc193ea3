"""Natural-image responses: rates, sparseness, Fano factors, ISI CV/LV, noise correlations.

Protocol (Vinje & Gallant 2000; Willmore et al. 2011; ``docs/ephys_reference.md``):
2,000 natural16 test patches (central crops for smaller sides), 32 bins each,
window bins 8 to 31: firing-rate distribution with a log-normal fit, lifetime and
population sparseness. The first 500 patches again through a disc of half the side
at the 3 x 3 grid point nearest each neuron's projective field: the lifetime
sparseness of this "classical receptive field" stimulation against the full patch
(the surround added). And 8 patches x 32 repeats in continuous time (dt = 0.5 ms):
Fano factors (unbiased variance) and ISI CV / LV via Elephant, noise correlations
r_sc (within each patch for the pairs that respond to it, averaged over patches),
also by the cosine of the two neurons' dictionary columns (``r_sc_overlap``; the
model predicts negative r_sc for overlapping columns, see
``noise_correlation.column_cosines``).
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from ipvae_brian.analysis import experiment_figures as figures
from ipvae_brian.analysis.experiments.base import (BIN_WIDTH_S, RESPONSIVE_RATE_HZ, Experiment,
                                                   ExperimentResult, block_cost, responsive,
                                                   run_block, runaway_notes, stack_stimuli)
from ipvae_brian.analysis.experiments.context import ExperimentContext
from ipvae_brian.analysis.experiments.geometry import (NATURAL_SIDE, aperture_centres,
                                                       check_natural_side, nearest_centre,
                                                       receptive_field_centres)
from ipvae_brian.analysis.experiments.protocol import protocol_for
from ipvae_brian.analysis.noise_correlation import (column_cosines,
                                                    stimulus_averaged_noise_correlations)
from ipvae_brian.analysis.rate_distribution import fit_lognormal
from ipvae_brian.analysis.sparseness import lifetime_sparseness, population_sparseness

#: Aperture positions of the CRF stimulation (the 3 x 3 grid of ``geometry.aperture_centres``).
N_APERTURE_CENTRES = 9


def natural_patches(side: int, n: int):
    """The first ``n`` natural16 test patches, centrally cropped to ``side`` x ``side``.

    Returns
    -------
    StimulusSet
        ``n`` images of ``side`` x ``side`` pixels.
    """
    from ipvae_brian.stimuli.natural16 import natural16
    s = natural16(split="test", n=n)
    if side == NATURAL_SIDE:
        return s
    lo = (NATURAL_SIDE - side) // 2
    x = s.x.reshape(-1, NATURAL_SIDE, NATURAL_SIDE)[:, lo:lo + side, lo:lo + side]
    return dataclasses.replace(s, x=x.reshape(-1, side * side), image_shape=(side, side),
                               params={**s.params, "crop": [lo, lo + side]})


def repeated_patch_statistics(block, p, window_bins, K):
    """Fano factor, ISI CV and LV (Elephant, via analysis.spike_statistics) and r_sc.

    The spike times of each (trial, neuron) in the response window [t0, t1) are handed to
    the Elephant-based functions as plain arrays (Elephant counts and differences them
    directly; no Neo object per train is needed).

    Parameters
    ----------
    block : BlockResult
        The repeated patches, image-major (``p.repeat_trials`` trials of each image in a
        row), in continuous time.
    p : Protocol
    window_bins : (int, int)
        The response window, bins.
    K : int

    Returns
    -------
    fano, isi_cv, isi_lv : ndarray, shape (K,)
        Medians over the patches (NaN where undefined); the Fano factor with the
        unbiased variance (``spike_statistics.fano_factor``).
    correlations : NoiseCorrelations
        Noise correlations averaged over the patches (``values``, shape (n_pairs,)) and
        the neurons of each pair (``pairs``, shape (n_pairs, 2), indices into K).
    """
    from ipvae_brian.analysis.spike_trains import read_spike_trains
    from ipvae_brian.analysis.trial_statistics import condition_fano_isi, median_over_conditions
    n_img, trials = p.repeat_images, p.repeat_trials
    counts = block.window_counts.reshape(n_img, trials, K)        # image-major (see caller)
    mean_counts = counts.mean(axis=1)                             # (n_img, K)
    t0, t1 = window_bins[0] * BIN_WIDTH_S, window_bins[1] * BIN_WIDTH_S
    fano = cv = lv = np.full(K, np.nan)
    active = np.flatnonzero((mean_counts >= 1).any(axis=0))
    if active.size:
        trains = read_spike_trains(block.path, neurons=active)

        def windowed(row, j):
            times = trains.train(row, j)
            lo, hi = np.searchsorted(times, [t0 - 1e-12, t1 - 1e-12])
            return times[lo:hi]

        by_image = [range(a * trials, (a + 1) * trials) for a in range(n_img)]
        per_image = condition_fano_isi(windowed, by_image, active.size, t1 - t0,
                                       p.isi_min_intervals, RESPONSIVE_RATE_HZ)
        fano, cv, lv = (np.full(K, np.nan) for _ in range(3))
        for out, values in zip((fano, cv, lv), per_image):
            out[active] = median_over_conditions(values)
    corr = stimulus_averaged_noise_correlations(counts, min_mean=1.0)
    return fano, cv, lv, corr


class NaturalExperiment(Experiment):
    """Natural-image responses: rates, sparseness, Fano, ISI CV/LV, noise correlations."""

    name = "natural"
    blocks = ("natural", "natural-aperture", "natural-repeats")

    def check(self, ctx: ExperimentContext) -> None:
        super().check(ctx)
        check_natural_side(ctx.params)

    def estimated_work(self, ctx: ExperimentContext) -> float:
        p = protocol_for(ctx)
        return (block_cost(p.natural_images, p.natural_steps)
                + block_cost(N_APERTURE_CENTRES * p.natural_aperture_images, p.natural_steps)
                + block_cost(p.repeat_images * p.repeat_trials, p.natural_steps,
                             p.repeat_substeps))

    def run(self, ctx: ExperimentContext) -> ExperimentResult:
        from ipvae_brian.stimuli.gratings import circular_aperture
        from ipvae_brian.stimuli.stimulus_set import StimulusSet
        start = time.perf_counter()
        p = protocol_for(ctx)
        side = check_natural_side(ctx.params)
        K = ctx.n_latents
        T, window = p.natural_steps, (p.natural_skip, p.natural_steps)
        protocol = {"experiment": "natural", **p.as_dict()}
        full = natural_patches(side, p.natural_images)
        b_full = run_block(ctx, "natural", full, T, window, protocol=protocol)
        rates = b_full.window_rates                                     # (N, K) spikes/s
        mean_rate = rates.mean(axis=0)
        fit = fit_lognormal(mean_rate)
        life = lifetime_sparseness(b_full.window_counts)
        pop = population_sparseness(b_full.window_counts)

        # the same patches through a disc of half the side ("CRF") at the grid point nearest
        # each neuron's projective field, against the full patch (CRF + surround)
        centres = aperture_centres(side, p.centre_offset)
        n_ap = min(p.natural_aperture_images, p.natural_images)
        patches = full.x[:n_ap]
        parts, cond = [], {"center_x": [], "center_y": [], "image": []}
        for cx, cy in centres:
            mask = circular_aperture(side, side / 2, float(cx), float(cy)).ravel()
            parts.append(StimulusSet(name="natural16:test", x=patches * mask,
                                     image_shape=(side, side), params={}))
            cond["center_x"] += [float(cx)] * n_ap
            cond["center_y"] += [float(cy)] * n_ap
            cond["image"] += list(range(n_ap))
        ap_set = stack_stimuli("natural16:test", parts, (side, side), cond,
                               f"the first {n_ap} natural16 test patches through a disc of "
                               f"diameter {side / 2:g} px at 9 positions")
        b_ap = run_block(ctx, "natural-aperture", ap_set, T, window, protocol=protocol)
        centre_of = nearest_centre(receptive_field_centres(ctx.params), centres)
        ap_counts = b_ap.window_counts.reshape(len(centres), n_ap, K)
        small = ap_counts[centre_of, :, np.arange(K)].T                 # (n_ap, K)
        large = b_full.window_counts[:n_ap]
        s_small, s_large = lifetime_sparseness(small), lifetime_sparseness(large)
        both = np.isfinite(s_small) & np.isfinite(s_large)
        change = np.where(both, s_large - s_small, np.nan)

        # repeated patches in continuous time
        reps = natural_patches(side, p.repeat_images)
        x_rep = np.repeat(reps.x, p.repeat_trials, axis=0)              # image-major
        rep_set = StimulusSet(name="natural16:test", x=x_rep, image_shape=(side, side),
                              params={"description": f"the first {p.repeat_images} natural16 "
                                      f"test patches, each repeated {p.repeat_trials} times in "
                                      f"a row", "repeats": p.repeat_trials},
                              labels=np.repeat(np.arange(p.repeat_images), p.repeat_trials))
        b_rep = run_block(ctx, "natural-repeats", rep_set, T, window,
                          substeps=p.repeat_substeps, protocol=protocol)
        fano, isi_cv_, isi_lv_, corr = repeated_patch_statistics(b_rep, p, window, K)
        r_sc, n_corr = corr.values, int(np.unique(corr.pairs).size)
        cosines = column_cosines(ctx.params.Phi)
        overlap = cosines[corr.pairs[:, 0], corr.pairs[:, 1]] if r_sc.size else np.zeros(0)

        per_neuron = {"rate": mean_rate, "lifetime_sparseness": life,
                      "lifetime_sparseness_crf": s_small,
                      "lifetime_sparseness_crf_surround": s_large,
                      "lifetime_sparseness_change": change, "fano": fano, "isi_cv": isi_cv_,
                      "isi_lv": isi_lv_}
        population = {"population_sparseness": pop, "r_sc": r_sc,
                      "r_sc_pairs": corr.pairs.astype(np.float64), "r_sc_overlap": overlap}
        summary = {"lognormal_mu": fit.mu, "lognormal_sigma": fit.sigma,
                   "lognormal_ks": fit.ks_statistic, "normal_ks": fit.normal_ks_statistic,
                   "fraction_below_mean": fit.fraction_below_mean,
                   "rate_skewness": fit.skewness, "n_silent": fit.n_silent,
                   "fraction_zero_counts": float(np.mean(b_full.window_counts == 0)),
                   "n_rsc_neurons": n_corr}
        fig = ctx.path("natural.png")
        figures.natural_figure(fig, per_neuron, population, fit)
        window_s = (window[1] - window[0]) * BIN_WIDTH_S
        notes = [f"responses: counts in bins {window[0]} to {window[1] - 1} "
                 f"({window_s * 1e3:.0f} ms from {window[0] * BIN_WIDTH_S * 1e3:.0f} ms after "
                 f"onset)",
                 f"lifetime sparseness: {int(np.isfinite(life).sum())} neurons with a "
                 f"response; CRF vs CRF + surround over {n_ap} patches for {int(both.sum())} "
                 f"neurons",
                 f"Fano: {int(np.isfinite(fano).sum())} neurons with a mean count >= 1 on some "
                 f"repeated patch ({p.repeat_trials} trials); ISI CV/LV: "
                 f"{int(np.isfinite(isi_cv_).sum())} neurons firing >= {RESPONSIVE_RATE_HZ:g} "
                 f"spikes/s with >= {p.isi_min_intervals} intervals (continuous time, dt = "
                 f"{BIN_WIDTH_S / p.repeat_substeps * 1e3:g} ms); r_sc: {r_sc.size} pairs of "
                 f"{n_corr} neurons, within each patch for the pairs with mean counts >= 1 on "
                 f"it, averaged over the patches"]
        notes += runaway_notes([b_full, b_ap, b_rep])
        n_resp = int(responsive(mean_rate, 1.0).sum())
        return ExperimentResult("natural", per_neuron, population, summary, K, n_resp,
                                int(np.isfinite(life).sum()),
                                [b_full.path, b_ap.path, b_rep.path, fig], notes,
                                time.perf_counter() - start)


EXPERIMENT = NaturalExperiment()
