"""`judge revise` through click, with a fake model whose critiques, revisions and scores the test
controls (and one run on the embedded model)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from judge.backends.base import Request, Response
from judge.cli import _Group
from judge.cli.pairs_cmd import pairs
from judge.cli.revise_cmd import revise
from judge.tasks.pairs.rows import empty_schema
from judge.testing import FakeBackend, use_backend
from tests.test_revise import between, router


@click.group(cls=_Group)
def cli() -> None:
    """The commands under test, with the real group's error handling."""


cli.add_command(revise)
cli.add_command(pairs)

ROWS: list[dict[str, Any]] = [
    {"id": "a", "prompt": "2+2?", "response": "ok", "extra": [1]},
    {"id": "b", "prompt": "Capital of France?", "responses": ["meh", "fine"]},
]


def score(text: str) -> int:
    return 5 if "good" in text else 2


def revise_text(text: str) -> str:
    fixed = {"ok": "good: 4", "meh": "still meh", "still meh": "still meh", "fine": "fine"}
    return fixed.get(text, text + " good")


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def fake(fake_backend: FakeBackend) -> FakeBackend:
    fake_backend.answer = router(score=score, revise=revise_text)
    return fake_backend


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "in.jsonl", ROWS)


def test_rows_keep_input_fields_and_hold_the_revision_and_both_scores(
    tmp_path: Path, src: Path, constitution_file: Path, fake: FakeBackend
) -> None:
    out = tmp_path / "out.jsonl"
    result = invoke(
        "revise",
        str(src),
        "-c",
        str(constitution_file),
        "-m",
        "fake/judge",
        "--rounds",
        "2",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    rows = read_jsonl(out)
    assert [(r["id"], r.get("response_index")) for r in rows] == [("a", None), ("b", 0), ("b", 1)]
    a, meh, fine = rows
    assert a["extra"] == [1] and a["response"] == "ok"
    assert [(x["round"], x["principle"]) for x in a["revisions"]] == [
        (1, "helpful"),
        (2, "helpful"),
    ]
    assert a["revisions"][1]["critique"] == "critique of [good: 4]"  # round 2 saw round 1's text
    assert a["revision"] == "good: 4 good"
    assert (a["score_original"], a["score_revision"]) == (0.2375, 0.875)
    assert a["scores_revision"] == {"helpful": 5.0, "honest": 5.0}
    assert (a["improved"], meh["improved"], fine["improved"]) == (True, False, False)
    judge = a["judge"]
    assert judge["model"] == judge["revision_model"] == "fake/judge" and judge["error"] is None
    assert judge["constitution"]["name"] == "tiny"
    assert judge["usage"]["calls"] == 6  # 2 rounds x (critique + revision) + 2 judge calls
    assert fine["judge"]["usage_judge"]["calls"] == 1  # unchanged: the original's verdict serves
    assert "improved 1 of 3 judged items" in result.stderr
    assert json.loads((tmp_path / "out.jsonl.meta.json").read_text())["improved"] == 1


def test_pairs_only_where_improved_in_the_judge_pairs_format(
    tmp_path: Path, src: Path, constitution_file: Path, fake: FakeBackend
) -> None:
    out = tmp_path / "pairs.parquet"
    result = invoke(
        "revise",
        str(src),
        "-c",
        str(constitution_file),
        "-m",
        "fake/judge",
        "--pairs",
        str(out),
        "--format",
        "standard",
        "-o",
        str(tmp_path / "rows.jsonl"),
    )
    assert result.exit_code == 0, result.output
    import pyarrow.parquet as pq

    table = pq.read_table(out)
    schema = empty_schema(
        conversational=False, mode="score", principles=["helpful", "honest"], prompt_id=True
    )
    assert table.column_names == schema.names
    (pair,) = table.to_pylist()
    assert (pair["prompt"], pair["chosen"], pair["rejected"]) == ("2+2?\n\n", "good: 4", "ok")
    assert (pair["chosen_index"], pair["rejected_index"], pair["prompt_id"]) == (1, 0, "a")
    assert pair["margin"] == pytest.approx(0.875 - 0.2375) and pair["mode"] == "score"

    conv = tmp_path / "conv.jsonl"
    invoke(
        "revise",
        str(src),
        "-c",
        str(constitution_file),
        "-m",
        "fake/judge",
        "--pairs",
        str(conv),
        "--conversational",
        "-o",
        str(tmp_path / "rows.jsonl"),
    )
    (row,) = read_jsonl(conv)
    assert row["prompt"] == [{"role": "user", "content": "2+2?"}]
    assert row["chosen"] == [{"role": "assistant", "content": "good: 4"}]
    default = tmp_path / "default.jsonl"  # the conversational form is the default
    invoke(
        "revise", str(src), "-c", str(constitution_file), "-m", "fake/judge",
        "--pairs", str(default), "-o", str(tmp_path / "rows.jsonl"),
    )  # fmt: skip
    assert read_jsonl(default) == [row]
    alone = invoke("revise", str(src), "-c", str(constitution_file), "--format", "standard")
    assert alone.exit_code == 2 and "add --pairs OUT" in alone.stderr

    # No improvement anywhere: an empty dataset that still has the pairs' columns.
    fake.answer = router(score=lambda text: 3)
    empty = tmp_path / "none.parquet"
    result = invoke(
        "revise",
        str(src),
        "-c",
        str(constitution_file),
        "-m",
        "fake/judge",
        "--pairs",
        str(empty),
        "-o",
        str(tmp_path / "rows2.jsonl"),
        "--no-cache",
    )
    assert result.exit_code == 0, result.output
    assert pq.read_table(empty).num_rows == 0 and pq.read_table(empty).column_names == schema.names


def controlled(request: Request) -> Response:
    """Fixed token counts per kind of call, for an exact efficiency figure."""
    if request.schema is not None:
        text = between(request.messages[1].content, "candidate_response")
        s = 5 if text.startswith("better") else 2
        body = json.dumps({p: {"rationale": "r", "score": s} for p in request.schema["required"]})
        return Response(body, input_tokens=200, output_tokens=30, finish_reason="stop")
    if len(request.messages) > 2:
        current = between(request.messages[1].content, "candidate_response")
        text = "better".ljust(40, ".") if current == "a" else "worse"
        return Response(text, input_tokens=150, output_tokens=20, finish_reason="stop")
    return Response("crit", input_tokens=100, output_tokens=10, finish_reason="stop")


def test_efficiency_figure_on_a_controlled_case(
    tmp_path: Path, constitution_file: Path, fake: FakeBackend
) -> None:
    fake.answer = controlled
    src = write_jsonl(
        tmp_path / "in.jsonl",
        [{"prompt": "p1", "response": "a"}, {"prompt": "p2", "response": "b"}],
    )
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"fake/": {"input": 1.0, "output": 2.0}}))
    out = tmp_path / "out.jsonl"
    args = ["revise", str(src), "-c", str(constitution_file), "-m", "fake/judge", "-o", str(out)]
    result = invoke(*args, "--prices", str(prices))
    assert result.exit_code == 0, result.output
    # Generated: 2 items x (10 + 20 critique/revision output) + 4 judge calls x (200 + 30) = 980.
    # Kept: the one improved revision, 40 characters = 10 tokens. Cost per item in USD per
    # million: 100 + 2*10 + 150 + 2*20 + 2 x (200 + 2*30) = 830; two items, one kept.
    meta = json.loads((tmp_path / "out.jsonl.meta.json").read_text())
    assert meta["tokens"] == {
        "critique_revision_output": 60,
        "judge_input": 800,
        "judge_output": 120,
        "generated": 980,
        "kept": 10,
    }
    assert meta["tokens_generated_per_token_kept"] == 98.0
    assert meta["cost_usd"] == pytest.approx(0.00166)
    assert meta["usd_per_1000_kept"] == pytest.approx(1.66)
    assert "tokens generated per token kept: 98.0" in result.stderr
    assert "$1.66 per 1,000 kept samples" in result.stderr

    result = invoke(*args)  # no price for the fake model: tokens still, dollars unknown
    meta = json.loads((tmp_path / "out.jsonl.meta.json").read_text())
    assert meta["tokens_generated_per_token_kept"] == 98.0  # cached calls count: same figure
    assert meta["usd_per_1000_kept"] is None and "price unknown" in result.stderr


