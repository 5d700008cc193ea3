"""Commands as library functions: the runs that compose learning and analysis.

A workflow trains (:mod:`learning`) and scores (:mod:`analysis`) in one call, so it
sits above both layers (which never import each other) and below the command line,
which only builds its options and prints what it reports:

- :mod:`ipvae_brian.workflows.model_comparison`: ``compare-models``, the iP-VAE and the
  baselines trained alike and compared (:func:`run_model_comparison`).
"""
from ipvae_brian.workflows.model_comparison import (ModelComparisonOptions,
                                                    ModelComparisonResult,
                                                    run_model_comparison)

__all__ = ["ModelComparisonOptions", "ModelComparisonResult", "run_model_comparison"]
