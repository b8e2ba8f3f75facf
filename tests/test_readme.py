"""The README's two set-up commands stay true: CI runs the test command verbatim."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent


def setup_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Set up", 1)[1].split("\n#", 1)[0]
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", section, re.DOTALL)]


def test_readme_has_exactly_two_setup_commands() -> None:
    commands = setup_commands()
    assert len(commands) == 2
    install_and_run, test = commands
    assert "judge score examples/" in install_and_run and ".[local]" in install_and_run
    assert "pytest" in test
    for command in commands:
        assert "\n" not in command  # one line each, to paste as it is


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert setup_commands()[1] in ci.splitlines()


def test_readme_example_paths_exist() -> None:
    install_and_run = setup_commands()[0]
    for path in re.findall(r"(?:examples|constitutions)/[\w./-]+", install_and_run):
        assert (ROOT / path).exists(), path
