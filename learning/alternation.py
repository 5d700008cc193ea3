r"""Learning the iP-VAE: simulate -> record -> descend the free energy -> simulate.

The network (Brian2, :class:`~ipvae_brian.models.network.IPVAENetwork`) infers; this
module fits. For every minibatch of B training stimuli:

1. the Brian2 network simulates T = ``steps`` bins with the current parameters and
   records the counts z_t and the potentials u_t (:func:`brian_simulator`);
2. two windows of ``window`` consecutive recorded bins, the first from the onset (it
   alone depends on u0) and one starting at a later bin drawn from the seed, are the
   data of one step of :func:`~ipvae_brian.learning.recording_fit.fit_windows`: the
   exact gradient of the free energy of those bins with the counts held fixed (teacher
   forcing, :mod:`~ipvae_brian.learning.objective_gradient`), averaged over the two
   windows, moves Phi, log_sigma, u0, log_bias and log_lr together by one Adam step
   (:mod:`~.adam`).

The objective is the free energy F_t of :mod:`ipvae_brian.models.free_energy` with its
reconstruction term in expectation under the Poisson posterior, weighted by beta
(``params.beta``, the sparsity knob: the KL to the previous bin's posterior, which
starts at the prior u0, is what a spike costs). Why the free energy and not the
authors' loss, and the measurements behind every default: ``docs/learning.md``.

Stability comes from the dynamics' own schedule, as in the authors' training
(``get_c`` in their ``main/layers.py``): the soft ceilings c_u and c_du start at
``clamp_start`` (at most e^2 = 7.4 counts per bin) and rise linearly to
``clamp_final`` over the first ``release`` minibatches, while eta, b, sigma and Phi
adapt to the dynamics they see. Windows drawn from all of the T bins (not only the
first 16) put the late bins, where a poorly tuned network runs away, into the
objective; the onset window weighs the transient that early read-outs see.

Every epoch ends with an evaluation on a fixed probe of training stimuli and on the
test stimuli, each simulated with the same seed every epoch (common random numbers):
the objective (mean F_t over all T bins, nats per stimulus and bin), R^2 of Phi z_t
and %-zeros at t = 16 and at the last bin, mean spikes per stimulus and bin, the
fraction of neurons that never fire, and the stimuli that ran away.

Everything is a function of the seed: the minibatch order of epoch e comes from
``numpy.random.default_rng([seed, e])``, the window and the Poisson draws of minibatch
j of epoch e from ``[seed, e, j]``, and the Adam state is stored with the parameters,
so a run resumed after its last completed epoch continues exactly as an uninterrupted
one.

References
----------
Vafaii, Galor & Yates (2025), arXiv:2410.19315 (the model, its free energy, the clamp
schedule). Williams & Zipser (1989), Neural Computation 1:270 (teacher forcing).
Kingma & Ba (2015), ICLR (Adam).
"""
from __future__ import annotations

import dataclasses
import time
from typing import Callable

import numpy as np

from ipvae_brian.learning.adam import AdamState, step_sizes
from ipvae_brian.learning.closed_loop_search import (calibrate_bias_and_step,
                                                      chosen_objective,
                                                      search_bias_and_step)
from ipvae_brian.learning.recording_fit import fit_windows
from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.free_energy import free_energy
from ipvae_brian.models.parameters import IPVAEParameters
from ipvae_brian.models.run_summary import (fraction_never_fired, fraction_zeros, r_squared,
                                            runaway_stimuli)
from ipvae_brian.models.stimulus_array import check_stimulus_array


