"""Shared test setup.

All tests use the package's one on-disk Brian2 code cache (``~/.cache/ipvae-brian``
or ``$IPVAE_CACHE_DIR``), so the ~20 s cold compile happens once per machine, and
small networks (K <= 64) so that the suite stays within CI's budget.
"""
import os

import matplotlib
import pytest

matplotlib.use("Agg")



@pytest.fixture
def run_cli(capsys):
    """Run ``ipvae_brian.cli.main(argv)`` in-process; return (exit code, stdout, stderr)."""
    from ipvae_brian.cli import main

    def run(*argv):
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err
    return run

