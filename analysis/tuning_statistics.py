"""Tuning statistics of trials that carry grating parameters: orientation, contrast, size, F1/F0.

The trials' stimulus parameters (``TrialSpikes.conditions``) use the column names
of :data:`KNOWN_COLUMNS` (``analysis.ephys_recording`` maps the usual aliases onto
them). Each statistic is computed by the function of ``compare-v1`` (same module,
same criteria), from the rates in the counting window:

- *blank* trials (contrast 0, or ``stimulus_type`` "blank" / "gray"): each unit's
  spontaneous rate, subtracted (clipped at 0) for the OSI, the size index and F1/F0
  (as ``analysis.experiments`` does), not for the circular variance and the bandwidth;
- *orientation* (deg, directions folded onto orientations): the tuning curve at the
  largest contrast and size and the most common spatial and temporal frequency;
  circular variance, bandwidth (90 deg = at its bound: excluded and counted) and OSI
  (``orientation_tuning``), for units whose peak reaches 5 spikes/s;
- *contrast* (at least 4 values, 0 from the blank trials included): Naka-Rushton fit of
  each unit at its preferred orientation (``contrast_response``; fits at a bound
  excluded and counted), exponent n;
- *size* (at least 3 values): surround-suppression index of the evoked responses at
  the preferred orientation and the largest contrast (``size_tuning``);
- *F1/F0* (a ``temporal_frequency`` column in Hz): the PSTH at the preferred grating
  over the whole cycles in the window, ``response_modulation.f1_f0`` with the F0 evoked.
"""
from __future__ import annotations

import numpy as np

from ipvae_brian.analysis.trial_statistics import Sample, TrialSpikes, _finite

#: The stimulus columns the tuning statistics read, and their units.
KNOWN_COLUMNS = {"orientation": "deg", "contrast": "fraction (0 to 1)",
                 "size": "deg (or any unit: only the order matters)",
                 "spatial_frequency": "cycles/deg", "temporal_frequency": "Hz",
                 "stimulus_type": "text (grating, blank, white_noise, natural_image)",
                 "image_index": "index into the image file", "noise_seed": "integer"}
#: A unit is analysed if its largest mean rate in a tuning curve reaches this (spikes/s).
RESPONSIVE_RATE_HZ = 5.0
BLANK_TYPES = ("blank", "gray", "grey", "spontaneous")


def _column(ts: TrialSpikes, name: str):
    values = ts.conditions.get(name)
    return None if values is None else np.asarray(values)


def _numeric(ts: TrialSpikes, name: str):
    values = _column(ts, name)
    if values is None:
        return None
    try:
        return values.astype(np.float64)
    except (TypeError, ValueError):
        return None


def blank_trials(ts: TrialSpikes) -> np.ndarray:
    """Trials without a stimulus (contrast 0 or a blank ``stimulus_type``), bool (n_trials,)."""
    blank = np.zeros(ts.n_trials, dtype=bool)
    contrast = _numeric(ts, "contrast")
    if contrast is not None:
        blank |= contrast == 0
    kind = _column(ts, "stimulus_type")
    if kind is not None:
        blank |= np.isin(np.char.lower(kind.astype(str)), BLANK_TYPES)
    return blank


def _mode(values: np.ndarray):
    vals, counts = np.unique(values, return_counts=True)
    return vals[np.argmax(counts)]


def reference_trials(ts: TrialSpikes, vary: tuple) -> np.ndarray:
    """Non-blank trials at the largest contrast and size and the most common SF and TF,
    except for the columns in ``vary``; bool (n_trials,)."""
    keep = ~blank_trials(ts)
    for name, pick in (("contrast", np.max), ("size", np.max), ("spatial_frequency", _mode),
                       ("temporal_frequency", _mode)):
        values = _numeric(ts, name)
        if name in vary or values is None or not keep.any():
            continue
        keep &= np.isclose(values, pick(values[keep]))
    return keep


def _curve(rates, values, mask):
    """Mean rate per distinct value of ``values`` among ``mask``: (levels, (n_units, n))."""
    levels = np.unique(values[mask])
    return levels, np.stack([rates[mask & np.isclose(values, v)].mean(axis=0)
                             for v in levels], axis=1)


