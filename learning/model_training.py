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
import os
import time
from typing import Callable

import numpy as np

from ipvae_brian.learning.dictionary import hebbian_step, normalise_columns
from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.inference import InferenceModel
from ipvae_brian.models.parameters import IPVAEParameters


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

def baseline_models(n_pixels: int, n_latents: int, seed: int = 0) -> list:
    """The four baselines with their default settings, all starting from one random
    unit-norm dictionary (seeded): iG-VAE, iG-relu, predictive coding, LCA."""
    from ipvae_brian.models.baselines import LCA, GaussianIterativeVAE, PredictiveCoding
    Phi = random_dictionary(n_pixels, n_latents, 1.0, seed=seed)
    return [GaussianIterativeVAE(Phi), GaussianIterativeVAE(Phi, activation="relu"),
            PredictiveCoding(Phi), LCA(Phi)]


@dataclasses.dataclass
class IPVAESource:
    """Where the iP-VAE row's parameters come from.

    Attributes
    ----------
    model : IPVAEInference
        The network (Brian2) with the starting parameters.
    kind : {"shipped", "alternation", "generic"}
        Shipped learned parameters (no training), the iP-VAE's own learning
        (``learning.alternation``), or the generic Hebbian loop of this module.
    description : str
        One line for the command's output and the table's notes.
    """

    model: object
    kind: str
    description: str

    @property
    def needs_training(self) -> bool:
        return self.kind != "shipped"


def _provenance_summary(provenance: dict) -> str:
    """The training budget (or whatever is recorded) of a parameter file, on one line."""
    import json
    for key in ("budget", "training_budget", "training", "history_summary"):
        if key in provenance:
            value = provenance[key]
            return value if isinstance(value, str) else json.dumps(value)[:300]
    keys = [k for k in ("command", "epochs", "updates", "n_patches", "steps", "seed")
            if k in provenance]
    if keys:
        return ", ".join(f"{k} = {provenance[k]}" for k in keys)
    return "no training budget recorded in its provenance"


def ipvae_source(n_pixels: int, n_latents: int, seed: int = 0, engine: str = "auto",
                 shipped_path: str | None = None) -> IPVAESource:
    """Choose the iP-VAE's parameters for a comparison with K = ``n_latents``.

    1. The shipped learned parameters for ``n_pixels`` (``models.shipped``), if their K
       matches: used as they are, their training budget quoted from their provenance.
    2. Else the iP-VAE's own learning (:mod:`learning.alternation`) from the authors'
       random initialisation, with the comparison's budget.
    """
    from ipvae_brian.models.inference import IPVAEInference
    from ipvae_brian.models.shipped import default_parameters_path
    path = shipped_path if shipped_path is not None else default_parameters_path(n_pixels)
    note = ""
    if path is not None:
        params = IPVAEParameters.load(path)
        if params.n_latents == n_latents:
            return IPVAESource(IPVAEInference(params, engine=engine), "shipped",
                               f"shipped parameters {os.path.basename(path)} (trained: "
                               f"{_provenance_summary(params.provenance)}; on the whole train "
                               f"split, so its 'train images' are not held out)")
        note = (f"the shipped parameters {os.path.basename(path)} have K = "
                f"{params.n_latents}, not {n_latents}; ")
    params = IPVAEParameters.random(n_pixels, n_latents, seed=seed)
    return IPVAESource(IPVAEInference(params, engine=engine), "alternation",
                       note + "trained here with learning.alternation (the iP-VAE's own "
                       "offline learning of Phi, sigma, u0 and eta from recorded counts)")


def train_ipvae(source: IPVAESource, x: np.ndarray, budget: TrainingBudget, seed: int = 0,
                progress: Callable[[int], None] | None = None):
    """Train the iP-VAE as :func:`ipvae_source` decided; returns (model, history).

    Not shipped: :func:`learning.alternation.learn` with the budget's T, batch size
    and epochs (the test split of its per-epoch history is the last tenth of ``x``).
    """
    if source.kind == "shipped":
        return source.model, []
    from ipvae_brian.learning import alternation
    n = min(budget.n_patches, x.shape[0])
    held_out = max(2, n // 10)
    x_train, x_test = x[:n - held_out], x[n - held_out:n]
    rule = alternation.LearningRule(steps=budget.steps, batch_size=budget.batch_size)
    params = alternation.initial_parameters(x.shape[1], source.model.n_latents, rule, seed,
                                            x_train[:rule.probe_size])
    batches = max(1, x_train.shape[0] // rule.batch_size)
    report = None if progress is None else (lambda epoch, j: progress(epoch * batches + j))
    params = alternation.learn(params, x_train, x_test, rule, budget.epochs, seed,
                               alternation.brian_simulator(rule.steps,
                                                           engine=source.model.engine),
                               progress=report)
    return source.model.with_parameters(params), params.provenance["learning"]["history"]


def train_for_comparison(entry, x: np.ndarray, budget: TrainingBudget, seed: int = 0,
                         progress: Callable[[int], None] | None = None):
    """Train one comparison entry (an :class:`IPVAESource` or a baseline model).

    Returns
    -------
    model : InferenceModel
    note : str
        How it was trained (the budget, or the shipped file and its own budget).
    history : list of dict
    """
    if isinstance(entry, IPVAESource):
        if entry.kind == "shipped":
            return entry.model, entry.description, []
        model, history = train_ipvae(entry, x, budget, seed=seed, progress=progress)
        return model, f"{entry.description}; {budget.describe()}", history
    model, history = train_dictionary(entry, x, budget, seed=seed, progress=progress,
                                      log_every=max(1, budget.n_updates // 10))
    return model, budget.describe(), history
