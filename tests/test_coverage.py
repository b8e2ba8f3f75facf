"""A run that left items unjudged says so in its last line; one that judged nothing, or less
than --fail-under, exits 1 (CLI and Python API); the pairs summary's counts add up."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import judge
from judge.backends.base import Request, Response
from judge.cli import main
from judge.errors import RunFailed
from judge.testing import FakeBackend, all_principles
from tests.fakes import FakeOpenAIServer, auto_reply

ROOT = Path(__file__).parent.parent


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def cut_off_when(marker: str) -> Any:
    """Answers that parse, except for prompts holding `marker`: cut off at the token cap."""
    good = all_principles(4)

    def answer(request: Request) -> str | Response:
        if any(marker in m.content for m in request.messages):
            return Response(text='{"helpful": {"rationale": "an endless', finish_reason="length")
        return good(request)

    return answer


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False, env=env)


ROWS = [{"id": i, "prompt": f"q{i}", "response": "BAD" if i < 2 else f"a{i}"} for i in range(8)]


def test_the_last_line_counts_the_unjudged_and_the_most_common_reason(
    tmp_path: Path, constitution_file: Path, fake_backend: FakeBackend
) -> None:
    fake_backend.answer = cut_off_when("BAD")
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    result = run("score", str(src), "-c", str(constitution_file), "-m", "fake/j", "--no-cache")
    assert result.exit_code == 0, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("judge: 2 of 8 candidates not judged; most common reason: ")
    assert "cut off at the token limit" in last and "(2 calls)" in last


def test_a_run_that_judged_nothing_exits_1(
    tmp_path: Path, constitution_file: Path, fake_backend: FakeBackend
) -> None:
    fake_backend.answer = cut_off_when("q")
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    out = tmp_path / "out.jsonl"
    result = run("score", str(src), "-c", str(constitution_file), "-m", "fake/j", "-o", str(out))
    assert result.exit_code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("judge: error: nothing was judged: all 8 candidates went unjudged;")
    assert len(out.read_text().splitlines()) == 8  # every row is still written, with its reason


@pytest.mark.parametrize("how", ["flag", "env"])
def test_fail_under_fails_a_run_that_judged_too_little(
    tmp_path: Path, constitution_file: Path, fake_backend: FakeBackend, how: str
) -> None:
    fake_backend.answer = cut_off_when("BAD")
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    args = ["score", str(src), "-c", str(constitution_file), "-m", "fake/j"]
    if how == "flag":
        result = run(*args, "--fail-under", "0.9")
    else:
        result = run(*args, env={"JUDGE_FAIL_UNDER": "0.9"})
    assert result.exit_code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("judge: error: 6 of 8 candidates judged (75%), under --fail-under 0.9;")
    # 0.75 passes, and so does a run with nothing unjudged
    assert run(*args, "--fail-under", "0.75").exit_code == 0


def test_the_python_api_takes_fail_under(
    constitution_file: Path, fake_backend: FakeBackend
) -> None:
    fake_backend.answer = cut_off_when("BAD")
    records = [{k: v for k, v in r.items() if k != "id"} for r in ROWS]
    kept = judge.score(records, constitution_file, model="fake/j", fail_under=0.5)
    assert sum(r.verdict.score is None for r in kept) == 2
    with pytest.raises(RunFailed) as failed:
        judge.score(records, constitution_file, model="fake/j", fail_under=0.8)
    assert "under --fail-under 0.8" in failed.value.lines[-1]
    assert len(failed.value.result) == 8


def test_fail_under_through_a_subprocess(tmp_path: Path, constitution_file: Path) -> None:
    def handler(body: dict[str, Any]) -> Any:
        if "BAD" in json.dumps(body["messages"]):  # re-asks too
            return "not json at all"
        return auto_reply(body)

    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    with FakeOpenAIServer(handler=handler) as server:
        cmd = [sys.executable, "-m", "judge", "score", str(src), "-c", str(constitution_file)]
        cmd += ["-m", "openai/test", "--base-url", server.base_url, "--no-cache"]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_API_KEY": "sk-test"}
        proc = subprocess.run(
            [*cmd, "--fail-under", "0.9"], capture_output=True, text=True, timeout=120, env=env
        )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("judge: error: 6 of 8 candidates judged (75%), under --fail-under")
    assert len(proc.stdout.splitlines()) == 8


def test_the_pairs_summary_adds_up(
    tmp_path: Path, constitution_file: Path, fake_backend: FakeBackend
) -> None:
    fake_backend.answer = cut_off_when("BAD")
    rows = [
        {"id": "p1", "prompt": "one", "responses": ["a", "b", "a", "", "BAD 1"]},
        {"id": "p2", "prompt": "two", "responses": ["c", "BAD 2", "c", "d"]},
        {"id": "p3", "prompt": "three", "responses": ["e", ""]},
    ]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "pairs.jsonl"
    result = run("pairs", str(src), "-c", str(constitution_file), "-m", "fake/j", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    text = result.stderr
    # The first line counts prompts only; candidates are counted once, in numbers that add up.
    first = text.splitlines()[0]
    assert first.startswith("judge: paired 3 prompts; in ") and "judged" not in first
    counts = re.search(
        r"3 prompts, 11 candidates: (\d+) judged, (\d+) not judged, (\d+) duplicate texts", text
    )
    assert counts is not None, text
    judged, unjudged, dupes = map(int, counts.groups())
    assert (judged, unjudged, dupes) == (5, 4, 2) and judged + unjudged + dupes == 11
    reasons = re.search(r"not judged because: (.*)", text)
    assert reasons is not None
    assert sum(int(n) for n in re.findall(r"\((\d+) candidates?\)", reasons[1])) == unjudged
    assert "judge: 2 calls without a verdict" in text  # the two BAD ones; empties cost no call
    assert text.strip().splitlines()[-1].startswith("judge: 4 of 9 candidates not judged;")
