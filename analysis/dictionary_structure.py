r"""The learned dictionary: how localised its elements are, and a figure of them.

Localisation is measured by energy concentration: for column k of Phi, the
fraction of its squared weight held by its top ``top_fraction`` of pixels,

.. math::

    E_k = \frac{\sum_{m \in \mathrm{top}} \Phi_{mk}^2}{\sum_m \Phi_{mk}^2} .

A column whose energy is spread evenly over the M pixels has E = top_fraction
(0.2 by default); a random Gaussian column has E of about 0.65 for M = 256 (the
share of the top 20% of chi-square(1) draws; measured median 0.646 over 2,000
columns); a column confined to a fifth of the image (a localised Gabor) has E
near 1. We call a column *localised* when E >= 0.7, the
criterion of the learning issue: the top 20% of pixels hold at least 70% of
the squared weight.

References
----------
Olshausen, B. A. & Field, D. J. (1996). Nature 381:607 (localised, oriented,
band-pass elements learned from natural images).
"""
from __future__ import annotations

import numpy as np


def energy_concentration(Phi: np.ndarray, top_fraction: float = 0.2) -> np.ndarray:
    """E_k for every column, shape (K,) (see the module docstring).

    Examples
    --------
    >>> Phi = np.zeros((10, 2)); Phi[0, 0] = 1.0; Phi[:, 1] = 1.0
    >>> energy_concentration(Phi).tolist()
    [1.0, 0.2]
    """
    Phi = np.asarray(Phi, dtype=np.float64)
    M = Phi.shape[0]
    n_top = max(1, int(round(top_fraction * M)))
    energy = np.sort(Phi ** 2, axis=0)[::-1]
    total = energy.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, energy[:n_top].sum(axis=0) / total, np.nan)


def fraction_localised(Phi: np.ndarray, threshold: float = 0.7,
                       top_fraction: float = 0.2) -> float:
    """Fraction of columns with energy concentration >= ``threshold``."""
    return float(np.mean(energy_concentration(Phi, top_fraction) >= threshold))


def dictionary_canvas(Phi: np.ndarray, image_shape: tuple, columns: int) -> np.ndarray:
    """The columns of Phi as tiles of one image, in column order, each scaled to [-1, 1]
    by its largest absolute value; NaN between tiles (1 pixel) and in empty slots."""
    Phi = np.asarray(Phi, dtype=np.float64)
    K = Phi.shape[1]
    columns = max(1, min(columns, K))
    rows = int(np.ceil(K / columns))
    h, w = image_shape
    pad = 1
    canvas = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad), np.nan)
    for slot in range(K):
        r, c = divmod(slot, columns)
        tile = Phi[:, slot].reshape(h, w)
        scale = np.max(np.abs(tile)) or 1.0
        canvas[pad + r * (h + pad):pad + r * (h + pad) + h,
               pad + c * (w + pad):pad + c * (w + pad) + w] = tile / scale
    return canvas


def plot_dictionary(Phi: np.ndarray, image_shape: tuple, path, usage: np.ndarray | None = None,
                    columns: int = 32, title: str = ""):
    """Every column of Phi as an image, sorted by usage (most used first).

    Parameters
    ----------
    Phi : ndarray, shape (M, K)
    image_shape : (H, W) with H W = M
    path : str
        Output file (format from the suffix).
    usage : ndarray, shape (K,), optional
        Mean count per bin of every neuron (sort key); default: column order.
    columns : int
        Tiles per row.
    """
    import matplotlib.pyplot as plt
    Phi = np.asarray(Phi, dtype=np.float64)
    K = Phi.shape[1]
    order = np.arange(K) if usage is None else np.argsort(-np.asarray(usage), kind="stable")
    canvas = dictionary_canvas(Phi[:, order], image_shape, columns)
    width = 7.2
    fig, ax = plt.subplots(figsize=(width, width * canvas.shape[0] / canvas.shape[1] + 0.5),
                           constrained_layout=True)
    cmap = plt.get_cmap("gray").copy()
    cmap.set_bad("white")
    ax.imshow(canvas, cmap=cmap, vmin=-1, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    fig.savefig(path, dpi=200)
    plt.close(fig)
    return path