def test_a_rerun_makes_no_calls_and_writes_the_same_rows(
    tmp_path: Path, src: Path, constitution_file: Path, fake: FakeBackend
) -> None:
    args = ["revise", str(src), "-c", str(constitution_file), "-m", "fake/judge", "--rounds", "2"]
    first = invoke(*args, "-o", str(tmp_path / "1.jsonl"))
    calls = len(fake.requests)
    # 3 items x 2 rounds x 2 + 5 judge calls (one for the unchanged item), less the 2 calls of
    # its round 2, which asks round 1's questions again: the cache answers them.
    assert calls == 3 * 4 + 5 - 2
    plan = invoke(*args, "--dry-run")
    assert "-> 17 calls (17 already cached, 0 to make)" in plan.stderr  # 2 asked twice
    second = invoke(*args, "-o", str(tmp_path / "2.jsonl"))
    assert first.exit_code == second.exit_code == 0
    assert len(fake.requests) == calls  # everything came from the cache
    strip = lambda rows: [{**r, "judge": {**r["judge"], "cached": None}} for r in rows]  # noqa: E731
    assert strip(read_jsonl(tmp_path / "1.jsonl")) == strip(read_jsonl(tmp_path / "2.jsonl"))
    assert all(r["judge"]["cached"] for r in read_jsonl(tmp_path / "2.jsonl"))


