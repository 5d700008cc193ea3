"""Plot a spike raster straight from in-memory results: no recording file is written.

A moving bar (a movie: one frame per 25 ms bin) runs through the shipped K = 512
network in continuous time; ``plot_raster_from_result`` draws the result with its
stimuli (the frames above, the raster sorted by first spike, the PSTH below) and
``save_figure`` writes the PNG. The same figure for discrete-mode results draws each
bin's count as ticks spread within the bin, and says so.

    python examples/raster_in_memory.py [--tiny] [--out raster.png]
"""
import argparse
import os
import tempfile

from ipvae_brian.analysis.raster import plot_raster_from_result, save_figure
from ipvae_brian.models.config import RunConfig
from ipvae_brian.models.shipped import resolve_parameters
from ipvae_brian.models.simulation import simulate
from ipvae_brian.stimuli import catalog

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--tiny", action="store_true", help="a 10-frame bar, 64 neurons shown")
parser.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "ipvae_raster.png"),
                    help="PNG to write (default: %(default)s)")
args = parser.parse_args()
frames, blank = (8, 1) if args.tiny else (32, 4)

bar = catalog.load(f"moving_bar:direction=0,frames={frames},blank={blank}")   # (1, T, 256)
params, _, _ = resolve_parameters(bar.n_pixels)
steps = bar.x.shape[1]                       # one frame drives one bin: T = frames
result = simulate(params, bar, RunConfig(steps=steps, dt=0.0005), seed=0)
print(f"simulated {bar.x.shape} -> counts {result.counts.shape}, "
      f"{result.spike_times.size:,} spikes kept in memory")

fig = plot_raster_from_result(result, bar, stimulus=0, neurons="0:64" if args.tiny else None,
                              sort="first-spike", name="moving bar")
print(f"raster: {fig.raster_spike_count:,} spikes drawn")
print(f"wrote {save_figure(fig, args.out)}")
