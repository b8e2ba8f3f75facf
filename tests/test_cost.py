"""Cost arithmetic: cache reads at the cached rate, cache writes at 1.25x input (Anthropic)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from judge.backends.anthropic import AnthropicBackend
from judge.backends.base import Message, Request, Response
from judge.engine.cache import Cache
from judge.engine.prices import Price, PriceTable
from judge.engine.runner import Job, Outcome, Runner, RunnerConfig
from judge.errors import ConfigError
from judge.testing import FakeBackend
from tests.fakes import FakeAnthropicServer, Reply

SONNET = Price(input=3.0, output=15.0, cached_input=0.3)


def test_cache_writes_cost_a_quarter_more_than_input() -> None:
    # 1,000 input tokens: 600 read from the cache, 300 written to it, 100 plain; 50 output.
    cost = SONNET.cost(1000, 50, cached_input_tokens=600, cache_write_input_tokens=300)
    assert cost == pytest.approx((100 * 3.0 + 600 * 0.3 + 300 * 3.75 + 50 * 15.0) / 1e6)
    assert SONNET.cost(1000, 0, cache_write_input_tokens=1000) == pytest.approx(3.75e-3)


def test_without_cache_writes_nothing_changes() -> None:
    assert SONNET.cost(1000, 50, 600) == pytest.approx((400 * 3 + 600 * 0.3 + 50 * 15) / 1e6)
    assert SONNET.cost(1000, 50) == SONNET.cost(1000, 50, 0, 0)


def test_counts_beyond_the_input_are_clamped() -> None:
    # Reads and writes are parts of input_tokens; inconsistent counts never bill twice.
    assert SONNET.cost(100, 0, 80, 80) == pytest.approx((80 * 0.3 + 20 * 3.75) / 1e6)
    assert SONNET.cost(100, 0, 0, 500) == pytest.approx(100 * 3.75 / 1e6)


def test_price_file_may_set_the_cache_write_rate(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps(
            {
                "anthropic/claude-x": {
                    "input": 2,
                    "output": 10,
                    "cached_input": 0.2,
                    "cache_write": 4,
                },
                "anthropic/claude-y": {"input": 2, "output": 10},
            }
        )
    )
    table = PriceTable(path)
    x, y = table.lookup("anthropic/claude-x"), table.lookup("anthropic/claude-y")
    assert x is not None and y is not None
    assert x.cost(1000, 0, 0, 1000) == pytest.approx(4e-3)
    assert y.cost(1000, 0, 0, 1000) == pytest.approx(2.5e-3)  # 1.25 x input by default
    assert y.cost(1000, 0, 1000, 0) == pytest.approx(2e-3)  # no cached rate: the input rate


def test_bad_cache_write_price_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"m/x": {"input": 1, "output": 1, "cache_write": "lots"}}))
    with pytest.raises(ConfigError, match="cache_write"):
        PriceTable(path)


def test_response_json_keeps_cache_writes_and_reads_old_entries(tmp_path: Path) -> None:
    response = Response("ok", input_tokens=10, cached_input_tokens=2, cache_write_input_tokens=5)
    assert Response.from_json(response.to_json()) == response
    old = response.to_json()
    del old["cache_write_input_tokens"]  # an entry cached before the field existed
    assert Response.from_json(old).cache_write_input_tokens == 0
    cache = Cache(tmp_path / "c.sqlite")
    cache.put("k", "m", response)
    assert cache.get("k") == response


def test_runner_bills_cache_writes(tmp_path: Path) -> None:
    prices = tmp_path / "p.json"
    prices.write_text(json.dumps({"fake/judge": {"input": 1, "cached_input": 0.1, "output": 2}}))
    answer = Response(
        "7",
        input_tokens=1000,
        output_tokens=10,
        cached_input_tokens=200,
        cache_write_input_tokens=400,
    )
    runner = Runner(FakeBackend(answer=lambda r: answer), prices=PriceTable(prices))

    async def go() -> Any:
        job = Job(Request(messages=(Message("user", "x"),)), lambda r: r.text)
        return [o async for _, o in runner.run([job], runner.call)]

    (outcome,) = asyncio.run(go())
    expected = (400 * 1 + 200 * 0.1 + 400 * 1.25 + 10 * 2) / 1e6
    assert outcome.usage.cost_usd == pytest.approx(expected)
    assert runner.stats.spent.cost_usd == pytest.approx(expected)


def test_anthropic_first_call_writes_the_cache_and_costs_more() -> None:
    ask = Request(
        messages=(
            Message("system", "The constitution. " * 50, cache=True),
            Message("user", "Rate this."),
        )
    )
    with FakeAnthropicServer(handler=lambda b: Reply("ok")) as server:
        backend = AnthropicBackend("claude-sonnet-4-5-test", base_url=server.base_url, api_key="k")
        # One call at a time: the first writes the prompt cache, the second reads it. The
        # built-in price table knows claude-sonnet-4-5 (by prefix).
        runner = Runner(backend, config=RunnerConfig(concurrency=1))

        async def go() -> list[Outcome[Response]]:
            jobs = [Job(ask, lambda r: r) for _ in range(2)]
            try:
                return [o async for _, o in runner.run(jobs, runner.call)]
            finally:
                await backend.aclose()

        first, second = asyncio.run(go())
    assert first.value is not None and second.value is not None
    r1, r2 = first.value, second.value
    assert r1.cache_write_input_tokens > 0 and r1.cached_input_tokens == 0
    assert r2.cache_write_input_tokens == 0 and r2.cached_input_tokens > 0
    price = PriceTable().lookup("anthropic/claude-sonnet-4-5")
    assert price is not None and price.cache_write is None
    plain = r1.input_tokens - r1.cache_write_input_tokens
    expected = (plain * 3.0 + r1.cache_write_input_tokens * 3.75 + r1.output_tokens * 15.0) / 1e6
    assert first.usage.cost_usd == pytest.approx(expected)
    assert (first.usage.cost_usd or 0) > (second.usage.cost_usd or 0) > 0


def test_worst_case_counts_cache_writes_where_the_backend_bills_them() -> None:
    """--max-cost and --dry-run reserve a cacheable block at the cache-write rate (Anthropic)."""
    ask = Request(
        messages=(Message("system", "c" * 4000, cache=True), Message("user", "u" * 400)),
        max_tokens=100,
    )
    prices = PriceTable()
    backend = AnthropicBackend("claude-sonnet-4-5-test", api_key="k")
    tokens_in, tokens_out, worst = Runner(backend, prices=prices).estimate(ask)
    system = len("c" * 4000) // 4  # judge.pricing estimates about four characters a token
    assert tokens_in >= system and tokens_out == 100 and worst is not None
    plain = (tokens_in - system) * 3.0 + system * 3.75 + 100 * 15.0
    assert worst == pytest.approx(plain / 1e6, rel=0.02)
    # A backend that bills no cache writes (OpenAI caches for free) is estimated at input rates.
    backend.bills_cache_writes = False
    _, _, flat = Runner(backend, prices=prices).estimate(ask)
    assert flat == pytest.approx((tokens_in * 3.0 + 100 * 15.0) / 1e6)
