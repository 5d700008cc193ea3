r"""Receptive fields: spike-triggered average, 2-D Gabor fit, Ringach's (nx, ny).

Spike-triggered average (STA) of neuron k over N stimuli :math:`x_n` (zero-mean
noise images, M pixels) with responses :math:`r_{nk}` (spike counts):

.. math:: STA_k = \frac{\sum_n r_{nk} (x_n - \bar x)}{\sum_n r_{nk}}

For a linear-nonlinear neuron driven by white Gaussian noise the STA is
proportional to its linear filter (Chichilnisky 2001); its noise falls as
1/sqrt(number of spikes). Units: pixel values (per spike).

2-D Gabor (Jones & Palmer 1987), in the stimuli's pixel coordinates (x to the
right, y upward, origin at the image centre; ``stimuli.conditions``):

.. math::
    G(x, y) = A \exp\left(-\frac{x'^2}{2\sigma_x^2} - \frac{y'^2}{2\sigma_y^2}\right)
              \cos(2\pi f x' + \phi),
    \quad x' = (x - x_0)\cos\theta + (y - y_0)\sin\theta,
    \quad y' = -(x - x_0)\sin\theta + (y - y_0)\cos\theta,

with theta the direction of the carrier's wave vector (degrees counter-clockwise
from +x: the grating orientation convention of ``stimuli.gratings``), f in
cycles/pixel, sigma_x across the stripes and sigma_y along them (pixels).

Ringach's (2002) shape parameters are the envelope widths in periods of the
carrier:

.. math:: n_x = \sigma_x f, \qquad n_y = \sigma_y f

Known case: a Gabor with sigma_x = 2 px, sigma_y = 3 px and f = 0.15 c/px has
(nx, ny) = (0.3, 0.45). nx < 0.5 means few subfields (blob-like; a Gaussian
blob has nx = 0); sparse-coding dictionaries tend to have larger nx
(Ringach 2002; Olshausen & Field 1997).

V1 reference (``docs/ephys_reference.md``): many cells with nx < 0.5, mapped
with white or sparse noise (Ringach 2002).

References
----------
Chichilnisky, E. J. (2001). A simple white noise analysis of neuronal light responses.
Network 12, 199-213.
Jones, J. P. & Palmer, L. A. (1987). An evaluation of the two-dimensional Gabor filter model
of simple receptive fields in cat striate cortex. J Neurophysiol 58, 1233-1258.
Ringach, D. L. (2002). Spatial structure and symmetry of simple-cell receptive fields in
macaque primary visual cortex. J Neurophysiol 88, 455-463.
Olshausen, B. A. & Field, D. J. (1997). Sparse coding with an overcomplete basis set: a
strategy employed by V1? Vision Res 37, 3311-3325.
"""
from __future__ import annotations

import dataclasses

import numpy as np
from scipy.optimize import least_squares


