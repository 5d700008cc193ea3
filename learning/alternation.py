r"""Learning the iP-VAE offline: simulate -> record -> fit -> simulate, over minibatches.

The network (Brian2, :class:`models.network.IPVAENetwork`) infers; this module
only fits. One minibatch of training stimuli is simulated for T bins with the
current parameters, its spike counts are recorded, and the parameters are
fitted to the recording:

=============  ================================================================  ==============
parameter      rule                                                              how often
=============  ================================================================  ==============
Phi            one per-neuron Newton step of the free energy's reconstruction    every minibatch
               term (:func:`learning.dictionary.hebbian_step` with
               ``curvature``), of size epsilon / (1 + j // 250) after j minibatches, then columns
               rescaled to ``column_norm``
u0             log of the mean posterior rate over the later half of the bins,   every ``refit_every``
               limited below by ``u0_min`` (:mod:`learning.prior_rates`)         minibatches and at
                                                                                 the end of an epoch
sigma          residual variance per pixel (:mod:`learning.likelihood_noise`),   every ``refit_every``
               stimuli that ran away excluded                                    minibatches
eta            the stability rule kappa / max drive over a probe set             every ``eta_every``
               (:mod:`learning.step_size`)                                       minibatches and
                                                                                 after every refit
b              held at exp(-3), the authors' initial value (see below)           never
silent         a neuron that stopped firing gets a new column, the residual of   every ``refit_every``
neurons        a badly reconstructed stimulus (:func:`revive_silent`)            minibatches
=============  ================================================================  ==============

Why small steps, a fixed column norm and an eta rule (``docs/learning.md``):
one least-squares jump per epoch shrinks Phi, the rates explode, and the next
jump shrinks Phi further. A small step keeps the network near the regime its
counts were recorded in. The scale of Phi is fixed because with integer
counts it sets the rates: the expected squared error of a Poisson code is
||x - Phi lambda||^2 + sum_k ||Phi_k||^2 lambda_k, so the Poisson noise costs
``column_norm`` times the L1 norm of the code in unit-atom terms; a shorter
column means more, less noisy spikes (measured on natural16, numpy reference,
after 250 minibatches: column norm 0.2 gave test R^2 0.70 at t = 128, 0.1 gave
0.76). The step size is the largest the discrete map tolerates at the
high-contrast tail of the data (:mod:`learning.step_size`). The bias b is a
soft-threshold of the code (the fixed point of the mean dynamics is a
non-negative lasso with penalty b sigma^2 per count); the Poisson noise
already penalises the code's L1 norm with weight ||Phi_k||^2 / 2 per count, so
b sigma^2 near column_norm^2 / 2 is its natural scale, which exp(-3) ~ 0.05
with sigma^2 ~ 0.5 and column_norm 0.1 matches within a factor of ten;
larger b (0.2, 0.5) made the code silent (99% zeros) before the dictionary
formed.

Why a lower limit on u0: the fit is a finite-horizon estimate. A neuron whose
u0 is low climbs too slowly to fire within the T recorded bins, so its
measured rate, and then its u0, fall further; without a limit half of the
neurons ended at u0 near -5 (silent) and test R^2 at t = 128 fell from 0.81
after one epoch to 0.76 after four. The KL term is convex in u0, so limiting
the fit to [u0_min, c_u] gives the constrained optimum. With u0_min = -3 and
the dictionary step decaying as 1 / (1 + j // 250) (j: minibatches of 200), the
same numpy probe reached 0.57 at t = 16 and 0.82 at t = 128 after 500
minibatches and 0.66 and 0.86 after 750, still rising.

Everything is a function of the seed: the minibatch order of epoch e comes
from ``numpy.random.default_rng([seed, e])`` and the Poisson draws of minibatch
j of epoch e from the seed ``[seed, e, j]``, so a run resumed from its last
completed epoch continues exactly as an uninterrupted one.

References
----------
Vafaii, Galor & Yates (2025), arXiv:2410.19315 (the model and its free energy).
Olshausen & Field (1997), Vision Research 37:3311 (dictionary learning by small
gradient steps on inferred codes). Mairal, Bach, Ponce & Sapiro (2010), JMLR
11:19 (online dictionary learning; per-atom curvature A_kk of the block
coordinate update).
"""
from __future__ import annotations

