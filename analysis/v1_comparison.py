"""The model against V1: the 14 statistics of ``docs/ephys_reference.md``, as a table and a figure.

Each row holds the model's sample (per neuron, per pair of neurons or per
stimulus) with its median, interquartile range (IQR) and a 95% bootstrap
confidence interval of the median (2,000 resamples, seeded; over neurons, also
for the pairs of r_sc, see ``analysis.bootstrap``), the number of neurons
included, the number excluded because their fit ended at a bound of the fit
(bandwidth 90 deg; Naka-Rushton n or c50 at a bound), the V1 value as the
reference states it, the *criterion* that turns that statement into a test
(written out in the table, because several V1 statements are qualitative: "most
cells", "broad", "bimodal"), the model's value of the tested quantity, whether
it passes ("inside"), and the source. A row with no data (no responsive neuron)
is neither inside nor outside.

Criteria, with the reasoning behind the thresholds:

==========================  ===========================================================
statistic                   criterion
==========================  ===========================================================
Fano factor                 median in [1, 2]
ISI CV                      median in [0.5, 1.1]
firing-rate distribution    shape only (scale-free): more than half the neurons fire
                            below the mean rate (a log-normal gives Phi(sigma/2) > 1/2)
                            and the log-normal fits better than a normal distribution
                            (smaller KS distance); the rate's scale is not judged
lifetime sparseness         median rise S(CRF + surround) - S(CRF) > 0
population sparseness       median > 0.5 (a code where a fraction a of the neurons
                            respond equally and the rest are silent has S ~ 1 - a:
                            "most neurons silent" is S > 0.5)
circular variance           broad (IQR at least 0.2 wide) with many weakly tuned cells
                            (upper quartile above 0.5)
orientation bandwidth       median in [10, 40] deg
OSI                         median >= 1/3 (R_pref >= 2 R_orth in most cells)
contrast response           median Naka-Rushton exponent n in [1, 5]
surround suppression        median SI > 0.1 (most cells suppressed by more than 10%)
cross-orientation           median XOS > 0.1 (most cells suppressed by more than 10%)
F1/F0                       bimodal (bimodality coefficient > 5/9) with at least 20% of
                            the cells on each side of 1
noise correlation r_sc      median over pairs in [0.01, 0.2]
RF shape (nx)               median nx < 0.5 (at least half the cells blob-like)
==========================  ===========================================================

References: see ``docs/ephys_reference.md`` (cited per row).

The firing-rate row is judged on the *shape* of the distribution of mean rates
across neurons: both tests are unchanged when every rate is multiplied by the
same factor. The rates themselves are counts per bin divided by the bin width
tau = 25 ms (``models.config.BIN_WIDTH_S``), which the model does not fix (one
bin is one inference step; the paper's tau is a free choice): a median of
50 spikes/s at tau = 25 ms is 12.5 spikes/s at tau = 100 ms. The row states
the bin width; the median rate is reported, not judged.

Protocols (``analysis.experiments``): 10 trials per grating condition, orientation
preferences from held-out trials, the OSI, F1/F0, size SI and XOS from evoked rates
(the spontaneous rate subtracted); the Fano factor with the unbiased variance.

:func:`run_v1_comparison` runs every experiment of ``analysis.experiments`` on one
context and writes the table (CSV, Markdown) and the figure
(``analysis.v1_comparison_figure``; ``ipvae compare-v1``).
"""
from __future__ import annotations

import csv
import dataclasses
import functools
import io
import os

import numpy as np

from ipvae_brian.analysis.bootstrap import (LEVEL, N_RESAMPLES, finite_values, median_ci,
                                            pair_median_ci)
from ipvae_brian.analysis.experiments.report import summarise
from ipvae_brian.analysis.noise_correlation import correlations_by_overlap, format_overlap_bins
from ipvae_brian.analysis.response_modulation import bimodality_coefficient
from ipvae_brian.models.atomic_file import atomic_output
# the simulator's bin width: every rate in spikes/s is a count per bin over it
from ipvae_brian.models.config import BIN_WIDTH_S


