"""The baselines the iP-VAE is compared with: numpy inference models, no Brian2.

One class per method, each behind the one interface of :mod:`models.inference`
(:class:`~models.inference.InferenceModel`: ``infer(x, steps, seed, record)`` on a batch
of stimuli x (N, M) gives the codes z_t (N, R, K), decoded linearly by the dictionary
Phi (M, K); ``with_dictionary(Phi)`` gives a copy with another dictionary), as the
Redwood Center's ``sparsecoding`` package puts one method per class behind one small
interface. The iP-VAE itself (the Brian2 network) behind the same interface is
:class:`models.inference.IPVAEInference`; ``learning.model_training`` trains all of them
with one Hebbian dictionary loop and ``analysis.model_comparison`` scores them.

==========================  ===================================  =========================
class (module)              method                               state z_t
==========================  ===================================  =========================
``GaussianIterativeVAE``    iG-VAE / iG-relu (``gaussian_vae``)  f(mu_t), f = identity/ReLU
``PredictiveCoding``        Rao & Ballard 1999                   causes r_t
                            (``predictive_coding``)
``LCA``                     Rozell et al. 2008 (``lca``)         soft-thresholded a_t
==========================  ===================================  =========================

Each module's docstring derives its update equations and names its known cases (the
tests in ``tests/test_baselines.py`` check them).

References
----------
Vafaii, H., Galor, D. & Yates, J. L. (2025). Brain-like variational inference. NeurIPS;
arXiv:2410.19315 (the iG-VAE and iG-relu baselines).
Rao, R. P. N. & Ballard, D. H. (1999). Predictive coding in the visual cortex. Nature
Neuroscience 2:79-87.
Rozell, C. J., Johnson, D. H., Baraniuk, R. G. & Olshausen, B. A. (2008). Sparse coding
via thresholding and local competition in neural circuits. Neural Computation
20:2526-2563.
Redwood Center for Theoretical Neuroscience, ``sparsecoding``:
github.com/rctn/sparsecoding (one inference method per class behind one interface).
"""
from ipvae_brian.models.baselines.gaussian_vae import GaussianIterativeVAE
from ipvae_brian.models.baselines.lca import LCA
from ipvae_brian.models.baselines.predictive_coding import PredictiveCoding

__all__ = ["GaussianIterativeVAE", "PredictiveCoding", "LCA"]