def tuning_statistics(ts: TrialSpikes) -> dict:
    """The tuning statistics the trials' columns allow (see the module notes).

    Returns
    -------
    dict of str -> Sample
        Any of ``circular_variance``, ``bandwidth``, ``osi``, ``naka_rushton_n``,
        ``surround_suppression``, ``f1f0``; a Sample's ``note`` says what was included.
    """
    from ipvae_brian.analysis.contrast_response import fit_naka_rushton
    from ipvae_brian.analysis.orientation_tuning import (ORIENTATION_PERIOD, circular_variance,
                                                         orientation_bandwidth,
                                                         orientation_selectivity_index)
    from ipvae_brian.analysis.size_tuning import surround_suppression_index
    rates = ts.counts() / ts.duration
    blank = blank_trials(ts)
    spont = rates[blank].mean(axis=0) if blank.any() else np.zeros(ts.n_units)
    spont_note = (f"spontaneous rate from {int(blank.sum())} blank trials" if blank.any()
                  else "no blank trials: spontaneous rate taken as 0")
    out = {}
    orientation = _numeric(ts, "orientation")
    preferred = None            # per unit: the trials at its preferred orientation
    if orientation is not None:
        mask = reference_trials(ts, ("orientation",)) & np.isfinite(orientation)
        angles, curves = _curve(rates, orientation, mask)
        responsive = curves.max(axis=1) >= RESPONSIVE_RATE_HZ
        pref = angles[np.argmax(curves, axis=1)]
        preferred = np.isclose(orientation[None, :], pref[:, None])   # (units, trials)
        cv = bw = osi = np.full(ts.n_units, np.nan)
        note = (f"{angles.size} orientations; {int(responsive.sum())} of {ts.n_units} units "
                f"with a peak >= {RESPONSIVE_RATE_HZ:g} spikes/s")
        if responsive.any() and angles.size >= 4:
            try:
                cv = np.where(responsive, circular_variance(angles, curves), np.nan)
            except ValueError as exc:       # uneven orientations
                note += f"; circular variance: {exc}"
            bw = np.where(responsive, orientation_bandwidth(angles, curves), np.nan)
            osi = np.where(responsive, orientation_selectivity_index(
                angles, np.clip(curves - spont[:, None], 0, None)), np.nan)
        at_bound = int(np.sum(bw >= ORIENTATION_PERIOD / 2))
        bw = np.where(bw >= ORIENTATION_PERIOD / 2, np.nan, bw)
        out["circular_variance"] = _finite(cv, note=note + "; rates as measured")
        out["bandwidth"] = _finite(bw, note=note + f"; {at_bound} at the 90 deg bound excluded")
        out["osi"] = _finite(osi, note=note + f"; evoked rates ({spont_note})")

    def at_preferred(mask_trials):
        if preferred is None:
            return np.broadcast_to(mask_trials, (ts.n_units, ts.n_trials))
        return preferred & mask_trials[None, :]

    contrast = _numeric(ts, "contrast")
    if contrast is not None and np.unique(contrast).size >= 4:
        trials = at_preferred(reference_trials(ts, ("contrast",)))
        n_fit, n_bound = np.full(ts.n_units, np.nan), 0
        for u in range(ts.n_units):
            levels = np.unique(contrast[trials[u]])
            curve = [rates[trials[u] & np.isclose(contrast, c), u].mean() for c in levels]
            if blank.any() and 0.0 not in levels:
                levels, curve = np.append(0.0, levels), [spont[u]] + curve
            if levels.size < 4 or max(curve) < RESPONSIVE_RATE_HZ:
                continue
            fit = fit_naka_rushton(levels, np.asarray(curve))
            if fit.at_bound:
                n_bound += 1
            else:
                n_fit[u] = fit.n
        out["naka_rushton_n"] = _finite(n_fit, note=(
            f"{np.unique(contrast).size} contrasts at each unit's preferred orientation; "
            f"{n_bound} fits at a bound excluded"))
    size = _numeric(ts, "size")
    if size is not None and np.unique(size[np.isfinite(size)]).size >= 3:
        trials = at_preferred(reference_trials(ts, ("size",)) & np.isfinite(size))
        si = np.full(ts.n_units, np.nan)
        for u in range(ts.n_units):
            levels = np.unique(size[trials[u]])
            curve = np.array([rates[trials[u] & np.isclose(size, s), u].mean()
                              for s in levels])
            driven = np.clip(curve - spont[u], 0, None)
            if levels.size >= 3 and curve.max() >= RESPONSIVE_RATE_HZ and driven.max() > 0:
                si[u] = float(surround_suppression_index(levels, driven))
        out["surround_suppression"] = _finite(si, note=(
            f"{np.unique(size[np.isfinite(size)]).size} sizes at the preferred orientation, "
            f"evoked responses ({spont_note})"))
    tf = _numeric(ts, "temporal_frequency")
    if tf is not None and np.any(tf > 0):
        out["f1f0"] = _f1f0(ts, at_preferred(reference_trials(ts, ())), tf, spont)
    return out


def _f1f0(ts: TrialSpikes, trials, tf, spont) -> Sample:
    """F1/F0 of each unit's PSTH at its preferred grating (see the module notes)."""
    from ipvae_brian.analysis.response_modulation import f1_f0
    ratio = np.full(ts.n_units, np.nan)
    hz = float(_mode(tf[trials.any(axis=0)])) if trials.any() else 0.0
    period = 1.0 / hz if hz > 0 else np.inf
    cycles = int(np.floor(ts.duration / period + 1e-9))
    if cycles < 1:
        return _finite(ratio, note=f"the window ({ts.duration:g} s) holds no whole cycle "
                       f"of {hz:g} Hz")
    per_cycle = max(4, int(round(period / ts.bin_width)))
    edges = ts.window[0] + np.arange(cycles * per_cycle + 1) * period / per_cycle
    for u in range(ts.n_units):
        rows = np.flatnonzero(trials[u])
        if rows.size == 0:
            continue
        hist = sum(np.histogram(ts.trains[i][u], edges)[0] for i in rows)
        trace = hist / rows.size / (period / per_cycle)
        f0 = trace.mean()
        if f0 >= RESPONSIVE_RATE_HZ and f0 - spont[u] > 0:
            ratio[u] = float(f1_f0(trace, 1.0 / per_cycle)) * f0 / (f0 - spont[u])
    return _finite(ratio, note=f"PSTH over {cycles} cycles of {hz:g} Hz, {per_cycle} bins per "
                   f"cycle, at the preferred orientation; F0 evoked")