@dataclasses.dataclass
class ComparisonRow:
    """One statistic: the model's sample, the V1 reference, the test and its outcome.

    Attributes
    ----------
    statistic : str
    unit : str
    sample : str
        What one value of ``values`` is: "neurons", "pairs" or "stimuli".
    values : ndarray
        The model's sample (finite values only).
    v1_value : str
        The V1 value as ``docs/ephys_reference.md`` states it.
    criterion : str
        The test applied.
    tested : str
        The tested quantity and the model's value of it.
    inside : bool or None
        Whether the model passes; None without data.
    source : str
    details : str
        Secondary numbers (other fit parameters, counts).
    shade : tuple
        (low, high) of the V1 range on the figure's x axis.
    xlabel : str
    log : bool
        Log x axis in the figure.
    plot_values : ndarray or None
        Values drawn in the figure if they differ from ``values``.
    shade_note : str
        What the shaded region means when it is not simply the range of the statistic.
    n_excluded : int
        Values excluded because their fit ended at a bound of the fit.
    pairs : ndarray, shape (n, 2), or None
        For a per-pair sample: the two neurons of each value (the confidence interval
        then resamples neurons).
    n_neurons : int or None
        Neurons included; default: the number of values (per-neuron samples).
    """

    statistic: str
    unit: str
    sample: str
    values: np.ndarray
    v1_value: str
    criterion: str
    tested: str
    inside: bool | None
    source: str
    details: str = ""
    shade: tuple = (None, None)
    xlabel: str = ""
    log: bool = False
    plot_values: np.ndarray | None = None
    shade_note: str = ""
    n_excluded: int = 0
    pairs: np.ndarray | None = None
    n_neurons: int | None = None

    @functools.cached_property
    def summary(self) -> dict:
        """Median, quartiles, n, the 95% CI of the median and the neurons included."""
        s = summarise(self.values)
        if self.pairs is not None and len(self.pairs) == self.values.size:
            lo, hi = pair_median_ci(self.values, self.pairs)
        else:
            lo, hi = median_ci(self.values)
        neurons = self.n_neurons if self.n_neurons is not None else s["n"]
        return {**s, "ci_low": lo, "ci_high": hi, "n_neurons": int(neurons)}

    @property
    def model_text(self) -> str:
        s = self.summary
        if s["n"] == 0:
            return "no data (n = 0)"
        unit = f" {self.unit}" if self.unit else ""
        count = f"n = {s['n']} {self.sample}"
        if self.sample != "neurons":
            count += f" of {s['n_neurons']} neurons"
        if self.n_excluded:
            count += f"; {self.n_excluded} excluded at bounds"
        return (f"{_fmt(s['median'])}{unit} [IQR {_fmt(s['q1'])}, {_fmt(s['q3'])}; "
                f"95% CI {_fmt(s['ci_low'])}, {_fmt(s['ci_high'])}] ({count})")

    @property
    def inside_text(self) -> str:
        return "no data" if self.inside is None else ("yes" if self.inside else "no")


def _fmt(x) -> str:
    if x is None or not np.isfinite(x):
        return "nan"
    return f"{x:.3g}"


def _get(results, experiment, key, where="per_neuron"):
    r = results.get(experiment)
    if r is None:
        return np.zeros(0)
    return finite_values(getattr(r, where).get(key))


def _median_in(values, lo, hi, lo_open=False, hi_open=False):
    if values.size == 0:
        return None, "nan"
    m = float(np.median(values))
    ok_lo = m > lo if lo_open else m >= lo
    ok_hi = m < hi if hi_open else m <= hi
    return bool(ok_lo and ok_hi), f"median {_fmt(m)}"


def _excluded(results, experiment, key) -> int:
    """A count from an experiment's summary (fits at their bounds, trials; 0 if absent)."""
    r = results.get(experiment)
    value = r.summary.get(key, 0) if r is not None else 0
    return int(value) if np.isfinite(value) else 0


def _pair_arrays(nat, n_values):
    """(pairs, overlap) of the r_sc values, or (None, None) when they are not recorded."""
    if nat is None:
        return None, None
    pairs, overlap = nat.population.get("r_sc_pairs"), nat.population.get("r_sc_overlap")
    if pairs is None or len(pairs) != n_values:
        return None, None
    return np.asarray(pairs).reshape(-1, 2), np.asarray(overlap, dtype=np.float64)


