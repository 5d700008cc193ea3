"""Stimuli side by side (``RunConfig.lanes``): how their drive and records are laid out.

A network with B lanes has B x K latent neurons; latent i is neuron i mod K of the stimulus
in lane i div K. One run simulates ceil(n / B) groups (:func:`groups`) of B stimuli one
after another; group g holds stimuli g B .. g B + B - 1 of the run (the last group padded
with zero drive, its padded lanes dropped). The drive's row g is the B drive rows of the
group side by side; the monitors record (steps, B K) values, which :func:`unlaned` puts back
in stimulus order.

Examples
--------
>>> import numpy as np
>>> laned(np.arange(6.0).reshape(3, 2), 2)        # 3 stimuli, K = 2, 2 lanes
array([[0., 1., 2., 3.],
       [4., 5., 0., 0.]])
>>> unlaned(np.arange(8).reshape(2, 4), n_groups=1, T=2, lanes=2, K=2)[:, :, 0]
array([[0, 4],
       [2, 6]])
"""
from __future__ import annotations

import numpy as np


def groups(n: int, lanes: int) -> int:
    """Groups of ``lanes`` stimuli side by side that ``n`` stimuli take: ceil(n / lanes)."""
    return -(-n // lanes)


def laned(drive: np.ndarray, lanes: int) -> np.ndarray:
    """The drive rows (n, K) of stimuli laid side by side: (ceil(n / lanes), lanes K), row g
    holding stimuli g lanes .. g lanes + lanes - 1 (the last row padded with zero drive)."""
    n, K = drive.shape
    out = np.zeros((groups(n, lanes) * lanes, K), dtype=drive.dtype)
    out[:n] = drive
    return out.reshape(-1, lanes * K)


def unlaned(values: np.ndarray, n_groups: int, T: int, lanes: int, K: int) -> np.ndarray:
    """Recorded (n_groups T, lanes K) values of stimuli side by side as (n_groups lanes, T, K)."""
    return values.reshape(n_groups, T, lanes, K).transpose(0, 2, 1, 3).reshape(-1, T, K)
