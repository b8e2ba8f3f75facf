"""The runner: order, bounded concurrency, retries, re-asks, cache, budget and rate limits."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from judge.backends.base import Message, Request, Response, request_key
from judge.engine.cache import Cache, claim_owner, claim_owner_alive
from judge.engine.claims import CLAIM_POLL
from judge.engine.plan import Plan
from judge.engine.prices import PriceTable
from judge.engine.runner import Job, Outcome, Runner, RunnerConfig
from judge.errors import BackendError, ParseError
from judge.testing import FakeBackend


def req(i: int, max_tokens: int = 10) -> Request:
    return Request(messages=(Message("user", f"item {i}"),), max_tokens=max_tokens)


def parse_int(response: Response) -> int:
    try:
        return int(response.text)
    except ValueError:
        raise ParseError(f"not an integer: {response.text!r}") from None


def echo(request: Request) -> str:
    return request.messages[0].content.split()[-1]


async def collect(runner: Runner, n: int, **kw: Any) -> list[tuple[int, Outcome[int]]]:
    async def work(i: int) -> Outcome[int]:
        return await runner.call(Job(req(i), parse_int))

    return [x async for x in runner.run(range(n), work, total=n, **kw)]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def fast(**kw: Any) -> RunnerConfig:
    return RunnerConfig(backoff_base=0.001, backoff_max=0.01, **kw)


def test_results_come_in_input_order_with_bounded_concurrency() -> None:
    import random

    rng = random.Random(1)
    backend = FakeBackend(answer=echo)

    async def slow_generate(request: Request) -> Response:
        await asyncio.sleep(rng.uniform(0, 0.01))
        return await FakeBackend.generate(backend, request)

    backend.generate = slow_generate  # type: ignore[method-assign]
    runner = Runner(backend, config=fast(concurrency=4))
    out = run(collect(runner, 200))
    assert [i for i, _ in out] == list(range(200))
    assert [o.value for _, o in out] == list(range(200))
    assert backend.max_in_flight <= 4
    assert runner.stats.done == 200 and runner.stats.calls == 200


def test_concurrency_is_used() -> None:
    backend = FakeBackend(answer=echo, latency=0.05)
    runner = Runner(backend, config=fast(concurrency=16))
    t = time.monotonic()
    run(collect(runner, 64))
    elapsed = time.monotonic() - t
    assert backend.max_in_flight == 16
    assert elapsed < 64 * 0.05 / 4  # far from serial


def test_transient_errors_are_retried_then_succeed() -> None:
    failures = {"n": 0}

    def flaky(request: Request) -> str | BaseException:
        if failures["n"] < 3:
            failures["n"] += 1
            return BackendError("503 from server", transient=True)
        return echo(request)

    runner = Runner(FakeBackend(answer=flaky), config=fast(concurrency=1))
    out = run(collect(runner, 2))
    assert [o.value for _, o in out] == [0, 1]
    assert runner.stats.retries == 3


def test_retry_after_is_honoured() -> None:
    calls: list[float] = []

    def limited(request: Request) -> str | BaseException:
        calls.append(time.monotonic())
        if len(calls) == 1:
            return BackendError("429", transient=True, retry_after=0.3)
        return echo(request)

    runner = Runner(FakeBackend(answer=limited), config=fast(concurrency=1))
    run(collect(runner, 1))
    assert calls[1] - calls[0] >= 0.29


def test_transient_errors_give_up_and_mark_the_item_unjudged() -> None:
    def always_down(request: Request) -> BaseException:
        return BackendError("500 internal error", transient=True)

    runner = Runner(FakeBackend(answer=always_down), config=fast(max_retries=2))
    out = run(collect(runner, 3, failed=lambda o: o.value is None))
    assert all(o.value is None and "gave up after 3 attempts" in (o.error or "") for _, o in out)
    assert runner.stats.failed == 3


def test_fatal_error_stops_the_run_at_once() -> None:
    def bad_key(request: Request) -> BaseException:
        return BackendError("401: invalid key; check OPENAI_API_KEY", transient=False)

    backend = FakeBackend(answer=bad_key)
    runner = Runner(backend, config=fast(concurrency=4))
    with pytest.raises(BackendError, match="OPENAI_API_KEY"):
        run(collect(runner, 1000))
    assert len(backend.requests) < 50  # stopped, not ploughing through 1000 items


def test_unparseable_answer_is_reasked_then_reported() -> None:
    answers = iter(["oops", "still not a number", "7"])
    backend = FakeBackend(answer=lambda r: next(answers))
    runner = Runner(backend, config=fast(max_reasks=2))
    out = run(collect(runner, 1))
    assert out[0][1].value == 7
    # The re-ask shows the model its bad answer and what was wrong with it.
    last = backend.requests[-1]
    assert (
        last.messages[-2].role == "assistant" and last.messages[-2].content == "still not a number"
    )
    assert "not an integer" in last.messages[-1].content
    assert out[0][1].usage.calls == 3

    backend = FakeBackend(answer=lambda r: "never")
    runner = Runner(backend, config=fast(max_reasks=1))
    out = run(collect(runner, 1))
    assert out[0][1].value is None
    assert "unparseable answer after 2 attempts" in (out[0][1].error or "")


def test_cache_makes_the_second_run_free(tmp_path: Any) -> None:
    backend = FakeBackend(answer=echo)
    cache = Cache(tmp_path / "c.sqlite")
    run(collect(Runner(backend, cache=cache, config=fast()), 20))
    assert len(backend.requests) == 20
    runner = Runner(backend, cache=Cache(tmp_path / "c.sqlite"), config=fast())
    out = run(collect(runner, 25))
    assert len(backend.requests) == 25  # only the 5 new items were asked
    assert runner.stats.cached_calls == 20 and runner.stats.calls == 5
    assert all(o.cached for _, o in out[:20]) and not any(o.cached for _, o in out[20:])


def test_cache_key_changes_with_the_model(tmp_path: Any) -> None:
    cache = Cache(tmp_path / "c.sqlite")
    a, b = FakeBackend("a", answer=echo), FakeBackend("b", answer=echo)
    run(collect(Runner(a, cache=cache, config=fast()), 3))
    run(collect(Runner(b, cache=cache, config=fast()), 3))
    assert len(a.requests) == 3 and len(b.requests) == 3


def test_budget_stops_scheduling_before_it_is_passed(tmp_path: Any) -> None:
    prices = tmp_path / "p.json"
    # 1 dollar per output token and nothing for input: each call's worst case is max_tokens.
    prices.write_text('{"fake/judge": {"input": 0, "output": 1000000}}')
    backend = FakeBackend(answer=lambda r: "1")  # one output token: $1 a call
    runner = Runner(
        backend,
        config=fast(concurrency=1, max_cost=15.0),
        prices=PriceTable(prices),
    )
    out = run(collect(runner, 10, failed=lambda o: o.value is None))
    # A call's worst case is $10 (max_tokens=10): after k calls ($k spent) another is made
    # only while k + 10 <= 15, so exactly 6 calls are made and $6 is spent.
    assert len(backend.requests) == 6
    assert runner.stats.spent.cost_usd == pytest.approx(6.0)
    assert runner.stats.budget_hit
    unjudged = [o for _, o in out if o.value is None]
    assert unjudged and all("--max-cost" in (o.error or "") for o in unjudged)
    assert len(out) == 10  # every item is still reported


def test_requests_per_minute_limit() -> None:
    backend = FakeBackend(answer=echo)
    runner = Runner(backend, config=fast(concurrency=8, requests_per_minute=5))
    t = time.monotonic()

    async def go() -> None:
        task = asyncio.ensure_future(collect(runner, 6))
        await asyncio.sleep(0.5)
        assert len(backend.requests) == 5  # the sixth waits for the window to slide
        task.cancel()

    run(go())
    assert time.monotonic() - t < 5


def test_plan_counts_cached_calls(tmp_path: Any) -> None:
    backend = FakeBackend(answer=echo)
    cache = Cache(tmp_path / "c.sqlite")
    run(collect(Runner(backend, cache=cache, config=fast()), 3))
    runner = Runner(backend, cache=cache)
    plan = Plan()
    for i in range(5):
        plan.add(runner, req(i))
    assert plan.calls == 5 and plan.cached == 3
    assert plan.max_output_tokens == 20
    assert plan.input_cost is None  # no price for fake/judge


def test_waiting_for_a_slow_head_does_not_spin() -> None:
    """A later unit finishing first must not turn the wait for the head into a busy loop."""

    async def work(i: int) -> int:
        await asyncio.sleep(1.0 if i == 0 else 0.0)
        return i

    async def go() -> list[int]:
        runner = Runner(FakeBackend(), config=fast())
        return [r async for _, r in runner.run(range(3), work)]

    cpu = time.process_time()
    assert run(go()) == [0, 1, 2]
    assert time.process_time() - cpu < 0.5  # the spin burnt ~0.85 s of CPU per second of wait


# -- claims: two runs over the same items pay once --------------------------------------------

ELSEWHERE = "4242@another-host:feed"  # a process on another host: alive until its claim expires


def claims(path: Path) -> dict[str, tuple[str, float]]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT key, owner, expires FROM claims").fetchall()
    return {key: (owner, expires) for key, owner, expires in rows}


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_two_runners_on_one_cache_pay_once_per_item(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    backend = FakeBackend(answer=echo, latency=0.05)

    async def go() -> tuple[Runner, Runner, list[Any], list[Any]]:
        a = Runner(backend, cache=Cache(path), config=fast(concurrency=4))
        b = Runner(backend, cache=Cache(path), config=fast(concurrency=4))
        b.claim_owner = ELSEWHERE  # as if another process
        out_a, out_b = await asyncio.gather(collect(a, 30), collect(b, 30))
        return a, b, out_a, out_b

    a, b, out_a, out_b = run(go())
    assert [o.value for _, o in out_a] == list(range(30))
    assert [o.value for _, o in out_b] == list(range(30))
    assert len(backend.requests) == 30  # each item paid once, by one runner or the other
    assert a.stats.calls + b.stats.calls == 30 and a.stats.calls > 0 and b.stats.calls > 0
    assert a.stats.cached_calls + b.stats.cached_calls == 30
    assert claims(path) == {}  # released as each run ended


def test_a_claim_left_by_a_dead_process_is_taken_at_once(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    backend = FakeBackend(answer=echo)
    cache = Cache(path)
    dead = f"{dead_pid()}@{socket.gethostname()}:0000"
    # Unexpired for 30 s: only knowing that its process is gone lets the run go on at once.
    assert cache.claim(request_key(backend, req(0)), dead, 30) is None
    t = time.monotonic()
    out = run(collect(Runner(backend, cache=cache, config=fast()), 1))
    assert time.monotonic() - t < CLAIM_POLL * 0.8  # no wait for the dead process
    assert out[0][1].value == 0 and len(backend.requests) == 1


def test_an_expired_claim_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    backend = FakeBackend(answer=echo)
    cache = Cache(path)
    assert cache.claim(request_key(backend, req(0)), ELSEWHERE, -1.0) is None  # expired
    t = time.monotonic()
    out = run(collect(Runner(backend, cache=cache, config=fast()), 1))
    assert time.monotonic() - t < CLAIM_POLL * 0.8
    assert out[0][1].value == 0 and len(backend.requests) == 1


def test_a_live_claim_waits_for_the_holders_answer(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    backend = FakeBackend(answer=echo)
    key = request_key(backend, req(0))
    assert Cache(path).claim(key, ELSEWHERE, 3600) is None
    runner = Runner(backend, cache=Cache(path), config=fast())

    async def go() -> list[Any]:
        async def holder_answers() -> None:
            await asyncio.sleep(0.4)
            Cache(path).put(key, backend.name, Response(text="7", output_tokens=1))

        later = asyncio.ensure_future(holder_answers())
        out = await collect(runner, 1)
        await later
        return out

    t = time.monotonic()
    out = run(go())
    assert time.monotonic() - t >= 0.4
    assert out[0][1].value == 7 and out[0][1].cached  # the holder's answer, not a new call
    assert backend.requests == [] and runner.stats.calls == 0 and runner.stats.cached_calls == 1


def test_a_failed_call_releases_its_claim_at_once(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    seen: list[dict[str, tuple[str, float]]] = []

    def answer(request: Request) -> str | BaseException:
        if echo(request) == "0":
            return BackendError("too long for the model", per_item=True)
        seen.append(claims(path))  # item 1, called after item 0 failed
        return echo(request)

    backend = FakeBackend(answer=answer)
    out = run(collect(Runner(backend, cache=Cache(path), config=fast(concurrency=1)), 2))
    assert out[0][1].value is None and out[1][1].value == 1
    assert list(seen[0]) == [request_key(backend, req(1))]  # item 0's claim is gone


def test_a_call_that_keeps_retrying_renews_its_claim(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    tries: list[float] = []

    def answer(request: Request) -> str | BaseException:
        tries.append(time.time())
        if len(tries) < 4:
            return BackendError("429", transient=True, retry_after=0.15)
        [(owner, expires)] = claims(path).values()
        assert owner == claim_owner() and expires > time.time()  # not expired after ~0.5 s
        return echo(request)

    runner = Runner(FakeBackend(answer=answer), cache=Cache(path), config=fast(claim_ttl=0.3))
    out = run(collect(runner, 1))
    assert out[0][1].value == 0 and tries[-1] - tries[0] > 0.3


def test_claim_owners_known_to_be_gone() -> None:
    host = socket.gethostname()
    assert claim_owner_alive(claim_owner())
    assert claim_owner_alive(f"{os.getppid()}@{host}:0000")
    assert not claim_owner_alive(f"{dead_pid()}@{host}:0000")
    # Our pid with another token: a run killed before this process got the same pid.
    assert not claim_owner_alive(f"{os.getpid()}@{host}:0000")
    # On another host nothing can be known: alive until the claim expires.
    assert claim_owner_alive(f"{dead_pid()}@another-host:0000")
