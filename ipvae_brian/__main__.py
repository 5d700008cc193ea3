"""``python -m ipvae_brian``: the same command line as ``ipvae`` and ``run_sim.py``."""
import sys

from ipvae_brian.cli import main

sys.exit(main())
