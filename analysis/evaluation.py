"""Evaluate a parameter set: R^2 and %-zeros against the bin t, beside the paper's values.

    python run_sim.py evaluate --params params.h5 --stimuli natural16:test --steps 129

:func:`run_evaluation` runs the network (discrete mode, exact Poisson counts) on a stimulus
set and measures, at every bin t, the mean R^2 of the reconstruction Phi z_t, the
fraction of zero counts and the mean count (:class:`~.inference_quality.QualityByBin`;
t counts membrane updates, see ``docs/model.md``), and how many of the dictionary's
columns are localised. With a labelled test split, :func:`readout_versus_pixels` then
scores a linear read-out of the counts summed over bins against raw pixels
(:mod:`.linear_readout`).

References
----------
Vafaii, Galor & Yates (2025), "Brain-like variational inference", arXiv:2410.19315
(R^2 and %-zeros against t, Fig. 3; the published values in
:data:`~.inference_quality.PAPER_IPVAE`; the linear read-out of the code).
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from typing import Callable

import numpy as np

from ipvae_brian.analysis.dictionary_structure import fraction_localised
from ipvae_brian.analysis.inference_quality import (PAPER_BINS, PAPER_IPVAE, QualityByBin,
                                                    plot_quality_by_bin)
from ipvae_brian.analysis.linear_readout import readout_accuracy
from ipvae_brian.models.atomic_file import check_output_path
from ipvae_brian.models.config import RunConfig
from ipvae_brian.models.engines import run_chunks, simulate_counts
from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.network import IPVAENetwork
from ipvae_brian.models.parameters import IPVAEParameters
from ipvae_brian.models.run_summary import LATE_READOUT, fraction_never_fired
from ipvae_brian.models.shipped import resolve_parameters
from ipvae_brian.stimuli import catalog
from ipvae_brian.stimuli.stimulus_set import StimulusSet


@dataclasses.dataclass(frozen=True)
class EvaluationOptions:
    """What to evaluate and how (the options of ``run_sim.py evaluate``).

    Attributes
    ----------
    params : str, optional
        Parameter file; None: the shipped parameters for the stimulus size.
    stimuli : str
        Stimulus spec (:func:`ipvae_brian.stimuli.catalog.load`).
    n : int, optional
        Use only the first N stimuli.
    steps : int
        Bins per stimulus (129 reaches t = 128).
    at : tuple of int, optional
        Bins to list besides :data:`~.inference_quality.PAPER_BINS`.
    seed : int
        Seed of the Poisson draws.
    engine : {"auto", "runtime", "standalone"}
    figure : str, optional
        Also draw R^2 and %-zeros against t into this file.
    readout : bool
        Keep the counts summed over bins for :func:`readout_versus_pixels` (needs the
        test split of a labelled data set, e.g. ``digits8:test``).
    """

    params: str | None = None
    stimuli: str = "natural16:test"
    n: int | None = None
    steps: int = LATE_READOUT + 1
    at: tuple | None = None
    seed: int = 0
    engine: str = "auto"
    figure: str | None = None
    readout: bool = False

    @classmethod
    def from_dict(cls, values: dict) -> "EvaluationOptions":
        """The options named in ``values`` (e.g. ``vars(args)``); other keys are ignored."""
        return cls(**{f.name: values[f.name] for f in dataclasses.fields(cls) if f.name in values})


@dataclasses.dataclass
class Evaluation:
    """What :func:`run_evaluation` measured.

    Attributes
    ----------
    rows : list of dict
        One per listed bin: ``t``, ``r2``, ``zeros`` (fraction), ``rate`` (mean count).
    localised : float
        Fraction of the dictionary's columns that are localised
        (:func:`~.dictionary_structure.fraction_localised`).
    seconds : float
        Wall time of the simulation and the measurements.
    figure : str or None
        The figure written, if one was asked for.
    network : IPVAENetwork
        The network evaluated (its engine resolved).
    stimuli : StimulusSet
    summed_counts : ndarray, shape (N, K), or None
        Counts summed over bins (with ``readout``): the read-out's test features.
    seed : int
    spikes_per_neuron : ndarray, shape (K,)
        Every neuron's spikes summed over all stimuli and bins.
    """

    rows: list
    localised: float
    seconds: float
    figure: str | None
    network: IPVAENetwork
    stimuli: StimulusSet
    summed_counts: np.ndarray | None
    seed: int
    spikes_per_neuron: np.ndarray

    @property
    def params(self) -> IPVAEParameters:
        return self.network.params

    @property
    def never_fire(self) -> float:
        """Fraction of the neurons without a single spike in the whole evaluation."""
        return fraction_never_fired(self.spikes_per_neuron)

    def silence_line(self) -> str:
        """How many neurons never fired, over how many stimuli and bins."""
        silent = int(np.sum(self.spikes_per_neuron == 0))
        return (f"{silent} of {self.spikes_per_neuron.size} neurons ({100 * self.never_fire:.1f}%) "
                f"never fired on the {self.stimuli.n_stimuli:,} stimuli x "
                f"{self.network.steps} bins")

    def table(self) -> str:
        """R^2, %-zeros, mean count per neuron (rate) and per stimulus (spikes) at each listed
        bin, beside the paper's R^2 / %-zeros (one line each)."""
        K = self.params.n_latents
        lines = [f"{'t':>5} {'R^2':>7} {'zeros':>7} {'rate':>7} {'spikes':>8}   "
                 f"paper (R^2 / zeros)"]
        for row in self.rows:
            ref = PAPER_IPVAE.get(row["t"])
            ref_text = f"{ref[0]:.2f} / {100 * ref[1]:.0f}%" if ref else ""
            lines.append(f"{row['t']:>5} {row['r2']:>7.3f} {100 * row['zeros']:>6.1f}% "
                         f"{row['rate']:>7.3f} {K * row['rate']:>8.1f}   {ref_text}")
        return "\n".join(lines)

    def dictionary_line(self) -> str:
        """The localised fraction of the dictionary and the time taken."""
        return (f"{100 * self.localised:.1f}% of the dictionary's columns are localised "
                f"(top 20% of pixels hold >= 70% of the squared weight). "
                f"{self.seconds:.0f} s.")


