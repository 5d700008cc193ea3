"""One small interface for every inference model: the iP-VAE network and the baselines.

Every model infers a code for each stimulus by iterating T steps from a fixed
starting state, and reconstructs the stimulus linearly from that code with a
dictionary Phi (M pixels x K latents):

    states[n, t]          = the code used for the reconstruction at step t  (K,)
    reconstructions[n, t] = Phi @ states[n, t]                               (M,)

Step t = 0 is the code before any update (the iP-VAE's counts drawn from the
prior u0; zero for predictive coding and the LCA), step t the code after t
updates. So "t = 1000" needs ``steps = 1001``.

An :class:`InferenceModel` is built from its parameters, infers over T steps on a
batch of stimuli (:meth:`InferenceModel.infer`), and gives a copy of itself with
another dictionary (:meth:`InferenceModel.with_dictionary`), so that one
dictionary-learning loop (``learning.model_training``, built on
``learning.dictionary.hebbian_step``) fits every model. Optional per-model fits
besides Phi (a learned prior, say) go through :meth:`InferenceModel.fit_extras`.

Models; every result also gives the code decoded two ways, "from samples"
(:attr:`InferenceResult.sample_code`) and "from the mean / rate"
(:attr:`InferenceResult.mean_code`), so that every model can be scored alike. The
baselines are numpy only and live in :mod:`models.baselines`, one class per method:

========================  ========================================  ==================  ===================
class                     model (module)                            sample code         mean / rate code
========================  ========================================  ==================  ===================
``IPVAEInference``        iP-VAE, the Brian2 network (this module)  counts z_t          exp(u_t)
``GaussianIterativeVAE``  iG-VAE / iG-relu (``baselines.            f(z_t), z_t ~       f(mu_t)
                          gaussian_vae``)                           N(mu_t, s_t^2)
``PredictiveCoding``      Rao & Ballard 1999 (``baselines.          r_t (its own)       r_t
                          predictive_coding``)
``LCA``                   Rozell et al. 2008 (``baselines.lca``)    a_t (its own)       a_t
========================  ========================================  ==================  ===================

``states`` is the code a model trains on and reports by default: the counts for the
iP-VAE, f(mu_t) for the Gaussian models (``decode="mean"``, or f(z_t) with
``decode="sample"``), r_t and a_t for predictive coding and the LCA (deterministic
codes are their own samples and means).

References
----------
Vafaii, Galor & Yates (2025), "Brain-like variational inference", arXiv:2410.19315.
"""
from __future__ import annotations

import abc
import dataclasses
from typing import Callable

import numpy as np

from ipvae_brian.models.errors import ParameterError, SimulationInputError
from ipvae_brian.models.parameters import IPVAEParameters
from ipvae_brian.models.stimulus_array import check_stimulus_array


