"""The V1 experiments: stimuli, network runs, per-neuron statistics, recordings and figures.

Each experiment follows the protocol of the V1 studies in ``docs/ephys_reference.md``
at the scale of the model's input (square images of side sqrt(M), 16 x 16 for the
natural16 parameters), shows the stimuli to the network
(:func:`analysis.experiment_runner.run_block`: recordings ``<out_dir>/<block>.h5``),
computes its statistics with the ``analysis`` modules, draws a figure
``<out_dir>/<experiment>.png`` and returns an :class:`ExperimentResult`.

Time: one bin is 25 ms. Drifting gratings move at ``tf`` = 1/32 cycle per bin
(1.25 Hz, an 800 ms period). The model integrates its drive in log-rate space
(u_{t+1} = u_t + eta (I_ff - b - ...)) without a leak below threshold, so its
response falls steeply with temporal frequency: with a Gabor dictionary (eta 0.5,
column norm 0.5) the mean response at the preferred grating was 10 to 20 times
smaller at 1/16 cycle per bin than at 1/32. Every movie starts from u = u0 (the
prior); the first ``settle_bins`` (32 bins, one full cycle, 800 ms) are left out
of every response window, so that responses are steady-state responses that no
longer depend on the grating's phase at onset; the window then spans whole
cycles. A neuron's *response* to a stimulus is its spike count in that window,
averaged over repeats (a rate in spikes/s when printed).

Protocols (default sizes; ``quick=True`` shrinks every number for smoke tests):

orientation
    Full-field drifting gratings at contrast 0.5, 24 directions (15 deg steps) x 6
    spatial frequencies (1/16 to 0.35 cycles/pixel in half-octave steps), 32 + 32
    bins. Each neuron's preferred (direction, SF) is its largest response; a neuron
    is responsive if that response reaches 5 spikes/s. Its direction tuning curve at
    the preferred SF gives the circular variance, the bandwidth at 1/sqrt(2) and the
    OSI (Ringach et al. 2002). Later grating experiments reuse these preferences.
f1f0
    Gratings at each analysed neuron's preferred direction and SF, 32 + 64 bins (2
    cycles), 4 repeats; F1/F0 of the PSTH over the 8 cycles (Skottun et al. 1991).
contrast
    Gratings at the preferred direction and SF at 8 contrasts (0 to 1; contrast 1 is
    the pixel standard deviation of the natural16 patches), 32 + 32 bins, 2 repeats;
    Naka-Rushton fit per neuron (Albrecht & Hamilton 1982).
size
    Gratings at the preferred direction and SF, contrast 0.5, in discs of 7 diameters
    (1/8 to 1 of the image side) and full field, centred on the grid point (of a 3 x 3
    grid at 0 and +-1/4 of the side) nearest the centroid of the neuron's projective
    field Phi_k^2; surround-suppression index (Cavanaugh et al. 2002).
cross-orientation
    Drifting plaids at the preferred direction and SF: the test grating (contrast 0.5,
    as in the orientation grid) alone and with an orthogonal mask of equal contrast;
    XOS = 1 - R_plaid / R_test (Morrone et al. 1982).
rf
    16,000 white-noise images (Gaussian pixels, standard deviation 3), each shown for
    8 bins (200 ms), streamed without reset (white noise projects onto a column with
    standard deviation contrast x ||Phi_k|| whatever its shape, far less than the
    natural patches the columns were fitted to; with the shipped natural16 parameters
    contrast 1 left the STAs noise-dominated, median STA-Phi correlation 0.16, while
    contrast 3 gives 0.78 with no runaways); spike-triggered average at the image lag
    (0 to 2 images) of largest STA energy for the neurons with at least 100 spikes;
    2-D Gabor fit (kept if R^2 >= 0.5), Ringach's (nx, ny) (Ringach 2002);
    correlation of every STA with the neuron's dictionary column Phi_k.
moving-bar
    A bar (width 0.2 of the side) sweeping across the field in 16 directions, 2 x
    side bins per sweep with 4 grey bins before and after, 4 repeats; responses
    (sweep and the grey bins after it) against direction as polar plots, DSI
    (Hubel & Wiesel 1959; the authors' demo).
natural
    2,000 natural16 test patches (central crops for smaller sides), 32 bins each,
    window bins 8 to 31: firing-rate distribution with a log-normal fit, lifetime
    and population sparseness (Vinje & Gallant 2000; Willmore et al. 2011). The
    first 500 patches again through a disc of half the side at the 3 x 3 grid
    point nearest each neuron's projective field: the lifetime sparseness of this
    "classical receptive field" stimulation against the full patch (the surround
    added). And 8 patches x 32 repeats in continuous time (dt = 0.5 ms): Fano
    factors and ISI CV / LV via Elephant, noise correlations r_sc (within each patch
    for the pairs that respond to it, averaged over patches).

The numbers of neurons analysed are reported: responsive ones only, and in the
grating experiments after the orientation one at most ``max_neurons`` (128) of
them, drawn at random (seeded), which bounds the stimulus count.
"""
from __future__ import annotations

