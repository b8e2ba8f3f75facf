"""--max-cost holds against what the provider received: a call given up on a timeout or a reset
connection may be billed, so it counts as spent at its worst case (issue 21, section 3)."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from judge.backends.base import Message, Request
from judge.backends.openai import OpenAIBackend
from judge.engine.prices import PriceTable
from judge.engine.runner import Job, Runner, RunnerConfig
from tests.fakes import FakeOpenAIServer, Fault, Reply, auto_reply

MAX_TOKENS = 10
# $0.1 an output token and nothing for input: every call costs its worst case, $1.
PRICES = {"input": 0, "output": 100_000}


def every_other_slow(delay: float) -> Any:
    """A handler that stalls every other request past the client's timeout; the others answer
    with exactly MAX_TOKENS output tokens (so every request the server receives bills $1)."""
    serial = itertools.count()
    lock = threading.Lock()

    def handler(body: dict[str, Any]) -> Reply:
        with lock:
            n = next(serial)
        return Reply("1", input_tokens=0, output_tokens=MAX_TOKENS, delay=delay if n % 2 else 0)

    return handler


@pytest.mark.parametrize("lean", [True, False])
def test_calls_given_up_on_timeouts_count_at_their_worst_case(tmp_path: Path, lean: bool) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"openai/gpt-test": PRICES}))
    with FakeOpenAIServer(handler=every_other_slow(1.0)) as server:
        backend = OpenAIBackend("gpt-test", base_url=server.base_url, timeout=0.3, lean=lean)
        config = RunnerConfig(
            concurrency=4, max_cost=20.0, backoff_base=0.001, backoff_max=0.01, max_retries=5
        )
        runner = Runner(backend, config=config, prices=PriceTable(prices))

        async def go() -> list[Any]:
            async def work(i: int) -> Any:
                request = Request((Message("user", f"item {i}"),), max_tokens=MAX_TOKENS)
                return await runner.call(Job(request, lambda r: r.text))

            try:
                return [o async for _, o in runner.run(range(30), work, total=30)]
            finally:
                await runner.aclose()

        outcomes = asyncio.run(go())
        received = server.count
    spent = runner.stats.spent.cost_usd
    # What the server received is what the provider bills: $1 a request.
    assert received <= 20, f"the server received {received} calls (${received}) for --max-cost 20"
    # Counted at least what the server received (a call given up before the server read it
    # would count too, as the client cannot know): on an idle machine, exactly that.
    assert spent is not None and spent >= received - 1e-9
    assert runner.stats.calls >= received
    assert runner.stats.lost_calls > 0 and runner.stats.budget_hit
    assert len(outcomes) == 30 and any(o.error and "--max-cost" in o.error for o in outcomes)


def test_a_refused_connection_is_not_billed(tmp_path: Path) -> None:
    """Nothing listens: the request was never sent, so nothing is counted as spent."""
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"openai/gpt-test": PRICES}))
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    backend = OpenAIBackend("gpt-test", base_url=f"http://127.0.0.1:{port}/v1", timeout=0.5)
    config = RunnerConfig(max_cost=20.0, backoff_base=0.001, backoff_max=0.01, max_retries=2)
    runner = Runner(backend, config=config, prices=PriceTable(prices))

    async def go() -> Any:
        try:
            request = Request((Message("user", "x"),), max_tokens=MAX_TOKENS)
            return await runner.call(Job(request, lambda r: r.text))
        finally:
            await runner.aclose()

    outcome = asyncio.run(go())
    assert outcome.error and runner.stats.lost_calls == 0
    assert runner.stats.spent.cost_usd == 0


def _inputs(tmp_path: Path, n: int, price: dict[str, float]) -> tuple[Path, Path]:
    """A JSONL file of `n` items, and a prices file giving openai/test `price`."""
    src = tmp_path / "in.jsonl"
    rows = [{"id": i, "prompt": f"q{i}", "response": f"a{i}"} for i in range(n)]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"openai/test": price}))
    return src, prices


def _score(src: Path, constitution: Path, prices: Path, base_url: str) -> list[str]:
    """`judge score` of `src` at the loopback server, no cache, 4 calls in flight."""
    return [
        *(sys.executable, "-m", "judge", "score", str(src), "-c", str(constitution)),
        *("-m", "openai/test", "--base-url", base_url, "--no-cache"),
        *("--prices", str(prices), "--concurrency", "4"),
    ]


def test_cli_summary_counts_what_the_server_received(
    tmp_path: Path, constitution_file: Path
) -> None:
    """`judge score --max-cost --timeout` against a server where half the calls stall: the
    summary's dollars are the dollars of the requests the server received, within the budget."""
    # A dollar per million input tokens and nothing for output: each request bills its prompt.
    src, prices = _inputs(tmp_path, 40, {"input": 1_000_000, "output": 0})
    slow = itertools.count()

    def handler(body: dict[str, Any]) -> Fault | None:
        return Fault.delay(2.0) if next(slow) % 2 else None

    with FakeOpenAIServer(handler=handler) as server:
        proc = subprocess.run(
            [
                *_score(src, constitution_file, prices, server.base_url),
                *("--max-cost", "20000", "--timeout", "0.5", "-o", str(tmp_path / "out.jsonl")),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONPATH": "."},
        )
        received = server.count
    assert "given up without an answer" in proc.stderr, proc.stderr
    calls = int(proc.stderr.split(" calls, ")[0].rsplit("; ", 1)[-1])
    assert calls >= received, proc.stderr  # old code: 40 calls counted, 79 received


def test_ctrl_c_summary_counts_the_calls_in_flight(tmp_path: Path, constitution_file: Path) -> None:
    """SIGINT to `judge score` while calls are in flight: the run exits 130 and its summary's
    calls and dollars cover every request the server received, the cancelled ones at their
    worst case (old code: no summary; the cancelled calls were not counted)."""
    # A dollar an output token and nothing for input: an answered call bills the one output
    # token it says it wrote; one never answered can bill at most its max_tokens.
    src, prices = _inputs(tmp_path, 12, {"input": 0, "output": 1_000_000})
    serial = itertools.count()
    lock = threading.Lock()

    def handler(body: dict[str, Any]) -> Reply | Fault:
        with lock:
            n = next(serial)
        return Reply(auto_reply(body), output_tokens=1) if n < 4 else Fault.delay(120)

    with FakeOpenAIServer(handler=handler) as server:
        proc = subprocess.Popen(
            [
                *_score(src, constitution_file, prices, server.base_url),
                *("-q", "-o", str(tmp_path / "out.jsonl")),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": "."},
        )
        try:
            deadline = time.monotonic() + 120
            while server.count < 8 and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.05)
            assert server.count >= 8, f"only {server.count} requests arrived"
            time.sleep(0.3)  # any request still on its way arrives
            proc.send_signal(signal.SIGINT)
            _, stderr = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        received = server.count
        answered = server.answered
        cap = min(b.get("max_completion_tokens") or b.get("max_tokens") for b in server.bodies)
        unanswered_caps = (received - answered) * cap
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr, stderr
    summary = next((line for line in stderr.splitlines() if " calls, " in line), None)
    assert summary is not None, f"no summary after Ctrl-C: {stderr}"
    calls = int(summary.split(" calls, ")[0].rsplit("; ", 1)[-1])
    cost = float(summary.split("; $")[1].split(";")[0].replace(",", ""))
    assert calls >= received, summary
    # The dollars cover what the answered calls billed and the worst case of the others.
    assert cost >= answered + unanswered_caps - 1e-6, (summary, answered, unanswered_caps)
    assert "Ctrl-C" in summary, summary