@dataclasses.dataclass(frozen=True, eq=False)
class InferenceResult:
    """The codes a model inferred for N stimuli at the recorded steps.

    Attributes
    ----------
    states : ndarray, shape (N, R, K), float64
        The code at each recorded step (R = T when every step is recorded).
    steps : ndarray, shape (R,), int
        The step index t of each recorded state (0 = before any update).
    Phi : ndarray, shape (M, K)
        The dictionary the reconstructions are made with.
    final : dict
        Model-specific internal state after the last step, e.g. the iG-VAE's posterior
        means and log-stds (``"mean"``, ``"log_std"``, each N x K); used by
        :meth:`InferenceModel.fit_extras`.
    samples : ndarray, shape (N, R, K), or None
        The model's sample code at the recorded steps where it differs from ``states``
        (the iG-VAE's f(z_t), z_t ~ N(mu_t, s_t^2)); None: ``states`` is the sample (the
        iP-VAE's counts; the deterministic codes of predictive coding and the LCA, which
        are their own samples).
    means : ndarray, shape (N, R, K), or None
        The mean (rate) code at the recorded steps: the iP-VAE's rates exp(u_t), the
        iG-VAE's f(mu_t); None: the code is deterministic, its own mean.
    """

    states: np.ndarray
    steps: np.ndarray
    Phi: np.ndarray
    final: dict = dataclasses.field(default_factory=dict)
    samples: np.ndarray | None = None
    means: np.ndarray | None = None

    @property
    def sample_code(self) -> np.ndarray:
        """The code decoded "from samples", shape (N, R, K): counts z_t (iP-VAE), f(z_t)
        (iG-VAE / iG-relu), the deterministic code itself (PC, LCA)."""
        return self.states if self.samples is None else self.samples

    @property
    def mean_code(self) -> np.ndarray:
        """The code decoded "from the mean / rate", shape (N, R, K): exp(u_t) (iP-VAE),
        f(mu_t) (iG-VAE / iG-relu), the deterministic code itself (PC, LCA)."""
        return self.states if self.means is None else self.means

    def part(self, first: int, stop: int) -> "InferenceResult":
        """The result of stimuli ``first .. stop - 1`` (``final`` left out)."""
        cut = (lambda a: None if a is None else a[first:stop])
        return InferenceResult(states=self.states[first:stop], steps=self.steps, Phi=self.Phi,
                               samples=cut(self.samples), means=cut(self.means))

    @property
    def reconstructions(self) -> np.ndarray:
        """Phi z_t for every stimulus and recorded step, shape (N, R, M) (computed on access)."""
        return self.states @ self.Phi.T

    def at(self, t: int) -> np.ndarray:
        """States at step t, shape (N, K).

        Raises
        ------
        SimulationInputError
            If step t was not recorded.
        """
        where = np.flatnonzero(self.steps == int(t))
        if where.size == 0:
            raise SimulationInputError(
                f"step t = {t} was not recorded (recorded: {_format_steps(self.steps)})")
        return self.states[:, where[0]]


def _format_steps(steps) -> str:
    steps = list(np.asarray(steps).tolist())
    return ", ".join(map(str, steps)) if len(steps) <= 12 else \
        f"{', '.join(map(str, steps[:5]))}, ..., {', '.join(map(str, steps[-3:]))}"


def check_dictionary(Phi, name: str = "Phi") -> np.ndarray:
    """Phi as a finite float64 (M, K) array; a clear :class:`ParameterError` otherwise."""
    try:
        Phi = np.array(Phi, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name} is not numeric: {exc}") from None
    if Phi.ndim != 2 or min(Phi.shape) < 1:
        raise ParameterError(f"{name} must be a 2-D array (M pixels x K latents), got shape "
                             f"{Phi.shape}")
    if not np.all(np.isfinite(Phi)):
        raise ParameterError(f"{name} contains {int(np.count_nonzero(~np.isfinite(Phi)))} NaN "
                             f"or infinite value(s)")
    Phi.setflags(write=False)
    return Phi


def lipschitz_constant(Phi: np.ndarray, sigma: float | np.ndarray = 1.0) -> float:
    """L = largest eigenvalue of Phi^T diag(1/sigma^2) Phi, the Lipschitz constant of the
    gradient of the squared error ||x - Phi a||^2 / (2 sigma^2) in a.

    A gradient step of size 1/L never increases a convex quadratic energy, and the
    linear iteration a <- a + h Phi^T (x - Phi a) / sigma^2 converges for 0 < h < 2/L
    (Beck & Teboulle 2009 use h = 1/L in ISTA). For an orthonormal Phi and sigma = 1, L = 1.
    """
    scaled = Phi / np.asarray(sigma, dtype=np.float64).reshape(-1, 1)
    # the largest eigenvalue of the smaller Gram matrix (M x M or K x K), by Lanczos
    # iteration to machine precision from a fixed start (deterministic). Why not a full
    # eigvalsh: with OpenBLAS threads on busy cores it took 0.7 s for 256 x 256 here
    # (0.013 s single-threaded); Lanczos needs only matrix-vector products.
    gram = scaled @ scaled.T if scaled.shape[0] <= scaled.shape[1] else scaled.T @ scaled
    if gram.shape[0] <= 32:
        return float(np.linalg.eigvalsh(gram)[-1])
    from scipy.sparse.linalg import eigsh
    return float(eigsh(gram, k=1, which="LA", v0=np.ones(gram.shape[0]), tol=0,
                       return_eigenvectors=False)[0])