import dataclasses
import time
import warnings

import numpy as np

from ipvae_brian.analysis import experiment_figures as figures
from ipvae_brian.analysis.contrast_response import fit_naka_rushton
from ipvae_brian.analysis.cross_orientation import cross_orientation_suppression_index
from ipvae_brian.analysis.experiment_runner import (BIN_WIDTH_S, RESPONSIVE_RATE_HZ, ExperimentContext,
                                        block_cost, check_natural_side, nearest_centre,
                                        receptive_field_centres, repeat_stimuli, responsive,
                                        run_block, stack_stimuli)
from ipvae_brian.analysis.moving_bar_response import direction_selectivity_index, preferred_direction
from ipvae_brian.analysis.noise_correlation import stimulus_averaged_noise_correlations
from ipvae_brian.analysis.orientation_tuning import (circular_variance, orientation_bandwidth,
                                         orientation_selectivity_index, preferred_orientation)
from ipvae_brian.analysis.rate_distribution import fit_lognormal
from ipvae_brian.analysis.receptive_fields import (column_correlation, dictionary_overlap, fit_gabor,
                                       spike_triggered_average)
from ipvae_brian.analysis.response_modulation import bimodality_coefficient, f1_f0
from ipvae_brian.analysis.size_tuning import preferred_diameter, surround_suppression_index
from ipvae_brian.analysis.sparseness import lifetime_sparseness, population_sparseness

#: Experiment names in the order ``compare-v1`` runs them (orientation first: the grating
#: experiments after it reuse its preferences).
EXPERIMENT_NAMES = ("orientation", "f1f0", "contrast", "size", "cross-orientation", "rf",
                    "moving-bar", "natural")


@dataclasses.dataclass(frozen=True)
class Protocol:
    """Sizes and stimulus parameters of every experiment (see the module notes)."""

    directions: int = 24
    sfs: tuple = (0.0625, 0.0884, 0.125, 0.1768, 0.25, 0.3536)
    tf: float = 1 / 32
    settle_bins: int = 32
    orientation_cycles: int = 1
    grating_contrast: float = 0.5
    max_neurons: int = 128
    contrasts: tuple = (0.0, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 3 / 4, 1.0)
    contrast_cycles: int = 1
    contrast_repeats: int = 2
    diameters: tuple = (1 / 8, 3 / 16, 1 / 4, 3 / 8, 1 / 2, 3 / 4, 1.0, None)
    centre_offset: float = 1 / 4
    plaid_contrast: float = 0.5
    f1f0_cycles: int = 2
    f1f0_repeats: int = 4
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
        return cls(directions=8, sfs=(0.125, 0.25), settle_bins=8,
                   max_neurons=6, contrasts=(0.0, 0.125, 0.25, 0.5, 1.0),
                   contrast_repeats=1, diameters=(0.25, 0.5, 1.0, None), f1f0_cycles=1,
                   f1f0_repeats=1, rf_images=2000, rf_lags=2, rf_min_spikes=50,
                   rf_min_r_squared=0.3, bar_directions=8, bar_repeats=1, bar_blank=2,
                   natural_images=48, natural_aperture_images=12, natural_steps=16,
                   natural_skip=4, repeat_images=2, repeat_trials=12, repeat_substeps=5,
                   isi_min_intervals=4)

    def as_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in dataclasses.asdict(self).items()}


@dataclasses.dataclass
class ExperimentResult:
    """What an experiment measured.

    Attributes
    ----------
    name : str
    per_neuron : dict of str -> ndarray, shape (K,)
        Per-neuron statistics, NaN for neurons not analysed.
    population : dict of str -> ndarray
        Other samples (e.g. population sparseness per stimulus, r_sc per pair).
    summary : dict of str -> float
        Scalars (fit results of a distribution, counts, ...).
    n_neurons : int
        K.
    n_responsive : int
        Neurons that passed the experiment's response criterion.
    n_analysed : int
        Neurons whose statistics were computed.
    files : list of str
        Recordings and the figure written.
    notes : list of str
        What the reader should know (criteria, runaways, skipped steps).
    wall_s : float
    """

    name: str
    per_neuron: dict
    population: dict
    summary: dict
    n_neurons: int
    n_responsive: int
    n_analysed: int
    files: list
    notes: list
    wall_s: float = 0.0


def protocol_for(ctx: ExperimentContext) -> Protocol:
    """The protocol of a context: default or quick sizes, with its overrides applied."""
    base = Protocol.quick() if ctx.quick else Protocol()
    return dataclasses.replace(base, **ctx.protocol_overrides)


def _nan(k: int) -> np.ndarray:
    return np.full(k, np.nan)


def _runaway_note(blocks) -> list:
    notes = []
    for b in blocks:
        if b.n_runaway:
            notes.append(f"{b.n_runaway} stimuli of block {b.name} drove some neuron to the rate "
                         f"ceiling (counts >= exp(c_u) / 2 in a bin, where the soft clamp c_u "
                         f"limits the rate; with c_u = 10 this means unstable dynamics); their "
                         f"responses are included")
    return notes