def test_dry_run_counts_and_calls_nothing(
    src: Path, constitution_file: Path, fake: FakeBackend
) -> None:
    result = invoke(
        "revise",
        str(src),
        "-c",
        str(constitution_file),
        "-m",
        "fake/judge",
        "--rounds",
        "3",
        "--dry-run",
    )
    assert result.exit_code == 0, result.output
    assert "3 items x (3 rounds x 2 calls + 2 judge calls) -> 24 calls" in result.stderr
    assert "as the response they revise" in result.stderr  # the estimate is said
    assert fake.requests == [] and result.stdout == ""


def test_a_constitution_without_critique_and_revision_exits_2(
    tmp_path: Path, src: Path, fake: FakeBackend
) -> None:
    bare = tmp_path / "bare.md"
    bare.write_text("name: bare\n\n## good\nIs it good?\n", encoding="utf-8")
    result = invoke("revise", str(src), "-c", str(bare), "-m", "fake/judge")
    assert result.exit_code == 2
    assert "### Critique" in result.stderr and "add both to at least one principle" in result.stderr
    assert fake.requests == []


@pytest.fixture
def strong() -> Iterator[FakeBackend]:
    backend = FakeBackend(model="strong", answer=router(score=score))
    with use_backend("strong", backend):
        yield backend


