"""The installed package: one name in site-packages, the ``ipvae`` command, ``--version``.

The card's folders (``models/``, ``learning/``, ``stimuli/``, ``analysis/``) install as
subpackages of ``ipvae_brian`` (``setup.cfg``: ``package_dir``), so that a lab's own
``models/`` package next to the user's work never shadows ours, and ours never shadows
theirs. The commands run as subprocesses, as a user would run them, from a folder that has
its own (broken) ``models``, ``analysis``, ``stimuli`` and ``learning`` packages.
"""
from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import pytest

import ipvae_brian

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
GENERIC_NAMES = ("models", "analysis", "learning", "stimuli", "run_sim")
DECOYS = ("models", "analysis", "stimuli", "learning")


@pytest.fixture
def folder_with_decoys(tmp_path):
    """A working folder with its own ``models``, ``analysis``, ... packages that fail on import."""
    for name in DECOYS:
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(
            f"raise ImportError('decoy {name}: the user\\'s own package was imported')\n")
    return tmp_path


def run(command, cwd, timeout=120):
    """Run a command in ``cwd``, with ``cwd`` first on ``PYTHONPATH`` (as labs often set it).

    The rest of the environment is the test's (``IPVAE_CACHE_DIR`` included), so that a
    generic top-level import anywhere, in this process or a worker, finds the decoys.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(cwd), env.get("PYTHONPATH")]))
    return subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=env)


PROGRAMS = {
    "ipvae": [BIN / "ipvae"],
    "run_sim.py": [sys.executable, REPO / "run_sim.py"],
    "python -m ipvae_brian": [sys.executable, "-m", "ipvae_brian"],
}


@pytest.mark.parametrize("program", ["ipvae", "run_sim.py"])
def test_simulate_from_a_folder_with_its_own_models_package(program, folder_with_decoys):
    # the acceptance command, at the default sizes (natural16, K = 512): ~10 s warm
    result = run([*PROGRAMS[program], "simulate", "--n", 20, "--steps", 8, "--quiet",
                  "--out", "x.h5"], folder_with_decoys)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "decoy" not in result.stderr, result.stderr
    with h5py.File(folder_with_decoys / "x.h5", "r") as recording:
        assert recording["counts"].shape == (20, 8, 512)


@pytest.mark.parametrize("program", list(PROGRAMS))
def test_version(program, tmp_path):
    result = run([*PROGRAMS[program], "--version"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"ipvae-brian {ipvae_brian.__version__}\n"


def test_installed_distribution_names_only_ipvae_brian(tmp_path):
    # from an empty folder, so that the repository's own files (and a stale
    # ipvae_brian.egg-info there) are not what importlib finds
    probe = (
        "import importlib.metadata, importlib.util, json\n"
        "dist = importlib.metadata.distribution('ipvae-brian')\n"
        f"names = {GENERIC_NAMES!r}\n"
        "print(json.dumps({'files': [str(f) for f in dist.files or []],\n"
        "                  'top_level': dist.read_text('top_level.txt') or '',\n"
        "                  'importable': [n for n in names if importlib.util.find_spec(n)]}))\n")
    result = run([sys.executable, "-c", probe], tmp_path)
    assert result.returncode == 0, result.stderr
    installed = json.loads(result.stdout)
    assert installed["top_level"].split() == ["ipvae_brian"]
    assert installed["importable"] == [], "generic top-level names are importable"
    top_names = {Path(f).parts[0].removesuffix(".py") for f in installed["files"]}
    assert not top_names & set(GENERIC_NAMES), sorted(top_names)


def setup_cfg_packages() -> tuple[set[str], dict[str, Path]]:
    """``setup.cfg``'s ``packages`` and ``package_dir`` (dotted name -> folder)."""
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    packages = set(config["options"]["packages"].split())
    package_dir = {}
    for line in config["options"]["package_dir"].strip().splitlines():
        name, folder = (part.strip() for part in line.split("="))
        package_dir[name] = REPO / folder
    return packages, package_dir


def test_every_package_folder_is_listed_in_setup_cfg():
    packages, package_dir = setup_cfg_packages()
    found = set()
    for name, folder in package_dir.items():
        for init in folder.rglob("__init__.py"):
            parts = init.parent.relative_to(folder).parts
            found.add(".".join((name, *parts)))
    # a folder listed under two names (ipvae_brian/cli is inside ipvae_brian/) counts once
    assert found >= packages, f"listed but no __init__.py: {sorted(packages - found)}"
    assert packages >= found, f"missing from setup.cfg packages: {sorted(found - packages)}"


def test_every_folder_of_modules_is_a_package():
    # a folder of modules without __init__.py is not installed by setup.cfg's packages
    _, package_dir = setup_cfg_packages()
    missing = sorted(
        str(folder.relative_to(REPO))
        for top in package_dir.values()
        for folder in {path.parent for path in top.rglob("*.py")}
        if "__pycache__" not in folder.parts and not (folder / "__init__.py").exists())
    assert not missing, f"folders of modules without __init__.py: {missing}"
