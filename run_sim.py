#!/usr/bin/env python
"""The command line of the iP-VAE simulator, as the design card names it.

The same program as the installed ``ipvae`` command (:mod:`ipvae_brian.cli`)::

    python run_sim.py simulate --help
"""
import sys

from ipvae_brian.cli import main

if __name__ == "__main__":
    sys.exit(main())