import dataclasses
import time
from typing import Callable

import numpy as np

from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.free_energy import free_energy
from ipvae_brian.models.parameters import IPVAEParameters
from ipvae_brian.models.run_summary import fraction_zeros, r_squared, runaway_stimuli
from ipvae_brian.models.stimulus_array import check_stimulus_array
from ipvae_brian.learning.dictionary import hebbian_step, normalise_columns
from ipvae_brian.learning.likelihood_noise import log_sigma_from_variance
from ipvae_brian.learning.prior_rates import fit_u0
from ipvae_brian.learning.step_size import STABILITY_MARGIN, stable_step_size


@dataclasses.dataclass(frozen=True)
class LearningRule:
    """Settings of the offline learning rule (see the module docstring).

    Attributes
    ----------
    steps : int
        T, bins simulated per training stimulus.
    batch_size : int
        Stimuli per minibatch (one simulation and one dictionary step each).
    column_norm : float
        Norm of every dictionary column.
    dictionary_step : float
        epsilon of the per-neuron Newton step (fraction of the way to each
        column's least-squares optimum, given the others).
    curvature_memory : float
        Decay per minibatch of the running mean of z_k^2 (the per-neuron curvature).
    stability_margin : float
        kappa of the eta rule.
    log_bias : float
        log b, held fixed.
    refit_every : int
        Minibatches between refits of u0 and sigma.
    eta_every : int
        Minibatches between recomputations of eta.
    probe_size : int
        Training stimuli used by the eta rule.
    silent_rate : float
        A neuron whose mean count per bin (later half of the bins) stays below this
        between two refits is silent: it gets a new column (see :func:`revive_silent`).
    max_revived : int
        At most this many neurons are revived per refit (the most silent first).
    u0_min : float
        Lower limit of the fitted u0 (see :func:`learning.prior_rates.fit_u0`).
    decay_every : int
        The dictionary step after j minibatches is epsilon / (1 + j // decay_every)
        (counted from the start of learning, so it does not depend on the set's size).
    """

    steps: int = 32
    batch_size: int = 200
    column_norm: float = 0.1
    dictionary_step: float = 0.05
    curvature_memory: float = 0.9
    stability_margin: float = STABILITY_MARGIN
    log_bias: float = -3.0
    refit_every: int = 50
    eta_every: int = 10
    probe_size: int = 10_000
    silent_rate: float = 0.02
    max_revived: int = 25
    u0_min: float = -3.0
    decay_every: int = 250

    def __post_init__(self):
        for name in ("steps", "batch_size", "refit_every", "eta_every", "probe_size",
                     "decay_every"):
            if int(getattr(self, name)) < 1:
                raise SimulationInputError(f"{name} must be a positive integer, "
                                           f"got {getattr(self, name)}")
        if self.steps < 2:
            raise SimulationInputError(f"steps must be at least 2 (u0 is fitted on the later "
                                       f"half of the bins), got {self.steps}")
        if not self.column_norm > 0 or not self.dictionary_step > 0:
            raise SimulationInputError("column_norm and dictionary_step must be positive")
        if not 0 <= self.curvature_memory < 1:
            raise SimulationInputError(
                f"curvature_memory must be in [0, 1), got {self.curvature_memory}")


#: What a simulation of a minibatch returns: counts (B, T, K) and potentials u (B, T, K).
Simulator = Callable[[IPVAEParameters, np.ndarray, int], tuple]