@dataclasses.dataclass(frozen=True)
class LearningRule:
    """Settings of the learning rule (see the module docstring).

    Attributes
    ----------
    steps : int
        T, bins simulated per training stimulus.
    window : int
        Consecutive recorded bins in the objective of one gradient step.
    propagate : bool
        True: within a window the counts are held fixed and the potentials propagated
        from its first bin (the gradient follows theta through every later bin of the
        window); False: one-step teacher forcing (see ``docs/learning.md``).
    tile : bool
        True: the windows tile all T bins (0, window, 2 window, ...; T a multiple of
        ``window``), so one step descends the mean F_t over every recorded bin with the
        gradient truncated at each window's start (truncated back-propagation through
        time). False: the onset window and one later window drawn at random, which
        weighs the transient (the first ``window`` bins) as much as all later bins.
    search_every : int
        After every ``search_every`` minibatches, one closed-loop coordinate step on a
        common factor of b and on eta (:mod:`~.closed_loop_search`) on the probe (the
        first ``probe_size`` training stimuli); 0: never.
    batch_size : int
        B, stimuli per minibatch (one simulation and one Adam step each).
    beta : float
        Weight of the KL term of the free energy (stored as ``params.beta``).
    dictionary_rate, parameter_rate : float
        Adam step sizes of Phi and of the other parameters (:func:`~.adam.step_sizes`).
    decay : int
        The step sizes after j minibatches are divided by 1 + j / ``decay``.
    clamp_start, clamp_final : float
        c_u = c_du at the first minibatch, and after ``release`` minibatches.
    release : int
        Minibatches over which the clamps rise linearly.
    column_norm : float
        Norm of the columns of the initial (random) dictionary.
    probe_size : int
        Training stimuli of the end-of-epoch evaluation.
    evaluate_at : int
        The early bin t of the evaluation (the last bin is always reported).
    """

    steps: int = 64
    window: int = 16
    propagate: bool = True
    tile: bool = False
    search_every: int = 0
    batch_size: int = 100
    beta: float = 1.0
    dictionary_rate: float = 5e-4
    parameter_rate: float = 1e-2
    decay: int = 1000
    clamp_start: float = 2.0
    clamp_final: float = 10.0
    release: int = 500
    column_norm: float = 0.15
    probe_size: int = 1000
    evaluate_at: int = 16

    def __post_init__(self):
        for name in ("steps", "window", "batch_size", "decay", "release", "probe_size",
                     "search_every"):
            value, least = getattr(self, name), 0 if name == "search_every" else 1
            is_int = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
            if not is_int or value < least:
                what = "a positive integer" if least else "an integer >= 0"
                raise SimulationInputError(f"{name} must be {what}, got {value!r}")
        if not 2 <= self.window <= self.steps:
            raise SimulationInputError(f"window must be between 2 and steps ({self.steps}), "
                                       f"got {self.window}")
        if self.tile and self.steps % self.window:
            raise SimulationInputError(f"tiled windows need steps ({self.steps}) to be a "
                                       f"multiple of window ({self.window})")
        if not 0 <= self.evaluate_at < self.steps:
            raise SimulationInputError(f"evaluate_at must be a bin below steps ({self.steps}), "
                                       f"got {self.evaluate_at}")
        for name in ("beta",):
            if not np.isfinite(getattr(self, name)) or getattr(self, name) < 0:
                raise SimulationInputError(f"{name} must be finite and >= 0, "
                                           f"got {getattr(self, name)}")
        for name in ("dictionary_rate", "parameter_rate", "column_norm", "clamp_start"):
            if not np.isfinite(getattr(self, name)) or getattr(self, name) <= 0:
                raise SimulationInputError(f"{name} must be finite and positive, "
                                           f"got {getattr(self, name)}")
        if not self.clamp_start <= self.clamp_final:
            raise SimulationInputError(f"clamp_start ({self.clamp_start}) must not exceed "
                                       f"clamp_final ({self.clamp_final})")

    def clamp(self, minibatch: int) -> float:
        """c_u = c_du after ``minibatch`` minibatches (linear release, then constant)."""
        fraction = min(1.0, minibatch / self.release)
        return self.clamp_start + (self.clamp_final - self.clamp_start) * fraction

    def rates(self, minibatch: int) -> dict:
        """The Adam step sizes after ``minibatch`` minibatches."""
        scale = 1.0 / (1.0 + minibatch / self.decay)
        return step_sizes(self.dictionary_rate * scale, self.parameter_rate * scale)


#: What a simulation of a minibatch returns: counts (B, T, K) and potentials u (B, T, K).
Simulator = Callable[[IPVAEParameters, np.ndarray, int], tuple]


