"""`requires: reference`: parsed, linted, rendered, and applied only to rows with a reference,
with the summary saying how many rows went without; the shipped reference-graded constitution."""

from __future__ import annotations

import json
from pathlib import Path

from judge.constitution import check_text
from judge.constitution import parse as loads
from judge.constitution.render import render
from judge.judging.grouped import GroupScorer
from judge.judging.scoring import ScoreOptions, Scorer
from judge.records import Candidate
from judge.testing import without_codes
from tests.fakes import FakeOpenAIServer, last_user_text
from tests.test_conversations import CHAT, judge, write

ROOT = Path(__file__).resolve().parents[1]
GRADED = ROOT / "constitutions" / "reference-graded.md"

TEXT = """name: graded

## correct
requires: reference

Judge whether the response agrees with the reference answer.

## clear

Judge whether the response is clear.
"""


def test_requires_reference_is_parsed_and_rendered() -> None:
    c = loads(TEXT)
    assert [p.requires for p in c.principles] == [["reference"], []]
    again = loads(render(c))
    assert "requires: reference" in render(c)
    assert [p.requires for p in again.principles] == [["reference"], []]
    assert [p.id for p in c.applicable(False)] == ["clear"]
    assert [p.id for p in c.applicable(True)] == ["correct", "clear"]


def test_requires_is_linted() -> None:
    bad = check_text(TEXT.replace("requires: reference", "requires: oracle"))
    assert any(p.line == 4 and "unknown requirement `oracle`" in p.message for p in bad)
    silent = TEXT.replace("agrees with the reference answer", "is right")
    (warning,) = check_text(silent)
    assert warning.level == "warning" and warning.line == 3 and "say how" in warning.message
    assert check_text(GRADED.read_text(), path=str(GRADED)) == []


def test_a_principle_that_requires_a_reference_skips_rows_without_one() -> None:
    c = loads(TEXT)
    with_ref = Candidate(index=0, row_index=1, prompt="Q", response="A", reference="R")
    without = Candidate(index=1, row_index=2, prompt="Q", response="A")
    for scorer in (Scorer(c), GroupScorer(c, ScoreOptions(group=4))):
        (req,) = scorer.requests(with_ref)
        assert "## correct" in req.messages[0].content and "<reference>" in without_codes(
            req.messages[1].content
        )
        (req,) = scorer.requests(without)
        assert "## correct" not in req.messages[0].content
        assert set(req.schema["properties"]) == {"clear"} or "$defs" in req.schema
    only = loads(TEXT.split("## clear")[0])
    assert Scorer(only).requests(without) == []


def test_the_summary_counts_the_rows_judged_without_a_reference(tmp_path: Path) -> None:
    rows = [
        {"messages": CHAT, "reference": ["R1", None, "R3"]},
        {"prompt": "P", "response": "A"},
    ]
    out = tmp_path / "out.jsonl"
    with FakeOpenAIServer() as server:
        proc = judge(
            "score", str(write(tmp_path, rows)), "-c", str(GRADED), "--turns", "all",
            "--concurrency", "1", "-o", str(out), tmp_path=tmp_path, server=server,
        )  # fmt: skip
        users = [without_codes(last_user_text(b)) for b in server.bodies]
    assert proc.returncode == 0, proc.stderr
    assert "2 rows without a reference: not judged under correct" in proc.stderr
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [sorted(r["scores"]) for r in got] == [
        ["correct", "helpful", "honest"], ["helpful", "honest"],
        ["correct", "helpful", "honest"], ["helpful", "honest"],
    ]  # fmt: skip
    assert all(r["score"] is not None for r in got)
    assert sum("<reference>" in u for u in users) == 2
