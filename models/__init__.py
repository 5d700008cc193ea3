"""The iterative Poisson VAE (iP-VAE) as a spiking network.

Data flow: ``stimuli`` -> :class:`IPVAENetwork` (Brian2) -> :class:`RecordingWriter` (HDF5).

- :mod:`models.parameters`: the model's parameters, validated, with HDF5 load/save;
- :mod:`models.network`: the Brian2 network (latent neurons, Poisson counts,
  lateral-inhibition synapses);
- :mod:`models.reference`: the plain numpy version of the same update, used by the tests;
- :mod:`models.recording`: the HDF5 recording written by a simulation, and its reader;
- :mod:`models.distributed`: chunks of a stimulus set on a Dask cluster, streamed into one file;
- :mod:`models.shipped`: the learned parameter files that ship with the package;
- :mod:`models.inference`: one small interface over the iP-VAE and the baselines
  (:mod:`models.gaussian_vae`, :mod:`models.predictive_coding`, :mod:`models.lca`);
- :mod:`models.free_energy`: the free energy (ELBO) of a recording;
- :mod:`models.stimulus_array`: validation of stimulus arrays, shared by every consumer.

References
----------
Vafaii, Galor & Yates (2025), "Brain-like variational inference", NeurIPS;
arXiv:2410.19315.
"""
from ipvae_brian.models.errors import FileFormatError, ParameterError, SimulationInputError
from ipvae_brian.models.parameters import IPVAEParameters

__all__ = ["IPVAEParameters", "SimulationInputError", "ParameterError", "FileFormatError"]
