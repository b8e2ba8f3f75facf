"""--help pages: every option documented, options in sections, `judge --help` whole lines and
fast (it imports no command module)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest

from judge.cli import _COMMANDS, main
from judge.cli.help import Sectioned
from tests.cli import judge

ROOT = Path(__file__).parent.parent


def commands() -> list[tuple[str, click.Command]]:
    out = []
    ctx = click.Context(main)
    for name in _COMMANDS:
        command = main.get_command(ctx, name)
        assert command is not None
        subs = getattr(command, "commands", {})
        out += [(f"{name} {s}", c) for s, c in subs.items()] or [(name, command)]
    return out


@pytest.mark.parametrize(("name", "command"), commands())
def test_every_option_says_what_it_does(name: str, command: click.Command) -> None:
    silent = [
        p.opts[-1]
        for p in command.params
        if isinstance(p, click.Option) and not p.hidden and not (p.help or "").strip()
    ]
    assert silent == [], f"judge {name}: options without help: {silent}"


def titles(command: str) -> list[str]:
    """The section titles of `judge COMMAND --help`, as a user's terminal shows them."""
    done = judge(command, "--help")
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line[:1].isalpha() and line[-1] == ":"]


def test_a_long_page_is_in_sections() -> None:
    assert titles("score") == [
        "Options:",
        "Judge model:",
        "Panel and cascade:",
        "Batch API:",
        "Scoring:",
        "Calibration:",
        "Input fields:",
    ]


def test_the_command_list_is_whole_and_imports_no_command() -> None:
    code = (
        "import sys\nfrom judge.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.endswith('_cmd')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"
    listed = done.stdout.split("Commands:", 1)[1]
    assert "..." not in listed
    for name, (_, _, line) in _COMMANDS.items():
        assert line.endswith(".") and name in done.stdout


@pytest.mark.parametrize(("name", "command"), commands())
def test_every_page_is_in_sections(name: str, command: click.Command) -> None:
    """serve, models, batches and constitution too: the same sections as score's page."""
    assert isinstance(command, Sectioned), f"judge {name} --help is not in sections"


def test_serve_page_has_the_judge_model_section() -> None:
    assert titles("serve") == ["Options:", "Judge model:", "Scoring:", "Calibration:"]