def _movie_frames(p: Protocol, cycles: int) -> int:
    period = int(round(1 / p.tf))
    return p.settle_bins + cycles * period


def _directions(n: int) -> np.ndarray:
    return np.arange(n) * (360.0 / n)


def _sample(ctx: ExperimentContext, mask: np.ndarray, limit: int, name: str) -> np.ndarray:
    """Indices of at most ``limit`` neurons of ``mask``, drawn at random (seeded), sorted."""
    idx = np.flatnonzero(mask)
    if idx.size > limit:
        rng = np.random.default_rng(ctx.block_seed(name + "-sample"))
        idx = np.sort(rng.choice(idx, size=limit, replace=False))
    return idx


# --- orientation (and the grating preferences the other grating experiments use) ----------

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


def grating_preferences(ctx: ExperimentContext):
    """Run (or reuse) the orientation grid; return (GratingPreferences, BlockResult or None)."""
    if "grating_preferences" in ctx.shared:
        return ctx.shared["grating_preferences"], None
    from ipvae_brian.stimuli.gratings import drifting_grating
    p = protocol_for(ctx)
    directions = _directions(p.directions)
    frames = _movie_frames(p, p.orientation_cycles)
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


def run_orientation(ctx: ExperimentContext) -> ExperimentResult:
    """Orientation tuning to drifting gratings (see the module notes)."""
    start = time.perf_counter()
    prefs, block = grating_preferences(ctx)
    block = block or ctx.shared.get("grating_preferences_block")
    K = ctx.n_latents
    curves = prefs.rates[:, prefs.sf_index, np.arange(K)].T        # (K, n_dir)
    resp = prefs.responsive
    cv, bw, osi, pref_o = _nan(K), _nan(K), _nan(K), _nan(K)
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
        notes.append(f"{narrow} of {int(resp.sum())} bandwidths are below half the direction "
                     f"step ({step / 2:g} deg): those tuning curves fall below 1/sqrt(2) of "
                     f"the peak at the next sampled direction, so the data only say the "
                     f"half-width is under {step:g} deg; the spline interpolation places it "
                     f"in between (no smoothing applied, unlike Ringach et al.'s 13.5 deg "
                     f"Hanning window)")
    notes += _runaway_note([block] if block else [])
    return ExperimentResult("orientation", per_neuron, {"directions": prefs.directions,
                                                        "tuning_curves": curves},
                            {}, K, int(resp.sum()), int(resp.sum()),
                            ([block.path] if block else []) + [fig], notes,
                            time.perf_counter() - start)


def _grating_condition_sets(ctx, p, keys, contrasts=None, diameters=(None,), centres=None,
                            frames=None):
    """Drifting gratings for (direction, sf[, centre]) keys x contrasts x diameters."""
    from ipvae_brian.stimuli.gratings import drifting_grating
    parts, cond = [], {"direction": [], "sf": [], "contrast": [], "diameter": [],
                       "center_x": [], "center_y": []}
    contrasts = [p.grating_contrast] if contrasts is None else list(contrasts)
    for key in keys:
        direction, sf = key[0], key[1]
        cx, cy = (0.0, 0.0) if centres is None else centres[key[2]]
        s = drifting_grating(orientation=direction, sf=sf, tf=p.tf, contrast=contrasts,
                             diameter=list(diameters), frames=frames, size=ctx.side,
                             center_x=float(cx), center_y=float(cy))
        parts.append(s)
        for c in contrasts:
            for d in diameters:
                cond["direction"].append(direction)
                cond["sf"].append(sf)
                cond["contrast"].append(c)
                cond["diameter"].append(d)
                cond["center_x"].append(cx)
                cond["center_y"].append(cy)
    return parts, cond


def _analysed(ctx, prefs, p, name):
    """Neurons analysed by a grating experiment and their (direction, sf) keys."""
    chosen = _sample(ctx, prefs.responsive, p.max_neurons, name)
    keys = sorted({(float(prefs.directions[prefs.direction_index[k]]),
                    float(prefs.sfs[prefs.sf_index[k]])) for k in chosen})
    return chosen, keys


def _skip(name, ctx, start, files, prefs_block, why) -> ExperimentResult:
    fig = ctx.path(f"{name}.png")
    figures.empty_figure(fig, name, why)
    return ExperimentResult(name, {}, {}, {}, ctx.n_latents, 0, 0,
                            ([prefs_block.path] if prefs_block else []) + files + [fig],
                            [why], time.perf_counter() - start)


# --- f1f0 ---------------------------------------------------------------------------------

