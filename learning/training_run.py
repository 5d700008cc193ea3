"""A learning run as one call: data set, start or resume, epochs, a parameter file.

    python run_sim.py learn --stimuli natural16 --latents 512 --epochs 4 --out params.h5

:func:`run_learning` loads the train and test splits of a data set, starts from the
authors' initialisation (or resumes the parameter file a previous run left, after
checking that it was made with the same seed and rule), runs the alternation of
:mod:`ipvae_brian.learning.alternation` with the Brian2 network simulating every
minibatch, and saves the parameters after every epoch, so that rerunning the same
options resumes from the last completed epoch. Its history (one :class:`EpochRecord
<ipvae_brian.learning.alternation.EpochRecord>` per epoch) is stored in the file's
provenance; :func:`epoch_line` formats one record as a line of the epoch table.

The method and its settings: ``docs/learning.md``.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Callable

import numpy as np

from ipvae_brian.learning import alternation
from ipvae_brian.learning.adam import STATE_GROUP, AdamState, read_state
from ipvae_brian.models.atomic_file import check_output_path
from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.parameters import IPVAEParameters
from ipvae_brian.models.run_summary import LATE_READOUT
from ipvae_brian.stimuli import catalog
from ipvae_brian.stimuli.stimulus_set import StimulusSet

#: The data sets with train and test splits that learning can use.
TRAINING_DATA_SETS = ("natural16", "digits8")

#: The header of the epoch table (:func:`epoch_line`).
EPOCH_HEADER = (f"{'epoch':>5} {'F train':>9} {'F test':>9} {'R2 t16':>7} {'zeros':>6} "
                f"{'R2 last':>7} {'zeros':>6} {'spikes':>7} {'silent':>6} {'runaway':>7} "
                f"{'clamp':>5} {'eta':>6} {'b med':>6} {'u0 med':>6} {'s':>5}")


def epoch_line(record: dict) -> str:
    """One epoch of the history as a line of the table under :data:`EPOCH_HEADER`: free
    energy (train probe, test), test R^2 and %-zeros at the early bin and the last bin,
    mean spikes per stimulus and bin, the fraction of neurons that never fired, runaways,
    the clamp, eta, median b and u0, seconds.

    Examples
    --------
    >>> record = dict(epoch=1, objective_train=66.38, objective_test=66.91, r2_early=0.612,
    ...               zeros_early=0.853, r2_last=0.741, zeros_last=0.861, spikes=41.3,
    ...               never_fire=0.004, runaways_train=0, runaways_test=0, clamp=10.0,
    ...               eta=0.712, bias_median=0.05, u0_median=-4.1, seconds=51.2)
    >>> print(EPOCH_HEADER); print(epoch_line(record))
    epoch   F train    F test  R2 t16  zeros R2 last  zeros  spikes silent runaway clamp    eta  b med u0 med     s
        1     66.38     66.91   0.612  85.3%   0.741  86.1%    41.3   0.4%       0  10.0  0.712  0.050  -4.10    51
    """
    return (f"{record['epoch']:>5} {record['objective_train']:>9.2f} "
            f"{record['objective_test']:>9.2f} {record['r2_early']:>7.3f} "
            f"{100 * record['zeros_early']:>5.1f}% {record['r2_last']:>7.3f} "
            f"{100 * record['zeros_last']:>5.1f}% {record['spikes']:>7.1f} "
            f"{100 * record['never_fire']:>5.1f}% "
            f"{record['runaways_train'] + record['runaways_test']:>7} {record['clamp']:>5.1f} "
            f"{record['eta']:>6.3f} {record['bias_median']:>6.3f} {record['u0_median']:>6.2f} "
            f"{record['seconds']:>5.0f}")


def training_sets(spec: str, n_train: int | None, n_test: int | None,
                  seed: int) -> tuple[StimulusSet, StimulusSet]:
    """Train and test :class:`StimulusSet` of a data set with splits (``natural16``,
    ``digits8``), the first ``n_train`` and ``n_test`` of each (None: all)."""
    name = spec.split(":", 1)[0]
    if ":" in spec:
        raise SimulationInputError(
            f"--stimuli names a data set with train and test splits (e.g. {name}); learning "
            f"uses both, so give no split (got {spec!r})")
    if name not in TRAINING_DATA_SETS:
        raise SimulationInputError(f"--stimuli {spec!r}: learning needs a data set with train "
                                   f"and test splits; allowed: {', '.join(TRAINING_DATA_SETS)}")
    return (catalog.load(f"{name}:train", n=n_train, seed=seed),
            catalog.load(f"{name}:test", n=n_test, seed=seed))


@dataclasses.dataclass(frozen=True)
class LearningOptions:
    """What to learn and how (the options of ``run_sim.py learn``).

    Attributes
    ----------
    stimuli : str
        Data set with train and test splits (:data:`TRAINING_DATA_SETS`).
    latents : int
        K, the number of neurons.
    epochs : int
        Total passes over the train set (completed ones are not run again).
    out : str
        Parameter file, written after every epoch and resumed if it exists.
    seed : int
        Seed of the initialisation, the minibatch order and the Poisson draws.
    n_train, n_test : int, optional
        Use the first N stimuli of each split (None: all).
    steps, window, propagate, tile, search_every, batch_size, beta, dictionary_rate, parameter_rate, decay, clamp_start,
    clamp_final, release, column_norm
        Settings of the :class:`~ipvae_brian.learning.alternation.LearningRule`
        (:meth:`rule`), with its defaults.
    calibrate : bool
        After the last epoch, calibrate b and eta on held-out training stimuli
        (:func:`~.alternation.calibrate`); a finished run rerun with it is calibrated
        without learning again.
    validation : int
        Held-out stimuli of the calibration: the last ``validation`` of the train split,
        which must not overlap the first ``n_train``.
    noise_price : float, optional
        With ``calibrate``: b = ``noise_price`` x ||Phi_k / sigma||^2 / 2, given rather than
        searched (the knob of the late code's sparsity); only eta is then chosen.
    engine : {"auto", "runtime", "standalone"}
        Brian2 engine of the minibatch simulations.
    restart : bool
        Start again even if ``out`` holds an earlier run.
    command_line : str
        Stored in the parameter file's provenance.
    """

    stimuli: str = "natural16"
    latents: int = 512
    epochs: int = 4
    out: str = "params.h5"
    seed: int = 0
    n_train: int | None = None
    n_test: int | None = 1000
    steps: int = alternation.LearningRule.steps
    window: int = alternation.LearningRule.window
    propagate: bool = alternation.LearningRule.propagate
    tile: bool = alternation.LearningRule.tile
    search_every: int = alternation.LearningRule.search_every
    batch_size: int = alternation.LearningRule.batch_size
    beta: float = alternation.LearningRule.beta
    dictionary_rate: float = alternation.LearningRule.dictionary_rate
    parameter_rate: float = alternation.LearningRule.parameter_rate
    decay: int = alternation.LearningRule.decay
    clamp_start: float = alternation.LearningRule.clamp_start
    clamp_final: float = alternation.LearningRule.clamp_final
    release: int = alternation.LearningRule.release
    column_norm: float = alternation.LearningRule.column_norm
    calibrate: bool = False
    validation: int = 1000
    noise_price: float | None = None
    engine: str = "standalone"
    restart: bool = False
    command_line: str = ""

    def rule(self) -> alternation.LearningRule:
        """The learning rule of these options (checked)."""
        names = {f.name for f in dataclasses.fields(alternation.LearningRule)}
        return alternation.LearningRule(**{name: getattr(self, name) for name in names
                                           if hasattr(self, name)})


@dataclasses.dataclass
class LearningResult:
    """What :func:`run_learning` produced.

    Attributes
    ----------
    params : IPVAEParameters
        The learned parameters, with the history in ``provenance["learning"]``.
    path : str
        The parameter file written.
    image_shape : tuple of int
        Shape of one stimulus of the data set (to draw the dictionary's columns).
    """

    params: IPVAEParameters
    path: str
    image_shape: tuple

    @property
    def history(self) -> list:
        """One dict per completed epoch (:class:`~.alternation.EpochRecord`'s fields)."""
        return self.params.provenance["learning"]["history"]

    @property
    def dictionary_figure(self) -> str:
        """Where a figure of the learned dictionary belongs: beside the parameter file."""
        return os.path.splitext(self.path)[0] + "_dictionary.png"

    def describe(self, figure: str | None = None) -> str:
        """The closing line: epochs, the test numbers of the parameters written (the last
        epoch's, or the calibration's), the files written (the parameter file, and
        ``figure`` if one was drawn)."""
        last = self.history[-1]
        calibration = self.params.provenance["learning"].get("calibration")
        if calibration:      # the file holds the calibrated parameters
            test = calibration["test_after"]
            last = {"objective_test": test["objective"], "r2_last": test["r2_last"],
                    "zeros_last": test["zeros_last"]}
        written = f"{self.path} and {figure}" if figure else self.path
        return (f"Done: {len(self.history)} epochs{', calibrated' if calibration else ''}; "
                f"test free energy "
                f"{last['objective_test']:.2f} nats per stimulus and bin, R^2 at the last "
                f"training bin {last['r2_last']:.3f}, {100 * last['zeros_last']:.1f}% zeros. "
                f"Wrote {written}. Evaluate with: python run_sim.py evaluate --params "
                f"{self.path}")


def validation_set(options: LearningOptions, n_train: int):
    """The calibration's held-out stimuli: the last ``options.validation`` of the train split
    (stimuli n - V .. n - 1 of its n), which must come after the ``n_train`` learned from."""
    name = options.stimuli.split(":", 1)[0]
    full = catalog.load(f"{name}:train", seed=options.seed)
    if not 1 <= options.validation <= full.n_stimuli - n_train:
        raise SimulationInputError(
            f"--validation {options.validation}: the calibration holds out the last stimuli "
            f"of the {full.n_stimuli:,} in {name}:train, and {n_train:,} are learned from; "
            f"use --validation 1 to {full.n_stimuli - n_train:,} or a smaller --n-train")
    return full.x[full.n_stimuli - options.validation:]


def calibration_line(calibration: dict) -> str:
    """One line on the closing calibration (:func:`~.alternation.calibrate`): the chosen b and
    eta, the validation objective and the test code before and after.

    Examples
    --------
    >>> print(calibration_line({"noise_price_factor": 1.414, "eta_factor": 1.0, "bins": 129,
    ...     "objective_validation": [223.04, 221.78],
    ...     "test_before": {"objective": 237.7, "r2_early": 0.638, "zeros_early": 0.738,
    ...                     "r2_last": 0.733, "zeros_last": 0.748},
    ...     "test_after": {"objective": 236.1, "r2_early": 0.63, "zeros_early": 0.76,
    ...                    "r2_last": 0.75, "zeros_last": 0.797}}))
    calibrated: b = 1.414 x the Poisson-noise price, eta x 1; validation free energy 223.04 -> 221.78; test: free energy 237.70 -> 236.10, R^2 t16 0.638 -> 0.630 at 73.8% -> 76.0% zeros, t128 0.733 -> 0.750 at 74.8% -> 79.7%
    """
    c = calibration["noise_price_factor"]
    price = "b as fitted" if c is None else f"b = {c:.4g} x the Poisson-noise price" + (
        " (given)" if calibration.get("noise_price_fixed") else "")
    before, after = calibration["test_before"], calibration["test_after"]
    J = calibration["objective_validation"]
    return (f"calibrated: {price}, eta x {calibration['eta_factor']:.4g}; validation free "
            f"energy {J[0]:.2f} -> {J[1]:.2f}; test: free energy {before['objective']:.2f} -> "
            f"{after['objective']:.2f}, R^2 t16 {before['r2_early']:.3f} -> "
            f"{after['r2_early']:.3f} at {100 * before['zeros_early']:.1f}% -> "
            f"{100 * after['zeros_early']:.1f}% zeros, t{calibration['bins'] - 1} "
            f"{before['r2_last']:.3f} -> "
            f"{after['r2_last']:.3f} at {100 * before['zeros_last']:.1f}% -> "
            f"{100 * after['zeros_last']:.1f}%")


def _start_or_resume(options: LearningOptions, out: str, rule: alternation.LearningRule,
                     train: StimulusSet, report: Callable[[str], None]):
    """The starting parameters and the completed epochs' history (empty for a new run)."""
    if os.path.exists(out) and not options.restart:
        params = IPVAEParameters.load(out)
        learning = params.provenance.get("learning")
        if not learning or learning.get("seed") != options.seed or \
                alternation.rule_from_provenance(params.provenance) != rule:
            raise SimulationInputError(
                f"{out} exists but was not written by `learn` with the same seed and rule; "
                f"pass --restart to overwrite it, or another --out")
        if params.n_latents != options.latents or params.n_pixels != train.n_pixels:
            raise SimulationInputError(
                f"{out} holds K = {params.n_latents}, M = {params.n_pixels}; asked for K = "
                f"{options.latents}, M = {train.n_pixels}; pass --restart")
        history = learning["history"]
        if "calibration" in learning and options.epochs > len(history):
            raise SimulationInputError(
                f"{out} was calibrated after epoch {len(history)}; it cannot learn on to "
                f"epoch {options.epochs}: pass --restart, or another --out")
        state = read_state(out)
        if state is None:
            raise SimulationInputError(f"{out} holds no optimiser state ({STATE_GROUP}) to "
                                       f"resume from; pass --restart")
        report(f"Resuming {out} after epoch {len(history)} of {options.epochs}")
        return params, history, state
    params = alternation.initial_parameters(train.n_pixels, options.latents, rule,
                                            options.seed)
    params = params.replace(provenance={**params.provenance,
                                        "command_line": options.command_line,
                                        "stimuli": options.stimuli})
    return params, [], AdamState.zeros(params)


def run_learning(options: LearningOptions, report: Callable[[str], None] | None = None,
                 progress: Callable[[int, int], None] | None = None,
                 on_epoch: Callable[[dict, str | None], None] | None = None) -> LearningResult:
    """Learn the parameters from a data set's train split; save them after every epoch.

    Parameters
    ----------
    options : LearningOptions
    report : callable, optional
        Called with each line of news: resuming, what is learned, and, when resuming,
        :data:`EPOCH_HEADER` and the completed epochs' lines (:func:`epoch_line`).
    progress : callable, optional
        Called as ``progress(minibatches_done, minibatches_total)`` over the epochs still
        to run: once with 0 before the first minibatch, then after every minibatch.
    on_epoch : callable, optional
        Called as ``on_epoch(record, header)`` after every epoch, once its parameters are
        saved: ``record`` is its history entry (a dict, see :func:`epoch_line`) and
        ``header`` is :data:`EPOCH_HEADER` when the epoch table has not been shown yet
        (the first epoch of a new run), else None.

    Returns
    -------
    LearningResult

    Raises
    ------
    SimulationInputError
        Bad options, a data set without splits, or an ``out`` file that another run
        (other seed, rule or size) wrote, unless ``restart``.
    """
    report = report or (lambda message: None)
    if options.epochs < 1:
        raise SimulationInputError(f"--epochs must be a positive integer, got {options.epochs}")
    out = check_output_path(options.out)
    train, test = training_sets(options.stimuli, options.n_train, options.n_test,
                                options.seed)
    rule = options.rule()
    if options.noise_price is not None and not (options.calibrate and np.isfinite(
            options.noise_price) and options.noise_price > 0):
        raise SimulationInputError(
            f"--noise-price {options.noise_price}: it fixes the calibration's price of a "
            f"spike, so it needs --calibrate and a positive number")
    validation = validation_set(options, train.n_stimuli) if options.calibrate else None
    params, history, state = _start_or_resume(options, out, rule, train, report)
    n_batches = max(1, train.n_stimuli // rule.batch_size)
    search = (f"; a closed-loop search of b and eta every {rule.search_every} minibatches"
              if rule.search_every else "")
    report(f"Learning K = {options.latents} neurons on {train.name} ({train.n_stimuli:,} "
           f"train, {test.n_stimuli:,} test stimuli, {train.image_shape[0]}x"
           f"{train.image_shape[1]} pixels): {options.epochs} epochs of {n_batches} "
           f"minibatches x {rule.batch_size} stimuli x {rule.steps} bins, seed {options.seed}\n"
           f"  objective: the free energy with beta = {rule.beta} on windows of {rule.window} "
           f"bins ({'tiling all bins' if rule.tile else 'the onset and one later window'}), "
           f"counts held fixed, potentials "
           f"{'propagated' if rule.propagate else 'one update from the recorded ones'}; "
           f"Adam steps {rule.dictionary_rate} (Phi) and "
           f"{rule.parameter_rate} (log sigma, u0, log b, log eta), divided by 1 + j / "
           f"{rule.decay}; clamps from {rule.clamp_start} to {rule.clamp_final} over "
           f"{rule.release} minibatches"
           f"{search}\n"
           f"  the Brian2 network simulates every minibatch ({options.engine} engine); "
           f"parameters are saved to {out} after every epoch (rerun to resume)")
    if history:
        report(EPOCH_HEADER)
        for record in history:
            report(epoch_line(record))
    epochs_done = len(history)
    total = (options.epochs - epochs_done) * n_batches
    header = [None if history else EPOCH_HEADER]   # shown before the first new epoch's line
    if progress is not None:
        progress(0, total)

    def minibatch_done(epoch, done):
        if progress is not None:
            progress((epoch - epochs_done) * n_batches + done, total)

    def epoch_done(epoch_params, epoch_history, epoch_state):
        epoch_params.save(out, extra_groups={STATE_GROUP: epoch_state.arrays()})
        if on_epoch is not None:
            on_epoch(epoch_history[-1], header[0])
        header[0] = None

    simulate = alternation.brian_simulator(rule.steps, engine=options.engine)
    params = alternation.learn(params, train.x, test.x, rule, options.epochs, options.seed,
                               simulate, history=history, state=state, on_epoch=epoch_done,
                               progress=minibatch_done)
    if validation is not None and "calibration" not in params.provenance["learning"]:
        bins = max(rule.steps, LATE_READOUT + 1)
        report(f"Calibrating b and eta on {validation.shape[0]:,} held-out training stimuli "
               f"(the closed-loop free energy over {bins} bins, through t = {bins - 1})")
        params = alternation.calibrate(params, validation, test.x, rule, options.seed,
                                       alternation.brian_simulator(bins, options.engine),
                                       noise_price=options.noise_price)
        params.save(out, extra_groups={STATE_GROUP: state.arrays()})
        report(calibration_line(params.provenance["learning"]["calibration"]))
    return LearningResult(params=params, path=out, image_shape=train.image_shape)
