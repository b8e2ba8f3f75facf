"""docs/development.md's worked example builds and runs: a new judging command is one task module
and one CLI module."""

from __future__ import annotations

import json
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import judge.tasks
from judge.backends.base import Request
from judge.testing import FakeBackend, all_principles, use_backend

ROOT = Path(__file__).parent.parent


def blocks() -> dict[str, str]:
    """The page's python blocks, by the module path named in the sentence before each."""
    page = (ROOT / "docs" / "development.md").read_text(encoding="utf-8")
    section = page.split("## Adding a judging command", 1)[1]
    found = re.findall(
        r"`(judge/[\w/]+\.py)`[^`]*?:[^\n]*\n(?:[^\n]*\n)*?\n```python\n(.*?)```", section, re.S
    )
    return dict(found)


@pytest.fixture
def lowest_command() -> Iterator[object]:
    code = blocks()
    assert set(code) == {"judge/tasks/lowest.py", "judge/cli/lowest_cmd.py"}
    task = types.ModuleType("judge.tasks.lowest")
    sys.modules[task.__name__] = task
    try:
        exec(compile(code["judge/tasks/lowest.py"], "judge/tasks/lowest.py", "exec"), task.__dict__)
        cli = types.ModuleType("judge.cli.lowest_cmd")
        exec(
            compile(code["judge/cli/lowest_cmd.py"], "judge/cli/lowest_cmd.py", "exec"),
            cli.__dict__,
        )
        yield cli.lowest
    finally:
        del sys.modules[task.__name__]
        assert judge.tasks  # the package the example's module would live in


def test_the_worked_example_writes_the_lowest_scored_rows(
    lowest_command: object, constitution_file: Path, tmp_path: Path
) -> None:
    def answer(request: Request) -> str:
        text = request.messages[-1].content
        score = int(re.search(r"quality (\d)", text).group(1))  # type: ignore[union-attr]
        return all_principles(score)(request)

    src = tmp_path / "in.jsonl"
    rows = [{"prompt": "p", "response": f"quality {q}", "id": q} for q in (4, 1, 5, 2, 3)]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    with use_backend("fake", FakeBackend(answer=answer)):
        args = [str(src), "-c", str(constitution_file), "-m", "fake/judge", "-k", "2"]
        result = CliRunner().invoke(lowest_command, [*args, "-o", str(out), "-q"])  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    kept = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in kept] == [1, 2]
    assert "checked 5 candidates" in result.output
