"""judge.Session: one connection pool, one cache and one budget across its calls; everything it
opened is closed on exit, also when a call fails; typed methods and keywords."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import judge
from judge.errors import ConfigError, RunFailed
from judge.testing import FakeBackend
from tests.fakes import FakeOpenAIServer, Fault

ROOT = Path(__file__).resolve().parent.parent
MODEL = "openai/gpt-4o-mini"  # a model with a built-in price, served by the fake server


def rows(tag: str, n: int = 3) -> list[dict[str, Any]]:
    return [{"prompt": f"question {tag}{i}", "response": f"answer {tag}{i}"} for i in range(n)]


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")


def test_a_session_scores_filters_pairs_and_plans_through_one_connection(
    constitution_file: Path, key: None, tmp_path: Path
) -> None:
    with FakeOpenAIServer() as server:
        with judge.Session(
            MODEL, base_url=server.base_url, concurrency=1, cache=tmp_path / "c.sqlite"
        ) as s:
            scored = s.score(rows("s"), constitution_file)
            kept = s.filter(rows("f"), constitution_file, min_score=0.0)
            made = s.pairs(
                [{"prompt": "p", "responses": ["one", "two", "three"]}], constitution_file
            )
            estimate = s.plan("score", rows("later"), constitution_file)
            calls = server.count
        assert [r.verdict.score is not None for r in scored] == [True] * 3
        assert len(kept) == 3 and made == []  # the fake judge scores all three alike: no pair
        assert estimate.calls == 3 and estimate.cached == 0 and estimate.max_cost
        assert server.count == calls == 3 + 3 + 3  # the plan called nothing
        # One backend for the Session: its keep-alive connection served every call.
        assert server.connections_opened == 1


def test_max_cost_spans_the_calls_of_a_session(
    constitution_file: Path, key: None, tmp_path: Path
) -> None:
    first, second = rows("a", 1), rows("b", 1)
    with FakeOpenAIServer() as server:
        opts: dict[str, Any] = {"base_url": server.base_url, "no_cache": True}
        with judge.Session(MODEL, **opts) as s:
            worst = s.plan("score", first, constitution_file).max_cost
            spent = s.score(first, constitution_file)[0].verdict.usage.cost_usd
        assert worst and spent and spent < worst
        budget = worst + spent / 2  # room for one call, not for two
        with judge.Session(MODEL, max_cost=budget, **opts) as s:
            assert s.score(first, constitution_file)[0].verdict.score is not None
            with pytest.raises(RunFailed, match="max_cost=") as failed:
                s.score(second, constitution_file)
        assert failed.value.result[0].verdict.score is None
        # The same call in a Session of its own fits the same budget.
        with judge.Session(MODEL, max_cost=budget, **opts) as s:
            assert s.score(second, constitution_file)[0].verdict.score is not None


def _open_fds() -> int:
    gc.collect()
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="counts /proc/self/fd")
def test_no_descriptor_leaks_after_100_sessions_a_third_failing(
    constitution_file: Path, key: None, tmp_path: Path
) -> None:
    def answer(body: dict[str, Any]) -> Any:
        text = json.dumps(body["messages"])
        return Fault.status(400, "bad request") if "explode" in text else None

    with FakeOpenAIServer(handler=answer) as server:

        def session(i: int) -> None:
            tag = "explode" if i % 3 == 0 else "fine"
            with judge.Session(MODEL, base_url=server.base_url, cache=tmp_path / "c.sqlite") as s:
                s.score(rows(f"{tag}{i}", 2), constitution_file)

        for i in (1, 2):  # warm up: imports, the first loop
            session(i)
        before = _open_fds()
        failed = 0
        for i in range(100):
            try:
                session(i)
            except judge.errors.BackendError:
                failed += 1
        assert failed == 34
        assert _open_fds() == before


def test_a_frame_of_mixed_shapes_reads_nan_as_a_missing_field(fake_backend: FakeBackend) -> None:
    frame = pd.read_json(ROOT / "examples/candidates.jsonl", lines=True)
    out = judge.score(frame, ROOT / "constitutions/helpful-honest-harmless.md", model="fake/judge")
    assert isinstance(out, pd.DataFrame) and out["score"].notna().all()
    assert len(out) > len(frame)  # rows with a list of responses give a row each


def test_async_with_and_many_verdicts_from_one_session(
    constitution_file: Path, fake_backend: FakeBackend
) -> None:
    async def trainer() -> list[float | None]:
        scores: list[float | None] = []
        async with judge.Session("fake/judge") as s:
            for step in range(5):  # an online reward: a batch a step
                verdicts = await s.averdicts(rows(f"step{step}", 4), constitution_file)
                scores += [v.score for v in verdicts]
            with pytest.raises(ConfigError, match="await the a-methods"):
                s.score(rows("x"), constitution_file)
        return scores

    assert len(asyncio.run(trainer())) == 20


def test_a_session_is_opened_once_and_used_inside_its_block(constitution_file: Path) -> None:
    s = judge.Session("fake/judge")
    with pytest.raises(ConfigError, match="open the Session first"):
        s.score(rows("x"), constitution_file)
    with pytest.raises(TypeError, match="did you mean 'max_cost'"):
        judge.Session("fake/judge", max_cots=1)  # type: ignore[call-arg]


def test_a_sync_session_runs_inside_a_running_event_loop(
    constitution_file: Path, fake_backend: FakeBackend
) -> None:
    async def notebook_cell() -> int:
        with judge.Session("fake/judge") as s:
            return len(s.score(rows("nb"), constitution_file))

    assert asyncio.run(notebook_cell()) == 3


SNIPPET = """\
import judge

