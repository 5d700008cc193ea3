r"""Reconstruction quality and sparsity against the bin index t: the paper's rate-distortion view.

For every bin t of a simulation, over the N stimuli,

.. math::

    \overline{R^2}(t) = \frac1N \sum_n \left(1 - \frac{\lVert x_n - \Phi z_{nt}\rVert^2}
                        {\lVert x_n - \bar x_n \rVert^2}\right), \qquad
    \text{zeros}(t) = \frac{1}{N K} \sum_{n,k} [z_{ntk} = 0],

evaluated on exact integer counts as in the paper (Vafaii, Galor & Yates 2025,
table of R^2 / %-zeros at t = 0, 8, 16, 32, 64, 128, 1000). Stimuli with zero
variance (blank frames) have no R^2 and are left out of its mean.
:class:`QualityByBin` accumulates these over chunks of a simulation, so that
10,000 stimuli x 129 bins never sit in memory at once.

References
----------
Vafaii, H., Galor, D. & Yates, J. L. (2025). Brain-like variational inference.
arXiv:2410.19315 (evaluation: R^2 per sample and %-zeros per step).
"""
from __future__ import annotations

import numpy as np

from ipvae_brian.analysis.metrics import r_squared

#: The bins at which the paper reports R^2 and %-zeros (t = 0 is the first bin).
PAPER_BINS = (0, 8, 16, 32, 64, 128, 1000)

#: The authors' iP-VAE on van Hateren patches (K = 512, beta = 24): t -> (R^2, zeros).
PAPER_IPVAE = {0: (-0.02, 0.25), 8: (0.58, 0.32), 16: (0.72, 0.37), 32: (0.78, 0.46),
               64: (0.81, 0.58), 128: (0.83, 0.69), 1000: (0.83, 0.77)}


class QualityByBin:
    """Mean R^2 and fraction of zeros per bin, accumulated chunk by chunk.

    Parameters
    ----------
    Phi : ndarray, shape (M, K)
        The dictionary that decodes the counts: x_hat_t = Phi z_t.
    steps : int
        T, bins per stimulus.

    Examples
    --------
    >>> q = QualityByBin(np.eye(2), steps=1)
    >>> q.add(np.array([[1.0, -1.0]]), np.array([[[1, 0]]]))
    >>> q.r2.round(3).tolist(), q.zeros.tolist()
    ([0.5], [0.5])
    """

    def __init__(self, Phi: np.ndarray, steps: int):
        self.Phi = np.asarray(Phi, dtype=np.float64)
        self.steps = int(steps)
        self._r2_sum = np.zeros(self.steps)
        self._r2_n = np.zeros(self.steps)
        self._zeros_sum = np.zeros(self.steps)
        self._rate_sum = np.zeros(self.steps)
        self.n_stimuli = 0

    def add(self, x: np.ndarray, counts: np.ndarray) -> None:
        """Add a chunk: stimuli (n, M) or movies (n, T, M) and their counts (n, T, K)."""
        x = np.asarray(x, dtype=np.float64)
        target = x if x.ndim == 3 else x[:, None, :]
        r2 = r_squared(target, counts.astype(np.float64) @ self.Phi.T)  # (n, T)
        finite = np.isfinite(r2)
        self._r2_sum += np.where(finite, r2, 0.0).sum(axis=0)
        self._r2_n += finite.sum(axis=0)
        self._zeros_sum += np.mean(counts == 0, axis=2).sum(axis=0)
        self._rate_sum += counts.mean(axis=2, dtype=np.float64).sum(axis=0)
        self.n_stimuli += counts.shape[0]

    @property
    def r2(self) -> np.ndarray:
        """Mean R^2 per bin, shape (T,) (NaN where no stimulus had variance)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self._r2_sum / self._r2_n

    @property
    def zeros(self) -> np.ndarray:
        """Fraction of zero counts per bin, shape (T,)."""
        return self._zeros_sum / max(self.n_stimuli, 1)

    @property
    def mean_rate(self) -> np.ndarray:
        """Mean count per neuron per bin, shape (T,)."""
        return self._rate_sum / max(self.n_stimuli, 1)

    def table(self, bins=PAPER_BINS) -> list[dict]:
        """Rows ``{"t", "r2", "zeros", "rate"}`` for the requested bins that were simulated."""
        return [{"t": int(t), "r2": float(self.r2[t]), "zeros": float(self.zeros[t]),
                 "rate": float(self.mean_rate[t])} for t in bins if 0 <= t < self.steps]


def plot_quality_by_bin(r2: np.ndarray, zeros: np.ndarray, path, title: str = "",
                        reference: dict | None = PAPER_IPVAE):
    """Figure: mean R^2 and %-zeros against the bin index t (log axis), paper values marked.

    Parameters
    ----------
    r2, zeros : ndarray, shape (T,)
    path : str
        Output file (format from the suffix).
    reference : dict, optional
        t -> (R^2, zeros) drawn as open markers (default: the authors' published values).
    """
    import matplotlib.pyplot as plt
    t = np.arange(len(r2))
    fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.0), constrained_layout=True)
    for ax, values, label, index in ((axes[0], r2, "mean $R^2$", 0),
                                     (axes[1], 100 * np.asarray(zeros), "zeros (%)", 1)):
        ax.plot(t + 1, values, color="k", lw=1.5, label="this network")
        if reference:
            ref_t = np.array([k for k in reference if k < len(r2)])
            ref_v = np.array([reference[k][index] for k in ref_t]) * (100 if index else 1)
            ax.plot(ref_t + 1, ref_v, "o", mfc="none", color="tab:red", ms=5,
                    label="Vafaii et al. 2025 (van Hateren)")
        ax.set_xscale("log")
        ax.set_xlabel("bin t + 1")
        ax.set_ylabel(label)
        ax.spines[["top", "right"]].set_visible(False)
    axes[0].set_ylim(min(0.0, float(np.nanmin(r2))) if np.isfinite(np.nanmin(r2)) else 0, 1)
    axes[1].set_ylim(0, 100)
    axes[0].legend(frameon=False, fontsize=8, loc="lower right")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.savefig(path, dpi=200)
    plt.close(fig)
    return path