def run_f1f0(ctx: ExperimentContext) -> ExperimentResult:
    """F1/F0 of responses to drifting gratings at the preferred direction and SF."""
    start = time.perf_counter()
    p = protocol_for(ctx)
    prefs, prefs_block = grating_preferences(ctx)
    chosen, keys = _analysed(ctx, prefs, p, "f1f0")
    if not keys:
        return _skip("f1f0", ctx, start, [], prefs_block,
                     "no responsive neuron in the orientation grid: F1/F0 not measured")
    frames = _movie_frames(p, p.f1f0_cycles)
    parts, cond = _grating_condition_sets(ctx, p, keys, frames=frames)
    stimuli = repeat_stimuli(stack_stimuli("drifting_grating", parts, (ctx.side, ctx.side), cond,
                                           "drifting gratings at the analysed neurons' "
                                           "preferred direction and spatial frequency"),
                             p.f1f0_repeats)
    block = run_block(ctx, "f1f0", stimuli, frames, (p.settle_bins, frames), keep_counts=True,
                      protocol={"experiment": "f1f0", **p.as_dict()})
    K = ctx.n_latents
    n_cond = len(keys)
    counts = block.counts[:, p.settle_bins:].astype(np.float64)
    psth = counts.reshape(p.f1f0_repeats, n_cond, -1, K).mean(axis=0)   # (cond, bins, K)
    key_index = {k: i for i, k in enumerate(keys)}
    ratio, f0 = _nan(K), _nan(K)
    examples = {}
    for k in chosen:
        i = key_index[(float(prefs.preferred_direction[k]), float(prefs.preferred_sf[k]))]
        trace = psth[i, :, k]
        f0[k] = trace.mean() / BIN_WIDTH_S
        if f0[k] >= RESPONSIVE_RATE_HZ:
            ratio[k] = float(f1_f0(trace, p.tf))
            examples[int(k)] = trace / BIN_WIDTH_S
    n_resp = int(np.isfinite(ratio).sum())
    fig = ctx.path("f1f0.png")
    figures.f1f0_figure(fig, ratio, examples, p.tf)
    summary = {"bimodality_coefficient": bimodality_coefficient(ratio),
               "fraction_simple": float(np.mean(ratio[np.isfinite(ratio)] > 1))
               if n_resp else float("nan")}
    notes = [f"{len(chosen)} neurons sampled from the {int(prefs.responsive.sum())} responsive "
             f"to gratings; {n_resp} fire >= {RESPONSIVE_RATE_HZ:g} spikes/s at their preferred "
             f"grating (F0 = mean over {p.f1f0_cycles} cycles x {p.f1f0_repeats} repeats, no "
             f"spontaneous rate subtracted)"]
    return ExperimentResult("f1f0", {"f1f0": ratio, "f0_rate": f0}, {}, summary, K,
                            int(prefs.responsive.sum()), n_resp,
                            ([prefs_block.path] if prefs_block else []) + [block.path, fig],
                            notes + _runaway_note([block]), time.perf_counter() - start)


# --- contrast -----------------------------------------------------------------------------

def run_contrast(ctx: ExperimentContext) -> ExperimentResult:
    """Contrast response functions at the preferred grating and their Naka-Rushton fits."""
    start = time.perf_counter()
    p = protocol_for(ctx)
    prefs, prefs_block = grating_preferences(ctx)
    chosen, keys = _analysed(ctx, prefs, p, "contrast")
    if not keys:
        return _skip("contrast", ctx, start, [], prefs_block,
                     "no responsive neuron in the orientation grid: contrast responses not "
                     "measured")
    frames = _movie_frames(p, p.contrast_cycles)
    parts, cond = _grating_condition_sets(ctx, p, keys, contrasts=p.contrasts, frames=frames)
    stimuli = repeat_stimuli(stack_stimuli("drifting_grating", parts, (ctx.side, ctx.side), cond,
                                           "drifting gratings at 8 contrasts at the analysed "
                                           "neurons' preferred direction and spatial frequency"),
                             p.contrast_repeats)
    block = run_block(ctx, "contrast", stimuli, frames, (p.settle_bins, frames),
                      protocol={"experiment": "contrast", **p.as_dict()})
    K = ctx.n_latents
    nc = len(p.contrasts)
    rates = block.window_rates.reshape(p.contrast_repeats, len(keys), nc, K).mean(axis=0)
    key_index = {k: i for i, k in enumerate(keys)}
    out = {name: _nan(K) for name in ("n", "c50", "r_max", "baseline", "r_squared")}
    saturates = np.zeros(K, dtype=bool)
    curves = {}
    contrasts = np.asarray(p.contrasts)
    for k in chosen:
        i = key_index[(float(prefs.preferred_direction[k]), float(prefs.preferred_sf[k]))]
        curve = rates[i, :, k]
        if curve.max() < RESPONSIVE_RATE_HZ:
            continue
        fit = fit_naka_rushton(contrasts, curve)
        for name in out:
            out[name][k] = getattr(fit, name)
        saturates[k] = fit.saturates
        curves[int(k)] = (curve, fit)
    n_fit = int(np.isfinite(out["n"]).sum())
    fig = ctx.path("contrast.png")
    figures.contrast_figure(fig, contrasts, curves, out)
    out["saturates"] = np.where(np.isfinite(out["n"]), saturates.astype(float), np.nan)
    notes = [f"{len(chosen)} neurons sampled from the {int(prefs.responsive.sum())} responsive; "
             f"{n_fit} reach {RESPONSIVE_RATE_HZ:g} spikes/s at some contrast and were fitted; "
             f"{int(saturates.sum())} of them saturate (c50 inside the tested contrasts). "
             f"Contrast 1 = the natural16 pixel standard deviation (a grating of peak "
             f"amplitude sqrt(2))"]
    return ExperimentResult("contrast", out, {"contrasts": contrasts}, {}, K,
                            int(prefs.responsive.sum()), n_fit,
                            ([prefs_block.path] if prefs_block else []) + [block.path, fig],
                            notes + _runaway_note([block]), time.perf_counter() - start)


