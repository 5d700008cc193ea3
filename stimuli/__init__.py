"""Stimuli for the network: embedded data sets and synthetic generators.

Data sets (``docs/data.md``): ``stimuli.natural16.natural16`` (whitened 16 x 16 natural-image
patches, built once and cached) and ``stimuli.digits8.digits8`` (scikit-learn's 8 x 8 digits).
Generators, each a pure function of its parameters (and a seed), in physical units:
``stimuli.gratings.grating``, ``drifting_grating``, ``plaid``; ``stimuli.moving_bar.moving_bar``;
``stimuli.noise.white_noise``, ``sparse_noise``. Every result is a :class:`StimulusSet` carrying
its name and parameters. :func:`load` builds any of them from a spec string such as
``"natural16:test"`` or ``"grating:orientation=45,sf=0.1"``; :func:`available` lists them.

The submodules keep their own names here (``stimuli.natural16`` is the module, not the
function), so ``stimuli.natural16.natural16(...)`` always works.

This package imports no other part of the project (imports point one way, with the data).
"""
from ipvae_brian.stimuli import digits8, moving_bar, natural16  # noqa: F401  (modules, see above)
from ipvae_brian.stimuli.catalog import available, load
from ipvae_brian.stimuli.gratings import circular_aperture, drifting_grating, grating, plaid
from ipvae_brian.stimuli.noise import sparse_noise, white_noise
from ipvae_brian.stimuli.stimulus_set import StimulusError, StimulusSet

__all__ = ["StimulusSet", "StimulusError", "available", "load", "natural16", "digits8",
           "moving_bar", "grating", "drifting_grating", "plaid", "circular_aperture",
           "white_noise", "sparse_noise"]
