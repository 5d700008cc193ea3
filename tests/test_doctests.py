"""The docstring examples of ``ipvae_brian.models`` and ``ipvae_brian.learning`` run.

One test per module (found without importing it, so that a module that fails to import
fails its own test only); a module without examples passes. The examples run in a
temporary working folder, with ``ELLIPSIS`` and ``NORMALIZE_WHITESPACE``.
"""
from __future__ import annotations

import doctest
import importlib
import importlib.util
import io
import pkgutil

import pytest

PACKAGES = ("ipvae_brian.models", "ipvae_brian.learning")
OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def module_names(package: str) -> list[str]:
    """Dotted names of a package and all its modules and subpackages, recursively.

    Parameters
    ----------
    package : str
        Dotted name of the package, e.g. ``ipvae_brian.models``.

    Returns
    -------
    list of str
        The package itself first, then every module below it (none of them imported).
    """
    names = [package]
    search = importlib.util.find_spec(package).submodule_search_locations
    for info in pkgutil.iter_modules(search):
        name = f"{package}.{info.name}"
        names += module_names(name) if info.ispkg else [name]
    return names


MODULES = [name for package in PACKAGES for name in module_names(package)]


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples(module_name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    module = importlib.import_module(module_name)
    output = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=OPTIONS)
    for test in doctest.DocTestFinder().find(module, module_name):
        runner.run(test, out=output.write)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, output.getvalue()
