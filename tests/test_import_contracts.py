"""The import direction (stimuli -> models -> learning | analysis -> workflows -> cli), no circle.

The contracts live in ``setup.cfg`` (``[importlinter]``) and are checked by import-linter's
``lint-imports``. import-linter (grimp) finds a package's modules by walking the package's
one folder, so it does not see the subpackages that ``package_dir`` maps from the card's
other folders (``models/`` -> ``ipvae_brian.models``). The test therefore lays out the
package as it installs, in a temporary folder of links to the repository's folders, and
runs ``lint-imports`` there with the repository's ``setup.cfg``.

The circle check builds the graph of imports between the package's modules itself (with
:mod:`ast`), counting the imports inside functions too (which import-linter also counts,
but which a "lazy import" is often used to hide).
"""
from __future__ import annotations

import ast
import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "ipvae_brian"


def package_folders() -> dict[str, Path]:
    """The folder of each package that ``setup.cfg``'s ``package_dir`` maps explicitly.

    Returns
    -------
    dict of str to Path
        Dotted package name (``ipvae_brian``, ``ipvae_brian.models``, ...) -> its folder in
        the repository.
    """
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    folders = {}
    for line in config["options"]["package_dir"].strip().splitlines():
        name, folder = (part.strip() for part in line.split("="))
        folders[name] = REPO / folder
    return folders


def lay_out_as_installed(root: Path, replace: dict[str, Path] | None = None) -> Path:
    """Link the package into ``root`` the way it installs: one folder per dotted name.

    Parameters
    ----------
    root : Path
        An empty folder; ``root/ipvae_brian`` is created in it.
    replace : dict of str to Path, optional
        Dotted package name -> a folder to link instead of the repository's one.

    Returns
    -------
    Path
        ``root``, to put first on ``sys.path``.
    """
    folders = {**package_folders(), **(replace or {})}
    top = root / PACKAGE
    top.mkdir()
    mapped_children = {name.split(".")[1] for name in folders if name.count(".") == 1}
    for entry in folders[PACKAGE].iterdir():
        if entry.name not in mapped_children and entry.name != "__pycache__":
            (top / entry.name).symlink_to(entry)
    for name, folder in folders.items():
        if name.count(".") == 1:
            (top / name.split(".")[1]).symlink_to(folder)
        elif name.count(".") > 1:
            raise NotImplementedError(f"nested package_dir entry {name}: link it here too")
    return root


def run_lint_imports(tmp_path: Path, replace: dict[str, Path] | None = None
                     ) -> subprocess.CompletedProcess:
    """Run ``lint-imports`` (next to this Python) on the installed layout of the package.

    The contracts are those of the repository's ``setup.cfg``.

    Parameters
    ----------
    tmp_path : Path
        An empty folder for the layout.
    replace : dict of str to Path, optional
        Subpackages to take from another folder than the repository's (to show a violation).

    Returns
    -------
    subprocess.CompletedProcess
        With ``returncode``, ``stdout`` and ``stderr`` (text).
    """
    lint_imports = Path(sys.executable).with_name("lint-imports")
    if not lint_imports.exists():
        pytest.fail(f"{lint_imports} is missing: install the test extra (pip install -e '.[test]')")
    layout = lay_out_as_installed(tmp_path, replace)
    env = {**os.environ, "PYTHONPATH": str(layout)}
    return subprocess.run(
        [str(lint_imports), "--config", str(REPO / "setup.cfg"), "--no-cache", "--no-logo"],
        cwd=layout, env=env, capture_output=True, text=True, timeout=120)