# --- size ---------------------------------------------------------------------------------

def aperture_centres(side: int, offset: float) -> np.ndarray:
    """The 3 x 3 grid of aperture centres, (9, 2) as (x, y) pixels from the image centre."""
    o = np.array([-1.0, 0.0, 1.0]) * offset * side
    xs, ys = np.meshgrid(o, o[::-1])
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def run_size(ctx: ExperimentContext) -> ExperimentResult:
    """Size tuning at the preferred grating, aperture on the projective field's centre."""
    start = time.perf_counter()
    p = protocol_for(ctx)
    prefs, prefs_block = grating_preferences(ctx)
    chosen = _sample(ctx, prefs.responsive, p.max_neurons, "size")
    if chosen.size == 0:
        return _skip("size", ctx, start, [], prefs_block,
                     "no responsive neuron in the orientation grid: size tuning not measured")
    centres = aperture_centres(ctx.side, p.centre_offset)
    centre_of = nearest_centre(receptive_field_centres(ctx.params), centres)
    keys = sorted({(float(prefs.preferred_direction[k]), float(prefs.preferred_sf[k]),
                    int(centre_of[k])) for k in chosen})
    diameters = [None if d is None else d * ctx.side for d in p.diameters]
    frames = _movie_frames(p, p.contrast_cycles)
    parts, cond = _grating_condition_sets(ctx, p, keys, diameters=diameters, centres=centres,
                                          frames=frames)
    stimuli = stack_stimuli("drifting_grating", parts, (ctx.side, ctx.side), cond,
                            "drifting gratings in discs of growing diameter centred near the "
                            "analysed neurons' projective fields")
    block = run_block(ctx, "size", stimuli, frames, (p.settle_bins, frames),
                      protocol={"experiment": "size", **p.as_dict()})
    K = ctx.n_latents
    nd = len(diameters)
    rates = block.window_rates.reshape(len(keys), nd, K)
    key_index = {k: i for i, k in enumerate(keys)}
    d_values = np.array([np.inf if d is None else d for d in diameters])
    si, pref_d = _nan(K), _nan(K)
    curves = {}
    for k in chosen:
        i = key_index[(float(prefs.preferred_direction[k]), float(prefs.preferred_sf[k]),
                       int(centre_of[k]))]
        curve = rates[i, :, k]
        if curve.max() < RESPONSIVE_RATE_HZ:
            continue
        si[k] = float(surround_suppression_index(d_values, curve))
        pref_d[k] = float(preferred_diameter(d_values, curve))
        curves[int(k)] = curve
    n_ok = int(np.isfinite(si).sum())
    fig = ctx.path("size.png")
    figures.size_figure(fig, d_values, curves, si, ctx.side)
    notes = [f"{chosen.size} neurons sampled from the {int(prefs.responsive.sum())} responsive; "
             f"{n_ok} reach {RESPONSIVE_RATE_HZ:g} spikes/s at some diameter; the largest "
             f"stimulus is a full-field grating; aperture centres on a 3 x 3 grid (spacing "
             f"{p.centre_offset * ctx.side:g} px) nearest each neuron's projective-field "
             f"centroid"]
    return ExperimentResult("size", {"si": si, "preferred_diameter": pref_d},
                            {"diameters": d_values}, {}, K, int(prefs.responsive.sum()), n_ok,
                            ([prefs_block.path] if prefs_block else []) + [block.path, fig],
                            notes + _runaway_note([block]), time.perf_counter() - start)


# --- cross-orientation --------------------------------------------------------------------