class InferenceModel(abc.ABC):
    """Base class: a dictionary Phi and an iterative inference of the codes.

    Subclasses implement :meth:`_infer` (the dynamics, vectorised over the batch) and
    :meth:`with_dictionary`; this class validates the input and the steps to record.

    Attributes
    ----------
    name : str
        Short label used in tables and figures (e.g. ``"iG-VAE"``).
    Phi : ndarray, shape (M, K)
        The dictionary (read-only).
    sigma : float or ndarray, shape (M,)
        Likelihood standard deviation per pixel; the Hebbian dictionary step divides the
        prediction error by sigma^2.
    column_norm : float or None
        Norm every column of Phi is rescaled to after each dictionary step (None: free).
    learning_rate : float
        Default step size of the Hebbian dictionary step for this model.
    """

    name: str = "model"
    sigma: float | np.ndarray = 1.0
    column_norm: float | None = 1.0
    learning_rate: float = 0.1

    @property
    @abc.abstractmethod
    def Phi(self) -> np.ndarray:
        """The dictionary, shape (M, K)."""

    @property
    def n_pixels(self) -> int:
        """M, the number of pixels."""
        return self.Phi.shape[0]

    @property
    def n_latents(self) -> int:
        """K, the number of latents."""
        return self.Phi.shape[1]

    @abc.abstractmethod
    def with_dictionary(self, Phi: np.ndarray) -> "InferenceModel":
        """A copy of the model with dictionary ``Phi`` (same shape), everything else equal."""

    def fit_extras(self, x: np.ndarray, result: InferenceResult) -> "InferenceModel":
        """Fit the model's parameters other than Phi from one minibatch (default: none).

        Parameters
        ----------
        x : ndarray, shape (N, M)
        result : InferenceResult
            What :meth:`infer` returned for ``x``.
        """
        return self

    def describe(self) -> dict:
        """The model's settings as a JSON-serialisable dict (for tables and provenance)."""
        return {"model": self.name, "n_pixels": self.n_pixels, "n_latents": self.n_latents}

    def ran_away(self, result: InferenceResult) -> np.ndarray | None:
        """Boolean (N, R): stimuli whose code ran away at each recorded step (scores leave
        them out and count them); None: this model has no such state (default)."""
        return None

    def check_stimuli(self, x) -> np.ndarray:
        """Stimuli as a float64 (N, M) array; a clear :class:`SimulationInputError` otherwise."""
        return check_stimulus_array(x, self.n_pixels, expected="N x M (one image per row)",
                                    dictionary=f"the dictionary Phi of the {self.name}")

    @staticmethod
    def check_steps(steps, record=None) -> tuple[int, np.ndarray]:
        """Validate T and the steps to record; return (T, sorted unique record indices)."""
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise SimulationInputError(f"steps must be a positive integer, got {steps!r}")
        steps = int(steps)
        if record is None:
            return steps, np.arange(steps)
        record = np.unique(np.asarray(record, dtype=np.int64).ravel())
        if record.size == 0:
            raise SimulationInputError("no steps to record (record is empty)")
        if record[0] < 0 or record[-1] >= steps:
            raise SimulationInputError(
                f"steps to record must lie in 0 .. {steps - 1} (steps = {steps}), got "
                f"{_format_steps(record)}")
        return steps, record

    def infer(self, x, steps: int, seed: int | None = None, record=None,
              progress: Callable[[float], None] | None = None) -> InferenceResult:
        """Infer the codes of N stimuli over T steps.

        Parameters
        ----------
        x : ndarray, shape (N, M)
            Stimuli, one per row.
        steps : int
            T, the number of steps; states z_0 .. z_{T-1} are produced.
        seed : int, optional
            Seed of the model's random draws (ignored by deterministic models). The same
            seed gives the same result.
        record : sequence of int, optional
            Steps t (0 <= t < T) to keep; default all. Keeping only a few bounds the
            memory of long runs (N x R x K floats instead of N x T x K).
        progress : callable, optional
            Called with the number of stimuli done so far.

        Returns
        -------
        InferenceResult
            ``states`` (N, R, K), ``steps`` (R,), ``reconstructions`` (N, R, M).

        Raises
        ------
        SimulationInputError
            Bad shapes, NaN/inf stimuli, a non-positive T, steps to record out of range.
        ParameterError
            The dynamics diverged (non-finite states).
        """
        x = self.check_stimuli(x)
        steps, record = self.check_steps(steps, record)
        with np.errstate(over="ignore", invalid="ignore"):   # divergence is reported below
            out = self._infer(x, steps, record, seed, progress)
        states, final = out if isinstance(out, tuple) else (out, {})
        final = dict(final)
        samples, means = final.pop("sample_code", None), final.pop("mean_code", None)
        if not all(np.all(np.isfinite(a)) for a in (states, samples, means) if a is not None):
            raise ParameterError(
                f"the {self.name}'s inference diverged (non-finite states): its step size is "
                f"too large for this dictionary")
        return InferenceResult(states=states, steps=record, Phi=self.Phi, final=final,
                               samples=samples, means=means)

    @abc.abstractmethod
    def _infer(self, x: np.ndarray, steps: int, record: np.ndarray, seed: int | None,
               progress: Callable[[float], None] | None):
        """The dynamics for validated input: states (N, len(record), K) float64, or
        (states, final) with ``final`` a dict of internal end states; its optional keys
        ``"sample_code"`` and ``"mean_code"`` become :attr:`InferenceResult.samples` and
        :attr:`InferenceResult.means`."""

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v}" for k, v in self.describe().items() if k != "model")
        return f"{type(self).__name__}({settings})"


