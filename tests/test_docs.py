"""Every documentation page the source cites exists, and nothing cites a page outside ``docs/``.

The scanned files are the repository's README.md and every ``.py`` and ``.cfg`` file that git
tracks or would track (untracked files that are not ignored); ``.venv`` is skipped. A citation
is any ``docs/<name>.md`` path in their text (comments, docstrings, help strings, figure
legends). The second test catches citations of the team's reference notes by their bare names
(a page name without the ``docs/`` folder, or the old name of the learning notes), which point
nowhere in the repository.
"""
from __future__ import annotations

import pathlib
import re
import subprocess

import pytest

REPOSITORY = pathlib.Path(__file__).resolve().parent.parent

#: A cited documentation page: ``docs/`` then a file name ending in ``.md``.
DOCS_CITATION = re.compile(r"docs/[A-Za-z0-9_.-]+\.md")

#: The pages of ``docs/`` that older text cited without their folder, and the old name of the
#: learning notes (now ``docs/learning.md``). Written without the ".md" suffix so that this
#: file does not cite them itself.
PAGE_NAMES = ("model", "data", "design", "ephys_reference")
OLD_LEARNING_NOTES = "learning_notes"
BARE_CITATION = re.compile(r"(?<![\w/.-])(?:" + "|".join(PAGE_NAMES + (OLD_LEARNING_NOTES,))
                           + r")\.md")
OLD_NOTES_CITATION = re.compile(r"(?<![\w.-])docs/" + OLD_LEARNING_NOTES + r"\.md")

SKIPPED_FOLDERS = {".venv", ".git"}


def repository_files() -> list[pathlib.Path]:
    """README.md and the .py / .cfg files of the repository, outside .venv.

    Returns
    -------
    list of pathlib.Path
        Tracked files and untracked files that git does not ignore; without git (an
        unpacked source archive), every such file under the repository root.
    """
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
            cwd=REPOSITORY, capture_output=True, text=True, check=True).stdout.splitlines()
        paths = [REPOSITORY / name for name in listed]
    except (OSError, subprocess.CalledProcessError):
        paths = [p for p in REPOSITORY.rglob("*") if p.is_file()]
    selected = []
    for path in paths:
        relative = path.relative_to(REPOSITORY)
        if SKIPPED_FOLDERS & set(relative.parts[:-1]) or not path.is_file():
            continue
        if relative.as_posix() == "README.md" or path.suffix in (".py", ".cfg"):
            selected.append(path)
    return sorted(set(selected))


def _citations(pattern: re.Pattern) -> list[tuple[str, int, str]]:
    """(file relative to the repository, line number, cited text) of every match."""
    found = []
    for path in repository_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            for match in pattern.finditer(line):
                found.append((path.relative_to(REPOSITORY).as_posix(), number, match.group()))
    return found


def test_the_scan_sees_the_source_files():
    names = {p.relative_to(REPOSITORY).as_posix() for p in repository_files()}
    assert "README.md" in names and "setup.cfg" in names
    assert "models/network.py" in names and "tests/test_docs.py" in names
    assert not any(name.startswith(".venv/") for name in names)


def test_every_cited_docs_page_exists():
    citations = _citations(DOCS_CITATION)
    assert citations, "no docs/ citation found: the scan is broken"
    missing = [f"{where}:{line} cites {cited}, which does not exist"
               for where, line, cited in citations if not (REPOSITORY / cited).is_file()]
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("pattern", [BARE_CITATION, OLD_NOTES_CITATION],
                         ids=["bare page name", "old learning-notes name"])
def test_no_citation_outside_docs(pattern):
    wrong = [f"{where}:{line} cites {cited!r}; cite the page under docs/ (the learning "
             f"notes are docs/learning.md)" for where, line, cited in _citations(pattern)]
    assert not wrong, "\n".join(wrong)
