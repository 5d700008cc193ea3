"""Write a synthetic V1-like NWB recording to try ``run_sim.py compare-ephys`` on.

Units fire as gamma renewal processes (shape k drawn from 0.7 to 3, so ISI CV =
1/sqrt(k) from 0.58 to 1.2) at a rate set by a von Mises orientation tuning curve
(preferred orientation uniform, concentration 0.5 to 3), a Naka-Rushton contrast
response (n = 2.5, c50 = 0.2) and a spontaneous rate of 2 spikes/s; half the units
("simple") are modulated at the grating's temporal frequency (2 Hz, depth 0.8).
Neighbouring units (0 and 1, 2 and 3, ...) share a Poisson source of 15% of their
rate (a positive noise correlation). Trials: 8 directions x 4 contrasts + blank
trials (contrast 0), 10 repeats each, 1 s stimulus, 0.5 s gap (spontaneous firing),
in random order. The trials table carries ``orientation`` (deg), ``contrast``,
``temporal_frequency`` (Hz) and ``stimulus_type``.

Usage::

    python examples/synthetic_v1_nwb.py synthetic_v1.nwb            # 40 units, 330 trials
    python examples/synthetic_v1_nwb.py synthetic_v1.nwb --tiny     # 8 units, 3 repeats
    python run_sim.py compare-ephys synthetic_v1.nwb --out-dir ephys_comparison
"""
from __future__ import annotations

import argparse
import datetime
import sys

import numpy as np

TF_HZ, SPONTANEOUS_HZ, STIMULUS_S, GAP_S = 2.0, 2.0, 1.0, 0.5


def renewal_times(rate_fn, t0: float, t1: float, shape: float, rng, dt: float = 1e-3):
    """Gamma renewal process of shape ``shape`` with intensity ``rate_fn(t)`` on [t0, t1).

    Time rescaling: events of a unit-mean gamma renewal process in operational time
    Lambda(t) = integral of the rate, mapped back through Lambda^-1.
    """
    t = np.arange(t0, t1 + dt, dt)
    big_lambda = np.concatenate([[0.0], np.cumsum(rate_fn(t[:-1]) * dt)])
    total = big_lambda[-1]
    if total <= 0:
        return np.zeros(0)
    n = int(total * 1.5 + 20)
    events = np.cumsum(rng.gamma(shape, 1.0 / shape, n))
    events = events[events < total]
    return np.interp(events, big_lambda, t)


def synthetic_session(n_units: int = 40, repeats: int = 10, seed: int = 0) -> dict:
    """Spike times per unit and the trial table of the synthetic session (see the notes)."""
    rng = np.random.default_rng(seed)
    directions = np.arange(8) * 45.0
    contrasts = (0.125, 0.25, 0.5, 1.0)
    conditions = [(d, c, "grating") for d in directions for c in contrasts]
    conditions += [(np.nan, 0.0, "blank")] * 2
    order = np.concatenate([rng.permutation(len(conditions)) for _ in range(repeats)])
    start = np.arange(order.size) * (STIMULUS_S + GAP_S) + GAP_S
    pref = rng.uniform(0, 180, n_units)
    kappa = rng.uniform(0.5, 3.0, n_units)
    peak = rng.lognormal(np.log(20.0), 0.5, n_units)
    shape = rng.uniform(0.7, 3.0, n_units)
    simple = np.arange(n_units) % 2 == 0
    spikes = [[] for _ in range(n_units)]
    session_end = start[-1] + STIMULUS_S + GAP_S
    for u in range(n_units):       # spontaneous firing over the whole session
        spikes[u].append(renewal_times(lambda t: np.full(t.shape, SPONTANEOUS_HZ), 0.0,
                                       session_end, shape[u], rng))
    for i, cond in zip(start, order):
        d, c, _ = conditions[cond]
        for u in range(0, n_units, 2):
            pair = [u, u + 1] if u + 1 < n_units else [u]
            drive = {}
            for v in pair:
                tuning = 0.0 if np.isnan(d) else np.exp(kappa[v] * (np.cos(np.radians(
                    2 * (d - pref[v]))) - 1))
                contrast_gain = c ** 2.5 / (c ** 2.5 + 0.2 ** 2.5)
                drive[v] = peak[v] * tuning * contrast_gain
            shared_rate = 0.15 * min(drive.values())
            shared = rng.uniform(i, i + STIMULUS_S, rng.poisson(shared_rate * STIMULUS_S))
            for v in pair:
                own = max(drive[v] - shared_rate, 0.0)
                depth = 0.8 if simple[v] else 0.0
                fn = (lambda t, r=own, m=depth: r * (1 + m * np.cos(2 * np.pi * TF_HZ * t)))
                spikes[v] += [renewal_times(fn, i, i + STIMULUS_S, shape[v], rng), shared]
    times = [np.sort(np.concatenate(s)) for s in spikes]
    columns = {"orientation": np.array([conditions[k][0] for k in order]),
               "contrast": np.array([conditions[k][1] for k in order]),
               "temporal_frequency": np.full(order.size, TF_HZ),
               "stimulus_type": np.array([conditions[k][2] for k in order])}
    return {"spike_times": times, "start": start, "stop": start + STIMULUS_S,
            "columns": columns, "shape": shape, "preferred": pref}


def write_nwb(path: str, session: dict, description: str = "synthetic V1-like units") -> str:
    """Write the session as NWB: a Units table and a trials table with its columns."""
    from pynwb import NWBHDF5IO, NWBFile
    nwb = NWBFile(session_description=description, identifier=f"synthetic-{path}",
                  session_start_time=datetime.datetime(2025, 1, 1,
                                                       tzinfo=datetime.timezone.utc))
    units = {"orientation": "drift direction (deg)", "contrast": "Michelson contrast",
             "temporal_frequency": "Hz", "stimulus_type": "grating or blank"}
    for name in session["columns"]:
        nwb.add_trial_column(name=name, description=units.get(name, name))
    for i in range(session["start"].size):
        nwb.add_trial(start_time=float(session["start"][i]), stop_time=float(session["stop"][i]),
                      **{k: v[i].item() if hasattr(v[i], "item") else v[i]
                         for k, v in session["columns"].items()})
    for times in session["spike_times"]:
        nwb.add_unit(spike_times=times)
    with NWBHDF5IO(path, "w") as io:
        io.write(nwb)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="the NWB file to write")
    parser.add_argument("--tiny", action="store_true", help="8 units, 3 repeats (seconds)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    session = (synthetic_session(8, 3, args.seed) if args.tiny
               else synthetic_session(seed=args.seed))
    write_nwb(args.out, session)
    print(f"Wrote {args.out}: {len(session['spike_times'])} units, {session['start'].size} "
          f"trials, {sum(t.size for t in session['spike_times']):,} spikes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