def brian_simulator(steps: int, engine: str = "auto", threads: int = 1) -> Simulator:
    """A :data:`Simulator` running the Brian2 network (counts and u recorded).

    The network of one shape is built once per process (the standalone engine
    keeps its compiled program loaded), so each call only reruns it with the
    new parameters and stimuli. One thread by default: the counts depend on the
    thread count, and OpenMP threads that share their cores with other work
    spin at their barriers (``models.engines.standalone``).
    """
    from ipvae_brian.models.config import RunConfig
    from ipvae_brian.models.simulation import simulate as simulate_network

    def simulate(params: IPVAEParameters, x: np.ndarray, seed: int):
        config = RunConfig(steps=steps, record=("u",), engine=engine, chunk_size=x.shape[0],
                           threads=threads, workers=1)   # one chunk, in this process
        result = simulate_network(params, x, config, seed=seed)
        return result.counts, result.u
    return simulate


def check_training_set(x: np.ndarray, params: IPVAEParameters) -> np.ndarray:
    """Validate the training stimuli against the parameters; return them as float64."""
    if np.ndim(x) >= 1 and len(x) == 1:
        raise SimulationInputError("learning needs at least 2 training stimuli, got 1")
    return check_stimulus_array(x, params.n_pixels, expected="N x M images",
                                what="training stimuli")


@dataclasses.dataclass
class EpochRecord:
    """One line of the learning history (stored in the parameter file's provenance)."""

    epoch: int
    free_energy_train: float
    free_energy_test: float
    r2_test: float
    zeros_test: float
    r2_train: float
    zeros_train: float
    runaways_train: int
    runaways_test: int
    revived: int
    eta: float
    sigma_mean: float
    u0_median: float
    seconds: float


def _last_bin_quality(x, counts, params):
    """Mean R^2 of Phi z_{T-1} and the fraction of zero counts at the last bin."""
    r2 = r_squared(x, counts[:, -1].astype(np.float64) @ params.Phi.T)
    return float(np.nanmean(r2)), float(fraction_zeros(counts[:, -1]))