def _no_progress_bar(total: int):
    return contextlib.nullcontext(None)


def run_evaluation(options: EvaluationOptions, report: Callable[[str], None] | None = None,
             progress_bar: Callable | None = None) -> Evaluation:
    """Run the network on a stimulus set; R^2, zeros and rate at the listed bins.

    Parameters
    ----------
    options : EvaluationOptions
    report : callable, optional
        Called with each line of news (a note on the parameters, what is evaluated).
    progress_bar : callable, optional
        ``progress_bar(n_stimuli)`` -> a context manager around the simulation whose value
        has ``update_to(stimuli_done)`` (e.g. :class:`ipvae_brian.cli.progress.progress_bar`).

    Returns
    -------
    Evaluation

    Raises
    ------
    SimulationInputError
        Bad steps, output path, stimuli or parameters, or ``readout`` without the test
        split of a labelled data set.
    """
    report = report or (lambda message: None)
    if options.steps < 1:
        raise SimulationInputError(f"--steps must be a positive integer, got {options.steps}")
    figure = check_output_path(options.figure) if options.figure else None
    stimuli = catalog.load(options.stimuli, n=options.n, seed=options.seed)
    params, source, note = resolve_parameters(stimuli.n_pixels, options.params, False, 512,
                                              options.seed)
    if note:
        report(note)
    if stimuli.n_pixels != params.n_pixels:
        raise SimulationInputError(
            f"the stimuli have {stimuli.n_pixels} pixels but the dictionary Phi has "
            f"{params.n_pixels} rows (M) (parameters: {source}): they must match")
    if options.readout and (stimuli.labels is None or not stimuli.name.endswith(":test")):
        raise SimulationInputError(f"--readout needs the test split of a labelled data set "
                                   f"(e.g. digits8:test), got {stimuli.name!r}")
    net = IPVAENetwork(params, RunConfig(steps=options.steps, movie=stimuli.is_movie,
                                         engine=options.engine))
    net.check_stimuli(stimuli.x)
    config = net.resolve(stimuli.n_stimuli)
    report(f"Evaluating {source} on {stimuli.n_stimuli:,} stimuli ({stimuli.name}) x "
           f"{options.steps} bins, K = {params.n_latents}, discrete mode, exact Poisson "
           f"counts, seed {options.seed}; engine {config.engine} ({config.engine_reason}); "
           f"lateral term {config.lateral} ({config.lateral_reason})")
    quality = QualityByBin(params.Phi, options.steps)
    summed = []       # counts summed over bins, the read-out's features (with readout)
    per_neuron = np.zeros(params.n_latents)
    start = time.perf_counter()
    with (progress_bar or _no_progress_bar)(stimuli.n_stimuli) as bar:
        for chunk in run_chunks(net, stimuli.x, seed=options.seed,
                                progress=None if bar is None else bar.update_to):
            quality.add(stimuli.x[chunk.first:chunk.first + chunk.counts.shape[0]],
                        chunk.counts)
            per_neuron += chunk.counts.sum(axis=(0, 1), dtype=float)
            if options.readout:
                summed.append(chunk.counts.sum(axis=1, dtype=float))
    rows = quality.table(sorted(set(PAPER_BINS) | set(options.at or ())))
    localised = fraction_localised(params.Phi)
    seconds = time.perf_counter() - start
    if figure:
        plot_quality_by_bin(quality.r2, quality.zeros, figure,
                            title=f"{os.path.basename(str(source))} on {stimuli.name}")
    return Evaluation(rows=rows, localised=localised, seconds=seconds, figure=figure,
                      network=net, stimuli=stimuli,
                      summed_counts=np.concatenate(summed) if options.readout else None,
                      seed=options.seed, spikes_per_neuron=per_neuron)


