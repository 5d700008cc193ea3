"""Shared test setup.

All tests use the package's one on-disk Brian2 code cache (``~/.cache/ipvae-brian``
or ``$IPVAE_CACHE_DIR``), so the ~20 s cold compile happens once per machine, and
small networks (K <= 64) so that the suite stays within CI's budget.
"""
import os
import sys

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


@pytest.fixture
def run_cli(capsys):
    """Run ``run_sim.main(argv)`` in-process; return (exit code, stdout, stderr)."""
    import run_sim

    def run(*argv):
        code = run_sim.main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err
    return run