rows = [{"prompt": "p", "response": "r"}]
judge.score(rows, "c.md", model="x", max_cost=1.0, per_principle=True)
judge.score(rows, "c.md", modle="x")
with judge.Session("x", max_cost=2.0) as s:
    results = s.score(rows, "c.md", max_chars=500)
    first: float | None = results[0].verdict.score
    s.score(rows, "c.md", per_principl=True)
    s.filter(rows, "c.md", min_scor=0.5)
    results[0].verdikt  # records in, typed records out: Scored has no `verdikt`
    s.filter(rows, "c.md", rejected=True).kep  # rejected=True: a Filtered (.kept, .rejected)
    flag = len(rows) > 1  # a bool known only at run time: the rows or a Filtered
    either = s.filter(rows, "c.md", rejected=flag)
    either.kept  # an error until narrowed
    if isinstance(either, judge.Filtered):
        kept: list[dict[str, object]] = either.kept
    s.calibrate(rows, "c.md", output_dir="o", resampls=3)


async def online(s: judge.Session) -> None:
    await s.afilter(rows, "c.md", rejected=True)
"""


def test_mypy_refuses_misspelt_keywords(tmp_path: Path) -> None:
    snippet = tmp_path / "snippet.py"
    snippet.write_text(SNIPPET)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--ignore-missing-imports",
            "--follow-imports=silent",
            "--no-incremental",
            "--python-version",
            "3.11",
            "--config-file",
            os.devnull,
            str(snippet),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=600,
    )
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    lines = sorted({int(line.split(":")[1]) for line in errors})
    assert lines == [5, 9, 10, 11, 12, 15, 18], done.stdout
    assert (
        '"modle"' in done.stdout and '"per_principl"' in done.stdout and '"resampls"' in done.stdout
    )


def test_distill_and_classify_from_a_session(tmp_path: Path) -> None:
    good = [{"text": f"a careful essay on topic {i} with sources", "score": 0.9} for i in range(30)]
    bad = [{"text": f"buy now cheap offer {i} click here", "score": 0.1} for i in range(30)]
    frame = pd.DataFrame(good + bad)
    with judge.Session() as s:
        meta = s.distill(frame, str(tmp_path / "model"), min_score=0.5, seed=1)
        kept = s.classify(frame, str(tmp_path / "model"), min_prob=0.5)
        both = s.classify(good[:2] + bad[:2], str(tmp_path / "model"), min_prob=0.5, rejected=True)
    assert meta["data"]["keep"] == 30 and meta["data"]["drop"] == 30
    assert isinstance(kept, pd.DataFrame) and "classifier_prob" in kept
    assert set(kept["text"]) <= {r["text"] for r in good} and len(kept) > 20
    assert both.kept == [
        {**r, "classifier_prob": both.kept[i]["classifier_prob"]} for i, r in enumerate(good[:2])
    ]
    assert [r["text"] for r in both.rejected] == [r["text"] for r in bad[:2]]


def test_a_dataset_of_mixed_shapes_keeps_every_column(fake_backend: FakeBackend) -> None:
    import datasets

    rows = [{"prompt": "p", "responses": ["a", "b"]}, {"prompt": "q", "response": "c", "n": 1}]
    data = datasets.Dataset.from_list([{**{"response": None, "n": None}, **r} for r in rows])
    out = judge.score(data, ROOT / "constitutions/helpful-honest-harmless.md", model="fake/judge")
    assert out.num_rows == 3 and "n" in out.column_names and out[2]["n"] == 1


def test_a_call_refused_after_its_judges_opened_leaks_nothing(
    constitution_file: Path, fake_backend: FakeBackend, tmp_path: Path
) -> None:
    """The issue's case: a panel with grouped scoring is refused after the panel's runners (and
    their SQLite connections) exist; three such calls left six connections open."""
    options = judge.ScoreOptions(group=2)
    before = _open_fds()
    refused = []  # held: their tracebacks kept the runners, and so their connections, alive
    for _ in range(3):
        with pytest.raises(ConfigError, match="group") as info:
            judge.score(
                rows("g"),
                constitution_file,
                judges=["fake/a", "fake/b"],
                options=options,
                cache=tmp_path / "c.sqlite",
            )
        refused.append(info)
    assert _open_fds() == before


def test_pairs_from_scores_refuse_a_panel_they_would_not_ask(
    constitution_file: Path, fake_backend: FakeBackend
) -> None:
    scored = [{"prompt": "p", "response": r, "score": s} for r, s in (("a", 0.9), ("b", 0.1))]
    with pytest.raises(ConfigError, match="rescore="):
        judge.pairs(scored, constitution_file, model=["fake/a", "fake/b"])
    assert len(judge.pairs(scored, constitution_file, model="fake/judge")) == 1


def test_check_is_strict_like_the_cli(tmp_path: Path) -> None:
    """`judge constitution check --strict` fails on warnings; Session.check(strict=True) returns
    them as errors (a Critique without a Revision is a warning)."""
    path = tmp_path / "c.md"
    path.write_text("name: c\n\n## kind\n\nIs it kind?\n\n### Critique\nSay what is unkind.\n")
    (warning,) = judge.Session.check(path)
    assert warning.level == "warning" and "Revision" in warning.message
    (strict,) = judge.Session.check(path, strict=True)
    assert strict.level == "error" and strict.message == warning.message
    with pytest.raises(TypeError, match="strict"):
        judge.Session.check(path, strikt=True)  # type: ignore[call-arg]


def test_filter_with_rejected_returns_both_tables_of_the_kind_given(
    constitution_file: Path, fake_backend: FakeBackend
) -> None:
    """filter rejected=True is the CLI's --rejected FILE: the kept rows and the others, two
    tables of the kind given (records, a DataFrame, a Dataset)."""
    import datasets

    data = rows("r", 6)
    with judge.Session("fake/judge") as s:
        kept = s.filter(data, constitution_file, keep_top=0.5)
        both = s.filter(data, constitution_file, keep_top=0.5, rejected=True)
        frames = s.filter(pd.DataFrame(data), constitution_file, keep_top=0.5, rejected=True)
        sets = s.filter(
            datasets.Dataset.from_list(data), constitution_file, keep_top=0.5, rejected=True
        )

    def prompts(table: list[dict[str, Any]]) -> list[str]:
        return [r["prompt"] for r in table]

    assert isinstance(both, judge.Filtered) and prompts(both.kept) == prompts(kept)
    assert len(both.kept) + len(both.rejected) == len(data)
    assert {r["prompt"] for r in both.kept}.isdisjoint(r["prompt"] for r in both.rejected)
    assert "kept" not in both.kept[0] and "score" in both.rejected[0]
    assert isinstance(frames.kept, pd.DataFrame) and isinstance(frames.rejected, pd.DataFrame)
    assert list(frames.rejected["prompt"]) == [r["prompt"] for r in both.rejected]
    assert isinstance(sets.rejected, datasets.Dataset) and sets.rejected.num_rows == len(
        both.rejected
    )
    one = judge.filter(data, constitution_file, model="fake/judge", keep_top=0.5, rejected=True)
    assert (prompts(one.kept), prompts(one.rejected)) == (
        prompts(both.kept),
        prompts(both.rejected),
    )
