"""The V1 experiments: protocols that show the network stimuli and measure V1 statistics.

Each experiment follows the protocol of the V1 studies in ``docs/ephys_reference.md``
at the scale of the model's input (square images of side sqrt(M), 16 x 16 for the
natural16 parameters), shows the stimuli to the network (:func:`base.run_block`:
recordings ``<out_dir>/<block>.h5``), computes its statistics with the per-statistic
modules of ``analysis`` (``orientation_tuning``, ``contrast_response``, ...), draws
a figure ``<out_dir>/<experiment>.png`` and returns an :class:`base.ExperimentResult`.

One module per experiment, each an :class:`base.Experiment` subclass with one
instance ``EXPERIMENT``:

=====================  ==========================  =====================================
name                   module                      measures
=====================  ==========================  =====================================
``orientation``        ``orientation``             circular variance, bandwidth, OSI
``f1f0``               ``f1f0``                    F1/F0 (simple / complex)
``contrast``           ``contrast``                Naka-Rushton fits
``size``               ``size``                    surround suppression
``cross-orientation``  ``cross_orientation``       suppression by an orthogonal mask
``rf``                 ``receptive_fields``        STAs, Gabor fits, STA against Phi
``moving-bar``         ``moving_bar``              direction selectivity
``natural``            ``natural``                 rates, sparseness, Fano, ISI, r_sc
=====================  ==========================  =====================================

The shared parts: ``context`` (:class:`~context.ExperimentContext`, the parameters'
loading), ``protocol`` (every size and stimulus parameter, default and quick),
``base`` (:func:`~base.run_block`, the results, the base class), ``geometry``
(image side, projective-field centres, apertures), ``preferred_gratings`` (the
experiments at each neuron's preferred grating) and ``report`` (results as text).

The numbers of neurons analysed are reported: responsive ones only, and in the
grating experiments after the orientation one at most ``max_neurons`` (64) of them,
drawn at random (seeded), which bounds the stimulus count.

This module is the registry. It imports an experiment's module on first use, so that
the command line reads :data:`EXPERIMENT_NAMES` without loading the analysis.

Examples
--------
>>> from ipvae_brian.analysis.experiments import EXPERIMENT_NAMES, get_experiment
>>> EXPERIMENT_NAMES[:3]
('orientation', 'f1f0', 'contrast')
>>> get_experiment("rf").name
'rf'
"""
from __future__ import annotations

import dataclasses
import importlib

#: Experiment names in the order ``compare-v1`` runs them (orientation first: the grating
#: experiments after it reuse its preferences).
EXPERIMENT_NAMES = ("orientation", "f1f0", "contrast", "size", "cross-orientation", "rf",
                    "moving-bar", "natural")

#: The module of each experiment.
EXPERIMENT_MODULES = {"orientation": "orientation", "f1f0": "f1f0", "contrast": "contrast",
                      "size": "size", "cross-orientation": "cross_orientation",
                      "rf": "receptive_fields", "moving-bar": "moving_bar",
                      "natural": "natural"}


def get_experiment(name: str):
    """The experiment called ``name`` (one of :data:`EXPERIMENT_NAMES`).

    Returns
    -------
    base.Experiment

    Raises
    ------
    SimulationInputError
        If no experiment has that name.
    """
    if name not in EXPERIMENT_MODULES:
        from ipvae_brian.models.errors import SimulationInputError
        raise SimulationInputError(f"unknown experiment {name!r}; choose one of "
                                   f"{', '.join(EXPERIMENT_NAMES)}")
    return importlib.import_module(f"{__name__}.{EXPERIMENT_MODULES[name]}").EXPERIMENT


def check_experiment(name: str, ctx) -> None:
    """Raise SimulationInputError if the experiment cannot run with these parameters.

    Parameters
    ----------
    name : str
    ctx : context.ExperimentContext
    """
    get_experiment(name).check(ctx)


def estimated_work(name: str, ctx) -> float:
    """Upper estimate of an experiment's simulation work in bin units (for progress bars).

    Includes the orientation grid for the grating experiments unless ``ctx.shared``
    already holds its preferences.
    """
    return get_experiment(name).estimated_work(ctx)


def planned_work(names, ctx) -> dict:
    """Check the experiments, then estimate each one's work when run in this order.

    The grating preferences are measured once: an experiment after ``orientation`` (or
    after any experiment that needs them) is estimated without the orientation grid.

    Parameters
    ----------
    names : sequence of str
    ctx : context.ExperimentContext

    Returns
    -------
    dict of str -> float
        Estimated work (bin units) of each experiment, in run order.

    Raises
    ------
    SimulationInputError
        If any of them cannot run with ``ctx``'s parameters (checked before any estimate).
    """
    from ipvae_brian.analysis.experiments.preferred_gratings import PreferredGratingExperiment
    experiments = [get_experiment(name) for name in names]
    for experiment in experiments:
        experiment.check(ctx)
    work = {}
    for experiment in experiments:
        work[experiment.name] = experiment.estimated_work(ctx)
        if experiment.name == "orientation" or isinstance(experiment,
                                                          PreferredGratingExperiment):
            ctx = _with_preferences(ctx)
    return work


def planned_outputs(names) -> list:
    """Names of the files the experiments ``names`` may write in their output folder
    (:meth:`base.Experiment.output_files`), each once, in run order."""
    return list(dict.fromkeys(file for name in names
                              for file in get_experiment(name).output_files()))


def _with_preferences(ctx):
    """A copy of the context that claims the grating preferences exist (for estimates)."""
    return dataclasses.replace(ctx, shared={**ctx.shared, "grating_preferences": None})


def run_experiment(name: str, ctx):
    """Run one experiment by name (see :data:`EXPERIMENT_NAMES`).

    Parameters
    ----------
    name : str
    ctx : context.ExperimentContext

    Returns
    -------
    base.ExperimentResult
    """
    experiment = get_experiment(name)
    experiment.check(ctx)
    return experiment.run(ctx)


def run_experiments(plan: dict, ctx, progress=None) -> dict:
    """Run experiments in order on one context, reporting progress per experiment.

    Parameters
    ----------
    plan : dict of str -> float
        Experiment names and their estimated work, in run order (:func:`planned_work`).
    ctx : context.ExperimentContext
        Shared by the experiments (the grating preferences are measured once).
    progress : context.ProgressReporter, optional
        Becomes ``ctx.progress``; told when each experiment starts (with its estimate)
        and finishes.

    Returns
    -------
    dict of str -> base.ExperimentResult
        In run order.
    """
    if progress is not None:
        ctx.progress = progress
    results = {}
    for name, work in plan.items():
        ctx.progress.start(name, work)
        results[name] = run_experiment(name, ctx)
        ctx.progress.finish()
    return results


def describe_experiment_run(name: str, ctx, work: float) -> str:
    """What ``ipvae experiment`` is about to do, for printing before it runs."""
    return (f"Experiment {name}: K = {ctx.n_latents} neurons, {ctx.side}x{ctx.side} "
            f"stimuli, {'quick' if ctx.quick else 'default'} protocol (analysis/experiments/), "
            f"engine {ctx.engine}, seed {ctx.seed}\n  parameters: {ctx.params_source}\n"
            f"  about {work:,.0f} simulated bins; output in {ctx.out_dir}")