@dataclasses.dataclass(frozen=True)
class ReadoutComparison:
    """Linear read-out accuracy of the code and of raw pixels (:func:`readout_versus_pixels`).

    Attributes
    ----------
    data_set : str
        The labelled data set (e.g. ``digits8``).
    n_train, n_test : int
        Stimuli the classifier was trained and scored on.
    steps : int
        Bins the counts were summed over.
    counts : float
        Test accuracy on the counts summed over bins.
    pixels : float
        Test accuracy on the raw pixels.
    """

    data_set: str
    n_train: int
    n_test: int
    steps: int
    counts: float
    pixels: float

    def describe(self) -> str:
        return (f"Linear read-out (logistic regression, trained on {self.n_train:,} "
                f"{self.data_set} train stimuli, scored on {self.n_test:,} test stimuli): "
                f"counts summed over {self.steps} bins {100 * self.counts:.1f}%, raw pixels "
                f"{100 * self.pixels:.1f}%")


def readout_versus_pixels(evaluation: Evaluation) -> ReadoutComparison:
    """Logistic read-out of the counts summed over bins vs raw pixels (train -> test split).

    The evaluated stimuli are the test split (:func:`run_evaluation` with ``readout``);
    the train split of the same data set runs through the same network and seed, and a
    logistic regression (:func:`~.linear_readout.readout_accuracy`) trained on it is
    scored on the evaluated stimuli, once on their summed counts and once on their pixels.
    """
    if evaluation.summed_counts is None:
        raise SimulationInputError("the read-out needs an evaluation run with readout=True")
    test = evaluation.stimuli
    name = test.name.split(":", 1)[0]
    train = catalog.load(f"{name}:train", n=None, seed=evaluation.seed)
    counts, _ = simulate_counts(evaluation.network, train.x, seed=evaluation.seed)
    codes = readout_accuracy(counts.sum(axis=1, dtype=float), train.labels,
                             evaluation.summed_counts, test.labels)
    pixels = readout_accuracy(train.x, train.labels, test.x, test.labels)
    return ReadoutComparison(data_set=name, n_train=train.n_stimuli, n_test=test.n_stimuli,
                             steps=evaluation.network.steps, counts=codes, pixels=pixels)