def run_epoch(params: IPVAEParameters, x_train: np.ndarray, rule: LearningRule,
              simulate: Simulator, seed: int, epoch: int, probe: np.ndarray,
              progress: Callable[[int], None] | None = None):
    """One pass over the training stimuli in minibatches; returns (params, statistics).

    Returns
    -------
    params : IPVAEParameters
        The parameters after the epoch.
    stats : dict
        ``free_energy`` (mean per stimulus and bin over the epoch's recorded bins,
        runaways excluded), ``r2``, ``zeros`` (last bin, mean over the epoch),
        ``runaways`` (count).
    """
    N = x_train.shape[0]
    order = np.random.default_rng([seed, epoch]).permutation(N)
    n_batches = N // rule.batch_size if N >= rule.batch_size else 1
    batch = min(rule.batch_size, N)
    half = rule.steps // 2
    curvature = None
    rate_sum = np.zeros(params.n_latents)
    residual_sum = np.zeros(params.n_pixels)
    n_rate = n_residual = 0
    energies, r2s, zeros = [], [], []
    runaways = revived = 0
    for j in range(n_batches):
        eta_due = False
        x = x_train[order[j * batch:(j + 1) * batch]]
        counts, u = simulate(params, x, int(np.random.SeedSequence([seed, epoch, j])
                                             .generate_state(1)[0]))
        bad = runaway_stimuli(counts, params)
        runaways += int(bad.sum())
        good = ~bad
        z = counts.astype(np.float64)
        if good.any():
            energies.append(float(np.nanmean(free_energy(params, x[good], counts[good],
                                                         u[good]))))
            r2, zf = _last_bin_quality(x[good], counts[good], params)
            r2s.append(r2)
            zeros.append(zf)
            residual = x[good][:, None, :] - z[good] @ params.Phi.T
            residual_sum += np.sum(residual ** 2, axis=(0, 1))
            n_residual += residual.shape[0] * residual.shape[1]
            rate_sum += z[good][:, half:].sum(axis=(0, 1))
            n_rate += int(good.sum()) * (rule.steps - half)
            z2 = np.mean(z[good] ** 2, axis=(0, 1))
            curvature = z2 if curvature is None else (
                rule.curvature_memory * curvature + (1 - rule.curvature_memory) * z2)
            done = epoch * n_batches + j
            Phi = hebbian_step(params.Phi, x[good], z[good],
                               rule.dictionary_step / (1 + done // rule.decay_every),
                               column_norm=rule.column_norm,
                               curvature=np.maximum(curvature, CURVATURE_FLOOR))
            params = params.replace(Phi=Phi)
        if ((j + 1) % rule.refit_every == 0 or j + 1 == n_batches) and n_rate:
            rates = rate_sum / n_rate
            params = params.replace(
                u0=fit_u0(rates, max(rule.u0_min, params.u_floor), params.c_u),
                log_sigma=log_sigma_from_variance(residual_sum / n_residual))
            params, n = revive_silent(params, rates, x[good], z[good][:, -1], rule)
            revived += n
            eta_due = True   # sigma and Phi changed: eta must follow at once
            rate_sum[:] = 0
            residual_sum[:] = 0
            n_rate = n_residual = 0
        if eta_due or (j + 1) % rule.eta_every == 0:
            params = params.replace(log_lr=np.log(stable_step_size(
                params, probe, margin=rule.stability_margin)))
        if progress is not None:
            progress(j + 1)
    stats = {"free_energy": float(np.mean(energies)) if energies else np.nan,
             "r2": float(np.mean(r2s)) if r2s else np.nan,
             "zeros": float(np.mean(zeros)) if zeros else np.nan,
             "runaways": runaways, "revived": revived}
    return params, stats


def revive_silent(params: IPVAEParameters, rates: np.ndarray, x: np.ndarray,
                  counts: np.ndarray, rule: LearningRule):
    """Give silent neurons new columns: the residuals of the worst-reconstructed stimuli.

    A neuron that never fires gets no Hebbian update and stays silent: its
    column is wasted. As in online dictionary learning (Mairal et al. 2010,
    section 3.4: unused atoms are replaced by training samples; scikit-learn's
    MiniBatchDictionaryLearning does the same), the column of each silent neuron
    (mean count below ``rule.silent_rate``) is replaced by the residual
    x - Phi z of one of the stimuli with the largest residual in the last
    minibatch, rescaled to the column norm, and its u0 is set to the median u0
    (so that it starts at a typical rate).

    Parameters
    ----------
    params : IPVAEParameters
    rates : ndarray, shape (K,)
        Mean count per bin of every neuron since the last refit.
    x : ndarray, shape (B, M)
        The last minibatch's stimuli.
    counts : ndarray, shape (B, K)
        Their counts in the last bin.
    rule : LearningRule

    Returns
    -------
    (IPVAEParameters, int)
        The new parameters and the number of neurons revived.
    """
    silent = np.flatnonzero(rates < rule.silent_rate)
    silent = silent[np.argsort(rates[silent], kind="stable")][:rule.max_revived]
    if silent.size == 0 or x.shape[0] == 0:
        return params, 0
    residual = x - counts @ params.Phi.T
    worst = np.argsort(-np.sum(residual ** 2, axis=1), kind="stable")
    columns = residual[np.resize(worst[:silent.size], silent.size)].T
    Phi = params.Phi.copy()
    Phi[:, silent] = normalise_columns(columns, rule.column_norm)
    u0 = params.u0.copy()
    u0[silent] = np.median(params.u0)
    return params.replace(Phi=Phi, u0=u0), int(silent.size)


#: Smallest per-neuron curvature mean(z_k^2) used to scale a column's step: a neuron that
#: fired once in a minibatch moves its column by at most epsilon / 0.01 times its gradient.
CURVATURE_FLOOR = 1e-2


def evaluate(params: IPVAEParameters, x: np.ndarray, simulate: Simulator, seed: int) -> dict:
    """Free energy, R^2 and zeros at the last bin on held-out stimuli (runaways excluded).

    Returns
    -------
    dict
        ``free_energy`` (nats per stimulus and bin), ``r2``, ``zeros``, ``runaways``.
    """
    counts, u = simulate(params, x, seed)
    bad = runaway_stimuli(counts, params)
    good = ~bad
    if not good.any():
        return {"free_energy": np.nan, "r2": np.nan, "zeros": np.nan, "runaways": int(bad.sum())}
    r2, zeros = _last_bin_quality(x[good], counts[good], params)
    energy = float(np.nanmean(free_energy(params, x[good], counts[good], u[good])))
    return {"free_energy": energy, "r2": r2, "zeros": zeros, "runaways": int(bad.sum())}


def initial_parameters(n_pixels: int, n_latents: int, rule: LearningRule, seed: int,
                       probe: np.ndarray) -> IPVAEParameters:
    """The authors' initialisation (:meth:`IPVAEParameters.random`) at the rule's column
    norm and bias, with eta from the stability rule."""
    params = IPVAEParameters.random(n_pixels, n_latents, seed=seed,
                                    column_norm=rule.column_norm)
    params = params.replace(log_bias=np.full(n_latents, rule.log_bias))
    return params.replace(log_lr=np.log(stable_step_size(params, probe,
                                                         margin=rule.stability_margin)))


def rule_from_provenance(provenance: dict) -> LearningRule:
    """The :class:`LearningRule` stored in a parameter file by :func:`learn`."""
    return LearningRule(**provenance["learning"]["rule"])


def learn(params: IPVAEParameters, x_train: np.ndarray, x_test: np.ndarray,
          rule: LearningRule, epochs: int, seed: int, simulate: Simulator,
          history: list | None = None, on_epoch: Callable | None = None,
          progress: Callable[[int, int], None] | None = None) -> IPVAEParameters:
    """Run epochs of the alternation from ``len(history)`` up to ``epochs``.

    Parameters
    ----------
    params : IPVAEParameters
        Starting parameters (the initialisation, or the last saved epoch).
    x_train, x_test : ndarray, shape (N, M)
    rule : LearningRule
    epochs : int
        Total number of epochs wanted (already completed ones are skipped).
    seed : int
    simulate : Simulator
        Usually :func:`brian_simulator`.
    history : list of dict, optional
        Completed epochs (from the parameter file when resuming).
    on_epoch : callable, optional
        Called as ``on_epoch(params, history)`` after every epoch (e.g. to save).
    progress : callable, optional
        Called as ``progress(epoch, minibatches_done)``.

    Returns
    -------
    IPVAEParameters
        With the history in ``provenance["learning"]``.
    """
    x_train = check_training_set(x_train, params)
    x_test = check_training_set(x_test, params)
    history = list(history or [])
    probe_rng = np.random.default_rng([seed, 2 ** 31])
    probe = x_train[probe_rng.choice(x_train.shape[0], min(rule.probe_size, x_train.shape[0]),
                                     replace=False)]
    for epoch in range(len(history), epochs):
        start = time.perf_counter()
        report = None if progress is None else (lambda j, _e=epoch: progress(_e, j))
        params, train = run_epoch(params, x_train, rule, simulate, seed, epoch, probe, report)
        test = evaluate(params, x_test, simulate,
                        int(np.random.SeedSequence([seed, epoch, 2 ** 31]).generate_state(1)[0]))
        record = EpochRecord(
            epoch=epoch + 1, free_energy_train=train["free_energy"],
            free_energy_test=test["free_energy"], r2_test=test["r2"], zeros_test=test["zeros"],
            r2_train=train["r2"], zeros_train=train["zeros"], runaways_train=train["runaways"],
            runaways_test=test["runaways"], revived=train["revived"], eta=params.eta,
            sigma_mean=float(np.mean(params.sigma)), u0_median=float(np.median(params.u0)),
            seconds=time.perf_counter() - start)
        history.append(dataclasses.asdict(record))
        provenance = dict(params.provenance)
        provenance["learning"] = {"rule": dataclasses.asdict(rule), "seed": int(seed),
                                  "train_stimuli": int(x_train.shape[0]),
                                  "test_stimuli": int(x_test.shape[0]),
                                  "epochs": len(history), "history": history}
        params = params.replace(provenance=provenance)
        if on_epoch is not None:
            on_epoch(params, history)
    return params
