"""The model against a user's recording: the same statistics side by side, with two-sample tests.

Both sides are :class:`~analysis.trial_statistics.TrialSpikes` measured by the
same functions (``trial_statistics.spike_train_statistics`` and
``tuning_statistics.tuning_statistics``). Each row gives, for the model and the
recording, the median [interquartile range] and n of the statistic's sample
(units, pairs of units, or conditions), and a two-sample test:

- the Kolmogorov-Smirnov statistic D and its p-value (``scipy.stats.ks_2samp``,
  two-sided): do the two distributions differ anywhere;
- the effect size, Cliff's delta = P(model > recording) - P(model < recording)
  (from the Mann-Whitney U: delta = 2 U / (n_m n_r) - 1), in [-1, 1]: 0 when
  neither side tends to be larger, |delta| > 0.47 is conventionally "large"
  (Romano et al. 2006).

Per-pair samples (r_sc, signal correlation) are not independent (each unit is in
many pairs), so their p-values are optimistic; the table says so.

A row whose sample on either side has fewer than :data:`MIN_VALUES` values says
"not enough data: n = ..." (and no test); the other rows are unaffected.

:func:`compare` builds the rows; :func:`text_table`, :func:`write_csv`,
:func:`write_markdown` write them, each headed by the windows, bin widths and
protocols of both sides (:func:`describe_sides`); the figure is
``analysis.ephys_comparison_figure``.
"""
from __future__ import annotations

import csv
import dataclasses
import io

import numpy as np
from scipy import stats

from ipvae_brian.models.atomic_file import atomic_output

#: A side needs this many values for the statistic's row to be tested.
MIN_VALUES = 3

#: The statistics, in table order: key, name, unit.
STATISTICS = (("rate", "firing rate", "spikes/s"),
              ("fano", "Fano factor", ""),
              ("isi_cv", "ISI CV", ""),
              ("isi_lv", "ISI LV", ""),
              ("r_sc", "noise correlation r_sc", ""),
              ("signal_correlation", "signal correlation", ""),
              ("lifetime_sparseness", "lifetime sparseness", ""),
              ("population_sparseness", "population sparseness", ""),
              ("psth_peak_to_mean", "PSTH peak / mean", ""),
              ("circular_variance", "orientation circular variance", ""),
              ("bandwidth", "orientation bandwidth", "deg"),
              ("osi", "OSI", ""),
              ("naka_rushton_n", "contrast response (Naka-Rushton n)", ""),
              ("surround_suppression", "surround suppression index", ""),
              ("f1f0", "F1/F0", ""))


def two_sample_test(model, recording) -> dict:
    """KS statistic, its p-value and Cliff's delta of two samples (see the module notes).

    Examples
    --------
    >>> t = two_sample_test([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    >>> t["ks"], t["delta"]
    (1.0, -1.0)
    """
    x, y = np.asarray(model, dtype=np.float64), np.asarray(recording, dtype=np.float64)
    ks = stats.ks_2samp(x, y)
    u = stats.mannwhitneyu(x, y, alternative="two-sided").statistic
    return {"ks": float(ks.statistic), "p": float(ks.pvalue),
            "delta": float(2 * u / (x.size * y.size) - 1)}


def _summary(values) -> dict:
    if values.size == 0:
        return {"median": np.nan, "q1": np.nan, "q3": np.nan, "n": 0}
    q1, med, q3 = np.percentile(values, [25, 50, 75])
    return {"median": float(med), "q1": float(q1), "q3": float(q3), "n": int(values.size)}


def _fmt(x) -> str:
    return "nan" if x is None or not np.isfinite(x) else f"{x:.3g}"


@dataclasses.dataclass
class EphysRow:
    """One statistic on both sides, and the test.

    Attributes
    ----------
    key, statistic, unit : str
    model, recording : Sample
        ``analysis.trial_statistics.Sample``.
    protocol : str
        The model protocol this statistic came from ("matched: ..." or "default: ...").
    test : dict or None
        ``two_sample_test``; None without enough data.
    """

    key: str
    statistic: str
    unit: str
    model: object
    recording: object
    protocol: str
    test: dict | None = None

    @property
    def enough(self) -> bool:
        return self.model.values.size >= MIN_VALUES and self.recording.values.size >= MIN_VALUES

    def side_text(self, sample) -> str:
        s = _summary(sample.values)
        if s["n"] == 0:
            return f"n = 0 {sample.kind}"
        unit = f" {self.unit}" if self.unit else ""
        of = f" of {sample.n_units} units" if sample.kind != "units" else ""
        return (f"{_fmt(s['median'])}{unit} [{_fmt(s['q1'])}, {_fmt(s['q3'])}] "
                f"(n = {s['n']} {sample.kind}{of})")

    @property
    def test_text(self) -> str:
        if self.test is None:
            return (f"not enough data: n = {self.model.values.size} (model), "
                    f"{self.recording.values.size} (recording); at least {MIN_VALUES} each")
        note = " (pairs not independent: p optimistic)" if self.model.kind == "pairs" else ""
        return (f"KS D = {self.test['ks']:.3f}, p = {self.test['p']:.2g}; Cliff's delta = "
                f"{self.test['delta']:+.2f}{note}")


