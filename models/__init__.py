"""The iterative Poisson VAE (iP-VAE) as a spiking network: the model, how it runs, its files.

Data flow: stimuli -> :class:`~ipvae_brian.models.network.IPVAENetwork` (Brian2), run by an
engine -> :class:`~ipvae_brian.models.recording.RecordingWriter` (HDF5).

The model
  - :mod:`~ipvae_brian.models.parameters`: the parameters, validated, HDF5 load/save;
  - :mod:`~ipvae_brian.models.equations`: every Brian2 equation string, once, with its symbols;
  - :mod:`~ipvae_brian.models.functions`, :mod:`~ipvae_brian.models.random_streams`: the
    Brian2 functions the equations call (softplus, the lateral product, the counter-based Poisson draw);
  - :mod:`~ipvae_brian.models.populations`: the groups and synapses;
  - :mod:`~ipvae_brian.models.lanes`: the layout of stimuli simulated side by side;
  - :mod:`~ipvae_brian.models.network`: the network, its scheduling, the runtime engine;
  - :mod:`~ipvae_brian.models.free_energy`: the free energy of a recording;
  - :mod:`~ipvae_brian.models.reference`: the plain numpy update, used to test the network.
How it runs
  - :mod:`~ipvae_brian.models.config`: one frozen :class:`RunConfig` per run;
  - :mod:`~ipvae_brian.models.engines`: cpp_standalone and Dask, which import the network;
  - :mod:`~ipvae_brian.models.simulation`: the one simulate-then-write loop (``simulate``);
  - :mod:`~ipvae_brian.models.run_summary`: R^2, zeros, rate and runaways of a run.
Files
  - :mod:`~ipvae_brian.models.recording`, :mod:`~ipvae_brian.models.atomic_file`,
    :mod:`~ipvae_brian.models.shipped` (the learned parameter files that ship).
Comparisons
  - :mod:`~ipvae_brian.models.inference`: one small interface over the iP-VAE and the
    numpy baselines of :mod:`~ipvae_brian.models.baselines` (no Brian2).

References
----------
Vafaii, Galor & Yates (2025), "Brain-like variational inference", NeurIPS;
arXiv:2410.19315.
"""
from ipvae_brian.models.config import RunConfig
from ipvae_brian.models.errors import FileFormatError, ParameterError, SimulationInputError
from ipvae_brian.models.parameters import IPVAEParameters

__all__ = ["IPVAEParameters", "RunConfig", "SimulationInputError", "ParameterError",
           "FileFormatError"]