def brian_simulator(steps: int, engine: str = "auto", threads: int = 1) -> Simulator:
    """A :data:`Simulator` running the Brian2 network (counts and u recorded).

    The network of one shape is built once per process (the standalone engine
    keeps its compiled program loaded), so each call only reruns it with the
    new parameters and stimuli. One thread by default: OpenMP threads that share
    their cores with other work spin at their barriers
    (``models.engines.standalone``); the counts do not depend on it.
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
    """One line of the learning history (stored in the parameter file's provenance).

    ``objective_*`` is the mean free energy F_t over all T bins (nats per stimulus and
    bin); ``r2_early``/``zeros_early`` are at bin ``rule.evaluate_at``, ``r2_last``/
    ``zeros_last`` at the last bin; ``spikes`` is the mean count per stimulus and bin
    summed over neurons, ``never_fire`` the fraction of neurons without a spike in the
    whole evaluation; all on the test stimuli unless named ``_train``. Runaway stimuli
    are counted and excluded from the means.
    """

    epoch: int
    objective_train: float
    objective_test: float
    r2_early: float
    zeros_early: float
    r2_last: float
    zeros_last: float
    spikes: float
    never_fire: float
    r2_last_train: float
    runaways_train: int
    runaways_test: int
    clamp: float
    eta: float
    bias_median: float
    sigma_mean: float
    u0_median: float
    seconds: float
    bias_factor: float = 1.0
    eta_factor: float = 1.0


def _window(counts, u, start, length):
    """The recorded bins of one gradient step: (counts, u, onset) of the window of
    ``length`` bins from ``start``, with the bin before it as context when start > 0."""
    if start == 0:
        return counts[:, :length], u[:, :length], True
    return counts[:, start - 1:start + length], u[:, start - 1:start + length], False


def _window_starts(rule: LearningRule, rng: np.random.Generator) -> list:
    """The first bins of this minibatch's windows: all of them if ``rule.tile``, else the
    onset window and, if the recording is longer than one window, one more drawn
    uniformly from the later bins."""
    if rule.tile:
        return list(range(0, rule.steps, rule.window))
    if rule.steps < 2 * rule.window:
        return [0]
    return [0, int(rng.integers(rule.window, rule.steps - rule.window + 1))]


def _seed(*key) -> int:
    return int(np.random.SeedSequence(list(key)).generate_state(1)[0])


def run_epoch(params: IPVAEParameters, x_train: np.ndarray, rule: LearningRule,
              simulate: Simulator, state: AdamState, seed: int, epoch: int,
              progress: Callable[[int], None] | None = None) -> tuple:
    """One pass over the training stimuli in minibatches (module docstring).

    ``state`` (the Adam state, whose step count is the number of minibatches done since
    the start of learning) is updated in place. Returns the new parameters and the
    products of the factors of b and eta that the closed-loop searches of the epoch took
    (``rule.search_every``; 1 and 1 without a search).
    """
    factors = [1.0, 1.0]
    probe = x_train[:rule.probe_size]
    N = x_train.shape[0]
    order = np.random.default_rng([seed, epoch]).permutation(N)
    batch = min(rule.batch_size, N)
    for j in range(max(1, N // batch)):
        done = state.steps
        clamp = rule.clamp(done)
        params = params.replace(c_u=clamp, c_du=clamp,
                                u0=np.minimum(params.u0, clamp))
        x = x_train[order[j * batch:(j + 1) * batch]]
        counts, u = simulate(params, x, _seed(seed, epoch, j))
        keep = ~runaway_stimuli(counts, params)
        if keep.any():
            starts = _window_starts(rule, np.random.default_rng([seed, epoch, j, 1]))
            windows = [_window(counts[keep], u[keep], start, rule.window) for start in starts]
            params = fit_windows(params, x[keep], windows, state, rule.rates(done),
                                 propagate=rule.propagate)
        else:
            state.steps += 1       # the minibatch counts in the schedule even without a step
        if rule.search_every and state.steps % rule.search_every == 0:
            key = _seed(seed, 2 ** 31, 2, state.steps)
            params, bias_factor, step_factor, _ = search_bias_and_step(
                params, lambda p: closed_loop_objective(p, probe, simulate, key))
            factors = [factors[0] * bias_factor, factors[1] * step_factor]
        if progress is not None:
            progress(j + 1)
    return params, factors


def evaluate(params: IPVAEParameters, x: np.ndarray, simulate: Simulator, seed: int,
             early: int = 16) -> dict:
    """The free energy and the code's quality on stimuli ``x`` (see :class:`EpochRecord`).

    Returns
    -------
    dict
        ``objective``, ``r2_early``, ``zeros_early``, ``r2_last``, ``zeros_last``,
        ``spikes``, ``never_fire``, ``runaways``, and ``bins`` (T: the last bin is T - 1).
    """
    counts, u = simulate(params, x, seed)
    bad = runaway_stimuli(counts, params)
    good = ~bad
    out = {"runaways": int(bad.sum()), "bins": int(counts.shape[1]),
           "never_fire": fraction_never_fired(counts.sum(axis=(0, 1)))}
    if not good.any():
        return {**out, **{k: np.nan for k in ("objective", "r2_early", "zeros_early",
                                               "r2_last", "zeros_last", "spikes")}}
    x, counts, u = x[good], counts[good], u[good]
    quality = {}
    for name, t in (("early", min(early, counts.shape[1] - 1)), ("last", counts.shape[1] - 1)):
        z = counts[:, t].astype(np.float64)
        quality[f"r2_{name}"] = float(np.nanmean(r_squared(x, z @ params.Phi.T)))
        quality[f"zeros_{name}"] = float(fraction_zeros(counts[:, t]))
    return {**out, **quality,
            "objective": float(np.mean(free_energy(params, x, counts, u))),
            "spikes": float(counts.sum(axis=2).mean())}


def closed_loop_objective(params: IPVAEParameters, x: np.ndarray, simulate: Simulator,
                          seed: int) -> float:
    """J of the network that runs: the mean free energy over the stimuli ``x`` and all
    bins of the counts the network drew with ``seed``; +inf if a stimulus ran away."""
    result = evaluate(params, x, simulate, seed)
    if result["runaways"] or not np.isfinite(result["objective"]):
        return float("inf")
    return float(result["objective"])


def calibrate(params: IPVAEParameters, x_validation: np.ndarray, x_test: np.ndarray,
              rule: LearningRule, seed: int, simulate: Simulator,
              noise_price: float | None = None) -> IPVAEParameters:
    """The closing calibration of b and eta on held-out stimuli
    (:func:`~.closed_loop_search.calibrate_bias_and_step`), recorded in the provenance.

    J is the closed-loop free energy over every bin ``simulate`` runs on ``x_validation``,
    training stimuli that were in no minibatch, with one seed for every candidate. The
    test stimuli are evaluated before and after with the seed of the epochs' evaluation.
    ``learn --calibrate`` simulates through the late read-out of the evaluation (t =
    :data:`~ipvae_brian.models.run_summary.LATE_READOUT`), beyond the ``rule.steps`` bins
    trained on, so a candidate under which a stimulus runs away late is never chosen
    (its J is infinite). ``noise_price`` fixes c instead of searching it
    (:func:`~.closed_loop_search.calibrate_bias_and_step`).

    Returns
    -------
    IPVAEParameters
        With ``provenance["learning"]["calibration"]``: ``noise_price_factor`` (c, or None
        if the fitted b was kept), ``noise_price_fixed`` (True: c was given, not searched),
        ``eta_factor``, ``validation_stimuli``, ``bins``,
        ``objective_validation`` (before, after), ``test_before`` and ``test_after`` (the
        evaluation's dicts) and every candidate's J (``objectives``).
    """
    x_validation = check_training_set(x_validation, params)
    key = _seed(seed, 2 ** 31, 3)
    before = evaluate(params, x_test, simulate, _seed(seed, 2 ** 31, 1), rule.evaluate_at)
    calibrated, price, step, objectives = calibrate_bias_and_step(
        params, lambda p: closed_loop_objective(p, x_validation, simulate, key), noise_price)
    after = evaluate(calibrated, x_test, simulate, _seed(seed, 2 ** 31, 1), rule.evaluate_at)
    provenance = dict(params.provenance)
    provenance["learning"] = {**provenance["learning"], "calibration": {
        "noise_price_factor": price, "noise_price_fixed": noise_price is not None,
        "eta_factor": step,
        "validation_stimuli": int(x_validation.shape[0]), "bins": before["bins"],
        "objective_validation": [objectives["fitted"],
                                 chosen_objective(objectives, noise_price)],
        "test_before": before, "test_after": after, "objectives": objectives}}
    return calibrated.replace(provenance=provenance)


def initial_parameters(n_pixels: int, n_latents: int, rule: LearningRule,
                       seed: int) -> IPVAEParameters:
    """The authors' initialisation (:meth:`IPVAEParameters.random`: u0 ~ U[-6, -4],
    b = exp(-3), eta = 1, sigma = 1) with columns of norm ``rule.column_norm``, beta
    ``rule.beta`` and the clamps at ``rule.clamp_start``."""
    params = IPVAEParameters.random(n_pixels, n_latents, seed=seed,
                                    column_norm=rule.column_norm)
    return params.replace(beta=rule.beta, c_u=rule.clamp_start, c_du=rule.clamp_start)


def rule_from_provenance(provenance: dict) -> LearningRule:
    """The :class:`LearningRule` stored in a parameter file by :func:`learn`."""
    return LearningRule(**provenance["learning"]["rule"])


def learn(params: IPVAEParameters, x_train: np.ndarray, x_test: np.ndarray,
          rule: LearningRule, epochs: int, seed: int, simulate: Simulator,
          history: list | None = None, state: AdamState | None = None,
          on_epoch: Callable | None = None,
          progress: Callable[[int, int], None] | None = None) -> IPVAEParameters:
    """Run epochs of the alternation from ``len(history)`` up to ``epochs``.

    Parameters
    ----------
    params : IPVAEParameters
        Starting parameters (:func:`initial_parameters`, or the last saved epoch).
    x_train, x_test : ndarray, shape (N, M)
    rule : LearningRule
    epochs : int
        Total number of epochs wanted (already completed ones are skipped).
    seed : int
    simulate : Simulator
        Usually :func:`brian_simulator` (``rule.steps`` bins, u recorded).
    history : list of dict, optional
        Completed epochs (from the parameter file when resuming).
    state : AdamState, optional
        The optimiser's state when resuming (stored with the parameters); updated in place.
    on_epoch : callable, optional
        Called as ``on_epoch(params, history, state)`` after every epoch (e.g. to save).
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
    state = state if state is not None else AdamState.zeros(params)
    probe = x_train[:rule.probe_size]
    for epoch in range(len(history), epochs):
        start = time.perf_counter()
        report = None if progress is None else (lambda j, _e=epoch: progress(_e, j))
        params, factors = run_epoch(params, x_train, rule, simulate, state, seed, epoch,
                                    report)
        train = evaluate(params, probe, simulate, _seed(seed, 2 ** 31, 0), rule.evaluate_at)
        test = evaluate(params, x_test, simulate, _seed(seed, 2 ** 31, 1), rule.evaluate_at)
        record = EpochRecord(
            epoch=epoch + 1, objective_train=train["objective"],
            objective_test=test["objective"], r2_early=test["r2_early"],
            zeros_early=test["zeros_early"], r2_last=test["r2_last"],
            zeros_last=test["zeros_last"], spikes=test["spikes"],
            never_fire=test["never_fire"], r2_last_train=train["r2_last"],
            runaways_train=train["runaways"], runaways_test=test["runaways"],
            clamp=params.c_u, eta=params.eta, bias_median=float(np.median(params.bias)),
            sigma_mean=float(np.mean(params.sigma)), u0_median=float(np.median(params.u0)),
            seconds=time.perf_counter() - start, bias_factor=factors[0],
            eta_factor=factors[1])
        history.append(dataclasses.asdict(record))
        provenance = dict(params.provenance)
        provenance["learning"] = {"rule": dataclasses.asdict(rule), "seed": int(seed),
                                  "train_stimuli": int(x_train.shape[0]),
                                  "test_stimuli": int(x_test.shape[0]),
                                  "epochs": len(history), "history": history}
        params = params.replace(provenance=provenance)
        if on_epoch is not None:
            on_epoch(params, history, state)
    return params