def compare(model: dict, recording: dict, protocols: dict) -> list:
    """Rows for every statistic measured on the recording (see :data:`STATISTICS`).

    Parameters
    ----------
    model, recording : dict of str -> Sample
        ``spike_train_statistics`` merged with ``tuning_statistics`` of each side.
    protocols : dict of str -> str
        The model protocol of each statistic.

    Returns
    -------
    list of EphysRow
        In :data:`STATISTICS` order; a statistic absent from the recording (its trials
        do not carry the parameter) has no row; one absent from the model gets an
        empty model sample.
    """
    from ipvae_brian.analysis.trial_statistics import Sample
    rows = []
    for key, name, unit in STATISTICS:
        if key not in recording:
            continue
        rec = recording[key]
        mod = model.get(key, Sample(np.zeros(0), rec.kind, 0, "not measured on the model"))
        row = EphysRow(key, name, unit, mod, rec, protocols.get(key, ""))
        if row.enough:
            row.test = two_sample_test(mod.values, rec.values)
        rows.append(row)
    return rows


def describe_side(ts, protocol: str) -> str:
    """One line: units, trials, conditions, the counting window, the PSTH bin width."""
    return (f"{ts.label}: {ts.n_units} units, {ts.n_trials} trials in {ts.n_conditions} "
            f"conditions; counting window {ts.window[0]:.3g} to {ts.window[1]:.3g} s from "
            f"onset ({ts.duration * 1e3:.0f} ms); PSTH bins {ts.bin_width * 1e3:g} ms; "
            f"{protocol}")


COLUMNS = ("statistic", "unit", "model_protocol", "model_median", "model_q1", "model_q3",
           "model_n", "model_sample", "recording_median", "recording_q1", "recording_q3",
           "recording_n", "recording_sample", "ks_d", "ks_p", "cliffs_delta", "status",
           "model_note", "recording_note")


def _record(row: EphysRow) -> dict:
    m, r = _summary(row.model.values), _summary(row.recording.values)
    t = row.test or {"ks": np.nan, "p": np.nan, "delta": np.nan}
    number = lambda v: "" if not np.isfinite(v) else f"{v:.6g}"  # noqa: E731
    return {"statistic": row.statistic, "unit": row.unit, "model_protocol": row.protocol,
            **{f"model_{k}": number(m[k]) for k in ("median", "q1", "q3")},
            "model_n": m["n"], "model_sample": row.model.kind,
            **{f"recording_{k}": number(r[k]) for k in ("median", "q1", "q3")},
            "recording_n": r["n"], "recording_sample": row.recording.kind,
            "ks_d": number(t["ks"]), "ks_p": number(t["p"]), "cliffs_delta": number(t["delta"]),
            "status": "tested" if row.test else row.test_text,
            "model_note": row.model.note, "recording_note": row.recording.note}


def write_csv(rows, path, header_lines=()) -> str:
    """The rows as CSV (:data:`COLUMNS`), after ``# `` comment lines (windows, bins), atomically."""
    buffer = io.StringIO()
    for line in header_lines:
        buffer.write(f"# {line}\n")
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow(_record(row))
    with atomic_output(path) as tmp, open(tmp, "w", newline="") as f:
        f.write(buffer.getvalue())
    return path


def markdown_table(rows, header_lines=()) -> str:
    """The table in Markdown, preceded by the sides' descriptions, then the notes."""
    cell = lambda text: str(text).replace("|", "\\|")  # noqa: E731
    lines = [f"- {cell(line)}" for line in header_lines]
    lines += ["", "| statistic | model: median [IQR] (n) | recording: median [IQR] (n) | "
              "KS D, p; Cliff's delta |", "|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {cell(row.statistic)} | {cell(row.side_text(row.model))} | "
                     f"{cell(row.side_text(row.recording))} | {cell(row.test_text)} |")
    protocols = [row.protocol for row in rows]
    common = max(set(protocols), key=protocols.count) if protocols else ""
    lines += ["", "Inclusion per statistic (model protocol where it differs from the "
              "header's):", ""]
    for row in rows:
        other = f"model protocol {row.protocol}; " if row.protocol != common else ""
        notes = (f"both: {row.model.note}" if row.model.note == row.recording.note else
                 f"model: {row.model.note}; recording: {row.recording.note}")
        lines.append(f"- {row.statistic}: {other}{notes}")
    return "\n".join(lines) + "\n"


def write_markdown(rows, path, title: str = "", header_lines=()) -> str:
    with atomic_output(path) as tmp, open(tmp, "w") as f:
        f.write((f"## {title}\n\n" if title else "") + markdown_table(rows, header_lines))
    return path