def overlap_text(values, overlap) -> str:
    """r_sc by the cosine of the two neurons' dictionary columns, one item per bin."""
    if overlap is None or len(values) == 0:
        return "by column overlap: not recorded"
    return ("by cos(Phi_i, Phi_j) of the pair (the model predicts r_sc < 0 for overlapping "
            "columns, cos > 0): " + format_overlap_bins(correlations_by_overlap(values,
                                                                                overlap)))


def _with_excluded(tested: str, n_kept: int, n_excluded: int) -> str:
    """The tested value followed by how many values were excluded at bounds, if any."""
    if not n_excluded:
        return tested
    return f"{tested} ({n_excluded} of {n_kept + n_excluded} excluded at bounds)"


def build_rows(results: dict) -> list:
    """The 14 rows from the experiments' results (``{name: ExperimentResult}``).

    Experiments missing from ``results`` give rows without data.
    """
    rows = []
    nat = results.get("natural")

    # 1 Fano factor
    v = _get(results, "natural", "fano")
    inside, tested = _median_in(v, 1.0, 2.0)
    rows.append(ComparisonRow(
        "spike-count Fano factor", "", "neurons", v, "about 1 to 2 (often near 1.5)",
        "median in [1, 2]", tested, inside,
        "Tolhurst, Movshon & Dean 1983; Shadlen & Newsome 1998; Churchland et al. 2010",
        "unbiased variance (ddof = 1) over the trials of each repeated natural patch, "
        "600 ms window, median over patches per neuron",
        (1.0, 2.0), "Fano factor"))

    # 2 ISI CV
    v = _get(results, "natural", "isi_cv")
    lv = _get(results, "natural", "isi_lv")
    inside, tested = _median_in(v, 0.5, 1.1)
    rows.append(ComparisonRow(
        "ISI coefficient of variation", "", "neurons", v,
        "about 0.5 to 1.1 for steadily firing cells (Poisson = 1)", "median in [0.5, 1.1]",
        tested, inside, "Softky & Koch 1993; LV: Shinomoto et al. 2003",
        f"LV median {_fmt(np.median(lv)) if lv.size else 'nan'} (n = {lv.size}); continuous "
        f"time, cells >= 5 spikes/s", (0.5, 1.1), "ISI CV"))

    # 3 firing-rate distribution
    rates = _get(results, "natural", "rate")
    s = nat.summary if nat is not None else {}
    frac, ks, ks_n = (s.get("fraction_below_mean", np.nan), s.get("lognormal_ks", np.nan),
                      s.get("normal_ks", np.nan))
    if rates.size and np.isfinite(frac):
        inside = bool(frac > 0.5 and np.isfinite(ks) and ks < ks_n)
    else:
        inside = None
    mean_rate = float(np.mean(rates)) if rates.size else np.nan
    bin_ms = f"{BIN_WIDTH_S * 1e3:g} ms"
    rows.append(ComparisonRow(
        "firing-rate distribution", f"spikes/s at 1 bin = {bin_ms}", "neurons", rates,
        "heavy-tailed, close to log-normal; most cells fire little",
        "shape only (scale-free; the rate's scale is not judged): fraction below the mean "
        "> 0.5 and log-normal fits better than normal (KS)",
        f"fraction below mean {_fmt(frac)}; KS log-normal {_fmt(ks)} vs normal {_fmt(ks_n)}",
        inside, "Buzsaki & Mizuseki 2014",
        f"log-normal sigma {_fmt(s.get('lognormal_sigma', np.nan))}, skewness "
        f"{_fmt(s.get('rate_skewness', np.nan))}, {int(s.get('n_silent', 0))} silent neurons; "
        f"natural patches; rates = counts per bin / {bin_ms} (the model's bin width is a "
        f"free choice: the median rate scales with 1 / bin width and is not judged)",
        (0.0, 1.0), "rate / mean rate", True,
        rates / mean_rate if rates.size and mean_rate > 0 else np.zeros(0),
        "below the mean"))

    # 4 lifetime sparseness
    v = _get(results, "natural", "lifetime_sparseness_change")
    crf = _get(results, "natural", "lifetime_sparseness_crf")
    both = _get(results, "natural", "lifetime_sparseness_crf_surround")
    full = _get(results, "natural", "lifetime_sparseness")
    inside, tested = _median_in(v, 0.0, 1.0, lo_open=True)
    rows.append(ComparisonRow(
        "lifetime sparseness", "", "neurons", v,
        "rises with surround (nCRF) stimulation by natural movies",
        "median rise S(CRF + surround) - S(CRF) > 0", tested, inside,
        "Vinje & Gallant 2000",
        f"S(CRF) median {_fmt(np.median(crf)) if crf.size else 'nan'}, S(CRF + surround) "
        f"{_fmt(np.median(both)) if both.size else 'nan'}; full-field S over all patches "
        f"{_fmt(np.median(full)) if full.size else 'nan'} (n = {full.size})",
        (0.0, 1.0), "S(CRF + surround) - S(CRF)", shade_note="rise"))

    # 5 population sparseness
    v = _get(results, "natural", "population_sparseness", "population")
    inside, tested = _median_in(v, 0.5, 1.0, lo_open=True)
    rows.append(ComparisonRow(
        "population sparseness", "", "stimuli", v,
        "high for natural images (most neurons silent)", "median > 0.5", tested, inside,
        "Willmore, Mazer & Gallant 2011",
        f"{_fmt(100 * s.get('fraction_zero_counts', np.nan))}% zero counts in the window; "
        f"confidence interval over stimuli",
        (0.5, 1.0), "population sparseness",
        n_neurons=nat.n_neurons if nat is not None else 0))

    # 6 circular variance
    v = _get(results, "orientation", "circular_variance")
    if v.size:
        q1, q3 = np.percentile(v, [25, 75])
        inside = bool(q3 - q1 >= 0.2 and q3 > 0.5)
        tested = f"IQR width {_fmt(q3 - q1)}, upper quartile {_fmt(q3)}"
    else:
        inside, tested = None, "nan"
    rows.append(ComparisonRow(
        "orientation circular variance", "", "neurons", v,
        "broadly distributed over (0, 1); many weakly tuned cells",
        "IQR >= 0.2 wide and upper quartile > 0.5", tested, inside,
        "Ringach, Shapley & Hawken 2002",
        f"drifting gratings, {_excluded(results, 'orientation', 'directions')} directions, "
        f"{_excluded(results, 'orientation', 'trials')} trials per condition; "
        f"preferred SF picked on the even trials, the curve from the odd trials",
        (0.5, 1.0), "circular variance", shade_note="weakly tuned"))

    # 7 bandwidth
    v = _get(results, "orientation", "bandwidth")
    inside, tested = _median_in(v, 10.0, 40.0)
    tested = _with_excluded(tested, v.size, _excluded(results, "orientation",
                                                      "bandwidth_at_bound"))
    rows.append(ComparisonRow(
        "orientation bandwidth", "deg", "neurons", v,
        "roughly 10 to 40 deg, median in the twenties", "median in [10, 40] deg", tested,
        inside, "Ringach, Shapley & Hawken 2002",
        f"half-width at 1/sqrt(2) of the peak, held-out trials; "
        f"{_excluded(results, 'orientation', 'bandwidth_at_bound')} curves never fall that "
        f"low (bandwidth at its 90 deg bound): excluded",
        (10.0, 40.0), "bandwidth (deg)",
        n_excluded=_excluded(results, "orientation", "bandwidth_at_bound")))

    # 8 OSI
    v = _get(results, "orientation", "osi")
    inside, tested = _median_in(v, 1 / 3, 1.0)
    rows.append(ComparisonRow(
        "orientation selectivity index", "", "neurons", v,
        "broad, most cells clearly tuned", "median >= 1/3 (R_pref >= 2 R_orth)", tested, inside,
        "Niell & Stryker 2008", "evoked rates (spontaneous rate subtracted), held-out trials",
        (1 / 3, 1.0), "OSI"))

    # 9 contrast response
    v = _get(results, "contrast", "n")
    c50 = _get(results, "contrast", "c50")
    sat = _get(results, "contrast", "saturates")
    inside, tested = _median_in(v, 1.0, 5.0)
    tested = _with_excluded(tested, v.size, _excluded(results, "contrast", "fits_at_bound"))
    rows.append(ComparisonRow(
        "contrast response (Naka-Rushton n)", "", "neurons", v,
        "n about 2 to 3 (range 1 to 5); c50 widely spread, tens of percent",
        "median n in [1, 5]", tested, inside,
        "Albrecht & Hamilton 1982; Sclar, Maunsell & Lennie 1990",
        ((f"c50 median {_fmt(np.median(c50))} [{_fmt(np.percentile(c50, 25))}, "
         f"{_fmt(np.percentile(c50, 75))}] (contrast 1 = natural-patch pixel std); "
         f"{int(sat.sum())} of {sat.size} saturate within the tested contrasts; ")
        if c50.size else "no neuron fitted; ") + (
        f"{_excluded(results, 'contrast', 'fits_at_bound')} fits with n or c50 at a bound "
        f"of the fit excluded"),
        (1.0, 5.0), "Naka-Rushton exponent n",
        n_excluded=_excluded(results, "contrast", "fits_at_bound")))

    # 10 surround suppression
    v = _get(results, "size", "si")
    inside, tested = _median_in(v, 0.1, 1.0, lo_open=True)
    rows.append(ComparisonRow(
        "surround suppression index", "", "neurons", v,
        "most cells suppressed; index spread from 0 to 1", "median SI > 0.1", tested, inside,
        "Cavanaugh, Bair & Movshon 2002",
        f"{_fmt(100 * np.mean(v > 0.1))}% of cells with SI > 0.1" if v.size else "",
        (0.1, 1.0), "suppression index SI"))

    # 11 cross-orientation
    v = _get(results, "cross-orientation", "xos")
    inside, tested = _median_in(v, 0.1, 1.0, lo_open=True)
    rows.append(ComparisonRow(
        "cross-orientation suppression", "", "neurons", v,
        "response to test + orthogonal mask below test alone in most cells",
        "median 1 - R_plaid / R_test > 0.1", tested, inside,
        "Morrone, Burr & Maffei 1982; Priebe & Ferster 2006",
        f"{_fmt(100 * np.mean(v > 0))}% of cells suppressed at all" if v.size else "",
        (0.1, 1.0), "1 - R_plaid / R_test"))

    # 12 F1/F0
    v = _get(results, "f1f0", "f1f0")
    if v.size:
        bc = bimodality_coefficient(v)
        simple = float(np.mean(v > 1))
        inside = bool(np.isfinite(bc) and bc > 5 / 9 and 0.2 <= simple <= 0.8)
        tested = f"bimodality coefficient {_fmt(bc)}, {_fmt(100 * simple)}% above 1"
    else:
        inside, tested = None, "nan"
    rows.append(ComparisonRow(
        "simple / complex (F1/F0)", "", "neurons", v, "bimodal, split near 1",
        "bimodality coefficient > 5/9 and 20% to 80% of cells above 1", tested, inside,
        "Skottun et al. 1991", "drifting grating at the preferred direction and SF",
        (1.0, 2.0), "F1 / F0", shade_note="simple"))

    # 13 r_sc
    v = _get(results, "natural", "r_sc", "population")
    pairs, overlap = _pair_arrays(nat, v.size)
    inside, tested = _median_in(v, 0.01, 0.2)
    rows.append(ComparisonRow(
        "noise correlation r_sc", "", "pairs", v,
        "small and positive: near 0.01 (some awake recordings) to 0.1-0.2 (many others)",
        "median over pairs in [0.01, 0.2]", tested, inside,
        "Ecker et al. 2010; Cohen & Kohn 2011",
        f"mean {_fmt(np.mean(v)) if v.size else 'nan'}; repeated natural patches; "
        f"{overlap_text(v, overlap)}",
        (0.01, 0.2), "r_sc", pairs=pairs,
        n_neurons=int(s.get("n_rsc_neurons", 0))))

    # 14 RF shape
    v = _get(results, "rf", "nx")
    ny = _get(results, "rf", "ny")
    rf = results.get("rf")
    rs = rf.summary if rf is not None else {}
    inside, tested = _median_in(v, 0.0, 0.5, hi_open=True)
    rows.append(ComparisonRow(
        "receptive-field shape (Gabor nx)", "", "neurons", v,
        "many cells with nx < 0.5 (few subfields, blob-like)", "median nx < 0.5", tested,
        inside, "Ringach 2002",
        f"ny median {_fmt(np.median(ny)) if ny.size else 'nan'}; "
        f"{int(rs.get('n_gabor_fits', 0))} Gabor fits with R^2 >= 0.5 (of the STAs of "
        f"{rf.n_responsive if rf is not None else 0} neurons with enough spikes); STA vs Phi "
        f"column correlation median {_fmt(rs.get('median_sta_phi_correlation', np.nan))} "
        f"({_fmt(rs.get('median_sta_phi_correlation_low_overlap', np.nan))} for the "
        f"low-overlap half of the dictionary)",
        (0.0, 0.5), "nx = sigma_x f"))
    return rows


