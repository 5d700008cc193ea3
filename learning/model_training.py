r"""Training any inference model's dictionary: infer on a minibatch, take one Hebbian step.

The same loop fits the baselines (``models.inference``: iG-VAE, iG-relu, predictive
coding, LCA); the iP-VAE's own learning, which also fits sigma, u0 and eta, is
:mod:`learning.alternation`, run with the same data and budget. For every minibatch
of B stimuli::

    result = model.infer(x_batch, T)                       # codes z_t, t = 0 .. T-1
    Phi   <- Phi + epsilon * mean_{n,t} diag(sigma^-2) (x_n - Phi z_nt) z_nt^T
    Phi   <- every column rescaled to the model's column norm
    model <- model.fit_extras(x_batch, result).with_dictionary(Phi)

(``learning.dictionary.hebbian_step``; the average over all T steps is the
reconstruction part of the free energy averaged over the sequence, as the
authors average F_t over t). This is alternating minimisation as in sparse-coding
dictionary learning (Olshausen & Field 1997), one small step per minibatch.

A :class:`TrainingBudget` says how much work a model gets: training patches x
epochs x T steps, in minibatches of B; ``n_updates`` dictionary steps.

References
----------
Olshausen, B. A. & Field, D. J. (1997). Sparse coding with an overcomplete basis set: a
strategy employed by V1? Vision Research 37:3311-3325.
Vafaii, Galor & Yates (2025), arXiv:2410.19315 (free energy averaged over T steps).
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Callable

import numpy as np

from ipvae_brian.learning.dictionary import hebbian_step, normalise_columns
from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.inference import InferenceModel


@dataclasses.dataclass(frozen=True)
class TrainingBudget:
    """How much training a model gets: ``n_patches`` x ``epochs`` x ``steps``.

    Parameters
    ----------
    n_patches : int
        Training stimuli per epoch.
    epochs : int
        Passes over them (reshuffled each epoch).
    steps : int
        T, inference steps per stimulus and update.
    batch_size : int
        B, stimuli per dictionary step (default 200, the authors' batch size).
    """

    n_patches: int
    epochs: int = 1
    steps: int = 16
    batch_size: int = 200

    def __post_init__(self):
        for name in ("n_patches", "epochs", "steps", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise SimulationInputError(f"the training budget's {name} must be a positive "
                                           f"integer, got {value!r}")

    @property
    def updates_per_epoch(self) -> int:
        return math.ceil(self.n_patches / self.batch_size)

    @property
    def n_updates(self) -> int:
        """Number of dictionary steps."""
        return self.updates_per_epoch * self.epochs

    @property
    def stimulus_steps(self) -> int:
        """Inference work: patches x epochs x T."""
        return self.n_patches * self.epochs * self.steps

    def describe(self) -> str:
        return (f"{self.n_patches:,} patches x {self.epochs} epoch{'s' * (self.epochs != 1)} "
                f"x T = {self.steps} ({self.n_updates:,} dictionary "
                f"step{'s' * (self.n_updates != 1)} of {self.batch_size} patches)")

    def as_dict(self) -> dict:
        return dataclasses.asdict(self) | {"n_updates": self.n_updates}


def random_dictionary(n_pixels: int, n_latents: int, column_norm: float = 1.0,
                      seed: int = 0) -> np.ndarray:
    """Gaussian random dictionary, columns rescaled to ``column_norm``, shape (M, K)."""
    rng = np.random.default_rng(seed)
    return normalise_columns(rng.standard_normal((n_pixels, n_latents)), column_norm)


def _batch_summary(x: np.ndarray, result) -> dict:
    """Mean R^2 and fraction of zeros of the last step of a minibatch, largest |code|."""
    last = result.states[:, -1]
    x_hat = last @ result.Phi.T
    residual = np.sum((x - x_hat) ** 2, axis=1)
    total = np.sum((x - x.mean(axis=1, keepdims=True)) ** 2, axis=1)
    ok = total > 0
    return {"r2_last": float(np.mean(1 - residual[ok] / total[ok])) if ok.any() else np.nan,
            "zeros_last": float(np.mean(last == 0)),
            "max_code": float(np.max(np.abs(result.states)))}


def train_dictionary(model: InferenceModel, x: np.ndarray, budget: TrainingBudget,
                     seed: int = 0, learning_rate: float | None = None,
                     progress: Callable[[int], None] | None = None,
                     log_every: int = 0):
    """Fit a model's dictionary by alternating inference and Hebbian steps.

    Parameters
    ----------
    model : InferenceModel
        Its current dictionary is the starting point; its ``column_norm``, ``sigma`` and
        ``learning_rate`` set the Hebbian step.
    x : ndarray, shape (N, M)
        Training stimuli; each epoch visits the first ``budget.n_patches`` of a fresh
        permutation of all N (N >= ``budget.n_patches``).
    budget : TrainingBudget
    seed : int
        Seeds the minibatch order and every minibatch's inference (seed of update i:
        ``SeedSequence([seed, i])``), so training is deterministic.
    learning_rate : float, optional
        Overrides the model's ``learning_rate``.
    progress : callable, optional
        Called with the number of dictionary steps done.
    log_every : int
        Record a history entry every this many updates (0: only the last).

    Returns
    -------
    model : InferenceModel
        The trained model.
    history : list of dict
        ``update``, ``r2_last`` and ``zeros_last`` (mean R^2 and fraction of zero codes
        at the last step of that minibatch), ``max_code`` (largest |code|: a run-away
        shows here) and ``seconds`` since the start.
    """
    x = model.check_stimuli(x)
    if x.shape[0] < budget.n_patches:
        raise SimulationInputError(
            f"the training budget asks for {budget.n_patches:,} patches per epoch but only "
            f"{x.shape[0]:,} training stimuli are available")
    lr = model.learning_rate if learning_rate is None else float(learning_rate)
    rng = np.random.default_rng(seed)
    history, update, start = [], 0, time.perf_counter()
    for _ in range(budget.epochs):
        order = rng.permutation(x.shape[0])[:budget.n_patches]
        for first in range(0, budget.n_patches, budget.batch_size):
            batch = x[order[first:first + budget.batch_size]]
            batch_seed = int(np.random.SeedSequence([seed, update]).generate_state(1)[0])
            result = model.infer(batch, budget.steps, seed=batch_seed)
            Phi = hebbian_step(model.Phi, batch, result.states, lr, sigma=model.sigma,
                               column_norm=model.column_norm)
            model = model.fit_extras(batch, result).with_dictionary(Phi)
            update += 1
            if (log_every and update % log_every == 0) or update == budget.n_updates:
                history.append({"update": update, **_batch_summary(batch, result),
                                "seconds": round(time.perf_counter() - start, 2)})
            if progress is not None:
                progress(update)
    return model, history


# --- the models of the comparison (compare-models: ipvae_brian.workflows.model_comparison) ---

#: Each sparse model's own sparsity knob: model -> (knob name, the values of the
#: rate-distortion sweep, the default value of the main table). iP-VAE: beta, the weight
#: of the KL term of its free energy (``learning.alternation``); iG-relu: b, the drive of
#: the posterior mean toward silence (``GaussianIterativeVAE(bias=b)``); LCA: lambda, the
#: soft threshold and L1 weight (``LCA(threshold=lambda)``). The iG-VAE and predictive
#: coding are dense (no knob).
SPARSITY_KNOBS = {"iP-VAE": ("beta", (0.25, 1.0, 4.0, 16.0), 1.0),
                  "iG-relu": ("b", (0.0, 0.003, 0.01, 0.03), 0.0),
                  "LCA": ("lambda", (0.25, 0.5, 1.0, 2.0), 1.0)}
#: The models of the comparison, in table order.
COMPARISON_MODELS = ("iP-VAE", "iG-VAE", "iG-relu", "PC", "LCA")


def baseline_model(name: str, Phi: np.ndarray, knob: float | None = None) -> InferenceModel:
    """One baseline with its default settings and dictionary ``Phi``; ``knob`` sets its
    sparsity knob (:data:`SPARSITY_KNOBS`; default: the knob's default)."""
    from ipvae_brian.models.baselines import LCA, GaussianIterativeVAE, PredictiveCoding
    if name in SPARSITY_KNOBS and knob is None:
        knob = SPARSITY_KNOBS[name][2]
    if name == "iG-VAE":
        return GaussianIterativeVAE(Phi)
    if name == "iG-relu":
        return GaussianIterativeVAE(Phi, activation="relu", bias=knob)
    if name == "PC":
        return PredictiveCoding(Phi)
    if name == "LCA":
        return LCA(Phi, threshold=knob)
    raise SimulationInputError(f"no baseline called {name!r}")


def baseline_models(n_pixels: int, n_latents: int, seed: int = 0) -> list:
    """The four baselines with their default settings, all starting from one random
    unit-norm dictionary (seeded): iG-VAE, iG-relu, predictive coding, LCA."""
    Phi = random_dictionary(n_pixels, n_latents, 1.0, seed=seed)
    return [baseline_model(name, Phi) for name in COMPARISON_MODELS[1:]]


def ipvae_rule(budget: TrainingBudget, beta: float, probe_size: int = 200):
    """The iP-VAE's :class:`learning.alternation.LearningRule` for a comparison budget.

    T, the window (min(16, T)), B and beta as given; the clamp release and the step
    decay scaled to the budget's ``n_updates`` minibatches as the long runs' defaults
    are to theirs (release over the first half, step sizes halved by the end:
    ``release = n / 2``, ``decay = n``); the end-of-epoch probe ``probe_size`` stimuli.
    """
    from ipvae_brian.learning.alternation import LearningRule
    n = budget.n_updates
    return LearningRule(steps=budget.steps, window=min(16, budget.steps),
                        batch_size=budget.batch_size, beta=float(beta),
                        release=max(1, n // 2), decay=max(1, n), probe_size=probe_size,
                        evaluate_at=min(16, budget.steps - 1))


def train_ipvae(n_latents: int, x: np.ndarray, budget: TrainingBudget, beta: float,
                x_history: np.ndarray, seed: int = 0, engine: str = "auto",
                progress: Callable[[int], None] | None = None):
    """Train the iP-VAE with the comparison's budget: :func:`learning.alternation.learn`
    from the authors' initialisation (:func:`~learning.alternation.initial_parameters`).

    Parameters
    ----------
    n_latents : int
    x : ndarray, shape (budget.n_patches, M)
        The training patches, exactly the budget's (the baselines get the same array).
    budget : TrainingBudget
        ``n_patches`` must be a multiple of ``batch_size``: the alternation makes
        ``n_patches // batch_size`` Adam steps per epoch, the baselines
        ``ceil(n_patches / batch_size)`` dictionary steps.
    beta : float
        The KL weight (the sparsity knob).
    x_history : ndarray
        Stimuli of the per-epoch history only (no influence on the parameters).
    seed : int
    engine : str
        Brian2 engine of the training simulations.
    progress : callable, optional
        Called with the number of minibatches done.

    Returns
    -------
    model : models.inference.IPVAEInference
        The trained network (rates recorded by its :meth:`infer`).
    history : list of dict
    minibatches : int
        Adam steps taken (equals ``budget.n_updates``; checked).
    """
    from ipvae_brian.learning import alternation
    from ipvae_brian.learning.adam import AdamState
    from ipvae_brian.models.inference import IPVAEInference
    if x.shape[0] != budget.n_patches or budget.n_patches % budget.batch_size:
        raise SimulationInputError(
            f"the iP-VAE trains on exactly the budget's patches in whole minibatches: got "
            f"{x.shape[0]:,} patches for a budget of {budget.n_patches:,} in minibatches of "
            f"{budget.batch_size}")
    rule = ipvae_rule(budget, beta, probe_size=min(200, x.shape[0]))
    params = alternation.initial_parameters(x.shape[1], n_latents, rule, seed)
    state = AdamState.zeros(params)
    per_epoch = budget.updates_per_epoch
    report = None if progress is None else (lambda epoch, j: progress(epoch * per_epoch + j))
    params = alternation.learn(params, x, x_history, rule, budget.epochs, seed,
                               alternation.brian_simulator(rule.steps, engine=engine),
                               state=state, progress=report)
    if state.steps != budget.n_updates:
        raise RuntimeError(f"the iP-VAE took {state.steps} Adam steps, the budget "
                           f"{budget.n_updates}")
    return (IPVAEInference(params, engine=engine), params.provenance["learning"]["history"],
            int(state.steps))


def describe_ipvae_rule(rule) -> str:
    """The iP-VAE's learning settings on one line (for the table's notes)."""
    return (f"learning.alternation, beta = {rule.beta:g}, window {rule.window} bins, clamps "
            f"{rule.clamp_start:g} -> {rule.clamp_final:g} over {rule.release} minibatches, "
            f"Adam steps {rule.dictionary_rate:g} (Phi) / {rule.parameter_rate:g} (others) "
            f"divided by 1 + j / {rule.decay}")