def text_table(rows, header_lines=()) -> str:
    """A plain-text table for the terminal: one line per statistic, then its test."""
    out = list(header_lines) + [""]
    protocols = [row.protocol for row in rows]
    common = max(set(protocols), key=protocols.count) if protocols else ""
    out.append(f"{'statistic':<36} {'model: median [IQR] (n)':<44} recording: median [IQR] (n)")
    for row in rows:
        out.append(f"{row.statistic[:36]:<36} {row.side_text(row.model):<44} "
                   f"{row.side_text(row.recording)}")
        other = f"; model protocol: {row.protocol}" if row.protocol != common else ""
        out.append(f"{'':<4}{row.test_text}{other}")
    return "\n".join(out)


# --- the whole comparison --------------------------------------------------------------------

def measure(ts) -> dict:
    """Every statistic of one side: ``spike_train_statistics`` and ``tuning_statistics``."""
    from ipvae_brian.analysis.trial_statistics import spike_train_statistics
    from ipvae_brian.analysis.tuning_statistics import tuning_statistics
    return {**spike_train_statistics(ts), **tuning_statistics(ts)}


def run_ephys_comparison(recording_ts, out_dir, ctx=None, *, model_ts=None, images=None,
                         max_trials: int = 10, substeps: int = 10, source: str = "",
                         notify=print, progress=None):
    """Measure the recording and the model alike; write the table and the figure.

    Parameters
    ----------
    recording_ts : TrialSpikes
        The recording (``analysis.ephys_recording.trial_spikes``).
    out_dir : str
        Receives ``ephys_comparison.csv``, ``.md`` and ``.png`` (and the model's
        recording).
    ctx : ExperimentContext, optional
        The model to run (``analysis.ephys_model``); not needed with ``model_ts``.
    model_ts : TrialSpikes, optional
        A model result already in hand (then nothing is simulated); its protocol is
        described as "given".
    images : StimulusSet, optional
        The natural images of the recording's ``image_index`` column.
    max_trials, substeps : int
        Model trials per condition, time steps per bin.
    source : str
        The recording's file and reader, for the title.
    notify : callable(str)
        Told what the model is shown before it runs.
    progress : callable(total) -> ProgressReporter context manager, optional
        A bar over the model's simulated bins (``cli.progress.V1ProgressBar``).

    Returns
    -------
    rows : list of EphysRow
    paths : list of str
    header : list of str
        The lines describing both sides (windows, bins, protocols).
    """
    import os
    from ipvae_brian.analysis.ephys_comparison_figure import comparison_figure
    from ipvae_brian.analysis.trial_statistics import mean_psth
    if model_ts is None:
        from ipvae_brian.analysis.ephys_model import model_protocol, run_model
        protocol = model_protocol(ctx, recording_ts, images, max_trials)
        notify(f"Model (K = {ctx.n_latents}, {ctx.params_source}): {protocol.description}; "
               f"{protocol.settle} settling bins, then the recording's "
               f"{recording_ts.duration:g} s window; dt = "
               f"{25 / max(2, substeps):g} ms")
        if progress is None:
            model_ts = run_model(ctx, protocol, recording_ts.duration, substeps,
                                 recording_ts.bin_width)
        else:
            from ipvae_brian.analysis.experiments.base import block_cost
            estimate = block_cost(protocol.stimuli.n_stimuli, protocol.steps, max(2, substeps))
            with progress(estimate) as bar:
                ctx.progress = bar
                bar.start("model", estimate)
                model_ts = run_model(ctx, protocol, recording_ts.duration, substeps,
                                     recording_ts.bin_width)
                bar.finish()
        text = protocol.description
        tuning = "matched" if protocol.matched else "not measured (no grating columns)"
    else:
        text, tuning = "given (a model result passed in)", "given"
    model, recording = measure(model_ts), measure(recording_ts)
    spike_keys = ("rate", "fano", "isi_cv", "isi_lv", "r_sc", "signal_correlation",
                  "lifetime_sparseness", "population_sparseness", "psth_peak_to_mean")
    protocols = {k: text for k in spike_keys}
    protocols.update({k: text if tuning != "not measured (no grating columns)" else tuning
                      for k in recording if k not in spike_keys})
    rows = compare(model, recording, protocols)
    header = [describe_side(recording_ts, f"source {source}" if source else ""),
              describe_side(model_ts, f"protocol {text}"),
              "tests: two-sided KS (D, p) and Cliff's delta = P(model > recording) - "
              "P(model < recording)"]
    title = f"Model vs recording ({source})" if source else "Model vs recording"
    paths = [write_csv(rows, os.path.join(out_dir, "ephys_comparison.csv"), header),
             write_markdown(rows, os.path.join(out_dir, "ephys_comparison.md"), title, header),
             comparison_figure(rows, os.path.join(out_dir, "ephys_comparison.png"), title,
                               {"model": mean_psth(model_ts),
                                "recording": mean_psth(recording_ts)},
                               header[0] + "\n" + header[1])]
    return rows, paths, header