def run_cross_orientation(ctx: ExperimentContext) -> ExperimentResult:
    """Test grating alone and with an orthogonal mask (a plaid) at the preferred grating."""
    from ipvae_brian.stimuli.gratings import plaid
    start = time.perf_counter()
    p = protocol_for(ctx)
    prefs, prefs_block = grating_preferences(ctx)
    chosen, keys = _analysed(ctx, prefs, p, "cross-orientation")
    if not keys:
        return _skip("cross-orientation", ctx, start, [], prefs_block,
                     "no responsive neuron in the orientation grid: cross-orientation "
                     "suppression not measured")
    frames = _movie_frames(p, p.contrast_cycles)
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
    stimuli = stack_stimuli("plaid", parts, (ctx.side, ctx.side), cond,
                            "drifting test grating alone (mask_contrast 0) and with an "
                            "orthogonal mask of equal contrast, at the analysed neurons' "
                            "preferred direction and spatial frequency")
    block = run_block(ctx, "cross-orientation", stimuli, frames, (p.settle_bins, frames),
                      protocol={"experiment": "cross-orientation", **p.as_dict()})
    K = ctx.n_latents
    rates = block.window_rates.reshape(len(keys), 2, K)
    key_index = {k: i for i, k in enumerate(keys)}
    xos, test, both = _nan(K), _nan(K), _nan(K)
    for k in chosen:
        i = key_index[(float(prefs.preferred_direction[k]), float(prefs.preferred_sf[k]))]
        test[k], both[k] = rates[i, 0, k], rates[i, 1, k]
        if test[k] >= RESPONSIVE_RATE_HZ:
            xos[k] = float(cross_orientation_suppression_index(test[k], both[k]))
    n_ok = int(np.isfinite(xos).sum())
    fig = ctx.path("cross-orientation.png")
    figures.cross_orientation_figure(fig, test, both, xos)
    notes = [f"{len(chosen)} neurons sampled from the {int(prefs.responsive.sum())} "
             f"responsive; {n_ok} fire >= {RESPONSIVE_RATE_HZ:g} spikes/s to the test grating "
             f"alone (contrast {p.plaid_contrast:g}; mask contrast {p.plaid_contrast:g})"]
    return ExperimentResult("cross-orientation",
                            {"xos": xos, "test_rate": test, "plaid_rate": both}, {}, {}, K,
                            int(prefs.responsive.sum()), n_ok,
                            ([prefs_block.path] if prefs_block else []) + [block.path, fig],
                            notes + _runaway_note([block]), time.perf_counter() - start)


# --- receptive fields ---------------------------------------------------------------------

def run_rf(ctx: ExperimentContext) -> ExperimentResult:
    """Spike-triggered averages on streamed white noise, Gabor fits, (nx, ny), STA vs Phi."""
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
    corr = _nan(K)
    corr[enough] = column_correlation(sta[enough], ctx.params.Phi.T[enough])
    overlap = dictionary_overlap(ctx.params.Phi)
    nx, ny, r2, fit_ok = _nan(K), _nan(K), _nan(K), np.zeros(K, dtype=bool)
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
    notes = [f"{int(enough.sum())} neurons with >= {p.rf_min_spikes} spikes over "
             f"{p.rf_images:,} noise images; {int(fit_ok.sum())} Gabor fits with R^2 >= "
             f"{p.rf_min_r_squared:g}; STA at the image lag of largest energy "
             f"(median lag {float(np.median(best_lag[enough])) if enough.any() else 0:g} "
             f"images of {p.rf_hold_bins} bins)",
             f"STA-Phi correlation: median {summary['median_sta_phi_correlation']:.3f}; "
             f"{summary['median_sta_phi_correlation_low_overlap']:.3f} for the half with the "
             f"lowest dictionary overlap (max |cos| <= {summary['overlap_split']:.3f}), "
             f"{summary['median_sta_phi_correlation_high_overlap']:.3f} for the other half"]
    return ExperimentResult("rf", {"nx": nx, "ny": ny, "gabor_r_squared": r2,
                                   "sta_phi_correlation": corr, "dictionary_overlap": overlap,
                                   "sta_spikes": spikes.astype(float),
                                   "sta_lag": best_lag.astype(float)},
                            {"sta": sta}, summary, K, int(enough.sum()), int(fit_ok.sum()),
                            [block.path, fig], notes + _runaway_note([block]),
                            time.perf_counter() - start)


# --- moving bar ---------------------------------------------------------------------------

def run_moving_bar(ctx: ExperimentContext) -> ExperimentResult:
    """Responses to a bar sweeping in many directions, as polar plots (Hubel & Wiesel)."""
    from ipvae_brian.stimuli.moving_bar import moving_bar
    start = time.perf_counter()
    p = protocol_for(ctx)
    directions = _directions(p.bar_directions)
    sweep = 2 * ctx.side
    stimuli = repeat_stimuli(moving_bar(direction=list(directions), frames=sweep,
                                        blank=p.bar_blank, size=ctx.side), p.bar_repeats)
    steps = sweep + 2 * p.bar_blank
    block = run_block(ctx, "moving-bar", stimuli, steps, (p.bar_blank, steps),
                      protocol={"experiment": "moving-bar", **p.as_dict()})
    K = ctx.n_latents
    rates = block.window_rates.reshape(p.bar_repeats, directions.size, K).mean(axis=0).T
    peak = rates.max(axis=1)
    resp = responsive(peak)
    dsi, pref, cv = _nan(K), _nan(K), _nan(K)
    if resp.any():
        dsi[resp] = direction_selectivity_index(directions, rates[resp])
        pref[resp] = preferred_direction(directions, rates[resp])
        cv[resp] = circular_variance(directions, rates[resp])
    fig = ctx.path("moving-bar.png")
    figures.moving_bar_figure(fig, directions, rates, resp, dsi)
    notes = [f"{int(resp.sum())} neurons fire >= {RESPONSIVE_RATE_HZ:g} spikes/s (mean over "
             f"the sweep and the {p.bar_blank} grey bins after it) in their best direction"]
    return ExperimentResult("moving-bar", {"dsi": dsi, "preferred_direction": pref,
                                           "bar_circular_variance": cv, "peak_rate": peak},
                            {"directions": directions, "responses": rates}, {}, K,
                            int(resp.sum()), int(resp.sum()), [block.path, fig],
                            notes + _runaway_note([block]), time.perf_counter() - start)