def test_judge_model_judges_and_the_budget_covers_both_models(
    tmp_path: Path, src: Path, constitution_file: Path, fake: FakeBackend, strong: FakeBackend
) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"fake/": {"input": 1000.0, "output": 1000.0}}))
    args = [
        "revise",
        str(src),
        "-c",
        str(constitution_file),
        "-m",
        "fake/judge",
        "--judge-model",
        "strong/x",
        "--prices",
        str(prices),
        "--concurrency",
        "1",
    ]
    result = invoke(*args, "-o", str(tmp_path / "all.jsonl"))
    assert result.exit_code == 0, result.output
    assert all(r.schema is None for r in fake.requests)
    assert strong.requests and all(r.schema is not None for r in strong.requests)
    rows = read_jsonl(tmp_path / "all.jsonl")
    assert rows[0]["judge"]["model"] == "fake/strong"
    assert rows[0]["judge"]["revision_model"] == "fake/judge"
    # One count for both models: the summary's calls, and so the --max-cost budget.
    calls = len(fake.requests), len(strong.requests)
    assert f"{sum(calls)} calls, 0 from cache" in result.stderr
    spent = sum(r["judge"]["usage"]["cost_usd"] for r in rows)

    # A budget that runs out part way: exit 1, rows explained; raise it and the rerun finishes,
    # paying for no call twice.
    fake.requests.clear()
    strong.requests.clear()
    cache = ["--cache", str(tmp_path / "c2.sqlite")]
    tight = invoke(*args, *cache, "--max-cost", f"{spent / 2}", "-o", str(tmp_path / "p.jsonl"))
    assert tight.exit_code == 1 and "--max-cost budget was reached" in tight.stderr
    part = read_jsonl(tmp_path / "p.jsonl")
    assert any(r["improved"] is None and "budget" in r["judge"]["error"] for r in part)
    assert len(fake.requests) + len(strong.requests) < sum(calls)
    rerun = invoke(*args, *cache, "-o", str(tmp_path / "p2.jsonl"))
    assert rerun.exit_code == 0
    assert (len(fake.requests), len(strong.requests)) == calls
    assert read_jsonl(tmp_path / "p2.jsonl") == rows


def test_emit_candidates_feeds_judge_pairs_with_the_same_pairs(
    tmp_path: Path, src: Path, constitution_file: Path, fake: FakeBackend
) -> None:
    cands = tmp_path / "cands.jsonl"
    direct = tmp_path / "direct.jsonl"
    result = invoke(
        "revise",
        str(src),
        "-c",
        str(constitution_file),
        "-m",
        "fake/judge",
        "--min-margin",
        "0.1",
        "--pairs",
        str(direct),
        "--emit-candidates",
        str(cands),
        "-o",
        str(tmp_path / "rows.jsonl"),
    )
    assert result.exit_code == 0, result.output
    assert read_jsonl(cands)[0] == {
        "id": "a",
        "prompt": "2+2?",
        "responses": ["ok", "good: 4"],
        "extra": [1],
    }
    calls = len(fake.requests)
    via = tmp_path / "via.jsonl"
    result = invoke(
        "pairs", str(cands), "-c", str(constitution_file), "-m", "fake/judge", "-o", str(via)
    )
    assert result.exit_code == 0, result.output
    assert len(fake.requests) == calls  # the judge's verdicts came from the cache
    assert read_jsonl(via) == read_jsonl(direct)


EMBEDDED = """\
name: short
scale: 1-5

## correct

Is the response correct?

### Critique
Is anything wrong? One sentence.

### Revision
Fix it. Be brief.
"""


@pytest.mark.embedded
def test_revise_on_the_embedded_model_end_to_end(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp", reason="the embedded model needs the `local` extra")
    constitution = tmp_path / "short.md"
    constitution.write_text(EMBEDDED, encoding="utf-8")
    src = write_jsonl(tmp_path / "in.jsonl", [{"prompt": "What is 2+2?", "response": "5"}])
    out = tmp_path / "out.jsonl"
    result = invoke(
        "revise",
        str(src),
        "-c",
        str(constitution),
        "-o",
        str(out),
        "--critique-max-tokens",
        "120",
        "--revision-max-tokens",
        "200",
    )
    (row,) = read_jsonl(out)
    judge = row["judge"]
    # The one item judged (exit 0), or not, and then the run judged nothing (exit 1).
    assert result.exit_code == (0 if judge["error"] is None else 1), result.output
    assert judge["model"] == judge["revision_model"] == "local/smollm2"
    if judge["error"] is None:  # complete
        assert isinstance(row["revision"], str) and row["revision"].strip()
        assert len(row["revisions"]) == 1 and row["revisions"][0]["critique"].strip()
        assert 0 <= row["score_original"] <= 1 and 0 <= row["score_revision"] <= 1
        assert isinstance(row["improved"], bool)
    else:  # or explained
        assert row["improved"] is None and judge["error"].strip()
    assert judge["usage"]["output_tokens"] > 0 and judge["usage"]["cost_usd"] == 0.0
    assert "tokens generated per token kept" in result.stderr
