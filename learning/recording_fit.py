r"""One offline fit: descend the free energy of recorded counts (``learn --from``).

The card's "fits the dictionary weights from recorded spike counts": a recording
written by ``simulate --record u`` holds the stimuli x, the counts z_t and the
potentials u_t of every bin, and the parameters that made it. :func:`fit_recording`
takes Adam steps (:mod:`~ipvae_brian.learning.adam`) on the teacher-forced free
energy of those bins (:mod:`~ipvae_brian.learning.objective_gradient`), moving Phi,
log_sigma, u0, log_bias and log_lr together; the learning alternation
(:mod:`~ipvae_brian.learning.alternation`) calls the same function, one step per
simulated minibatch. :func:`fit_recording_file` reads a recording and fits it.

Conventions: t counts bins from the stimulus onset (bin 0 drawn from u0); the
objective is the mean of F_t over the recorded bins of every stimulus, in nats per
stimulus and bin, with the reconstruction in expectation under q_t = Pois(e^{u_t})
(``models.free_energy``). The clamps and beta are those of the recording's parameters
and are not fitted. Full batch: every step uses every recorded stimulus.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ipvae_brian.learning.adam import AdamState, adam_step, step_sizes
from ipvae_brian.learning.objective_gradient import (FITTED_PARAMETERS, Gradient,
                                                     objective_and_gradient)
from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.parameters import IPVAEParameters


@dataclasses.dataclass
class FitResult:
    """What :func:`fit_recording` returns.

    Attributes
    ----------
    params : IPVAEParameters
        The parameters after the last step.
    objectives : list of float
        J before each step, then after the last one (``iterations + 1`` values).
    """

    params: IPVAEParameters
    objectives: list


def fit_recording(params: IPVAEParameters, x: np.ndarray, counts: np.ndarray, u: np.ndarray,
                  state: AdamState | None = None, rates: dict | None = None,
                  iterations: int = 1, onset: bool = True, propagate: bool = False,
                  final_objective: bool = False) -> FitResult:
    """Adam steps on the teacher-forced free energy of one recording (module docstring).

    Parameters
    ----------
    params : IPVAEParameters
        Starting parameters (usually those that made the recording).
    x : ndarray, shape (N, M)
    counts, u : ndarray, shape (N, T, K)
        Recorded counts and the potentials they were drawn from.
    state : AdamState, optional
        Optimiser state, updated in place (a fresh one if None).
    rates : dict, optional
        Adam step sizes (:func:`~.adam.step_sizes`); default 1e-3 for Phi, 1e-2 for the rest.
    iterations : int
        Number of steps.
    onset : bool
        Whether bin 0 of the arrays is the stimulus onset
        (:func:`~.objective_gradient.objective_and_gradient`).
    propagate : bool
        Propagate the potentials through the recorded bins with the counts held fixed,
        instead of one-step teacher forcing
        (:func:`~.objective_gradient.objective_and_gradient`).
    final_objective : bool
        Also evaluate J after the last step (one more pass, without the gradient).

    Returns
    -------
    FitResult
    """
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) \
            or iterations < 1:
        raise SimulationInputError(f"iterations must be a positive integer, got {iterations!r}")
    state = state if state is not None else AdamState.zeros(params)
    rates = rates if rates is not None else step_sizes(1e-3, 1e-2)
    objectives = []
    for _ in range(iterations):
        value, grad = objective_and_gradient(params, x, counts, u, onset=onset,
                                             propagate=propagate)
        objectives.append(value)
        params = adam_step(params, grad, state, rates)
    if final_objective:
        objectives.append(objective_and_gradient(params, x, counts, u, gradient=False,
                                                 onset=onset, propagate=propagate)[0])
    return FitResult(params, objectives)


def fit_windows(params: IPVAEParameters, x: np.ndarray, windows: list, state: AdamState,
                rates: dict, propagate: bool = False) -> IPVAEParameters:
    """One Adam step on the mean objective of several windows of one recording.

    ``windows`` holds ``(counts, u, onset)`` triples of the same stimuli ``x``
    (:func:`~.objective_gradient.objective_and_gradient`); the step follows the mean of
    their gradients. :func:`fit_recording` is this with one window.
    """
    grads = [objective_and_gradient(params, x, c, v, onset=onset, propagate=propagate)[1]
             for c, v, onset in windows]
    mean = Gradient(**{name: np.mean([np.asarray(getattr(g, name)) for g in grads], axis=0)
                       for name in FITTED_PARAMETERS})
    return adam_step(params, mean, state, rates)


def read_fitting_data(path: str):
    """(params, x, counts, u) of a recording written by ``simulate --record u``.

    Raises
    ------
    SimulationInputError
        If the recording has no potentials u, was streamed (u not reset at onset),
        holds movies, or its shapes disagree with its parameters.
    """
    from ipvae_brian.models.recording import Recording
    with Recording.open(path) as rec:
        if rec.u is None:
            raise SimulationInputError(
                f"{path} holds no membrane potentials u: fitting needs them; record them "
                f"with `run_sim.py simulate --record u`")
        if bool(rec.attrs.get("stream", False)):
            raise SimulationInputError(
                f"{path} was simulated with --stream (u carried from one stimulus to the "
                f"next); fitting needs u reset to u0 at every onset")
        if str(rec.attrs.get("mode", "discrete")) != "discrete":
            raise SimulationInputError(
                f"{path} is a continuous-mode recording; fitting needs the counts per bin "
                f"of a discrete-mode one")
        x = np.asarray(rec.stimuli.x, dtype=np.float64)
        if x.ndim != 2:
            raise SimulationInputError(
                f"{path} holds movies (stimuli of shape {x.shape}); fitting needs static "
                f"stimuli, N x M")
        counts, u = rec.counts[:], rec.u[:]
        params = rec.params
    from ipvae_brian.learning.objective_gradient import check_recording_shapes
    check_recording_shapes(params, x, counts, u)
    return params, x, counts, u


def fit_recording_file(path: str, iterations: int, rates: dict | None = None,
                       propagate: bool = False, command_line: str = "") -> FitResult:
    """Read a recording (:func:`read_fitting_data`) and fit its parameters to it.

    The result's parameters carry in their provenance where they came from: the
    recording, the number of steps, and the objective before and after.
    """
    params, x, counts, u = read_fitting_data(path)
    result = fit_recording(params, x, counts, u, iterations=iterations, rates=rates,
                           propagate=propagate, final_objective=True)
    provenance = {**params.provenance,
                  "fitted_from_recording": {
                      "recording": str(path), "iterations": int(iterations),
                      "propagate": bool(propagate),
                      "objective_before": result.objectives[0],
                      "objective_after": result.objectives[-1],
                      "stimuli": int(x.shape[0]), "bins": int(counts.shape[1]),
                      "command_line": command_line}}
    result.params = result.params.replace(provenance=provenance)
    return result
