"""OpenAIBackend at high concurrency, on both request paths: the lean aiohttp POST (compatible
servers) and the SDK's own (the official API). Both send the SDK client's headers and never retry
on their own; the lean one survives a backend used from more than one event loop."""

from __future__ import annotations

import asyncio

import pytest

from judge.backends.base import Message, Request, Response
from judge.backends.openai import OpenAIBackend
from judge.errors import BackendError
from tests.fakes import FakeOpenAIServer, Fault

KEY = "sk-test-concurrency-0123456789"


async def many(backend: OpenAIBackend, n: int) -> list[Response]:
    requests = [Request(messages=(Message("user", f"item {i}"),)) for i in range(n)]
    try:
        return list(await asyncio.gather(*(backend.generate(r) for r in requests)))
    finally:
        await backend.aclose()


@pytest.mark.parametrize("lean", [True, False])
def test_calls_all_in_flight_together(lean: bool) -> None:
    with FakeOpenAIServer(latency=0.3, api_key=KEY) as server:
        backend = OpenAIBackend(
            "gpt-test", base_url=server.base_url, api_key=KEY, timeout=9, lean=lean
        )
        answers = asyncio.run(many(backend, 64))
        records = server.requests
    assert [a.text for a in answers] == ["OK"] * 64  # every call authorized and answered
    assert {r.headers["authorization"] for r in records} == {f"Bearer {KEY}"}
    assert {r.path for r in records} == {"/v1/chat/completions"}
    assert {r.headers["content-type"] for r in records} == {"application/json"}
    # No pool cap of its own: the server saw all 64 within one latency period.
    assert max(r.time for r in records) - min(r.time for r in records) < 0.3


def test_the_lean_path_sends_the_sdk_clients_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_ORG_ID", "org-test")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-test")
    with FakeOpenAIServer(api_key=KEY) as server:
        backend = OpenAIBackend("gpt-test", base_url=server.base_url, api_key=KEY, lean=True)
        asyncio.run(many(backend, 1))
        headers = server.requests[0].headers
    assert headers["authorization"] == f"Bearer {KEY}"
    assert headers["openai-organization"] == "org-test"
    assert headers["openai-project"] == "proj-test"
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("AsyncOpenAI/Python")


@pytest.mark.parametrize("lean", [True, False])
def test_no_retry_below_the_runner(lean: bool) -> None:
    with FakeOpenAIServer(faults=[Fault.status(503)] * 3) as server:
        backend = OpenAIBackend("gpt-test", base_url=server.base_url, lean=lean)

        async def go() -> None:
            for _ in range(3):
                with pytest.raises(BackendError) as caught:
                    await backend.generate(Request(messages=(Message("user", "x"),)))
                assert caught.value.transient
            await backend.aclose()

        asyncio.run(go())
        assert len(server.requests) == 3  # one HTTP request per call: no hidden retries


def test_one_backend_across_event_loops() -> None:
    """`asyncio.run` twice with one backend (the Python API does): the second loop gets its own
    connections instead of the first loop's dead ones."""
    with FakeOpenAIServer() as server:
        backend = OpenAIBackend("gpt-test", base_url=server.base_url, lean=True)
        ask = Request(messages=(Message("user", "x"),))
        first = asyncio.run(backend.generate(ask))
        second = asyncio.run(backend.generate(ask))
        asyncio.run(backend.aclose())
    assert first.text == second.text == "OK"


def test_the_lean_path_honours_proxy_settings_like_the_sdk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTTP_PROXY applies (here a dead proxy: the call fails as a connection error) unless
    NO_PROXY names the server, as with the SDK's httpx client."""
    with FakeOpenAIServer() as dead:
        proxy = dead.base_url.rsplit("/v1", 1)[0]
    with FakeOpenAIServer() as server:
        monkeypatch.setenv("HTTP_PROXY", proxy)
        monkeypatch.setenv("NO_PROXY", "example.invalid")
        ask = Request(messages=(Message("user", "x"),))
        backend = OpenAIBackend("gpt-test", base_url=server.base_url, lean=True)
        with pytest.raises(BackendError) as caught:
            asyncio.run(backend.generate(ask))
        assert caught.value.transient and "connection" in str(caught.value)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        backend = OpenAIBackend("gpt-test", base_url=server.base_url, lean=True)
        assert asyncio.run(backend.generate(ask)).text == "OK"
        assert len(server.requests) == 1
