"""The iP-VAE's rate-distortion front over beta, beside scikit-learn's sparse coding.

Each parameter file (one per value of the sparsity knob beta, made by `run_sim.py learn
--beta B`) is evaluated as `run_sim.py evaluate` does (analysis.evaluation.run_evaluation:
the Brian2 network, discrete mode, exact Poisson counts, decoded from the counts Phi z_t) on
the natural16 test patches at t = 16 and 128. The reference front is scikit-learn's
dictionary learning (K = 512, lasso codes at several penalties) trained on natural16 train
patches and scored on the first --front-n of the same test patches
(analysis.rate_distortion.sparse_coding_front; its lasso codes of all 10,000 would take hours
on two cores). Prints a Markdown table and draws R^2 against %-zeros; files learned with
different ceilings c_u are labelled with theirs.

    python examples/learning_front.py FILE.h5 ... [--n 10000] [--front-n 1000] [--out front.png]
        [--tiny]
"""
import argparse
from collections import namedtuple

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ipvae_brian.analysis.evaluation import EvaluationOptions, run_evaluation  # noqa: E402
from ipvae_brian.analysis.rate_distortion import sparse_coding_front  # noqa: E402
from ipvae_brian.models.parameters import IPVAEParameters  # noqa: E402
from ipvae_brian.stimuli import catalog  # noqa: E402

#: R^2 below this (stimuli that ran away) is drawn at it, with the value written beside.
FLOOR = -0.2

#: The authors' code trained on natural16 (18 epochs), by their own evaluation (issue 16).
AUTHORS_NATURAL16 = {16: (0.586, 0.788), 128: (0.690, 0.839)}

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("params", nargs="+", help="parameter files, one per beta")
parser.add_argument("--n", type=int, default=10_000, help="test patches")
parser.add_argument("--n-train", type=int, default=20_000, help="scikit-learn train patches")
parser.add_argument("--front-n", type=int, default=1_000,
                    help="test patches coded by scikit-learn (the first of the --n)")
parser.add_argument("--out", default="learning_front.png")
parser.add_argument("--engine", default="auto", help="Brian2 engine of the evaluations")
parser.add_argument("--tiny", action="store_true", help="50 test, 1,000 train patches")
args = parser.parse_args()
n, n_train, front_n = (50, 1000, 50) if args.tiny else (args.n, args.n_train,
                                                        min(args.front_n, args.n))

#: One parameter file's evaluation: at[t] is the evaluation's row of bin t; price_cell the
#: table's calibrated c; given the c given to the calibration (None: searched, or none).
FilePoint = namedtuple("FilePoint", "beta at never_fire c_u price_cell given")

rows = []
for path in args.params:
    ev = run_evaluation(EvaluationOptions(params=path, stimuli="natural16:test", n=n,
                                          steps=129, at=(16, 128), engine=args.engine))
    at = {row["t"]: row for row in ev.rows}
    params = IPVAEParameters.load(path)
    calibration = params.provenance.get("learning", {}).get("calibration") or {}
    price = calibration.get("noise_price_factor")
    given = price if calibration.get("noise_price_fixed") else None
    price_cell = ("-" if not calibration else "fitted b" if price is None
                  else f"{price:.3g} ({'given' if given else 'J'})")
    rows.append(FilePoint(params.beta, at, ev.never_fire, params.c_u, price_cell, given))
rows.sort(key=lambda row: (row.beta, row.c_u, row.given or 0.0))
several_ceilings = len({row.c_u for row in rows}) > 1


def label(row):
    return (f"beta={row.beta:g}" + (f", c_u={row.c_u:g}" if several_ceilings else "")
            + (f", c={row.given:g}" if row.given else ""))


x_test = catalog.load("natural16:test", n=front_n).x
K = IPVAEParameters.load(args.params[0]).n_latents
front, _ = sparse_coding_front(catalog.load("natural16:train", n=n_train).x, x_test, K,
                               batch_size=200, epochs=1 if args.tiny else 5,
                               alphas=(0.05, 0.1, 0.2, 0.4, 0.8, 1.6))

print(f"iP-VAE on {n:,} test patches\n")
print("| beta | c_u | calibrated c | R^2 t=16 | zeros t=16 | spikes t=16 | R^2 t=128 "
      "| zeros t=128 | spikes t=128 | never fire |\n|---|---|---|---|---|---|---|---|---|---|")
for row in rows:
    cells = [f"{row.at[t]['r2']:.3f} | {100 * row.at[t]['zeros']:.1f}% | "
             f"{K * row.at[t]['rate']:.1f}" for t in (16, 128)]
    print(f"| {row.beta:g} | {row.c_u:g} | {row.price_cell} | {cells[0]} | {cells[1]} | "
          f"{100 * row.never_fire:.1f}% |")
print(f"\nscikit-learn on the first {front_n:,} test patches\n")
print("| scikit-learn lasso alpha | R^2 | zeros |\n|---|---|---|")
for p in front:
    print(f"| {p.alpha:g} | {p.r2:.3f} | {100 * p.zeros:.1f}% |")

#: One marker per parameter file (the authors' anchor is the open square).
MARKERS = "ov^DPX*hp<>"

fig, axes = plt.subplots(1, 2, figsize=(9, 4.8), sharey=True, layout="constrained")
colours = plt.cm.Reds(np.linspace(0.45, 0.95, len(rows)))
for ax, t in zip(axes, (16, 128)):
    ax.plot([100 * p.zeros for p in front], [p.r2 for p in front], "k.-",
            label=f"scikit-learn sparse coding (lasso), {front_n:,} patches")
    for i, row in enumerate(rows):
        r2 = row.at[t]["r2"]
        ax.plot(100 * row.at[t]["zeros"], max(r2, FLOOR), MARKERS[i % len(MARKERS)],
                color=colours[i], mec="k", mew=0.4,
                label=f"iP-VAE {label(row)}, {n:,} patches")
        if r2 < FLOOR:      # a file whose stimuli ran away: drawn at the floor, value written
            ax.annotate(f"R^2 {r2:.3g}", (100 * row.at[t]["zeros"], FLOOR), fontsize=7,
                        xytext=(4, 5), textcoords="offset points")
    ref = AUTHORS_NATURAL16[t]
    ax.plot(100 * ref[1], ref[0], "s", mfc="none", color="#2471a3",
            label="authors' code on natural16 (18 epochs)")
    ax.set(title=f"R^2 of Phi z_t against %-zeros, t = {t}", xlabel="zeros (% of counts)",
           ylabel="R^2 (mean over test patches)", ylim=(FLOOR - 0.05, 1.02))
fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=2,
           fontsize=7)
fig.savefig(args.out, dpi=150)
print(f"\nwrote {args.out}")
