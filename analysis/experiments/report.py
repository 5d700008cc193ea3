"""An experiment's results as text: median, quartiles and count of every statistic."""
from __future__ import annotations

import numpy as np

from ipvae_brian.analysis.experiments.base import ExperimentResult

#: Population samples printed with the per-neuron statistics (the others are plotted only).
PRINTED_POPULATION_SAMPLES = ("population_sparseness", "r_sc")


def summarise(values) -> dict:
    """Median, quartiles and count of the finite values (NaN when there are none).

    Parameters
    ----------
    values : array_like, any shape

    Returns
    -------
    dict
        ``median``, ``q1``, ``q3`` (float) and ``n`` (int).
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"median": float("nan"), "q1": float("nan"), "q3": float("nan"), "n": 0}
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    return {"median": float(med), "q1": float(q1), "q3": float(q3), "n": int(v.size)}


def describe_summary(values, unit: str = "", digits: int = 3) -> str:
    """``median [q1, q3] (n = ...)`` of the finite values, for printing."""
    s = summarise(values)
    if s["n"] == 0:
        return "no data (n = 0)"
    fmt = f"{{:.{digits}g}}"
    u = f" {unit}" if unit else ""
    return (f"{fmt.format(s['median'])}{u} [IQR {fmt.format(s['q1'])} to "
            f"{fmt.format(s['q3'])}] (n = {s['n']})")


def format_experiment_result(result: ExperimentResult) -> str:
    """The result as printed by ``ipvae experiment`` and ``compare-v1``, one item a line.

    Parameters
    ----------
    result : ExperimentResult

    Returns
    -------
    str
        The counts of neurons, every statistic's summary, the notes and the files written
        (no trailing newline).
    """
    lines = [f"{result.name}: {result.n_responsive} of {result.n_neurons} neurons responsive, "
             f"{result.n_analysed} analysed ({result.wall_s:.1f} s)"]
    for key, values in result.per_neuron.items():
        lines.append(f"  {key:<34} {describe_summary(values)}")
    for key, values in result.population.items():
        if key in PRINTED_POPULATION_SAMPLES:
            lines.append(f"  {key:<34} {describe_summary(values)}")
    for key, value in result.summary.items():
        lines.append(f"  {key:<34} {value:.4g}" if isinstance(value, float) else
                     f"  {key:<34} {value}")
    for note in result.notes:
        lines.append(f"  note: {note}")
    lines.append("  wrote " + ", ".join(result.files))
    return "\n".join(lines)
