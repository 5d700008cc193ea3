"""Direction selectivity: responses to a bar sweeping across the field, as polar plots.

Protocol (Hubel & Wiesel 1959; the authors' demo; ``docs/ephys_reference.md``): a
bar (width 0.2 of the side) sweeping across the field in 16 directions, 2 x side
bins per sweep with 4 grey bins before and after, 4 repeats; responses (sweep and
the grey bins after it) against direction as polar plots, DSI.
"""
from __future__ import annotations

import time

from ipvae_brian.analysis import experiment_figures as figures
from ipvae_brian.analysis.experiments.base import (RESPONSIVE_RATE_HZ, Experiment,
                                                   ExperimentResult, block_cost, nan_per_neuron,
                                                   repeat_stimuli, responsive, run_block,
                                                   runaway_notes)
from ipvae_brian.analysis.experiments.context import ExperimentContext
from ipvae_brian.analysis.experiments.protocol import directions_deg, protocol_for
from ipvae_brian.analysis.moving_bar_response import direction_selectivity_index, preferred_direction
from ipvae_brian.analysis.orientation_tuning import circular_variance


class MovingBarExperiment(Experiment):
    """Responses to a bar sweeping in many directions, as polar plots (Hubel & Wiesel)."""

    name = "moving-bar"

    def estimated_work(self, ctx: ExperimentContext) -> float:
        p = protocol_for(ctx)
        return block_cost(p.bar_directions * p.bar_repeats, 2 * ctx.side + 2 * p.bar_blank)

    def run(self, ctx: ExperimentContext) -> ExperimentResult:
        from ipvae_brian.stimuli.moving_bar import moving_bar
        start = time.perf_counter()
        p = protocol_for(ctx)
        directions = directions_deg(p.bar_directions)
        sweep = 2 * ctx.side
        stimuli = repeat_stimuli(moving_bar(direction=list(directions), frames=sweep,
                                            blank=p.bar_blank, size=ctx.side), p.bar_repeats)
        steps = sweep + 2 * p.bar_blank
        block = run_block(ctx, "moving-bar", stimuli, steps, (p.bar_blank, steps),
                          protocol={"experiment": "moving-bar", **p.as_dict()})
        K = ctx.n_latents
        rates = block.window_rates.reshape(p.bar_repeats, directions.size, K).mean(axis=0).T
        peak = rates.max(axis=1)
        resp = responsive(peak)
        dsi, pref, cv = nan_per_neuron(K), nan_per_neuron(K), nan_per_neuron(K)
        if resp.any():
            dsi[resp] = direction_selectivity_index(directions, rates[resp])
            pref[resp] = preferred_direction(directions, rates[resp])
            cv[resp] = circular_variance(directions, rates[resp])
        fig = ctx.path("moving-bar.png")
        figures.moving_bar_figure(fig, directions, rates, resp, dsi)
        notes = [f"{int(resp.sum())} neurons fire >= {RESPONSIVE_RATE_HZ:g} spikes/s (mean "
                 f"over the sweep and the {p.bar_blank} grey bins after it) in their best "
                 f"direction"]
        return ExperimentResult("moving-bar", {"dsi": dsi, "preferred_direction": pref,
                                               "bar_circular_variance": cv, "peak_rate": peak},
                                {"directions": directions, "responses": rates}, {}, K,
                                int(resp.sum()), int(resp.sum()), [block.path, fig],
                                notes + runaway_notes([block]), time.perf_counter() - start)


EXPERIMENT = MovingBarExperiment()