# --- natural images -----------------------------------------------------------------------

def natural_patches(side: int, n: int):
    """The first ``n`` natural16 test patches, centrally cropped to ``side`` x ``side``."""
    from ipvae_brian.stimuli.natural16 import natural16
    s = natural16(split="test", n=n)
    if side == 16:
        return s
    lo = (16 - side) // 2
    x = s.x.reshape(-1, 16, 16)[:, lo:lo + side, lo:lo + side].reshape(-1, side * side)
    return dataclasses.replace(s, x=x, image_shape=(side, side),
                               params={**s.params, "crop": [lo, lo + side]})


def _natural_repeats_statistics(block, p, window_bins, K):
    """Fano factor, ISI CV and LV (Elephant, via analysis.spike_statistics) and r_sc.

    The spike times of each (trial, neuron) in the response window [t0, t1) are handed to
    the Elephant-based functions as plain arrays (Elephant counts and differences them
    directly; no Neo object per train is needed).
    """
    from ipvae_brian.analysis.spike_statistics import fano_factor, isi_cv, isi_lv
    from ipvae_brian.analysis.spike_trains import read_spike_trains
    n_img, trials = p.repeat_images, p.repeat_trials
    counts = block.window_counts.reshape(n_img, trials, K)        # image-major (see caller)
    mean_counts = counts.mean(axis=1)                             # (n_img, K)
    t0, t1 = window_bins[0] * BIN_WIDTH_S, window_bins[1] * BIN_WIDTH_S
    duration = t1 - t0
    fano_per_image = np.full((n_img, K), np.nan)
    cv_per_image = np.full((n_img, K), np.nan)
    lv_per_image = np.full((n_img, K), np.nan)
    active = np.flatnonzero((mean_counts >= 1).any(axis=0))
    if active.size:
        trains = read_spike_trains(block.path, neurons=active)

        def windowed(a, j):
            times = trains.train(a, j)
            lo, hi = np.searchsorted(times, [t0 - 1e-12, t1 - 1e-12])
            return times[lo:hi]

        for a in range(n_img):
            rows = range(a * trials, (a + 1) * trials)
            for j, k in enumerate(active):
                if mean_counts[a, k] < 1:
                    continue
                sliced = [windowed(row, j) for row in rows]
                fano_per_image[a, k] = fano_factor(sliced)
                n_intervals = sum(max(t.size - 1, 0) for t in sliced)
                if (mean_counts[a, k] / duration < RESPONSIVE_RATE_HZ
                        or n_intervals < p.isi_min_intervals):
                    continue
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    cv_per_image[a, k] = isi_cv(sliced)
                    lv_per_image[a, k] = isi_lv(sliced)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fano = np.nanmedian(fano_per_image, axis=0)
        cv = np.nanmedian(cv_per_image, axis=0)
        lv = np.nanmedian(lv_per_image, axis=0)
    corr = stimulus_averaged_noise_correlations(counts, min_mean=1.0)
    return fano, cv, lv, corr.values, int(np.unique(corr.pairs).size)


