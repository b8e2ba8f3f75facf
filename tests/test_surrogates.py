"""A lone surrogate ("\\ud800" in JSON) in one row: that item unjudged with its reason, the rest
judged, every output format written, in every command (issue 21, section 4)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest

from judge.io.values import _dumps, replace_surrogates
from tests.cli import judge
from tests.fakes import FakeOpenAIServer

ROWS = (
    '{"id": 1, "prompt": "q1", "response": "a1"}\n'
    '{"id": 2, "prompt": "q2", "response": "bad \\ud800 x", "note": "\\udfff"}\n'
    '{"id": 3, "prompt": "q3", "response": "a3"}\n'
)
GROUPS = (
    '{"id": 1, "prompt": "q1", "responses": ["a1", "b1"]}\n'
    '{"id": 2, "prompt": "q2 \\udc00", "responses": ["a2", "b2"]}\n'
    '{"id": 3, "prompt": "q3", "responses": ["a3 \\ud800", "b3"]}\n'
)


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as s:
        yield s


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet", ".csv", ""])
def test_score_judges_the_rest_and_keeps_the_row(
    tmp_path: Path, constitution_file: Path, server: FakeOpenAIServer, suffix: str
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(ROWS, encoding="utf-8")
    out = tmp_path / f"out{suffix}"
    model = ("-m", "openai/test", "--base-url", server.base_url, "--no-cache")
    done = judge("score", str(src), "-c", str(constitution_file), *model, "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "lone surrogate" in done.stderr
    if suffix == ".jsonl":
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        # The row is kept as it came in: the surrogate escaped, as JSON allows.
        assert rows[1]["response"] == "bad \ud800 x" and rows[1]["note"] == "\udfff"
    elif suffix == ".parquet":
        rows = pq.read_table(out).to_pylist()
        assert rows[1]["response"] == "bad \ufffd x"  # Parquet holds UTF-8 only
    elif suffix == ".csv":
        with out.open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    else:
        rows = list(datasets.load_from_disk(str(out)))
    assert [str(r["id"]) for r in rows] == ["1", "2", "3"]
    assert rows[1]["score"] in (None, "")
    assert rows[0]["score"] not in (None, "") and rows[2]["score"] not in (None, "")


def test_score_to_stdout(tmp_path: Path, constitution_file: Path, server: FakeOpenAIServer) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(ROWS, encoding="utf-8")
    done = judge(
        "score", str(src), "-c", str(constitution_file), "-m", "openai/test", "--base-url",
        server.base_url, "--no-cache",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(rows) == 3 and rows[1]["judge"]["error"] and "surrogate" in rows[1]["judge"]["error"]


@pytest.mark.parametrize("command", ["pairs", "revise"])
def test_pairs_and_revise(
    tmp_path: Path, constitution_file: Path, server: FakeOpenAIServer, command: str
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(GROUPS if command == "pairs" else ROWS, encoding="utf-8")
    out = tmp_path / "out.jsonl"
    done = judge(
        command, str(src), "-c", str(constitution_file), "-m", "openai/test", "--base-url",
        server.base_url, "--no-cache", "-o", str(out),
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stderr
    assert "lone surrogate" in done.stderr


def test_distill_and_classify(tmp_path: Path) -> None:
    src = tmp_path / "scored.jsonl"
    lines = []
    for i in range(120):
        good = i % 2 == 0
        text = ("fine clear answer " if good else "junk spam noise ") * 3 + str(i)
        lines.append(json.dumps({"text": text + (" \ud800" if i == 4 else ""), "score": int(good)}))
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    model = tmp_path / "model"
    done = judge("distill", str(src), "-o", str(model), "--min-score", "0.5")
    assert done.returncode == 0, done.stderr
    done = judge(
        "filter", str(src), "--classifier", str(model), "--min-prob", "0.5",
        "-o", str(tmp_path / "kept.jsonl"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_dumps_escapes_only_lines_with_a_surrogate() -> None:
    assert _dumps({"a": "é"}) == '{"a": "é"}'
    line = _dumps({"a": "é \ud800"})
    line.encode("utf-8")  # valid UTF-8
    assert json.loads(line) == {"a": "é \ud800"}
    assert replace_surrogates({"k\udc00": ["\ud800"]}) == {"k\ufffd": ["\ufffd"]}


def test_calibrate(tmp_path: Path, constitution_file: Path, server: FakeOpenAIServer) -> None:
    labels = tmp_path / "labels.jsonl"
    rows = []
    for i in range(12):
        b = f"b{i}" + (" \ud800" if i == 3 else "")
        rows.append({"id": str(i), "prompt": f"q{i}", "response_a": f"a{i}", "response_b": b})
        rows[-1]["preference"] = "a" if i % 2 else "b"
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    done = judge(
        "calibrate", str(labels), "-c", str(constitution_file), "-m", "openai/test",
        "--base-url", server.base_url, "--no-cache", "-o", str(tmp_path / "cal"),
    )  # fmt: skip
    assert "Traceback" not in done.stderr and "lone surrogate" in done.stderr, done.stderr
    judged = [json.loads(line) for line in (tmp_path / "cal" / "judgments.jsonl").open()]
    assert len(judged) == 12
