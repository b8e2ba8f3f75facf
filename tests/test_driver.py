"""One driver for every command: exit status, budget, costs, token caps, claims, the API."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import judge
from judge.backends.base import Request, Response
from judge.cli import main
from judge.engine.cache import Cache
from judge.engine.runner import Job, Runner, RunnerConfig
from judge.errors import BackendError, RunFailed
from judge.io import FieldMap
from judge.testing import FakeBackend, all_principles, use_backend

SCORE_ARGS = ("-m", "fake/judge", "--max-retries", "0")


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def unreachable(request: Request) -> BackendError:
    return BackendError("fake/judge: connection to http://127.0.0.1:9 refused", transient=True)


def refusing(request: Request) -> BackendError:
    return BackendError("fake/judge: no verdict for this item: refused", per_item=True)


def inputs(tmp: Path) -> dict[str, Path]:
    rows = [{"id": i, "prompt": f"q{i}", "response": f"a{i}"} for i in range(3)]
    grouped = [{"id": 0, "prompt": "q", "responses": ["x", "yy", "zzz"]}]
    labels = [
        {"prompt": "q", "response_a": "x", "response_b": "y", "preference": "a"} for _ in range(3)
    ]
    return {
        "score": jsonl(tmp / "rows.jsonl", rows),
        "filter": jsonl(tmp / "rows2.jsonl", rows),
        "revise": jsonl(tmp / "rows3.jsonl", rows),
        "pairs": jsonl(tmp / "grouped.jsonl", grouped),
        "calibrate": jsonl(tmp / "labels.jsonl", labels),
    }


def command(name: str, src: Path, c: Path, tmp: Path) -> list[str]:
    extra = {
        "filter": ["--min-score", "0.5", "-o", str(tmp / "kept.jsonl")],
        "pairs": ["-o", str(tmp / "pairs.jsonl")],
        "calibrate": ["-o", str(tmp / "calib")],
        "revise": ["-o", str(tmp / "revised.jsonl")],
        "score": ["-o", str(tmp / "scored.jsonl")],
    }[name]
    return [name, str(src), "-c", str(c), *SCORE_ARGS, *extra]


COMMANDS = ("score", "filter", "pairs", "calibrate", "revise")


@pytest.mark.parametrize("name", COMMANDS)
def test_unreachable_model_exits_1_after_writing_every_row(
    name: str, tmp_path: Path, constitution_file: Path
) -> None:
    with use_backend("fake", FakeBackend(answer=unreachable)):
        src = inputs(tmp_path)[name]
        result = invoke(*command(name, src, constitution_file, tmp_path))
    assert result.exit_code == 1, result.stderr
    assert "could not be reached" in result.stderr and "Traceback" not in result.stderr
    assert "every row is written" in result.stderr  # one output file: true (not so with --ray)
    if name in ("score", "revise"):
        written = (tmp_path / f"{'scored' if name == 'score' else 'revised'}.jsonl").read_text()
        assert len(written.splitlines()) == 3  # every row, unjudged, with the reason


@pytest.mark.parametrize("name", ("score", "filter", "pairs", "revise"))
def test_per_item_refusals_keep_exit_0_and_are_counted(
    name: str, tmp_path: Path, constitution_file: Path
) -> None:
    with use_backend("fake", FakeBackend(answer=refusing)):
        src = inputs(tmp_path)[name]
        result = invoke(*command(name, src, constitution_file, tmp_path))
    # Every item refused: counted, and the run judged nothing, which fails it (exit 1) in its
    # last line; a refusal is the item's own problem, so the rows are all written.
    assert result.exit_code == 1, result.stderr
    assert "without a verdict: refused by the model or a content filter" in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("judge: error: nothing was judged: all 3 ")
    assert "no verdict for this item: refused (3 " in last


def test_max_cost_with_an_unpriced_model_is_refused_before_any_call(
    tmp_path: Path, constitution_file: Path
) -> None:
    backend = FakeBackend(answer=all_principles(4))
    with use_backend("fake", backend):
        src = inputs(tmp_path)["score"]
        result = invoke(
            "score", str(src), "-c", str(constitution_file), *SCORE_ARGS, "--max-cost", "1"
        )
    assert result.exit_code == 2
    assert "--max-cost needs the price of fake/judge" in result.stderr
    assert "--prices" in result.stderr and backend.requests == []


def test_a_free_model_costs_0_on_a_cached_rerun(tmp_path: Path, constitution_file: Path) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"fake/": {"input": 0, "output": 0}}))
    src = inputs(tmp_path)["score"]
    args = ("score", str(src), "-c", str(constitution_file), *SCORE_ARGS, "--prices", str(prices))
    with use_backend("fake", FakeBackend(answer=all_principles(4))):
        first, again = invoke(*args), invoke(*args)
    assert "$0.0000" in first.stderr and "$0.0000" in again.stderr
    assert "0 calls, 3 from cache" in again.stderr and "$?" not in again.stderr


def test_an_unknown_price_is_shown_unknown_not_added_as_zero(
    tmp_path: Path, constitution_file: Path
) -> None:
    src = inputs(tmp_path)["score"]
    with use_backend("fake", FakeBackend(answer=all_principles(4))):
        result = invoke("score", str(src), "-c", str(constitution_file), *SCORE_ARGS)
    assert "$? (price unknown" in result.stderr


def test_a_cut_off_answer_is_asked_again_with_the_token_cap_doubled() -> None:
    seen: list[int] = []

    def answer(request: Request) -> Response:
        seen.append(request.max_tokens)
        if request.max_tokens < 200:
            return Response(text='{"a": "cut', finish_reason="length")
        return Response(text="ok", finish_reason="stop")

    def parse(response: Response) -> str:
        if response.finish_reason == "length":
            raise judge.errors.ParseError("the answer was cut off at the token limit")
        return response.text

    async def go() -> Any:
        async with Runner(FakeBackend(answer=answer)) as runner:
            return await runner.call(Job(Request(messages=(), max_tokens=150), parse))

    outcome = asyncio.run(go())
    assert outcome.value == "ok" and seen == [150, 300]


def test_a_claim_is_renewed_while_a_long_call_is_pending(tmp_path: Path) -> None:
    """A call longer than the claim's lifetime keeps its claim: another run waits for its answer
    instead of paying for the same item (without renewal it took over after 0.3 s)."""
    path = tmp_path / "cache.sqlite"
    slow = FakeBackend(answer=lambda r: "answer", latency=1.2)
    other = FakeBackend(answer=lambda r: "other answer")
    config = RunnerConfig(claim_ttl=0.3)
    request = Request(messages=())

    async def go() -> tuple[Any, Any]:
        async with (
            Runner(slow, cache=Cache(path), config=config) as first,
            Runner(other, cache=Cache(path), config=config) as second,
        ):
            second.claim_owner = "elsewhere-but-alive"
            job: Job[str] = Job(request, lambda r: r.text)
            one = asyncio.ensure_future(first.call(job))
            await asyncio.sleep(0.2)
            return await asyncio.gather(one, second.call(job))

    a, b = asyncio.run(go())
    assert a.value == b.value == "answer" and other.requests == []


def test_the_runner_closes_its_backend_and_cache(tmp_path: Path) -> None:
    closed: list[bool] = []

    class Closing(FakeBackend):
        async def aclose(self) -> None:
            closed.append(True)

    cache = Cache(tmp_path / "c.sqlite")

    async def go() -> None:
        async with Runner(Closing(), cache=cache):
            pass

    asyncio.run(go())
    assert closed == [True]
    with pytest.raises(Exception, match="closed"):
        len(cache)


def test_api_leaves_the_callers_settings_alone_and_keeps_mapped_fields(
    constitution_file: Path,
) -> None:
    settings = judge.Settings(model="fake/other")
    fields = FieldMap(responses="answers", response="answer")
    with use_backend("fake", FakeBackend(answer=all_principles(4))):
        out = judge.score(
            [{"prompt": "p", "answers": ["x", "y"]}],
            constitution_file,
            model="fake/judge",
            settings=settings,
            fields=fields,
        )
    assert settings.model == "fake/other"
    assert [r.row["answer"] for r in out] == ["x", "y"]
    assert all("answers" not in r.row and "response" not in r.row for r in out)


def test_api_has_every_command(constitution_file: Path, tmp_path: Path) -> None:
    rows = [{"prompt": "q", "responses": ["x", "yy"]}]
    records = [{"prompt": "q", "response": "x"}, {"prompt": "q2", "response": "y"}]
    labels = [
        {"prompt": "q", "response_a": "x", "response_b": "y", "preference": "a"} for _ in range(12)
    ]
    with use_backend("fake", FakeBackend(answer=all_principles(4))):
        kept = judge.filter(records, constitution_file, model="fake/judge", min_score=0.5)
        made = judge.pairs(rows, constitution_file, model="fake/judge")
        report = judge.calibrate(
            labels, constitution_file, model="fake/judge", output_dir=tmp_path / "c"
        )
    assert len(kept) == 2 and made == []  # equal scores never make a pair
    assert report["n"] == 12 and (tmp_path / "c" / "report.md").exists()


def test_api_raises_with_the_rows_when_the_model_cannot_be_reached(
    constitution_file: Path,
) -> None:
    with (
        use_backend("fake", FakeBackend(answer=unreachable)),
        pytest.raises(RunFailed, match="could not be reached") as failed,
    ):
        judge.score(
            [{"prompt": "p", "response": "r"}],
            constitution_file,
            settings=judge.Settings(model="fake/judge", runner=RunnerConfig(max_retries=0)),
        )
    assert failed.value.result[0].verdict.score is None


def too_long(request: Request) -> BackendError:
    return BackendError(
        "fake/judge: this item is too long for the model", per_item=True, kind="too_long"
    )


def test_no_item_fitting_the_context_window_exits_1_naming_the_server_flag(
    tmp_path: Path, constitution_file: Path
) -> None:
    with use_backend("fake", FakeBackend(answer=too_long)):
        src = inputs(tmp_path)["score"]
        result = invoke(*command("score", src, constitution_file, tmp_path))
    assert result.exit_code == 1 and "--n_ctx 8192" in result.stderr
    assert len((tmp_path / "scored.jsonl").read_text().splitlines()) == 3


def test_a_failed_revision_keeps_its_critique_and_an_empty_candidates_file_says_why(
    tmp_path: Path, constitution_file: Path
) -> None:
    from tests.test_revise import router

    backend = FakeBackend(answer=router(revise=lambda text: ""))  # every revision is empty
    src = inputs(tmp_path)["revise"]
    cands = tmp_path / "cands.jsonl"
    with use_backend("fake", backend):
        args = command("revise", src, constitution_file, tmp_path)
        result = invoke(*args, "--emit-candidates", str(cands))
    assert result.exit_code == 1, result.stderr  # nothing judged: the rows are written all the same
    assert "nothing was judged" in result.stderr.strip().splitlines()[-1]
    row = json.loads((tmp_path / "revised.jsonl").read_text().splitlines()[0])
    assert row["revisions"][0]["critique"].startswith("critique of")
    assert row["revisions"][0]["revision"] is None and "revision failed" in row["judge"]["error"]
    assert cands.read_text() == "" and "--emit-candidates wrote no row" in result.stderr


def test_revise_with_an_unpriced_judge_shows_the_cost_unknown(
    tmp_path: Path, constitution_file: Path
) -> None:
    from tests.test_revise import router

    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"fake/judge": {"input": 1, "output": 1}}))
    src = inputs(tmp_path)["revise"]
    with use_backend("fake", lambda name, **kw: FakeBackend(name, answer=router())):
        args = command("revise", src, constitution_file, tmp_path)
        result = invoke(*args, "--prices", str(prices), "--judge-model", "fake/unpriced")
    assert result.exit_code == 0, result.stderr
    meta = json.loads((tmp_path / "revised.jsonl.meta.json").read_text())
    assert meta["cost_usd"] is None and "$? (price unknown" in result.stderr


def test_a_named_pipe_or_device_output_is_written_to_not_replaced(
    tmp_path: Path, constitution_file: Path
) -> None:
    """`-o /dev/null` once moved the device aside and put a dataset folder in its place."""
    import os
    import stat
    import threading

    fifo = tmp_path / "rows"  # no extension: would read as a dataset folder
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.extend(fifo.read_text().splitlines()))
    reader.start()
    with use_backend("fake", FakeBackend(answer=all_principles(4))):
        src = inputs(tmp_path)["score"]
        result = invoke(
            "score", str(src), "-c", str(constitution_file), *SCORE_ARGS, "-o", str(fifo)
        )
    reader.join(timeout=30)
    assert result.exit_code == 0, result.stderr
    assert len(received) == 3 and json.loads(received[0])["score"] is not None
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still the pipe, not a file or a folder
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left