def run_natural(ctx: ExperimentContext) -> ExperimentResult:
    """Natural-image responses: rates, sparseness, Fano, ISI CV/LV, noise correlations."""
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
    from ipvae_brian.stimuli.gratings import circular_aperture
    centres = aperture_centres(side, p.centre_offset)
    n_ap = min(p.natural_aperture_images, p.natural_images)
    patches = full.x[:n_ap]
    parts, cond = [], {"center_x": [], "center_y": [], "image": []}
    from ipvae_brian.stimuli.stimulus_set import StimulusSet
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
                          params={"description": f"the first {p.repeat_images} natural16 test "
                                  f"patches, each repeated {p.repeat_trials} times in a row",
                                  "repeats": p.repeat_trials},
                          labels=np.repeat(np.arange(p.repeat_images), p.repeat_trials))
    b_rep = run_block(ctx, "natural-repeats", rep_set, T, window, substeps=p.repeat_substeps,
                      protocol=protocol)
    fano, isi_cv_, isi_lv_, r_sc, n_corr = _natural_repeats_statistics(b_rep, p, window, K)

    per_neuron = {"rate": mean_rate, "lifetime_sparseness": life,
                  "lifetime_sparseness_crf": s_small, "lifetime_sparseness_crf_surround": s_large,
                  "lifetime_sparseness_change": change, "fano": fano, "isi_cv": isi_cv_,
                  "isi_lv": isi_lv_}
    population = {"population_sparseness": pop, "r_sc": r_sc}
    summary = {"lognormal_mu": fit.mu, "lognormal_sigma": fit.sigma,
               "lognormal_ks": fit.ks_statistic, "normal_ks": fit.normal_ks_statistic,
               "fraction_below_mean": fit.fraction_below_mean, "rate_skewness": fit.skewness,
               "n_silent": fit.n_silent, "fraction_zero_counts":
                   float(np.mean(b_full.window_counts == 0)),
               "n_rsc_neurons": n_corr}
    fig = ctx.path("natural.png")
    figures.natural_figure(fig, per_neuron, population, fit)
    window_s = (window[1] - window[0]) * BIN_WIDTH_S
    notes = [f"responses: counts in bins {window[0]} to {window[1] - 1} "
             f"({window_s * 1e3:.0f} ms from {window[0] * BIN_WIDTH_S * 1e3:.0f} ms after onset)",
             f"lifetime sparseness: {int(np.isfinite(life).sum())} neurons with a response; "
             f"CRF vs CRF + surround over {n_ap} patches for {int(both.sum())} neurons",
             f"Fano: {int(np.isfinite(fano).sum())} neurons with a mean count >= 1 on some "
             f"repeated patch ({p.repeat_trials} trials); ISI CV/LV: "
             f"{int(np.isfinite(isi_cv_).sum())} neurons firing >= {RESPONSIVE_RATE_HZ:g} "
             f"spikes/s with >= {p.isi_min_intervals} intervals (continuous time, dt = "
             f"{BIN_WIDTH_S / p.repeat_substeps * 1e3:g} ms); r_sc: {r_sc.size} pairs of "
             f"{n_corr} neurons, within each patch for the pairs with mean counts >= 1 on it, "
             f"averaged over the patches"]
    notes += _runaway_note([b_full, b_ap, b_rep])
    n_resp = int(responsive(mean_rate, 1.0).sum())
    return ExperimentResult("natural", per_neuron, population, summary, K, n_resp,
                            int(np.isfinite(life).sum()),
                            [b_full.path, b_ap.path, b_rep.path, fig], notes,
                            time.perf_counter() - start)


EXPERIMENTS = {"orientation": run_orientation, "f1f0": run_f1f0, "contrast": run_contrast,
               "size": run_size, "cross-orientation": run_cross_orientation, "rf": run_rf,
               "moving-bar": run_moving_bar, "natural": run_natural}


def estimated_work(name: str, ctx: ExperimentContext) -> float:
    """Upper estimate of an experiment's simulation work in bin units (for progress bars)."""
    p = protocol_for(ctx)
    side = ctx.side
    grid = p.directions * len(p.sfs)
    orientation = block_cost(grid, _movie_frames(p, p.orientation_cycles))
    search = 0.0 if "grating_preferences" in ctx.shared or name == "orientation" else orientation
    pairs = min(grid, p.max_neurons)
    short = _movie_frames(p, p.contrast_cycles)
    work = {
        "orientation": orientation,
        "f1f0": search + block_cost(pairs * p.f1f0_repeats, _movie_frames(p, p.f1f0_cycles)),
        "contrast": search + block_cost(pairs * len(p.contrasts) * p.contrast_repeats, short),
        "size": search + block_cost(p.max_neurons * len(p.diameters), short),
        "cross-orientation": search + block_cost(pairs * 2, short),
        "rf": block_cost(p.rf_images, p.rf_hold_bins),
        "moving-bar": block_cost(p.bar_directions * p.bar_repeats, 2 * side + 2 * p.bar_blank),
        "natural": (block_cost(p.natural_images, p.natural_steps)
                    + block_cost(9 * p.natural_aperture_images, p.natural_steps)
                    + block_cost(p.repeat_images * p.repeat_trials, p.natural_steps,
                                 p.repeat_substeps)),
    }
    return work[name]


def check_experiment(name: str, ctx: ExperimentContext) -> None:
    """Raise SimulationInputError if the experiment cannot run with these parameters."""
    from ipvae_brian.models.errors import SimulationInputError
    if name not in EXPERIMENTS:
        raise SimulationInputError(f"unknown experiment {name!r}; choose one of "
                                   f"{', '.join(EXPERIMENT_NAMES)}")
    _ = ctx.side                    # square images
    if name == "natural":
        check_natural_side(ctx.params)


def run_experiment(name: str, ctx: ExperimentContext) -> ExperimentResult:
    """Run one experiment by name (see :data:`EXPERIMENT_NAMES`)."""
    check_experiment(name, ctx)
    return EXPERIMENTS[name](ctx)
