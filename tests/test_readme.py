"""The README's quick start is exactly two commands, and CI runs the second one verbatim."""
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _quick_start_commands():
    text = open(os.path.join(ROOT, "README.md")).read()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.S)]


def test_quick_start_has_two_commands_and_ci_runs_the_test_one():
    commands = _quick_start_commands()
    assert len(commands) == 2 and all("\n" not in c for c in commands)
    assert commands[0].endswith("run_sim.py simulate")
    assert "pytest" in commands[1]
    ci = open(os.path.join(ROOT, ".ci", "run")).read().splitlines()
    assert commands[1] in ci
