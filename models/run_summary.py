"""What a run produced, in numbers: reconstruction R^2, zeros, rate, runaways.

One summary for every consumer (the command line's closing line, sweeps, experiments,
learning), accumulated chunk by chunk while a run streams (:meth:`RunSummary.add`) or
read back from a recording (:func:`summarise_recording`).

Conventions: t counts membrane updates, so the counts at bin t were drawn from u_t, the
potential after t updates (t = 0 is a sample of the prior); "the last bin" is t = T - 1.
The reconstruction is decoded from the integer counts, x_hat_t = Phi z_t (samples, not
the rate exp(u_t)). R^2 is per stimulus and undefined (NaN) for a constant stimulus,
which the means and medians leave out.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ipvae_brian.models.parameters import IPVAEParameters

#: t of the late read-out of every evaluation (``run_sim.py evaluate`` and the closing
#: calibration of ``learn``): 128 membrane updates, so LATE_READOUT + 1 = 129 bins are
#: simulated (t = 0 .. 128). Twice the 64 bins ``learn`` trains on by default, so a
#: stimulus that runs away only after the trained bins is seen.
LATE_READOUT = 128


def r_squared(x: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
    """Coefficient of determination of each sample's reconstruction.

    .. math:: R^2 = 1 - \\frac{\\sum_m (x_m - \\hat x_m)^2}{\\sum_m (x_m - \\bar x)^2}

    with the mean taken over the sample's own pixels; the paper averages it over samples.

    Parameters
    ----------
    x : ndarray, shape (..., M)
        Stimuli.
    x_hat : ndarray, shape (..., M)
        Reconstructions, broadcastable against ``x`` (e.g. x of shape (N, 1, M) and
        x_hat of shape (N, T, M) give R^2 for every bin).

    Returns
    -------
    ndarray, shape (...)
        1 for a perfect reconstruction, 0 for reconstructing the sample mean,
        negative when worse. NaN for a constant sample (zero variance).

    Examples
    --------
    >>> x = np.array([[1.0, -1.0, 2.0, 0.0]])
    >>> float(r_squared(x, x)[0]), float(r_squared(x, np.zeros_like(x) + x.mean())[0])
    (1.0, 0.0)
    """
    x = np.asarray(x, dtype=np.float64)
    x_hat = np.asarray(x_hat, dtype=np.float64)
    residual = np.sum((x - x_hat) ** 2, axis=-1)
    total = np.sum((x - x.mean(axis=-1, keepdims=True)) ** 2, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 - residual / np.where(total > 0, total, np.nan)


def fraction_never_fired(spikes_per_neuron: np.ndarray) -> float:
    """Fraction of the neurons whose total spike count (over all stimuli and bins) is zero.

    Parameters
    ----------
    spikes_per_neuron : ndarray, shape (K,)
        Every neuron's spikes summed over stimuli and bins.

    Examples
    --------
    >>> fraction_never_fired(np.array([0, 3, 0, 1]))
    0.5
    """
    return float(np.mean(np.asarray(spikes_per_neuron) == 0))


def fraction_zeros(counts: np.ndarray, axis=None) -> np.ndarray:
    """Fraction of zero counts (the paper's %-zeros, as a fraction in [0, 1]).

    For Poisson counts of rate r the expected value is exp(-r) per neuron.

    Parameters
    ----------
    counts : ndarray, shape (N, T, K)
    axis : int or tuple, optional
        Axes to average over; ``(0, 2)`` gives one value per bin t.

    Examples
    --------
    >>> float(fraction_zeros(np.array([[0, 3], [0, 0]])))
    0.75
    """
    return np.mean(np.asarray(counts) == 0, axis=axis)


def runaway_threshold(params: IPVAEParameters) -> float:
    """Counts per bin that mean u reached the soft ceiling c_u: half of exp(c_u).

    A stimulus whose counts reach this in some bin "ran away": its dynamics were
    unstable and it sits at the rate ceiling instead of a posterior.
    """
    return 0.5 * float(np.exp(params.c_u))


def runaway_stimuli(counts: np.ndarray, params: IPVAEParameters) -> np.ndarray:
    """Boolean (N,): stimuli whose counts (N, T, K) reached :func:`runaway_threshold`."""
    return np.asarray(counts).max(axis=(1, 2)) >= runaway_threshold(params)


@dataclasses.dataclass
class RunSummary:
    """Numbers of a run, accumulated chunk by chunk.

    Parameters
    ----------
    params : IPVAEParameters
        Their dictionary decodes the counts; their c_u sets the runaway threshold.
    steps : int
        T, bins per stimulus.

    Attributes
    ----------
    n_stimuli : int
    r2 : list of ndarray
        R^2 of Phi z_{T-1} against the stimulus (its last frame for movies), per chunk.
    zeros_last, zeros_all : float
        Sum over stimuli of the fraction of zero counts at the last bin and over all bins.
    total_counts : float
    runaways : int
        Stimuli that reached the rate ceiling (:func:`runaway_stimuli`).
    wall_s : float
        Seconds the run took (set by whoever timed it).
    """

    params: IPVAEParameters
    steps: int
    n_stimuli: int = 0
    r2: list = dataclasses.field(default_factory=list)
    zeros_last: float = 0.0
    zeros_all: float = 0.0
    total_counts: float = 0.0
    runaways: int = 0
    wall_s: float = 0.0

    def add(self, counts: np.ndarray, x: np.ndarray) -> None:
        """Add a chunk: its counts (n, T, K) and its stimuli (n, M) or movies (n, T, M)."""
        n, T, K = counts.shape
        last_x = x[:, -1] if x.ndim == 3 else x
        x_hat = counts[:, -1].astype(np.float64) @ self.params.Phi.T
        self.r2.append(r_squared(last_x, x_hat))
        # counted, not averaged as floats: this runs on every chunk of every run
        self.zeros_last += np.count_nonzero(counts[:, -1] == 0) / K
        self.zeros_all += np.count_nonzero(counts == 0) / (T * K)
        self.total_counts += float(counts.sum(dtype=np.int64))
        self.runaways += int(np.count_nonzero(runaway_stimuli(counts, self.params)))
        self.n_stimuli += n

    @property
    def r2_values(self) -> np.ndarray:
        return np.concatenate(self.r2) if self.r2 else np.empty(0)

    @property
    def r2_defined(self) -> int:
        """Stimuli whose R^2 is defined (not constant at the last bin)."""
        return int(np.count_nonzero(np.isfinite(self.r2_values)))

    @property
    def r2_mean(self) -> float:
        return float(np.nanmean(self.r2_values)) if self.r2_defined else float("nan")

    @property
    def r2_median(self) -> float:
        return float(np.nanmedian(self.r2_values)) if self.r2_defined else float("nan")

    @property
    def mean_count(self) -> float:
        """Spikes per neuron per bin, over every bin of every stimulus."""
        entries = self.n_stimuli * self.steps * self.params.n_latents
        return self.total_counts / entries if entries else float("nan")

    def as_dict(self, bin_width: float) -> dict:
        """The numbers as a flat dict (``bin_width`` in seconds gives the rate in Hz)."""
        N = max(self.n_stimuli, 1)
        return {"r2_mean": self.r2_mean, "r2_median": self.r2_median,
                "zeros_last_pct": 100 * self.zeros_last / N,
                "zeros_all_pct": 100 * self.zeros_all / N,
                "mean_count": self.mean_count, "rate_hz": self.mean_count / bin_width,
                "runaways": self.runaways, "n_stimuli": self.n_stimuli}

    def describe(self) -> str:
        """One paragraph for the end of a run (what the command line prints)."""
        N, T, K = self.n_stimuli, self.steps, self.params.n_latents
        defined = self.r2_defined
        if defined == N:
            r2_text = (f"the mean R^2 of the reconstruction Phi z_t is {self.r2_mean:.3f} "
                       f"(median {self.r2_median:.3f})")
        elif defined:
            r2_text = (f"the mean R^2 of the reconstruction Phi z_t is {self.r2_mean:.3f} "
                       f"(median {self.r2_median:.3f}, over the {defined:,} non-constant "
                       f"stimuli)")
        else:
            r2_text = "R^2 is undefined (every stimulus is constant there)"
        rate = (f"{N * T / self.wall_s:,.0f}" if self.wall_s > 0 else "-")
        ceiling = runaway_threshold(self.params)
        runaway_text = (f"{self.runaways:,} stimuli ran away to the rate ceiling exp(c_u) "
                        f"(counts >= {ceiling:,.0f} in a bin): the dynamics are unstable for "
                        f"them. " if self.runaways else
                        "No stimulus ran away to the rate ceiling. ")
        return (f"{N:,} stimuli x {T} bins x {K} neurons in {self.wall_s:.1f} s "
                f"({rate} stimulus-bins/s). At the last bin (t = {T - 1}) {r2_text} and "
                f"{100 * self.zeros_last / max(N, 1):.1f}% of counts are zero "
                f"({100 * self.zeros_all / max(N, 1):.1f}% over all bins; mean "
                f"{self.mean_count:.3f} spikes per neuron per bin). " + runaway_text)


def summarise_recording(path, block: int = 256) -> dict:
    """:meth:`RunSummary.as_dict` of a recording, read in blocks of ``block`` stimuli."""
    from ipvae_brian.models.recording import Recording
    with Recording.open(path) as rec:
        counts, params = rec.counts, rec.params
        N, T, _ = counts.shape
        x = rec.stimuli.x
        summary = RunSummary(params, T)
        for first in range(0, N, block):
            summary.add(counts[first:first + block], x[first:first + block])
        bin_width = float(rec.attrs.get("bin_width", np.nan))
    return summary.as_dict(bin_width)