def test_lint_imports_contracts_hold(tmp_path):
    result = run_lint_imports(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout, result.stdout


def test_lint_imports_fails_when_models_imports_analysis(tmp_path):
    # a copy of models/ with one module that imports the analysis layer
    models = package_folders()[f"{PACKAGE}.models"]
    broken_models = tmp_path / "models"
    shutil.copytree(models, broken_models, ignore=shutil.ignore_patterns("__pycache__", "*.h5"))
    (broken_models / "uses_analysis.py").write_text("import ipvae_brian.analysis\n")
    layout = tmp_path / "layout"
    layout.mkdir()
    result = run_lint_imports(layout, replace={f"{PACKAGE}.models": broken_models})
    assert result.returncode != 0, result.stdout
    assert "ipvae_brian.models.uses_analysis -> ipvae_brian.analysis" in result.stdout
    assert "0 kept, 2 broken" in result.stdout, result.stdout


# ---------------------------------------------------------------------------------------
# no import circle between modules


def module_files() -> dict[str, Path]:
    """Every module of the package, by dotted name, with its source file.

    Returns
    -------
    dict of str to Path
        ``ipvae_brian.models.network`` -> ``models/network.py``; a package's
        ``__init__.py`` under the package's own name. Files in folders without an
        ``__init__.py`` are left out (they do not install; tests/test_packaging.py says so).
    """
    modules = {}
    for package, folder in package_folders().items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            # only what installs: every folder on the way is a package
            if not all((folder.joinpath(*parts[:depth]) / "__init__.py").exists()
                       for depth in range(len(parts))):
                continue
            name = ".".join((package, *parts))
            if parts[-1] == "__init__":
                name = name[: -len(".__init__")]
            modules.setdefault(name, path)
    return modules


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that one module imports, anywhere in its body.

    ``from a.b import c`` counts as an import of ``a.b.c`` when that is a module, else of
    ``a.b``; relative imports are resolved against the module's package. As in
    import-linter, importing ``a.b.c`` does not count as importing the package ``a.b``.

    Parameters
    ----------
    name : str
        The module's dotted name.
    path : Path
        Its source file.
    known : set of str
        The dotted names of all the package's modules.

    Returns
    -------
    set of str
        Dotted names of the package's modules it imports (itself excluded).
    """
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            candidates = [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        for candidate in candidates:
            # the deepest of the package's modules that the dotted name starts with
            while candidate and candidate not in known:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name:
                targets.add(candidate)
    return targets


def import_graph() -> dict[str, set[str]]:
    """The package's module import graph: module -> the package's modules it imports."""
    modules = module_files()
    known = set(modules)
    return {name: imported_modules(name, path, known) for name, path in modules.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle through each strongly connected group of modules (Tarjan's algorithm).

    Parameters
    ----------
    graph : dict of str to set of str
        Module -> the modules it imports.

    Returns
    -------
    list of list of str
        Each a chain ``[a, b, ..., a]`` of imports that closes on itself; empty when the
        graph has no circle.
    """
    index, lowlink, on_stack, stack, groups = {}, {}, set(), [], []

    def visit(node):
        index[node] = lowlink[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                lowlink[node] = min(lowlink[node], lowlink[target])
            elif target in on_stack:
                lowlink[node] = min(lowlink[node], index[target])
        if lowlink[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(set(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph) + 100))
    for node in sorted(graph):
        if node not in index:
            visit(node)

    cycles = []
    for group in groups:
        start = min(group)
        # breadth-first inside the group: the shortest chain from start back to start
        previous, frontier = {start: None}, [start]
        while not any(start in graph[node] for node in frontier):
            next_frontier = []
            for node in frontier:
                for target in sorted(graph[node] & group):
                    if target not in previous:
                        previous[target] = node
                        next_frontier.append(target)
            frontier = next_frontier
        node = next(node for node in frontier if start in graph[node])
        chain = [start]
        while node is not None:
            chain.insert(0, node)
            node = previous[node]
        cycles.append(chain)
    return cycles


def test_find_cycles_finds_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_between_modules():
    graph = import_graph()
    assert "ipvae_brian.models" in graph and "ipvae_brian.cli" in graph
    cycles = find_cycles(graph)
    assert not cycles, "import circles:\n" + "\n".join(" -> ".join(c) for c in cycles)
