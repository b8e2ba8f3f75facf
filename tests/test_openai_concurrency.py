"""OpenAIBackend at high concurrency: calls spread over several SDK clients (small connection
pools are cheaper per call), all of them the same server, key and settings."""

from __future__ import annotations

import asyncio

import pytest

from judge.backends.base import Message, Request, Response
from judge.backends.openai import _CALLS_PER_CLIENT, OpenAIBackend
from judge.errors import BackendError
from tests.fakes import FakeOpenAIServer, Fault

KEY = "sk-test-concurrency-0123456789"


async def many(backend: OpenAIBackend, n: int) -> tuple[list[Response], int, list[int]]:
    requests = [Request(messages=(Message("user", f"item {i}"),)) for i in range(n)]
    try:
        answers = await asyncio.gather(*(backend.generate(r) for r in requests))
        return answers, len(backend._clients), [c.max_retries for c in backend._clients]
    finally:
        await backend.aclose()


def test_calls_spread_over_clients_of_one_server() -> None:
    with FakeOpenAIServer(latency=0.2, api_key=KEY) as server:
        backend = OpenAIBackend("gpt-test", base_url=server.base_url, api_key=KEY, timeout=9)
        answers, clients, retries = asyncio.run(many(backend, 40))
        records = server.requests
    assert [a.text for a in answers] == ["OK"] * 40  # every call authorized and answered
    assert clients == 40 // _CALLS_PER_CLIENT  # 40 at once: 5 clients of 8 calls each
    assert retries == [0] * clients  # SDK retries stay off in every copy
    assert {r.headers["authorization"] for r in records} == {f"Bearer {KEY}"}
    assert {r.path for r in records} == {"/v1/chat/completions"}
    # All in flight together: the server saw them within one latency period.
    assert max(r.time for r in records) - min(r.time for r in records) < 0.2


def test_few_calls_use_one_client() -> None:
    with FakeOpenAIServer() as server:
        backend = OpenAIBackend("gpt-test", base_url=server.base_url)
        _, clients, _ = asyncio.run(many(backend, _CALLS_PER_CLIENT))
    assert clients == 1


def test_a_failed_call_frees_its_slot() -> None:
    with FakeOpenAIServer(faults=[Fault.status(503)] * 3) as server:
        backend = OpenAIBackend("gpt-test", base_url=server.base_url)

        async def go() -> list[int]:
            for _ in range(3):
                with pytest.raises(BackendError):
                    await backend.generate(Request(messages=(Message("user", "x"),)))
            busy = list(backend._busy)
            await backend.aclose()
            return busy

        assert asyncio.run(go()) == [0]
