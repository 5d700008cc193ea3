"""The iP-VAE's parameters: one validated object, saved to and loaded from HDF5.

Symbols follow ``docs/model.md`` (Vafaii, Galor & Yates 2025):

============  ========  =========================================================
name          shape     meaning
============  ========  =========================================================
``Phi``       (M, K)    dictionary (linear decoder); column k is neuron k's
                        "projective field" in pixel space
``log_sigma`` (M,)      per-pixel log standard deviation s of the likelihood
                        N(x; Phi z, sigma^2); sigma = exp(3.45 tanh(s / 3.45))
``u0``        (K,)      prior log firing rates (log counts per bin); the
                        membrane potential starts here
``log_bias``  (K,)      log of the bias b > 0, a constant drive toward silence
``log_lr``    scalar    log of the step size eta of the membrane update
``c_u``       scalar    soft upper bound of u (10)
``c_du``      scalar    soft upper bound of the per-bin change du (10)
``u_floor``   scalar    hard lower bound of u and of its change du (-8)
``beta``      scalar    weight of the KL term of the free energy (24 for
                        natural patches in the paper)
============  ========  =========================================================
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import os

import h5py
import numpy as np

from ipvae_brian.models.errors import FileFormatError, ParameterError

PARAMETERS_FORMAT = "ipvae-brian/parameters"
PARAMETERS_FORMAT_VERSION = 1

#: Bound of the soft clamp on the log-std, s <- 3.45 tanh(s / 3.45): sigma^2 in ~(1e-3, 1e3)
#: (the authors' ``main/distributions.py``).
LOG_SIGMA_BOUND = 3.45

#: Largest log_lr and log_bias whose exponential (eta, b) is finite in float64.
MAX_LOG = 709.0

#: Largest c_u whose rate ceiling, exp(c_u) counts per bin plus ten standard deviations,
#: fits an unsigned 32-bit count (:func:`count_dtype`).
MAX_C_U = 22.0

#: Norm of each dictionary column in :meth:`IPVAEParameters.random`. See its docstring.
RANDOM_COLUMN_NORM = 0.15

_ARRAY_FIELDS = {
    # name: (description, units)
    "Phi": ("dictionary Phi (M x K): column k is the pixel pattern neuron k's counts add "
            "to the reconstruction x_hat = Phi z", "pixel units per count"),
    "log_sigma": ("per-pixel log standard deviation s of the Gaussian likelihood; "
                  "sigma = exp(3.45 tanh(s / 3.45))", "log(pixel units)"),
    "u0": ("prior log firing rates u0 (K): the prior is Poisson(exp(u0)) counts per bin; "
           "the membrane potential starts here", "log(counts per bin)"),
    "log_bias": ("log of the bias b (K), a constant drive toward silence in du = "
                 "eta (Phi^T e - b)", "log(1/count)"),
    "log_lr": ("log of the step size eta of the membrane-potential update", "log(1)"),
}
_SCALAR_FIELDS = {
    "c_u": "soft upper bound of the membrane potential u: u <- c_u - softplus(c_u - u)",
    "c_du": "soft upper bound of the per-bin change du: du <- c_du - softplus(c_du - du)",
    "u_floor": ("hard lower bound of the membrane potential and of its change per step: "
                "du <- max(du, u_floor), u <- max(u, u_floor)"),
    "beta": "weight of the KL term in the free energy F_t",
}


@dataclasses.dataclass(frozen=True, eq=False)
class IPVAEParameters:
    """Parameters of an iP-VAE with M pixels and K latent neurons.

    Parameters
    ----------
    Phi : ndarray, shape (M, K)
        Dictionary.
    log_sigma : ndarray, shape (M,)
        Per-pixel log-std before the soft clamp (see :attr:`sigma`).
    u0 : ndarray, shape (K,)
        Prior log-rates, log(counts per bin).
    log_bias : ndarray, shape (K,)
        Log of the bias b.
    log_lr : float
        Log of the step size eta.
    c_u, c_du, u_floor : float
        Clamps of the membrane update (defaults 10, 10, -8 as in the paper).
    beta : float
        KL weight of the free energy (default 24, the paper's value for natural patches).
    provenance : dict
        JSON-serialisable notes on where the parameters came from (seed, command, history).

    Raises
    ------
    ParameterError
        If shapes disagree, a value is not finite, or the clamps are inconsistent.

    References
    ----------
    Vafaii, Galor & Yates (2025), "Brain-like variational inference", arXiv:2410.19315.
    """

    Phi: np.ndarray
    log_sigma: np.ndarray
    u0: np.ndarray
    log_bias: np.ndarray
    log_lr: float
    c_u: float = 10.0
    c_du: float = 10.0
    u_floor: float = -8.0
    beta: float = 24.0
    provenance: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        for name in ("Phi", "log_sigma", "u0", "log_bias", "log_lr", "c_u", "c_du",
                     "u_floor", "beta"):
            if np.iscomplexobj(getattr(self, name)):
                raise ParameterError(f"parameter {name} is complex; expected real numbers")
        for name in ("Phi", "log_sigma", "u0", "log_bias"):
            try:
                set_(name, np.array(getattr(self, name), dtype=np.float64))
            except (TypeError, ValueError) as exc:
                raise ParameterError(f"parameter {name} is not numeric: {exc}") from None
        for name in ("log_lr", "c_u", "c_du", "u_floor", "beta"):
            try:
                value = np.asarray(getattr(self, name), dtype=np.float64)
            except (TypeError, ValueError):
                raise ParameterError(f"parameter {name} is not a number: "
                                     f"{getattr(self, name)!r}") from None
            if value.size != 1:
                raise ParameterError(f"parameter {name} must be a scalar, got shape {value.shape}")
            set_(name, float(value.reshape(())))
        if self.Phi.ndim != 2:
            raise ParameterError(f"Phi must be a 2-D array (M x K), got shape {self.Phi.shape}")
        M, K = self.Phi.shape
        if M < 1 or K < 1:
            raise ParameterError(f"Phi must have at least one pixel and one neuron, "
                                 f"got shape {self.Phi.shape}")
        for name, n, what in (("log_sigma", M, "M, one per pixel"), ("u0", K, "K, one per neuron"),
                              ("log_bias", K, "K, one per neuron")):
            shape = getattr(self, name).shape
            if shape != (n,):
                raise ParameterError(f"{name} has shape {shape}, expected ({n},) ({what}) "
                                     f"to match Phi's shape {self.Phi.shape}")
        for name in ("Phi", "log_sigma", "u0", "log_bias", "log_lr", "c_u", "c_du", "u_floor",
                     "beta"):
            value = np.asarray(getattr(self, name))
            if not np.all(np.isfinite(value)):
                bad = int(np.count_nonzero(~np.isfinite(value)))
                raise ParameterError(f"parameter {name} contains {bad} NaN or infinite value(s)")
        if self.u_floor >= self.c_u:
            raise ParameterError(f"u_floor ({self.u_floor}) must be below c_u ({self.c_u})")
        self._check_network_space()
        if self.c_du <= 0:
            raise ParameterError(f"c_du must be positive, got {self.c_du}")
        if self.beta < 0:
            raise ParameterError(f"beta must be >= 0, got {self.beta}")
        try:
            json.dumps(self.provenance)
        except TypeError as exc:
            raise ParameterError(f"provenance is not JSON-serialisable: {exc}") from None
        for name in ("Phi", "log_sigma", "u0", "log_bias"):
            getattr(self, name).setflags(write=False)

    def _check_network_space(self) -> None:
        """The values the network computes with must be finite and its counts must fit:
        eta = exp(log_lr) and b = exp(log_bias) finite, u0 <= c_u (the first bin draws
        Poisson(exp(u0)) counts), and exp(c_u) counts per bin within a 32-bit count."""
        if self.c_u > MAX_C_U:
            raise ParameterError(
                f"c_u = {self.c_u:g} allows exp(c_u) = {np.exp(min(self.c_u, 709)):.3g} "
                f"counts per bin, more than a 32-bit count holds; c_u must be <= {MAX_C_U}")
        if np.max(self.u0) > self.c_u:
            k = int(np.argmax(self.u0))
            raise ParameterError(
                f"u0 of neuron {k} is {self.u0[k]:g}, above the ceiling c_u = {self.c_u:g} "
                f"of the membrane potential (the first bin would draw Poisson(exp(u0)) "
                f"counts); u0 must be <= c_u")
        if self.log_lr > MAX_LOG:
            raise ParameterError(f"log_lr = {self.log_lr:g} makes eta = exp(log_lr) infinite "
                                 f"in float64; log_lr must be <= {MAX_LOG}")
        if np.max(self.log_bias) > MAX_LOG:
            k = int(np.argmax(self.log_bias))
            raise ParameterError(f"log_bias of neuron {k} is {self.log_bias[k]:g}: b = "
                                 f"exp(log_bias) is infinite in float64; log_bias must be "
                                 f"<= {MAX_LOG}")

    # --- derived quantities -------------------------------------------------------------
    @property
    def n_pixels(self) -> int:
        """M, the number of pixels."""
        return self.Phi.shape[0]

    @property
    def n_latents(self) -> int:
        """K, the number of latent neurons."""
        return self.Phi.shape[1]

    @property
    def sigma(self) -> np.ndarray:
        """Per-pixel likelihood std, shape (M,): exp(3.45 tanh(s / 3.45)), in (0.032, 31.5)."""
        return np.exp(LOG_SIGMA_BOUND * np.tanh(self.log_sigma / LOG_SIGMA_BOUND))

    @property
    def bias(self) -> np.ndarray:
        """b = exp(log_bias), shape (K,)."""
        return np.exp(self.log_bias)

    @property
    def eta(self) -> float:
        """Step size eta = exp(log_lr)."""
        return float(np.exp(self.log_lr))

    @property
    def lateral_weights(self) -> np.ndarray:
        """W = -Phi^T diag(1 / sigma^2) Phi, shape (K, K), symmetric; the diagonal is
        self-inhibition. Each count of neuron j moves u_i by eta * W[i, j]."""
        scaled = self.Phi / self.sigma[:, None] ** 2
        return -(self.Phi.T @ scaled)

    def feedforward_drive(self, x: np.ndarray) -> np.ndarray:
        """I_ff = Phi^T (x / sigma^2): shape (..., K) for x of shape (..., M)."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape[-1] != self.n_pixels:
            raise ParameterError(
                f"the stimulus has {x.shape[-1]} pixels but the dictionary Phi has "
                f"{self.n_pixels} rows (M): they must match")
        return (x / self.sigma ** 2) @ self.Phi

    def replace(self, **changes) -> "IPVAEParameters":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    # --- construction -------------------------------------------------------------------
    @classmethod
    def random(cls, n_pixels: int, n_latents: int, seed: int = 0,
               column_norm: float = RANDOM_COLUMN_NORM) -> "IPVAEParameters":
        """Seeded random parameters following the authors' initialisation.

        u0 ~ U[-6, -4], log_bias = -3, log_lr = 0, log_sigma = 0 (sigma = 1), and
        Phi columns drawn uniformly on the unit sphere (normalised Gaussian vectors)
        then scaled to norm ``column_norm``.

        Why ``column_norm = 0.15``: the discrete update is stable only while
        eta * (Phi^T Sigma^-1 Phi diag(r)) has spectral radius below 2 at the
        operating rates r (``docs/learning.md``). With K = 2M random columns of
        norm c the largest eigenvalue of Phi^T Phi is about c^2 (1 + sqrt(K/M))^2
        ~ 5.8 c^2, and the drive Phi_k^T x grows with the patch's contrast, which is
        heavy-tailed on natural images (natural16 test: ||x|| / sqrt(M) has median
        0.8, 99th percentile 3.0). Measured with the numpy reference (M = 256,
        K = 512, T = 128, 400 natural16 test patches): the fraction of patches that
        run away to the e^10 ceiling is 0 at c = 0.10 and 0.15 (largest count 314),
        1.8% at c = 0.20 and 3.8% at c = 0.25; median R^2 at t = 127 is 0.37, 0.49,
        0.52 and 0.50. c = 0.15 is the largest stable value. (The authors' trained
        columns have norms of about 0.24, with a learned eta of about 0.63.)

        Parameters
        ----------
        n_pixels, n_latents : int
            M and K.
        seed : int
            Seed of ``numpy.random.default_rng``.
        column_norm : float
            Norm of every column of Phi.
        """
        if n_pixels < 1 or n_latents < 1:
            raise ParameterError(f"need at least one pixel and one latent, got M={n_pixels}, "
                                 f"K={n_latents}")
        rng = np.random.default_rng(seed)
        Phi = rng.standard_normal((n_pixels, n_latents))
        Phi *= column_norm / np.linalg.norm(Phi, axis=0)
        return cls(Phi=Phi, log_sigma=np.zeros(n_pixels), u0=rng.uniform(-6.0, -4.0, n_latents),
                   log_bias=np.full(n_latents, -3.0), log_lr=0.0,
                   provenance={"init": "random", "seed": int(seed),
                               "column_norm": float(column_norm)})

    # --- HDF5 -----------------------------------------------------------------------------
    def write_group(self, group: h5py.Group) -> None:
        """Write the parameters into ``group`` (e.g. ``/params``), each with a description."""
        for name, (description, units) in _ARRAY_FIELDS.items():
            dset = group.create_dataset(name, data=np.asarray(getattr(self, name)))
            dset.attrs["description"] = description
            dset.attrs["units"] = units
        for name, description in _SCALAR_FIELDS.items():
            group.attrs[name] = getattr(self, name)
            group.attrs[name + "_description"] = description
        group.attrs["n_pixels"] = self.n_pixels
        group.attrs["n_latents"] = self.n_latents
        group.attrs["provenance"] = json.dumps(self.provenance)
        group.attrs["description"] = ("iP-VAE parameters (Vafaii, Galor & Yates 2025, "
                                      "arXiv:2410.19315)")

    @classmethod
    def read_group(cls, group: h5py.Group, source: str = "file") -> "IPVAEParameters":
        """Read parameters written by :meth:`write_group`."""
        from ipvae_brian.stimuli.input_limits import read_dataset
        missing = [n for n in _ARRAY_FIELDS if n not in group]
        missing += [n for n in _SCALAR_FIELDS if n not in group.attrs]
        if missing:
            raise FileFormatError(f"{source}: group {group.name} lacks {', '.join(missing)}")
        values = {name: read_dataset(group, name, source, error=FileFormatError)
                  for name in _ARRAY_FIELDS}
        for name in _SCALAR_FIELDS:
            value = group.attrs[name]
            if isinstance(value, (str, bytes)) or not np.issubdtype(np.asarray(value).dtype,
                                                                    np.number):
                raise FileFormatError(f"{source}: {group.name} attribute {name} is "
                                      f"{value!r}, expected a number")
            values[name] = value
        text = group.attrs.get("provenance", "{}")
        try:
            provenance = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise FileFormatError(f"{source}: {group.name} attribute provenance is not JSON "
                                  f"({exc})") from None
        if not isinstance(provenance, dict):
            raise FileFormatError(f"{source}: {group.name} attribute provenance is not a JSON "
                                  f"object")
        try:
            return cls(**values, provenance=provenance)
        except ParameterError as exc:
            raise ParameterError(f"{source}: {exc}") from None

    def save(self, path, extra_attrs: dict | None = None,
             extra_groups: dict | None = None) -> None:
        """Save to an HDF5 file (``/params`` plus ``format`` attributes), atomically.

        ``extra_groups`` maps a group name to named arrays written beside ``/params``
        in the same atomic write (e.g. the optimiser's state of a learning run).
        """
        from ipvae_brian.models.atomic_file import atomic_output
        from ipvae_brian import __version__
        with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
            f.attrs["format"] = PARAMETERS_FORMAT
            f.attrs["format_version"] = PARAMETERS_FORMAT_VERSION
            f.attrs["software_version"] = __version__
            f.attrs["created"] = datetime.datetime.now(datetime.timezone.utc).isoformat()
            for key, value in (extra_attrs or {}).items():
                f.attrs[key] = value
            self.write_group(f.create_group("params"))
            for name, arrays in (extra_groups or {}).items():
                group = f.create_group(name)
                for key, value in arrays.items():
                    group.create_dataset(key, data=np.asarray(value))

    @classmethod
    def load(cls, path) -> "IPVAEParameters":
        """Load from a parameter file or a recording (both hold ``/params``).

        Raises
        ------
        FileFormatError
            If the file is missing, not HDF5, truncated, or lacks ``/params``.
        """
        path = os.fspath(path)
        with open_hdf5(path) as f:
            if "params" not in f:
                raise FileFormatError(f"{path}: no /params group (not an iP-VAE parameter "
                                      f"file or recording)")
            return cls.read_group(f["params"], source=path)


def open_hdf5(path: str, expected_formats: tuple = ()) -> h5py.File:
    """Open an HDF5 file for reading, turning every failure into a :class:`FileFormatError`."""
    from ipvae_brian.stimuli.input_limits import check_regular_file
    check_regular_file(path, "file", error=FileFormatError)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise FileFormatError(f"{path}: not a readable HDF5 file (truncated or corrupt?): "
                              f"{exc}") from None
    if not isinstance(f.get("params", default=f), h5py.Group):
        f.close()
        raise FileFormatError(f"{path}: /params is a dataset, expected a group")
    if expected_formats and f.attrs.get("format") not in expected_formats:
        found = f.attrs.get("format")
        f.close()
        raise FileFormatError(f"{path}: format {found!r}, expected one of {expected_formats}")
    return f


def count_dtype(params: IPVAEParameters) -> np.dtype:
    """Unsigned integer type for the counts: uint16 while the clamp c_u keeps
    exp(u) (at most ~exp(c_u) + 6 sqrt(exp(c_u)) counts per bin) well below 65,535."""
    ceiling = np.exp(params.c_u)
    return np.dtype(np.uint16 if ceiling + 10 * np.sqrt(ceiling) < 65535 else np.uint32)
