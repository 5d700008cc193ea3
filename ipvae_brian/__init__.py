"""ipvae-brian: the iterative Poisson VAE (Vafaii, Galor & Yates 2025) as a Brian2 spiking network.

The card's folders install as the subpackages of this one package, following the data:

- :mod:`ipvae_brian.stimuli`: the embedded data sets and the stimulus generators;
- :mod:`ipvae_brian.models`: the model (parameters, equations, the Brian2 network, the free
  energy), the engines that run it, the recordings it writes, and the numpy baselines;
- :mod:`ipvae_brian.learning`: offline fits of the parameters from recorded spike counts;
- :mod:`ipvae_brian.analysis`: metrics, spike statistics, experiments, V1 comparison, figures;
- :mod:`ipvae_brian.cli`: the ``ipvae`` command (and ``run_sim.py``), which only wires them.

Imports point one way, with the data (stimuli -> models -> learning / analysis -> cli);
import-linter checks it (``setup.cfg``, ``[importlinter]``).

References
----------
Vafaii, Galor & Yates (2025), "Brain-like variational inference", NeurIPS; arXiv:2410.19315.
"""

__version__ = "0.2.0"