class IPVAEInference(InferenceModel):
    """The iP-VAE behind the common interface: runs the Brian2 network, never a numpy copy.

    States are the spike counts z_t ~ Poisson(exp(u_t)) of every bin (docs/model.md), as
    float64; step t = 0 holds the counts drawn from the prior log-rates u0. With
    ``rates`` (the default) the result's :attr:`InferenceResult.means` holds the rates
    exp(u_t) the counts of bin t were drawn from, so the code can be decoded from its
    samples (Phi z_t) and from its rate (Phi exp(u_t)). The potentials are not recorded
    from the network (recording u of every bin made a 1,001-bin evaluation about 5x
    slower here): given the counts the update is deterministic, so u_t is recomputed
    from u_0 = u0 and the counts by the numpy reference of the same update
    (:func:`models.reference.membrane_update`); it equals a recording of u to rounding
    (``tests/test_model_comparison.py``). Each call of
    :meth:`infer` runs :class:`models.network.IPVAENetwork` on its engine
    (:func:`models.engines.run_chunks`; u reset to u0 for every stimulus) and keeps the counts of the recorded bins, chunk by chunk, so long runs
    (T = 1,001) need memory for the recorded bins only.

    Parameters
    ----------
    params : IPVAEParameters
    engine : {"auto", "runtime", "standalone"}
        Brian2 engine (see :class:`models.config.RunConfig`); "auto" picks the
        compiled standalone program for >= 100,000 stimulus-bins.
    chunk_size : int, optional
        Stimuli per network run (default: the network's own).
    column_norm : float or None
        Column norm kept by the Hebbian dictionary step (default 0.5: the stable
        offline loop measured in ``docs/learning.md``).
    learning_rate : float
        Hebbian step size (default 0.01, same source).
    rates : bool
        Report the rates exp(u_t) as the mean code (default True; costs one K x K
        product per bin and stimulus, in numpy).

    Examples
    --------
    >>> model = IPVAEInference(IPVAEParameters.random(64, 32, seed=1))
    >>> model.infer(np.zeros((3, 64)), steps=4, seed=0).states.shape
    (3, 4, 32)
    """

    name = "iP-VAE"

    def __init__(self, params: IPVAEParameters, engine: str = "auto",
                 chunk_size: int | None = None, column_norm: float | None = 0.5,
                 learning_rate: float = 0.01, rates: bool = True):
        if not isinstance(params, IPVAEParameters):
            raise ParameterError(f"params must be IPVAEParameters, got {type(params).__name__}")
        self.params = params
        self.engine = engine
        self.chunk_size = chunk_size
        self.column_norm = column_norm
        self.learning_rate = float(learning_rate)
        self.rates = bool(rates)
        self.sigma = params.sigma
        #: engine used by the last call of :meth:`infer`, and why
        self.last_engine = None

    @property
    def Phi(self) -> np.ndarray:
        return self.params.Phi

    def with_dictionary(self, Phi) -> "IPVAEInference":
        Phi = check_dictionary(Phi)
        if Phi.shape != self.Phi.shape:
            raise ParameterError(f"the new dictionary has shape {Phi.shape}, expected "
                                 f"{self.Phi.shape}")
        return self.with_parameters(self.params.replace(Phi=Phi))

    def with_parameters(self, params: IPVAEParameters) -> "IPVAEInference":
        """A copy running other parameters (same engine and learning settings)."""
        return IPVAEInference(params, engine=self.engine, chunk_size=self.chunk_size,
                              column_norm=self.column_norm, learning_rate=self.learning_rate,
                              rates=self.rates)

    def describe(self) -> dict:
        p = self.params
        return {"model": self.name, "n_pixels": self.n_pixels, "n_latents": self.n_latents,
                "engine": self.engine, "eta": round(p.eta, 6),
                "median_bias": round(float(np.median(p.bias)), 6),
                "median_sigma": round(float(np.median(p.sigma)), 6),
                "median_u0": round(float(np.median(p.u0)), 6), "c_u": p.c_u, "c_du": p.c_du}

    def _infer(self, x, steps, record, seed, progress):
        from ipvae_brian.models.engines import run_chunks
        from ipvae_brian.models.network import IPVAENetwork
        network = IPVAENetwork(self.params, steps, engine=self.engine,
                               chunk_size=self.chunk_size)
        config = network.resolve(x.shape[0])
        self.last_engine = (config.engine, config.engine_reason)
        states = np.empty((x.shape[0], record.size, self.n_latents))
        rates = np.empty_like(states) if self.rates else None
        for chunk in run_chunks(network, x, seed=seed, progress=progress):
            n = chunk.counts.shape[0]
            states[chunk.first:chunk.first + n] = chunk.counts[:, record]
            if rates is not None:
                rates[chunk.first:chunk.first + n] = self.recorded_rates(
                    x[chunk.first:chunk.first + n], chunk.counts, record)
        return states, ({} if rates is None else {"mean_code": rates})

    def ran_away(self, result: InferenceResult) -> np.ndarray:
        """Boolean (N, R): a count of the recorded step reached the runaway threshold
        (``models.run_summary.runaway_threshold``: half the rate ceiling exp(c_u)), the
        criterion by which ``learning.alternation`` leaves stimuli out of its evaluation."""
        from ipvae_brian.models.run_summary import runaway_threshold
        return result.states.max(axis=2) >= runaway_threshold(self.params)

    def recorded_rates(self, x: np.ndarray, counts: np.ndarray, record) -> np.ndarray:
        """exp(u_t) at the steps ``record`` of stimuli ``x`` given all their counts.

        u_0 = u0 and u_{t+1} = membrane_update(u_t, z_t, Phi^T x / sigma^2) (the
        discrete-mode update, ``models.reference``), up to the last recorded step.

        Parameters
        ----------
        x : ndarray, shape (N, M)
        counts : ndarray, shape (N, T, K)
            The counts of every bin (T > max(record)).
        record : sequence of int

        Returns
        -------
        ndarray, shape (N, len(record), K)
        """
        from ipvae_brian.models.reference import membrane_update
        record = np.asarray(record)
        drive = self.params.feedforward_drive(x)
        u = np.broadcast_to(self.params.u0, drive.shape).copy()
        rates = np.empty((x.shape[0], record.size, self.n_latents))
        for t in range(int(record.max()) + 1):
            rates[:, record == t] = np.exp(u)[:, None]
            u = membrane_update(self.params, u, counts[:, t].astype(np.float64), drive)
        return rates
