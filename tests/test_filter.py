"""`judge filter`: exact thresholds, keep-top with ties at the cut, failures, calibrations."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from judge.backends.base import Request
from judge.calibration import Calibration, ProbabilityMap, save
from judge.calibration.metrics import precision_curve
from judge.cli import main
from judge.cli.filter_cmd import filter_
from judge.constitution import load
from judge.tasks.filter import passes, top_count, top_mask
from judge.testing import FakeBackend, use_backend

main.add_command(filter_)  # the lead registers it in judge/cli/__init__.py

CONSTITUTION = "name: quality\nscale: 1-5\n\n## quality\nIs it good text?\n"


def score_of(text: str) -> int:
    """The fake judge: a document written "score N ..." gets N; "FAIL" is never parseable."""
    m = re.match(r"score (\d)", text)
    return int(m.group(1)) if m else 3


def answer(request: Request) -> str:
    user = request.messages[1].content  # the first user message (re-asks add more after it)
    found = re.search(r"<candidate_(?:document|response)_\w+>\n(.*)\n</candidate_", user, re.S)
    assert found is not None and request.schema is not None
    if "FAIL" in found.group(1):
        return "I would rather not say."
    s = score_of(found.group(1))
    return json.dumps({pid: {"rationale": "ok", "score": s} for pid in request.schema["required"]})


@pytest.fixture
def backends(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[FakeBackend]]:
    made: list[FakeBackend] = []

    def factory(name: str, **kw: Any) -> FakeBackend:
        made.append(FakeBackend(name, answer))
        return made[-1]

    with use_backend("fake", factory):
        yield made


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "c.md").write_text(CONSTITUTION)
    return tmp_path


def docs(folder: Path, texts: list[str], name: str = "docs.jsonl") -> str:
    path = folder / name
    rows = [{"id": i, "text": t} for i, t in enumerate(texts)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def run(folder: Path, *args: str) -> Result:
    base = ["-c", str(folder / "c.md"), "-m", "fake/j", "--cache", str(folder / "cache.sqlite")]
    return CliRunner().invoke(main, ["filter", *args, *base])


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- the rules, exactly ----------------------------------------------------------------------


def test_a_score_equal_to_the_threshold_is_kept() -> None:
    assert passes(0.5, 0.5) and not passes(0.4999, 0.5)
    # Float rounding in a weighted mean must not decide: equal to 9 decimals is equal.
    assert passes(0.1 + 0.2 - 1e-16, 0.3) and passes(0.29999999999999993, 0.3)
    assert not passes(None, 0.0)


def test_keep_top_count_is_the_floor_of_the_fraction_as_written() -> None:
    assert top_count(0.3, 10) == 3  # 0.3 * 10 in binary floating point is 2.9999...
    assert top_count(0.07, 100) == 7
    assert top_count(0.1, 15) == 1  # never more than the fraction asked for
    assert top_count(0.5, 3) == 1
    assert top_count(1.0, 7) == 7
    assert top_count(0.1, 5) == 0


def test_keep_top_breaks_ties_at_the_cut_by_input_order() -> None:
    nan = float("nan")
    # 5 judged rows (the NaN is unjudged): keep 2 = the 0.9, then the first of the 0.5s.
    mask = top_mask([0.5, 0.9, 0.5, 0.5, nan, 0.1], 0.5)
    assert mask.tolist() == [True, True, False, False, False, False]
    assert top_mask([nan, nan], 1.0).tolist() == [False, False]


# -- the command -----------------------------------------------------------------------------


def test_min_score_keeps_the_boundary_and_carries_the_scores(
    files: Path, backends: list[FakeBackend]
) -> None:
    src = docs(files, ["score 2 low", "score 3 mid", "score 4 high", "score 5 top"])
    out = files / "kept.jsonl"
    result = run(files, src, "--min-score", "0.5", "-o", str(out))
    assert result.exit_code == 0, result.output
    kept = read(out)
    assert [r["id"] for r in kept] == [1, 2, 3]  # 0.5 (score 3 of 1-5) is kept
    assert [r["score"] for r in kept] == [0.5, 0.75, 1.0]
    assert kept[0]["text"] == "score 3 mid" and kept[0]["scores"] == {"quality": 3.0}
    assert kept[0]["judge"]["model"] == "fake/j"
    assert "kept 3 (75.0% of judged), dropped 1, failed 0" in result.stderr
    assert re.search(r"\d+ in / \d+ out tokens", result.stderr)


def test_failed_items_are_counted_and_never_kept(files: Path, backends: list[FakeBackend]) -> None:
    src = docs(files, ["score 5 a", "FAIL score 5", "", "score 1 b"])
    out, rejected = files / "kept.jsonl", files / "rejected.jsonl"
    result = run(files, src, "--min-score", "0", "-o", str(out), "--rejected", str(rejected))
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in read(out)] == [0, 3]
    dropped = read(rejected)
    assert [r["id"] for r in dropped] == [1, 2]
    assert all(r["score"] is None and r["judge"]["error"] for r in dropped)
    assert "kept 2 (100.0% of judged), dropped 0, failed 2" in result.stderr


def test_keep_top_with_ties_at_the_cut(files: Path, backends: list[FakeBackend]) -> None:
    texts = ["score 3 a", "score 5 b", "score 4 c", "score 4 d", "FAIL", "score 4 e", "score 1 f"]
    src = docs(files, texts)
    out, rejected = files / "kept.jsonl", files / "rejected.jsonl"
    # 6 judged -> floor(0.5 * 6) = 3: the 5, then the 4s of rows 2 and 3 (row 5's 4 is cut).
    result = run(files, src, "--keep-top", "0.5", "-o", str(out), "--rejected", str(rejected))
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in read(out)] == [1, 2, 3]  # in input order
    assert [r["id"] for r in read(rejected)] == [0, 4, 5, 6]
    assert "kept 3 (50.0% of judged), dropped 3, failed 1" in result.stderr
    assert sorted(p.name for p in files.iterdir() if p.name.startswith(".")) == []  # spool gone


def test_keep_top_spools_next_to_the_output_and_sweeps_a_killed_runs_spool(
    files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_io_tempfiles import dead_pid, temp_of

    out = files / "kept.jsonl"
    killed = temp_of(out, dead_pid(), ".spool.tmp")  # a run killed with SIGKILL left it
    (killed / "spool.jsonl").parent.mkdir()
    (killed / "spool.jsonl").write_text('{"half": "writ')
    seen: list[list[str]] = []

    def watching(request: Request) -> str:  # what lies next to the output while judging
        seen.append(sorted(p.name for p in files.iterdir() if p.name.startswith(".kept.jsonl.")))
        return answer(request)

    with use_backend("fake", lambda name, **kw: FakeBackend(name, watching)):
        result = run(
            files, docs(files, ["score 5 a", "score 1 b"]), "--keep-top", "0.5", "-o", str(out)
        )
    assert result.exit_code == 0, result.output
    assert seen and all(any(n.endswith(".spool.tmp") for n in names) for names in seen)
    assert all(killed.name not in names for names in seen)  # swept before judging began
    assert [r["id"] for r in read(out)] == [0]
    assert not [p for p in files.iterdir() if p.name.startswith(".")]


def test_prompt_response_rows_and_parquet_output(files: Path, backends: list[FakeBackend]) -> None:
    import pandas as pd

    src = files / "rows.jsonl"
    rows = [{"prompt": "q", "responses": ["score 5 yes", "score 2 no"], "tag": "t"}]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = files / "kept.parquet"
    result = run(files, str(src), "--min-score", "0.6", "-o", str(out))
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out)
    assert table["response"].tolist() == ["score 5 yes"] and table["tag"].tolist() == ["t"]
    assert table["score"].tolist() == [1.0] and table["response_index"].tolist() == [0]


def write_calibration(folder: Path, kind: str = "absolute") -> Path:
    curve = precision_curve([0.25, 0.5, 0.75, 1.0], [False, False, True, True])
    c = load(str(folder / "c.md"))
    cal = Calibration(
        kind=kind,
        input="score" if kind == "absolute" else "margin",
        map=ProbabilityMap("isotonic", x=(0.0, 1.0), y=(0.1, 0.9)),
        n=4,
        model="fake/j",
        constitution={"name": c.name, "sha256": c.sha256},
        thresholds=curve if kind == "absolute" else None,
    )
    path = folder / f"{kind}.json"
    save(cal, path)
    return path


def test_target_precision_picks_the_threshold_from_the_calibration(
    files: Path, backends: list[FakeBackend]
) -> None:
    cal = write_calibration(files)
    src = docs(files, ["score 3", "score 4", "score 5"])
    out = files / "kept.jsonl"
    result = run(files, src, "--target-precision", "0.9", "--calibration", str(cal), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "keeping scores >= 0.75" in result.stderr and "precision 1.000" in result.stderr
    kept = read(out)
    assert [r["id"] for r in kept] == [1, 2]
    assert [r["calibrated_score"] for r in kept] == [pytest.approx(0.7), pytest.approx(0.9)]
    assert "warning" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give exactly one of --min-score"),
        (["--min-score", "0.5", "--keep-top", "0.1"], "give exactly one of"),
        (["--target-precision", "0.9"], "needs --calibration"),
        (["--keep-top", "0"], "0<x<=1"),
    ],
)
def test_rule_usage_errors(
    files: Path, backends: list[FakeBackend], args: list[str], message: str
) -> None:
    result = run(files, docs(files, ["score 3"]), *args)
    assert result.exit_code == 2 and message in result.output
    assert not any(b.requests for b in backends)


def test_unreachable_precision_and_wrong_calibration_kind(
    files: Path, backends: list[FakeBackend]
) -> None:
    src = docs(files, ["score 3"])
    cal = write_calibration(files)
    result = run(files, src, "--target-precision", "1.0", "--calibration", str(cal))
    assert result.exit_code == 0  # precision 1.0 is reached at 0.75
    pairwise = write_calibration(files, "pairwise")
    result = run(files, src, "--target-precision", "0.9", "--calibration", str(pairwise))
    assert result.exit_code == 2
    assert "fitted on pairwise labels" in result.stderr
    assert len(backends) == 1  # refused before any backend was made for the second run


def test_dry_run_calls_nothing(files: Path, backends: list[FakeBackend]) -> None:
    result = run(files, docs(files, ["score 3", "score 4"]), "--min-score", "0.5", "--dry-run")
    assert result.exit_code == 0
    assert "2 candidates -> 2 calls" in result.stderr
    assert result.stdout == "" and not any(b.requests for b in backends)