def spike_triggered_average(stimuli, responses) -> np.ndarray:
    """Response-weighted average of the (mean-subtracted) stimuli for every neuron.

    Parameters
    ----------
    stimuli : array_like, shape (N, M)
        Stimulus images (flattened), e.g. white noise.
    responses : array_like, shape (N, K)
        Non-negative responses (spike counts) of K neurons to each stimulus.

    Returns
    -------
    ndarray, shape (K, M)
        STA of every neuron; NaN rows for neurons without a spike.

    Examples
    --------
    >>> x = np.array([[1.0, -1.0], [-1.0, 1.0], [1.0, 1.0], [-1.0, -1.0]])
    >>> spike_triggered_average(x, [[1], [0], [1], [0]])      # fires when pixel 0 is bright
    array([[1., 0.]])
    """
    x = np.asarray(stimuli, dtype=np.float64)
    r = np.asarray(responses, dtype=np.float64)
    if x.ndim != 2 or r.ndim != 2 or x.shape[0] != r.shape[0]:
        raise ValueError(f"stimuli (N, M) and responses (N, K) must share N; got shapes "
                         f"{x.shape} and {r.shape}")
    if np.any(r < 0):
        raise ValueError("the STA needs non-negative responses (spike counts)")
    total = r.sum(axis=0)
    sta = r.T @ (x - x.mean(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total[:, None] > 0, sta / total[:, None], np.nan)


def pixel_grid(shape) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (x rightward, y upward, origin at the centre), each (H, W)."""
    h, w = shape
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float64)
    return cols - (w - 1) / 2.0, (h - 1) / 2.0 - rows


def gabor_2d(shape, x0, y0, theta, sigma_x, sigma_y, frequency, phase, amplitude=1.0):
    """A 2-D Gabor image (see the module formula).

    Parameters
    ----------
    shape : tuple of int
        (H, W) pixels.
    x0, y0 : float
        Centre, pixels from the image centre (x right, y up).
    theta : float
        Wave-vector direction, degrees counter-clockwise from +x.
    sigma_x, sigma_y : float
        Envelope standard deviations across and along the stripes, pixels.
    frequency : float
        Carrier frequency, cycles/pixel.
    phase : float
        Carrier phase at the centre, degrees (0: even, bright centre).
    amplitude : float

    Returns
    -------
    ndarray, shape (H, W)
    """
    x, y = pixel_grid(shape)
    t = np.radians(theta)
    xp = (x - x0) * np.cos(t) + (y - y0) * np.sin(t)
    yp = -(x - x0) * np.sin(t) + (y - y0) * np.cos(t)
    envelope = np.exp(-xp ** 2 / (2 * sigma_x ** 2) - yp ** 2 / (2 * sigma_y ** 2))
    return amplitude * envelope * np.cos(2 * np.pi * frequency * xp + np.radians(phase))


@dataclasses.dataclass(frozen=True)
class GaborFit:
    """A fitted 2-D Gabor (parameters as in :func:`gabor_2d`) and its goodness of fit.

    Attributes
    ----------
    x0, y0, theta, sigma_x, sigma_y, frequency, phase, amplitude : float
    r_squared : float
        Fraction of the image's variance (about its mean) that the Gabor explains.
    """

    x0: float
    y0: float
    theta: float
    sigma_x: float
    sigma_y: float
    frequency: float
    phase: float
    amplitude: float
    r_squared: float

    @property
    def nx(self) -> float:
        """Ringach's nx = sigma_x * f (envelope width across the stripes, in periods)."""
        return self.sigma_x * self.frequency

    @property
    def ny(self) -> float:
        """Ringach's ny = sigma_y * f (envelope length along the stripes, in periods)."""
        return self.sigma_y * self.frequency

    def image(self, shape) -> np.ndarray:
        return gabor_2d(shape, self.x0, self.y0, self.theta, self.sigma_x, self.sigma_y,
                        self.frequency, self.phase, self.amplitude)


def _initial_guess(image):
    """Frequency and direction from the spectrum's peak, centre and size from the energy."""
    h, w = image.shape
    x, y = pixel_grid(image.shape)
    energy = image ** 2
    total = energy.sum()
    x0, y0 = (energy * x).sum() / total, (energy * y).sum() / total
    spread = np.sqrt(max((energy * ((x - x0) ** 2 + (y - y0) ** 2)).sum() / total / 2, 0.25))
    pad = 4 * max(h, w)
    spectrum = np.abs(np.fft.fft2(image, s=(pad, pad)))
    fy, fx = np.meshgrid(np.fft.fftfreq(pad), np.fft.fftfreq(pad), indexing="ij")
    k = np.unravel_index(np.argmax(spectrum), spectrum.shape)
    # rows grow downward: a row frequency fy is a y-frequency of -fy
    freq_x, freq_y = fx[k], -fy[k]
    frequency = float(np.hypot(freq_x, freq_y))
    theta = float(np.degrees(np.arctan2(freq_y, freq_x))) if frequency > 0 else 0.0
    return x0, y0, theta, spread, frequency


def _envelope_and_carrier(shape, p):
    """Gabor basis images for nonlinear parameters p = (x0, y0, theta, sigma_x, sigma_y, f):
    the even (cosine) and odd (sine) Gabors, each (H*W,)."""
    x0, y0, theta, sx, sy, f = p
    x, y = pixel_grid(shape)
    t = np.radians(theta)
    xp = (x - x0) * np.cos(t) + (y - y0) * np.sin(t)
    yp = -(x - x0) * np.sin(t) + (y - y0) * np.cos(t)
    envelope = np.exp(-xp ** 2 / (2 * sx ** 2) - yp ** 2 / (2 * sy ** 2))
    arg = 2 * np.pi * f * xp
    return (envelope * np.cos(arg)).ravel(), (envelope * np.sin(arg)).ravel()


def _linear_part(basis, target):
    """Least-squares coefficients (a, b) of target ~ a * even + b * odd."""
    even, odd = basis
    gram = np.array([[even @ even, even @ odd], [even @ odd, odd @ odd]])
    rhs = np.array([even @ target, odd @ target])
    try:
        return np.linalg.solve(gram + 1e-12 * np.eye(2), rhs)
    except np.linalg.LinAlgError:
        return np.zeros(2)


def fit_gabor(image, shape=None) -> GaborFit:
    """Least-squares fit of a 2-D Gabor to an image (e.g. an STA).

    Variable projection: amplitude and phase enter linearly (A cos(u + phi) =
    a cos u - b sin u), so for every trial of the six nonlinear parameters (centre,
    direction, widths, frequency) they are solved in closed form, and
    ``scipy.optimize.least_squares`` searches the six others (bounds: centre inside the
    image, widths 0.3 to 2x the image side, frequency 0 to 0.5 c/px). It starts from the
    spectrum's peak (frequency, direction) and the energy centroid and spread (centre,
    widths), with equal and with unequal widths, and keeps the best fit.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H*W,)
        The image to fit; flat non-square images need ``shape``.
    shape : tuple of int, optional
        (H, W) for a flat image.

    Returns
    -------
    GaborFit
        theta in [0, 180) with the phase adjusted to match, sigma in pixels, frequency in
        cycles/pixel; all NaN for an image without variance or with NaNs.

    Examples
    --------
    >>> g = gabor_2d((16, 16), 1.0, -1.0, 30.0, 2.0, 3.0, 0.15, 40.0)
    >>> fit = fit_gabor(g)
    >>> round(fit.nx, 3), round(fit.ny, 3)
    (0.3, 0.45)
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim == 1:
        if shape is None:
            side = int(round(np.sqrt(img.size)))
            if side * side != img.size:
                raise ValueError(f"a flat image of {img.size} pixels needs its shape")
            shape = (side, side)
        img = img.reshape(shape)
    nan = float("nan")
    if not np.all(np.isfinite(img)) or img.std() == 0:
        return GaborFit(*([nan] * 9))
    h, w = img.shape
    size = max(h, w)
    x0, y0, theta0, spread, freq0 = _initial_guess(img)
    scale = np.abs(img).max()
    target = img.ravel() / scale
    lower = np.array([-w / 2, -h / 2, -np.inf, 0.3, 0.3, 0.0])
    upper = np.array([w / 2, h / 2, np.inf, 2.0 * size, 2.0 * size, 0.5])

    def residual(p):
        basis = _envelope_and_carrier(img.shape, p)
        a, b = _linear_part(basis, target)
        return a * basis[0] + b * basis[1] - target

    best = None
    for sx, sy in ((spread, spread), (0.6 * spread, 1.5 * spread)):
        p0 = np.clip([x0, y0, theta0, sx, sy, min(freq0, 0.49)], lower + 1e-6, upper - 1e-6)
        result = least_squares(residual, p0, bounds=(lower, upper), method="trf",
                               x_scale="jac", max_nfev=400)
        if best is None or result.cost < best.cost:
            best = result
    x0, y0, theta, sx, sy, f = best.x
    a, b = _linear_part(_envelope_and_carrier(img.shape, best.x), target)
    # a cos u + b sin u = A cos(u + phi) with A = |(a, b)|, phi = atan2(-b, a)
    amp, phase = float(np.hypot(a, b)), float(np.degrees(np.arctan2(-b, a)))
    turns = np.floor(theta / 180.0)
    theta -= 180.0 * turns
    if int(turns) % 2:
        phase = -phase          # cos(2 pi f (-x') + phi) = cos(2 pi f x' - phi)
    phase = (phase + 180.0) % 360.0 - 180.0
    ss_res = 2 * best.cost * scale ** 2
    ss_tot = float(np.sum((img - img.mean()) ** 2))
    return GaborFit(x0=float(x0), y0=float(y0), theta=float(theta), sigma_x=float(sx),
                    sigma_y=float(sy), frequency=float(f), phase=phase,
                    amplitude=amp * scale, r_squared=float(1 - ss_res / ss_tot))


def column_correlation(a, b) -> np.ndarray:
    """Pearson correlation between matching rows of two arrays (e.g. STAs and Phi^T).

    Parameters
    ----------
    a, b : array_like, shape (K, M)

    Returns
    -------
    ndarray, shape (K,)
        Correlation of ``a[k]`` and ``b[k]`` over the M entries; NaN where either is
        constant or contains NaN.

    Examples
    --------
    >>> column_correlation([[1.0, 2.0, 3.0], [1.0, 0.0, 1.0]], [[2.0, 4.0, 6.0], [0.0, 1.0, 0.0]])
    array([ 1., -1.])
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"need two (K, M) arrays of the same shape, got {a.shape} and {b.shape}")
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    norm = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, (a * b).sum(axis=1) / norm, np.nan)


def dictionary_overlap(Phi) -> np.ndarray:
    """Largest |cosine similarity| of each dictionary column with any other column.

    Parameters
    ----------
    Phi : array_like, shape (M, K)

    Returns
    -------
    ndarray, shape (K,)
        In [0, 1]: 0 for a column orthogonal to all others. In the iP-VAE the lateral
        weight between neurons i and j is -Phi_i^T Phi_j / sigma^2, so low overlap means
        little lateral interaction and an STA close to the neuron's own column.

    Examples
    --------
    >>> dictionary_overlap(np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])).round(4)
    array([0.7071, 0.7071, 0.7071])
    """
    P = np.asarray(Phi, dtype=np.float64)
    norms = np.linalg.norm(P, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = P / np.where(norms > 0, norms, 1.0)
    cos = np.abs(unit.T @ unit)
    np.fill_diagonal(cos, 0.0)
    return cos.max(axis=1) if P.shape[1] > 1 else np.zeros(P.shape[1])
