"""The runner's adaptive limit on calls in flight: rate limits lower it, successes raise it back."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from judge.backends.base import Message, Request, Response
from judge.backends.openai import OpenAIBackend
from judge.engine.limits import CUT, PROBE
from judge.engine.runner import Job, Runner, RunnerConfig, Slots
from judge.tasks.summary import run_summary as summary
from tests.fakes import FakeOpenAIServer


def test_a_burst_of_429s_from_one_round_trip_cuts_once() -> None:
    slots = Slots(16)
    sent_in = slots.epoch  # 16 calls sent together, all answered 429
    for _ in range(16):
        slots.rate_limited(sent_in)
    assert slots.limit == int(16 * CUT) and slots.cuts == 1


def test_each_round_trip_cuts_again_down_to_one() -> None:
    slots = Slots(16)
    limits = []
    for _ in range(6):
        slots.rate_limited(slots.epoch)  # a call sent after the last cut
        limits.append(slots.limit)
    assert limits == [9, 5, 3, 1, 1, 1]


def test_successes_raise_the_limit_back_to_the_ceiling() -> None:
    slots = Slots(8)
    slots.rate_limited(slots.epoch)  # 8 -> 4
    assert slots.limit == 4
    successes = 0
    while slots.limit < slots.ceiling:
        slots.succeeded()
        successes += 1
    # One step per `limit` successes (4 + 5 + 6), and PROBE times more for the step back to 8,
    # the limit that was cut.
    assert successes == 4 + 5 + 6 + PROBE * 7


def test_a_fixed_limit_ignores_rate_limits() -> None:
    slots = Slots(8, adaptive=False)
    slots.rate_limited(slots.epoch)
    assert slots.limit == 8


def test_waiters_get_slots_as_they_free_and_as_the_limit_grows() -> None:
    async def go() -> None:
        slots = Slots(4)
        slots.rate_limited(slots.epoch)  # 4 -> 2
        for _ in range(2):
            await slots.acquire()
        waiters = [asyncio.ensure_future(slots.acquire()) for _ in range(3)]
        await asyncio.sleep(0)
        assert not any(w.done() for w in waiters)
        slots.release()  # one slot frees: the first waiter gets it
        await asyncio.sleep(0)
        assert [w.done() for w in waiters] == [True, False, False]
        for _ in range(2 * PROBE):  # the limit grows back to 3, a new slot
            slots.succeeded()
        await asyncio.sleep(0)
        assert slots.limit == 3 and [w.done() for w in waiters] == [True, True, False]
        assert slots.busy == 3
        waiters[2].cancel()  # a cancelled waiter takes no slot
        await asyncio.sleep(0)
        slots.release()
        assert slots.busy == 2

    asyncio.run(go())


def test_a_waiter_cancelled_as_it_gets_a_slot_passes_it_on() -> None:
    async def go() -> None:
        slots = Slots(1)
        await slots.acquire()
        first = asyncio.ensure_future(slots.acquire())
        second = asyncio.ensure_future(slots.acquire())
        await asyncio.sleep(0)
        slots.release()  # hands the slot to `first` ...
        first.cancel()  # ... which is cancelled before it runs
        await asyncio.gather(first, return_exceptions=True)
        await asyncio.sleep(0)
        assert second.done() and slots.busy == 1

    asyncio.run(go())


def test_waiting_for_a_slot_does_not_spin() -> None:
    async def go() -> None:
        slots = Slots(1)
        await slots.acquire()
        waiters = [asyncio.ensure_future(slots.acquire()) for _ in range(50)]
        await asyncio.sleep(1.0)
        slots.release()
        await asyncio.sleep(0)
        assert waiters[0].done()
        for w in waiters[1:]:
            w.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)

    cpu = time.process_time()
    asyncio.run(go())
    assert time.process_time() - cpu < 0.3


# -- against a rate-limited server ----------------------------------------------------------------


def judge_all(url: str, n: int, adaptive: bool) -> tuple[list[Any], Runner]:
    async def go() -> tuple[list[Any], Runner]:
        backend = OpenAIBackend("gpt-test", base_url=url, api_key="sk-test", timeout=10)
        runner = Runner(backend, config=RunnerConfig(concurrency=16, adaptive=adaptive))

        def text(response: Response) -> str:
            return response.text

        async def work(i: int) -> Any:
            request = Request(messages=(Message("user", f"item {i}"),), max_tokens=5)
            return (await runner.call(Job(request, text))).value

        try:
            return [v async for _, v in runner.run(range(n), work, total=n)], runner
        finally:
            await backend.aclose()

    return asyncio.run(go())


def test_a_steady_rate_limit_costs_far_fewer_requests_than_a_fixed_limit() -> None:
    # 40 calls a second; 16 in flight at 25 ms each would send 640: most would get 429.
    n = 80
    per_item = {}
    wall = {}
    for adaptive in (False, True):
        with FakeOpenAIServer(latency=0.025, rpm=2400, burst=10) as server:
            started = time.monotonic()
            values, runner = judge_all(server.base_url, n, adaptive)
            wall[adaptive] = time.monotonic() - started
            per_item[adaptive] = server.count / n
            assert values == ["OK"] * n  # every item judged, whatever the limit
            assert server.answered == n
    assert per_item[False] > 2.5, per_item  # the fixed limit: a storm of 429s
    assert per_item[True] < 0.6 * per_item[False] and per_item[True] < 2.0, per_item
    assert runner._slots is not None and runner._slots.cuts > 0
    # What the progress display and the summary show: the 429s and how low the limit went.
    stats = runner.stats
    assert stats.rate_limits == server.count - n  # every request beyond one an item was a 429
    assert stats.lowest_in_flight_limit is not None and 1 <= stats.lowest_in_flight_limit < 16
    assert "rate-limited answers, calls in flight lowered to" in summary("scored", stats)
    # Not slower: the server's rate is the bound either way (2 s for 80 items).
    assert wall[True] < 1.5 * wall[False] + 1.0, wall
