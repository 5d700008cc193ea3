"""Take the network's Brian2 objects into your own Brian2 script.

``IPVAENetwork.build_for_stimuli`` builds the groups and synapses and sets what a run
needs, by the package's conventions (see its docstring): the drive Phi^T x / sigma^2
as a ``TimedArray`` named ``feedforward`` with one row per stimulus held for T bins
(dt = T * bin width), the seed (``streams.stream_key = stream_key(seed)``,
``streams.stimulus = 0``) and the ``namespace`` the equations need. Here we add a
monitor of u, a downstream readout neuron that sums the counts of ten latent neurons
through its own synapses, halve the step size eta, and run; then check the counts
against ``simulate`` with the same eta and seed (identical, bit for bit).

    python examples/brian2_objects.py [--tiny]
"""
import argparse

import numpy as np
from brian2 import NeuronGroup, StateMonitor, Synapses

from ipvae_brian.models.config import RunConfig
from ipvae_brian.models.network import IPVAENetwork
from ipvae_brian.models.shipped import resolve_parameters
from ipvae_brian.models.simulation import simulate
from ipvae_brian.stimuli import catalog

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--tiny", action="store_true", help="2 gratings, 8 bins")
args = parser.parse_args()
steps, orientations = (8, "0/90") if args.tiny else (32, "0/45/90/135")
seed = 7

x = catalog.load(f"grating:orientation={orientations},sf=0.1,contrast=0.5").x   # (N, 256)
params, _, _ = resolve_parameters(x.shape[1])                                      # K = 512
config = RunConfig(steps=steps, engine="runtime", lateral="synapses")
net = IPVAENetwork(params, config)
objects = net.build_for_stimuli(x, seed=seed)       # feedforward, seed, namespace: set

# a monitor: u_t, the potential the counts of bin t are drawn from (after t updates)
u_monitor = StateMonitor(objects.latents, "u", record=True, when="before_thresholds",
                         order=-1, dt=net.bin_width)
# a downstream population: one neuron summing the counts z of latent neurons 0 to 9
readout = NeuronGroup(1, "total : 1", clock=objects.latents.clock, name="readout")
summation = Synapses(objects.latents, readout, on_pre="total_post += z_pre",
                     clock=objects.latents.clock, name="summation")
summation.connect(i=np.arange(10), j=0)
# a parameter: half the step size (eta is a shared variable of the latent neurons); the
# parameters store log eta, so the check below uses the eta of the same stored value
# (0.5 * eta and exp(log(0.5 * eta)) can differ in the last bit)
halved = params.replace(log_lr=params.log_lr + np.log(0.5))
objects.latents.eta = halved.eta

objects.network.add(u_monitor, readout, summation)
objects.network.run(objects.duration, namespace=objects.namespace)

N, K = x.shape[0], params.n_latents
u = np.asarray(u_monitor.u).T.reshape(N, steps, K)     # (K, N T) -> (N, T, K)
print(f"u monitor: {u.shape}; readout total of neurons 0-9: {readout.total[0]:.0f} spikes")

check = simulate(halved, x, config.replace(record=("u",)), seed=seed)
same = (readout.total[0] == check.counts[:, :, :10].sum() and np.array_equal(u, check.u))
print(f"identical to simulate() with the same eta and seed: {same}")