COLUMNS = ("statistic", "unit", "sample", "n", "n_neurons", "n_excluded_at_bounds",
           "model_median", "model_q1", "model_q3", "median_ci_low", "median_ci_high",
           "v1_value", "criterion", "tested", "inside", "source", "details")
#: The numeric columns written with 6 significant digits (empty when NaN).
NUMERIC_COLUMNS = ("model_median", "model_q1", "model_q3", "median_ci_low", "median_ci_high")


def _row_record(row: ComparisonRow) -> dict:
    s = row.summary
    return {"statistic": row.statistic, "unit": row.unit, "sample": row.sample, "n": s["n"],
            "n_neurons": s["n_neurons"], "n_excluded_at_bounds": row.n_excluded,
            "model_median": s["median"], "model_q1": s["q1"], "model_q3": s["q3"],
            "median_ci_low": s["ci_low"], "median_ci_high": s["ci_high"],
            "v1_value": row.v1_value, "criterion": row.criterion, "tested": row.tested,
            "inside": row.inside_text, "source": row.source, "details": row.details}


def write_csv(rows, path) -> str:
    """The table as CSV (one row per statistic, columns :data:`COLUMNS`), atomically.

    ``median_ci_low`` and ``median_ci_high`` bound the 95% bootstrap confidence interval
    of the median (``analysis.bootstrap``); ``n_neurons`` counts the neurons included,
    ``n_excluded_at_bounds`` those left out because their fit ended at a bound.
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    for row in rows:
        record = _row_record(row)
        for key in NUMERIC_COLUMNS:
            record[key] = "" if not np.isfinite(record[key]) else f"{record[key]:.6g}"
        writer.writerow(record)
    with atomic_output(path) as tmp, open(tmp, "w", newline="") as f:
        f.write(buffer.getvalue())
    return path


def count_inside(rows) -> tuple[int, int, int]:
    """(inside, outside, without data)."""
    inside = sum(1 for r in rows if r.inside is True)
    outside = sum(1 for r in rows if r.inside is False)
    return inside, outside, len(rows) - inside - outside


def markdown_table(rows) -> str:
    """The table in Markdown, then the details of every row as a numbered list."""
    def cell(text):
        return str(text).replace("|", "\\|")
    lines = [f"| # | statistic | model: median [IQR; {LEVEL:.0%} CI] (n) | V1 | "
             f"criterion: model value | inside | source |", "|---|---|---|---|---|---|---|"]
    for i, row in enumerate(rows, 1):
        lines.append(f"| {i} | {cell(row.statistic)} | {cell(row.model_text)} | "
                     f"{cell(row.v1_value)} | {cell(row.criterion)}: {cell(row.tested)} | "
                     f"{row.inside_text} | {cell(row.source)} |")
    inside, outside, missing = count_inside(rows)
    lines += ["", f"Inside the V1 range: {inside} of {len(rows)}; outside: {outside}; "
              f"no data: {missing}.", "",
              f"CI: {LEVEL:.0%} percentile-bootstrap confidence interval of the median "
              f"({N_RESAMPLES:,} resamples, seeded; over neurons, for r_sc over the neurons "
              f"of the pairs; over stimuli for population sparseness). n: values in the "
              f"sample; neurons excluded because their fit ended at a bound are counted.",
              ""]
    lines += [f"{i}. {row.statistic}: {row.details}" for i, row in enumerate(rows, 1)
              if row.details]
    return "\n".join(lines) + "\n"


def write_markdown(rows, path, header: str = "") -> str:
    with atomic_output(path) as tmp, open(tmp, "w") as f:
        f.write((header + "\n\n" if header else "") + markdown_table(rows))
    return path


def text_table(rows, width: int = 110) -> str:
    """A plain-text table for the terminal."""
    out = [f"{'#':>2}  {'statistic':<36} {'inside':<7} model: median [IQR; 95% CI] (n)"]
    for i, row in enumerate(rows, 1):
        out.append(f"{i:>2}  {row.statistic[:36]:<36} {row.inside_text:<7} {row.model_text}")
        out.append(f"{'':>4}V1: {row.v1_value}; test: {row.criterion} -> {row.tested}; "
                   f"source: {row.source}")
    return "\n".join(out)


# --- the whole comparison ------------------------------------------------------------------

def comparison_title(ctx) -> str:
    """The title of the table and the figure: parameters (a file by its name, not its
    absolute path), K, seed and protocol sizes."""
    source = os.path.basename(ctx.params_source) if os.path.sep in ctx.params_source \
        else ctx.params_source
    return (f"Model vs V1 ({source}; K = {ctx.n_latents}; seed {ctx.seed}; "
            f"{'quick' if ctx.quick else 'default'} protocols)")


def describe_comparison_run(ctx, plan: dict) -> str:
    """What ``ipvae compare-v1`` is about to do, for printing before it runs.

    Parameters
    ----------
    ctx : ExperimentContext
    plan : dict of str -> float
        The experiments and their estimated work (``analysis.experiments.planned_work``).
    """
    return (f"Comparing the model with V1: {len(plan)} experiments "
            f"({', '.join(plan)}), K = {ctx.n_latents} neurons, {ctx.side}x{ctx.side} "
            f"stimuli, {'quick' if ctx.quick else 'default'} protocols, engine {ctx.engine}, "
            f"seed {ctx.seed}\n  parameters: {ctx.params_source}\n"
            f"  about {sum(plan.values()):,.0f} simulated bins; recordings, figures and the "
            f"table go to {ctx.out_dir}")


def run_v1_comparison(ctx, progress=None, plan: dict | None = None):
    """Run every V1 experiment on one context and write the comparison table and figure.

    Parameters
    ----------
    ctx : ExperimentContext
        Its ``out_dir`` receives the recordings, the figures, ``v1_comparison.csv``,
        ``v1_comparison.md`` and ``v1_comparison.png``.
    progress : ProgressReporter, optional
        Told when each experiment starts and finishes, and of every simulated bin.
    plan : dict of str -> float, optional
        The experiments and their estimated work; default: all of
        ``analysis.experiments.EXPERIMENT_NAMES`` (checked before anything runs).

    Returns
    -------
    rows : list of ComparisonRow
        The 14 statistics.
    paths : list of str
        The CSV, Markdown and figure files written.
    results : dict of str -> ExperimentResult
        Every experiment's result, in run order.
    """
    from ipvae_brian.analysis.experiments import EXPERIMENT_NAMES, planned_work, run_experiments
    from ipvae_brian.analysis.v1_comparison_figure import comparison_figure
    if plan is None:
        plan = planned_work(EXPERIMENT_NAMES, ctx)
    results = run_experiments(plan, ctx, progress)
    rows = build_rows(results)
    title = comparison_title(ctx)
    paths = [write_csv(rows, os.path.join(ctx.out_dir, "v1_comparison.csv")),
             write_markdown(rows, os.path.join(ctx.out_dir, "v1_comparison.md"),
                            "## " + title),
             comparison_figure(rows, os.path.join(ctx.out_dir, "v1_comparison.png"), title,
                               count_inside(rows))]
    return rows, paths, results


def comparison_verdict(rows, paths, wall_s: float) -> str:
    """The last line of ``compare-v1``: how many statistics are inside, the files written."""
    inside, outside, missing = count_inside(rows)
    return (f"Inside the V1 range: {inside} of {len(rows)} statistics; outside: {outside}; "
            f"no data: {missing}. Wall time {wall_s:.0f} s. Wrote {', '.join(paths)}.")
