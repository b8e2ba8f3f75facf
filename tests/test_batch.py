"""--batch: the provider batch APIs (OpenAI /v1/files + /v1/batches, Anthropic Message Batches)
through the real SDKs against the loopback fakes (tests/fake_batches.py), driven by the CLI."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from judge.backends.base import Message, Request
from judge.cli import main
from judge.engine.batch_jobs import BatchJobs
from judge.engine.batcher import BatchConfig
from judge.engine.cache import Cache
from judge.engine.prices import PriceTable
from judge.engine.runner import Runner, RunnerConfig
from judge.testing import FakeBackend
from tests.fakes import FakeAnthropicServer, FakeOpenAIServer, Fault, auto_reply

FAST = ("--batch", "--batch-poll", "0.01", "--batch-poll-max", "0.05")


def write_rows(path: Path, n: int) -> Path:
    rows = [{"id": i, "prompt": f"question {i}", "response": f"answer {i}"} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def rows_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def invoke(*args: Any) -> Any:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def realtime_calls(server: FakeOpenAIServer | FakeAnthropicServer) -> int:
    return sum(r.path.split("?")[0] == server.endpoint for r in server.requests)


def score(
    server: FakeOpenAIServer | FakeAnthropicServer,
    src: Path,
    constitution: Path,
    out: Path,
    *extra: Any,
) -> Any:
    model = "openai/gpt-4o-mini" if isinstance(server, FakeOpenAIServer) else "anthropic/claude-x"
    return invoke(
        "score", src, "-c", constitution, "-m", model, "--base-url", server.base_url, "-o", out,
        *FAST, *extra,
    )  # fmt: skip


def test_openai_batch_judges_every_row_and_a_rerun_pays_nothing(
    tmp_path: Path, constitution_file: Path
) -> None:
    src, out = write_rows(tmp_path / "in.jsonl", 6), tmp_path / "out.jsonl"
    with FakeOpenAIServer() as server:
        result = score(server, src, constitution_file, out)
        assert result.exit_code == 0, result.stderr
        rows = rows_of(out)
        assert [r["id"] for r in rows] == list(range(6))
        assert all(r["score"] is not None and r["judge"]["error"] is None for r in rows)
        assert server.batches.submissions == 1 and server.batches.job_sizes() == [6]
        assert realtime_calls(server) == 0  # nothing went the real-time way
        (job_id,) = server.batches.job_ids()
        assert f"judge: batch job {job_id}: running, 0/6 done (0 failed)" in result.stderr
        assert f"judge: batch job {job_id}: ended, 6/6 done (0 failed)" in result.stderr
        assert "batch: 1 job ended (1 submitted; batch prices)" in result.stderr
        # The job's answers are in the cache line by line: a re-run sends nothing at all.
        requests_before = server.count
        again = score(server, src, constitution_file, tmp_path / "again.jsonl")
        assert again.exit_code == 0, again.stderr
        assert server.count == requests_before and server.batches.submissions == 1
        assert "6 from cache" in again.stderr
        assert [r["scores"] for r in rows_of(tmp_path / "again.jsonl")] == [
            r["scores"] for r in rows
        ]
    # The request lines are the real-time requests, in the Batch API's line format.
    job = next(iter(server.batches.jobs.values()))
    line = job.lines[0]
    assert line["method"] == "POST" and line["url"] == "/v1/chat/completions"
    assert line["body"]["model"] == "gpt-4o-mini" and len(line["custom_id"]) == 64


def test_anthropic_batches_split_to_the_size_limit(tmp_path: Path, constitution_file: Path) -> None:
    src, out = write_rows(tmp_path / "in.jsonl", 5), tmp_path / "out.jsonl"
    with FakeAnthropicServer() as server:
        result = score(server, src, constitution_file, out, "--batch-size", "2")
        assert result.exit_code == 0, result.stderr
        assert server.batches.job_sizes() == [2, 2, 1]
        assert realtime_calls(server) == 0
        assert "params" in next(iter(server.batches.jobs.values())).lines[0]
    rows = rows_of(out)
    assert [r["id"] for r in rows] == list(range(5)) and all(r["score"] is not None for r in rows)


SERVERS = [FakeOpenAIServer, FakeAnthropicServer]


@pytest.fixture(autouse=True)
def _anthropic_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")


@pytest.mark.parametrize("server_class", SERVERS)
def test_lines_that_failed_are_resubmitted_then_judged(
    tmp_path: Path, constitution_file: Path, server_class: type[FakeOpenAIServer]
) -> None:
    failures = {"left": 2}

    def handler(body: dict[str, Any]) -> Any:
        if failures["left"] > 0:
            failures["left"] -= 1
            return Fault.status(500)
        return None

    src, out = write_rows(tmp_path / "in.jsonl", 5), tmp_path / "out.jsonl"
    with server_class(handler=handler) as server:
        result = score(server, src, constitution_file, out)
        assert result.exit_code == 0, result.stderr
        assert server.batches.job_sizes() == [5, 2]  # the 2 failed lines, once more
        assert realtime_calls(server) == 0
    assert all(r["score"] is not None for r in rows_of(out))
    assert "2 lines resubmitted" in result.stderr


@pytest.mark.parametrize("server_class", SERVERS)
def test_expired_lines_are_resubmitted_and_then_sent_in_real_time(
    tmp_path: Path, constitution_file: Path, server_class: type[FakeOpenAIServer]
) -> None:
    src = write_rows(tmp_path / "in.jsonl", 4)
    with server_class() as server:
        server.batches.outcomes.extend(["expired", "completed"])
        result = score(server, src, constitution_file, tmp_path / "a.jsonl")
        assert result.exit_code == 0, result.stderr
        assert server.batches.job_sizes() == [4, 2]  # half expired unrun, resubmitted
    assert all(r["score"] is not None for r in rows_of(tmp_path / "a.jsonl"))

    # Expiring every time: after 2 resubmissions the lines are unjudged (exit 1, every row
    # written), or, with --batch-fallback realtime, sent as ordinary calls.
    src = write_rows(tmp_path / "in2.jsonl", 2)
    with server_class() as server:
        server.batches.outcomes.extend(["failed"] * 3)
        result = score(server, src, constitution_file, tmp_path / "b.jsonl")
        assert result.exit_code == 1
        assert server.batches.job_sizes() == [2, 2, 2]
        rows = rows_of(tmp_path / "b.jsonl")
        assert [r["id"] for r in rows] == [0, 1] and all(r["score"] is None for r in rows)
        # (Anthropic has no whole-job failure: its lines expire.)
        error = rows[0]["judge"]["error"]
        assert re.search(
            r"ended \((failed|expired)\) without answering \(submitted 3 times\)", error
        )
        assert "could not be reached" in result.stderr

        server.batches.outcomes.extend(["failed"] * 3)
        result = score(
            server, src, constitution_file, tmp_path / "c.jsonl", "--batch-fallback", "realtime"
        )
        assert result.exit_code == 0, result.stderr
        assert realtime_calls(server) == 2
        assert all(r["score"] is not None for r in rows_of(tmp_path / "c.jsonl"))


def judge_cmd(*args: Any) -> list[str]:
    return [sys.executable, "-m", "judge", *map(str, args)]


def wait_for(check: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def recorded_jobs(cache: Path) -> list[Any]:
    if not cache.exists():
        return []
    store = Cache(cache)
    try:
        return BatchJobs(store).jobs()
    finally:
        store.close()


ENV = {**os.environ, "PYTHONPATH": "."}


def start_held_run(
    server: FakeOpenAIServer, tmp_path: Path, constitution: Path, n: int
) -> tuple[list[str], subprocess.Popen[bytes]]:
    """`judge score --batch` of n rows (to tmp_path/out.jsonl, cache tmp_path/c) in a
    subprocess, once its job is submitted and recorded; the job runs until the server's hold
    is released."""
    server.batches.hold = True
    src, cache = write_rows(tmp_path / "in.jsonl", n), tmp_path / "c"
    args = judge_cmd(
        "score", src, "-c", constitution, "-m", "openai/gpt-4o-mini", "--base-url",
        server.base_url, "--cache", cache, "-o", tmp_path / "out.jsonl", *FAST,
    )  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    try:
        wait_for(lambda: recorded_jobs(cache), "the job in the cache")
    except BaseException:
        proc.kill()
        raise
    return args, proc


def test_kill_9_while_a_job_runs_then_rerun_re_attaches(
    tmp_path: Path, constitution_file: Path
) -> None:
    n = 8
    out, cache = tmp_path / "out.jsonl", tmp_path / "c"
    with FakeOpenAIServer() as server:
        args, proc = start_held_run(server, tmp_path, constitution_file, n)
        try:
            time.sleep(0.1)  # a few status checks
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert server.batches.submissions == 1 and not out.exists()
        server.batches.hold = False
        done = subprocess.run(args, capture_output=True, text=True, timeout=120, env=ENV)
        assert done.returncode == 0, done.stderr
        # One submission in all, counted at the server; every line run once.
        assert server.batches.submissions == 1 and server.batches.lines_run == n
        assert realtime_calls(server) == 0
        assert "(0 submitted, 1 re-attached" in done.stderr
    rows = rows_of(out)
    assert [r["id"] for r in rows] == list(range(n))
    assert all(r["score"] is not None for r in rows)
    (job,) = recorded_jobs(cache)
    assert (job.state, job.collected, job.total) == ("ended", True, n)


def test_judge_batches_cancel_and_list(tmp_path: Path, constitution_file: Path) -> None:
    n = 3
    out, cache = tmp_path / "out.jsonl", tmp_path / "c"
    with FakeOpenAIServer() as server:
        args, proc = start_held_run(server, tmp_path, constitution_file, n)
        try:
            (job_id,) = server.batches.job_ids()
            listed = invoke("batches", "list", "--cache", cache)
            assert listed.exit_code == 0
            line = rf"{job_id}\topenai/gpt-4o-mini\trunning\t0/3\t0\t20\d\d-"
            assert re.search(line, listed.stdout), listed.stdout
            cancelled = invoke("batches", "cancel", job_id, "--cache", cache)
            assert cancelled.exit_code == 0, cancelled.stderr
            assert f"batch job {job_id} (openai/gpt-4o-mini): cancelling" in cancelled.stderr
            _, stderr = proc.communicate(timeout=60)
        finally:
            proc.kill()
        assert proc.returncode == 1
        assert f"batch job {job_id} was cancelled before it answered every" in stderr.decode()
        rows = rows_of(out)
        assert [r["id"] for r in rows] == list(range(n))  # every row written, unjudged
        assert all("was cancelled" in r["judge"]["error"] for r in rows)
        listed = invoke("batches", "list", "--cache", cache, "--json")
        assert json.loads(listed.stdout)["state"] == "cancelled"
        # Run again: the cancelled lines are submitted anew.
        server.batches.hold = False
        done = subprocess.run(args, capture_output=True, text=True, timeout=120, env=ENV)
        assert done.returncode == 0, done.stderr
        assert server.batches.submissions == 2
    assert all(r["score"] is not None for r in rows_of(out))
    missing = invoke("batches", "cancel", "batch_9", "--cache", cache)
    assert missing.exit_code == 2 and "no batch job 'batch_9'" in missing.stderr


def dollars_at_most(stderr: str) -> float:
    return float(re.search(r"at most \$([\d.,]+) in all", stderr).group(1))  # type: ignore[union-attr]


def test_dry_run_and_max_cost_use_batch_prices(tmp_path: Path, constitution_file: Path) -> None:
    src = write_rows(tmp_path / "in.jsonl", 400)
    common = ("score", src, "-c", constitution_file, "-m", "openai/gpt-4o-mini", "--dry-run")
    full = invoke(*common)
    half = invoke(*common, "--batch")
    assert full.exit_code == half.exit_code == 0
    assert "batch prices" in half.stderr and "batch prices" not in full.stderr
    assert dollars_at_most(half.stderr) == pytest.approx(dollars_at_most(full.stderr) / 2, 0.01)

    table = PriceTable()
    assert table.batch_rate("openai/gpt-4o-mini") == table.batch_rate("anthropic/x") == 0.5
    price = table.lookup("openai/gpt-4o-mini")
    assert price is not None and price.scaled(0.5).cost(1000, 1000, 500) == pytest.approx(
        price.cost(1000, 1000, 500) / 2
    )


def test_max_cost_reserves_batch_prices() -> None:
    from judge.backends.openai import OpenAIBackend

    request = Request((Message("user", "x" * 4000),), max_tokens=100)
    backend = OpenAIBackend("gpt-4o-mini", base_url="http://127.0.0.1:9", api_key="k")
    plain = Runner(backend, config=RunnerConfig(max_cost=1.0))
    batched = Runner(backend, config=RunnerConfig(max_cost=1.0, batch=BatchConfig(enabled=True)))
    worst, worst_batch = plain.estimate(request)[2], batched.estimate(request)[2]
    assert worst is not None and worst_batch == pytest.approx(worst / 2)


def test_batch_needs_a_backend_with_a_batch_api(
    tmp_path: Path, constitution_file: Path, fake_backend: FakeBackend
) -> None:
    src = write_rows(tmp_path / "in.jsonl", 1)
    result = invoke("score", src, "-c", constitution_file, "-m", "fake/judge", "--batch")
    assert result.exit_code == 2
    assert "--batch: fake/judge has no batch API" in result.stderr
    assert fake_backend.requests == []


def test_pairs_adaptive_comparisons_make_one_job_a_round(
    tmp_path: Path, constitution_file: Path
) -> None:
    rows = [{"id": "p", "prompt": "Q?", "responses": [f"answer {i}" for i in range(5)]}]
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(rows[0]) + "\n", encoding="utf-8")

    def run(out: Path, *extra: Any) -> Any:
        return invoke(
            "pairs", src, "-c", constitution_file, "-m", "openai/gpt-4o-mini",
            "--base-url", server.base_url, "--mode", "compare", "--comparisons", "adaptive",
            "-o", out, *extra,
        )  # fmt: skip

    with FakeOpenAIServer() as server:
        batch = run(tmp_path / "batch.jsonl", *FAST)
        assert batch.exit_code == 0, batch.stderr
        rounds = server.batches.job_sizes()
        assert realtime_calls(server) == 0
        realtime = run(tmp_path / "rt.jsonl", "--no-cache")
        assert realtime.exit_code == 0, realtime.stderr
        compared = realtime_calls(server)
    # A merge sort of 5 asks in several rounds, each a job; together the same comparisons.
    assert len(rounds) > 1 and sum(rounds) == compared
    pick = ("chosen", "rejected", "score_chosen", "score_rejected")
    assert [[r[k] for k in pick] for r in rows_of(tmp_path / "batch.jsonl")] == [
        [r[k] for k in pick] for r in rows_of(tmp_path / "rt.jsonl")
    ]


def test_revise_rounds_go_through_batch_jobs(tmp_path: Path, constitution_file: Path) -> None:
    src, out = write_rows(tmp_path / "in.jsonl", 3), tmp_path / "out.jsonl"
    with FakeOpenAIServer(handler=lambda body: auto_reply(body)) as server:
        result = invoke(
            "revise", src, "-c", constitution_file, "-m", "openai/gpt-4o-mini",
            "--base-url", server.base_url, "--rounds", "2", "-o", out, *FAST,
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
        assert realtime_calls(server) == 0
        sizes = server.batches.job_sizes()
    rows = rows_of(out)
    assert [r["id"] for r in rows] == list(range(3))
    assert all(r["revision"] is not None and r["judge"]["error"] is None for r in rows)
    # A job a round: critiques, revisions, critiques, revisions, then the verdicts on the
    # originals and the revisions together.
    assert sizes == [3, 3, 3, 3, 6]


def test_calibrate_and_filter_take_batch_too(tmp_path: Path, constitution_file: Path) -> None:
    labels = tmp_path / "labels.jsonl"
    rows = [{"prompt": f"q{i}", "response": f"a{i}", "label": i % 2} for i in range(12)]
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with FakeOpenAIServer() as server:
        model = ("-m", "openai/gpt-4o-mini", "--base-url", server.base_url, *FAST)
        result = invoke(
            "calibrate", labels, "-c", constitution_file, "-o", tmp_path / "cal", "--resamples",
            "20", *model,
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
        assert server.batches.job_sizes() == [12] and realtime_calls(server) == 0
        kept = tmp_path / "kept.jsonl"
        result = invoke(
            "filter", labels, "-c", constitution_file, "--min-score", "0", "-o", kept, *model
        )
        assert result.exit_code == 0, result.stderr
        assert server.batches.submissions == 1  # every verdict came from the cache
    assert len(rows_of(kept)) == 12


def test_an_unparseable_answer_is_re_asked_in_the_next_job(
    tmp_path: Path, constitution_file: Path
) -> None:
    answers = {"bad": 1}

    def handler(body: dict[str, Any]) -> Any:
        if answers["bad"] and "question 2" in json.dumps(body):
            answers["bad"] -= 1
            return "this is not JSON"
        return None

    src, out = write_rows(tmp_path / "in.jsonl", 4), tmp_path / "out.jsonl"
    with FakeOpenAIServer(handler=handler) as server:
        result = score(server, src, constitution_file, out)
        assert result.exit_code == 0, result.stderr
        assert server.batches.job_sizes() == [4, 1]
        (reask,) = next(reversed(server.batches.jobs.values())).lines
        assert "could not be used" in reask["body"]["messages"][-1]["content"]
    assert all(r["score"] is not None for r in rows_of(out))
    assert "1 re-ask" in result.stderr


def test_the_python_api_takes_batch_settings(constitution_file: Path) -> None:
    import judge

    records = [{"prompt": f"q{i}", "response": f"a{i}"} for i in range(3)]
    with FakeOpenAIServer() as server:
        settings = judge.Settings(
            model="openai/gpt-4o-mini",
            base_url=server.base_url,
            runner=RunnerConfig(batch=BatchConfig(enabled=True, poll=0.01, poll_max=0.05)),
        )
        scored = judge.score(records, constitution_file, settings=settings)
        assert server.batches.job_sizes() == [3] and realtime_calls(server) == 0
    assert [s.row["score"] is not None for s in scored] == [True, True, True]


def test_a_server_without_structured_output_degrades_as_in_real_time(
    tmp_path: Path, constitution_file: Path
) -> None:
    src, out = write_rows(tmp_path / "in.jsonl", 3), tmp_path / "out.jsonl"
    with FakeOpenAIServer(unsupported={"json_schema"}) as server:
        result = score(server, src, constitution_file, out)
        assert result.exit_code == 0, result.stderr
        # Refused for json_schema, then sent again as json_object, once for every line.
        assert server.batches.job_sizes() == [3, 3]
        second = list(server.batches.jobs.values())[1].lines[0]["body"]
        assert second["response_format"]["type"] == "json_object"
    assert all(r["score"] is not None for r in rows_of(out))


def test_a_panel_of_two_models_goes_through_batch_jobs(
    tmp_path: Path, constitution_file: Path
) -> None:
    """Each member of a panel sends its calls as its own batch job; a re-run pays nothing."""
    src, out = write_rows(tmp_path / "in.jsonl", 4), tmp_path / "out.jsonl"
    with FakeOpenAIServer() as server:
        args = ("score", src, "-c", constitution_file, "-m", "openai/gpt-4o-mini", "-m",
                "openai/gpt-4.1-mini", "--base-url", server.base_url, "-o", out, *FAST)  # fmt: skip
        result = invoke(*args)
        assert result.exit_code == 0, result.stderr
        rows = rows_of(out)
        assert [len(r["judge"]["panel"]) for r in rows] == [2, 2, 2, 2]
        assert all(r["score"] is not None for r in rows)
        assert sorted(server.batches.job_sizes()) == [4, 4]
        assert realtime_calls(server) == 0
        before = len(server.requests)
        again = invoke(*args)
        assert again.exit_code == 0, again.stderr
        assert len(server.requests) == before and server.batches.submissions == 2
