"""What the experiments at each neuron's preferred grating share (f1f0, contrast, size, plaids).

They run after the orientation grid (:func:`orientation.grating_preferences`, run
first if no experiment has yet) and show gratings at the preferred direction and
spatial frequency of at most ``max_neurons`` (64) responsive neurons, drawn at
random (seeded), which bounds the stimulus count; neurons that share a preferred
grating share its stimuli.
"""
from __future__ import annotations

import time

from ipvae_brian.analysis import experiment_figures as figures
from ipvae_brian.analysis.experiments.base import Experiment, ExperimentResult, sample_neurons
from ipvae_brian.analysis.experiments.context import ExperimentContext
from ipvae_brian.analysis.experiments.orientation import GratingPreferences, orientation_grid_work
from ipvae_brian.analysis.experiments.protocol import Protocol, protocol_for


class PreferredGratingExperiment(Experiment):
    """An experiment at each analysed neuron's preferred grating (from the orientation grid).

    Subclasses implement :meth:`block_work`, the work of their own blocks;
    :meth:`estimated_work` adds the orientation grid when its preferences are not yet
    measured in this context.
    """

    def output_files(self) -> list:
        """The orientation grid's recording (run first if no experiment has yet), then
        the experiment's own files."""
        return ["orientation.h5", *super().output_files()]

    def block_work(self, ctx: ExperimentContext, p: Protocol) -> float:
        """Simulation work (bin units) of the experiment's own blocks."""
        raise NotImplementedError

    def estimated_work(self, ctx: ExperimentContext) -> float:
        search = 0.0 if "grating_preferences" in ctx.shared else orientation_grid_work(ctx)
        return search + self.block_work(ctx, protocol_for(ctx))

    def analysed_neurons(self, ctx: ExperimentContext, prefs: GratingPreferences,
                         p: Protocol):
        """Neurons analysed and their distinct preferred gratings.

        Returns
        -------
        chosen : ndarray, shape (n,), int
            At most ``p.max_neurons`` responsive neurons, sorted.
        keys : list of (float, float)
            Sorted distinct (direction, sf) of the chosen neurons.
        """
        chosen = sample_neurons(ctx, prefs.responsive, p.max_neurons, self.name)
        keys = sorted({(float(prefs.directions[prefs.direction_index[k]]),
                        float(prefs.sfs[prefs.sf_index[k]])) for k in chosen})
        return chosen, keys

    def skipped(self, ctx: ExperimentContext, start: float, prefs_block,
                why: str) -> ExperimentResult:
        """The result when no neuron responds to gratings: an empty figure saying why."""
        fig = ctx.path(f"{self.name}.png")
        figures.empty_figure(fig, self.name, why)
        return ExperimentResult(self.name, {}, {}, {}, ctx.n_latents, 0, 0,
                                ([prefs_block.path] if prefs_block else []) + [fig],
                                [why], time.perf_counter() - start)


def grating_condition_sets(ctx: ExperimentContext, p: Protocol, keys, contrasts=None,
                           diameters=(None,), centres=None, frames=None):
    """Drifting gratings for (direction, sf[, centre index]) keys x contrasts x diameters.

    Parameters
    ----------
    ctx : ExperimentContext
    p : Protocol
    keys : list of tuple
        (direction deg, sf cycles/pixel) or (direction, sf, index into ``centres``).
    contrasts : sequence of float, optional
        Default: ``p.grating_contrast`` only.
    diameters : sequence of float or None
        Aperture diameters in pixels (None: full field).
    centres : ndarray, shape (C, 2), optional
        Aperture centres (x, y) in pixels from the image centre.
    frames : int
        Frames of each movie.

    Returns
    -------
    parts : list of StimulusSet
        One set per key (contrasts x diameters movies).
    conditions : dict of str -> list
        The per-stimulus condition values (for ``stack_stimuli``).
    """
    from ipvae_brian.stimuli.gratings import drifting_grating
    parts, cond = [], {"direction": [], "sf": [], "contrast": [], "diameter": [],
                       "center_x": [], "center_y": []}
    contrasts = [p.grating_contrast] if contrasts is None else list(contrasts)
    for key in keys:
        direction, sf = key[0], key[1]
        cx, cy = (0.0, 0.0) if centres is None else centres[key[2]]
        s = drifting_grating(orientation=direction, sf=sf, tf=p.tf, contrast=contrasts,
                             diameter=list(diameters), frames=frames, size=ctx.side,
                             center_x=float(cx), center_y=float(cy))
        parts.append(s)
        for c in contrasts:
            for d in diameters:
                cond["direction"].append(direction)
                cond["sf"].append(sf)
                cond["contrast"].append(c)
                cond["diameter"].append(d)
                cond["center_x"].append(cx)
                cond["center_y"].append(cy)
    return parts, cond
