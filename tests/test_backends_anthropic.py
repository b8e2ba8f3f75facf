"""AnthropicBackend against the fake server, through the real anthropic SDK."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from judge.backends.anthropic import AnthropicBackend, split_messages, tool_name
from judge.backends.base import SCHEMA_INSTRUCTION, Backend, Message, Request, Response
from judge.errors import BackendError, ConfigError
from tests.fakes import FakeAnthropicServer, Fault, Reply

KEY = "sk-ant-test-0123456789abcdefSECRET"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "score": {"type": "integer", "minimum": 1, "maximum": 5},
        "reason": {"type": "string"},
    },
    "required": ["score", "reason"],
    "additionalProperties": False,
}
CONSTITUTION = "Principle one: be honest. Principle two: be helpful."
ASK = Request(
    messages=(
        Message("system", "You are a careful judge."),
        Message("system", CONSTITUTION, cache=True),
        Message("user", "Rate this answer."),
    )
)
ASK_JSON = Request(messages=ASK.messages, schema=SCHEMA)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server() -> Any:
    with FakeAnthropicServer() as fake:
        yield fake


def call(
    server: FakeAnthropicServer, *requests: Request, **kwargs: Any
) -> list[Response | BackendError]:
    """Send the requests in order through one backend; errors are returned, not raised."""
    kwargs.setdefault("api_key", KEY)

    async def go() -> list[Response | BackendError]:
        backend = AnthropicBackend("claude-test", base_url=server.base_url, **kwargs)
        results: list[Response | BackendError] = []
        try:
            for request in requests:
                try:
                    results.append(await backend.generate(request))
                except BackendError as exc:
                    results.append(exc)
        finally:
            await backend.aclose()
        return results

    return asyncio.run(go())


def answer(server: FakeAnthropicServer, request: Request = ASK, **kwargs: Any) -> Response:
    (result,) = call(server, request, **kwargs)
    assert isinstance(result, Response), result
    return result


def failure(server: FakeAnthropicServer, request: Request = ASK, **kwargs: Any) -> BackendError:
    (result,) = call(server, request, **kwargs)
    assert isinstance(result, BackendError), result
    return result


# --- answers and request shape


def test_text_answer_and_system_blocks_with_cache_control() -> None:
    with FakeAnthropicServer(handler=lambda body: "Honest and helpful.") as server:
        response = answer(server, Request(messages=ASK.messages, max_tokens=77, seed=3, logprobs=5))
    assert response.text == "Honest and helpful."
    assert response.finish_reason == "stop"
    assert response.logprobs is None  # Anthropic gives none; the request is not refused for it
    body = server.last_body
    assert body["model"] == "claude-test" and body["max_tokens"] == 77
    assert body["system"] == [
        {"type": "text", "text": "You are a careful judge."},
        {"type": "text", "text": CONSTITUTION, "cache_control": {"type": "ephemeral"}},
    ]
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Rate this answer."}]}
    ]
    # API version 2026-10-21 refuses sampling parameters; nothing else has a place either.
    for absent in ("temperature", "top_p", "top_k", "seed", "logprobs", "output_config", "tools"):
        assert absent not in body
    headers = server.requests[-1].headers
    assert headers["authorization"] == f"Bearer {KEY}" or headers.get("x-api-key") == KEY


def test_structured_output_via_output_config(server: FakeAnthropicServer) -> None:
    response = answer(server, ASK_JSON)
    assert json.loads(response.text) == {"score": 1, "reason": "ok"}
    fmt = server.last_body["output_config"]["format"]
    assert fmt["type"] == "json_schema"
    schema = fmt["schema"]
    assert schema["required"] == ["score", "reason"] and schema["additionalProperties"] is False
    # The SDK's transform moves keywords the API does not enforce into the description.
    assert "minimum" not in schema["properties"]["score"]
    assert "minimum: 1" in schema["properties"]["score"]["description"]
    assert "tools" not in server.last_body


def test_falls_back_to_a_forced_tool_and_remembers() -> None:
    verdict = {"score": 4, "reason": "clear"}
    with FakeAnthropicServer(handler=lambda b: verdict, unsupported={"output_config"}) as server:
        first, second = call(server, ASK_JSON, ASK_JSON)
    assert isinstance(first, Response) and isinstance(second, Response)
    assert json.loads(first.text) == verdict and json.loads(second.text) == verdict
    assert first.finish_reason == "stop"
    assert ["output_config" in b for b in server.bodies] == [True, False, False]
    body = server.last_body
    assert body["tools"] == [
        {
            "name": "verdict",
            "description": "Record the answer. Call this tool exactly once.",
            "input_schema": SCHEMA,
        }
    ]
    assert body["tool_choice"] == {"type": "tool", "name": "verdict"}


def test_falls_back_to_schema_in_prompt() -> None:
    with FakeAnthropicServer(unsupported={"output_config", "tools"}) as server:
        results = call(server, ASK_JSON, ASK_JSON)
    assert all(
        isinstance(r, Response) and r.text == '{"score": 1, "reason": "ok"}' for r in results
    )
    assert server.count == 4  # output_config refused, tools refused, then prompt twice
    last = server.last_body["messages"][-1]
    assert last["role"] == "user"
    assert last["content"][0]["text"] == "Rate this answer."
    assert last["content"][-1]["text"].startswith(SCHEMA_INSTRUCTION)


def test_non_object_schema_skips_the_tool() -> None:
    with FakeAnthropicServer(unsupported={"output_config"}) as server:
        response = answer(server, Request(messages=ASK.messages, schema={"type": "integer"}))
    assert response.text == "1"
    assert "tools" not in server.last_body


def test_unrelated_400_does_not_degrade() -> None:
    with FakeAnthropicServer(handler=lambda b: Fault.status(400, "prompt is too long")) as server:
        error = failure(server, ASK_JSON)
    assert not error.transient and "prompt is too long" in str(error)
    assert server.count == 1


def test_turns_merge_and_empty_messages_are_skipped() -> None:
    messages = (
        Message("user", "Question?"),
        Message("user", "More context."),
        Message("assistant", "Earlier answer."),
        Message("user", ""),
        Message("user", "Judge it."),
    )
    system, turns = split_messages(messages)
    assert system == []
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert [b["text"] for b in turns[0]["content"]] == ["Question?", "More context."]


def test_at_most_four_cache_breakpoints_the_last_ones() -> None:
    messages = tuple(Message("system", f"part {i}", cache=True) for i in range(6))
    system, _ = split_messages((*messages, Message("user", "go")))
    marked = [b["text"] for b in system if "cache_control" in b]
    assert marked == ["part 2", "part 3", "part 4", "part 5"]


def test_tool_names_are_sanitized() -> None:
    assert tool_name("my verdict!") == "my_verdict"
    assert tool_name("***") == "answer"
    assert len(tool_name("x" * 100)) == 64


# --- usage


def test_usage_counts_cache_reads_and_writes_in_input_tokens(server: FakeAnthropicServer) -> None:
    first, second = call(server, ASK, ASK)
    assert isinstance(first, Response) and isinstance(second, Response)
    assert first.input_tokens == second.input_tokens > 0  # same prompt, same total
    assert first.cached_input_tokens == 0  # the prefix was written to the cache
    prefix = server.requests  # both requests carry the cached constitution
    assert len(prefix) == 2
    assert second.cached_input_tokens > 0  # and read from it the second time
    assert first.output_tokens == 1


def test_usage_mapping() -> None:
    reply = Reply("ok", input_tokens=10, output_tokens=5, cached_tokens=100, cache_write_tokens=20)
    with FakeAnthropicServer(handler=lambda b: reply) as server:
        response = answer(server)
    assert response.input_tokens == 130  # uncached + cache reads + cache writes
    assert response.cached_input_tokens == 100
    assert response.output_tokens == 5


def test_max_tokens_stop_reason_maps_to_length() -> None:
    with FakeAnthropicServer(handler=lambda b: Reply("cut", finish_reason="max_tokens")) as server:
        assert answer(server).finish_reason == "length"


# --- errors


def test_rate_limit_is_transient_with_retry_after(server: FakeAnthropicServer) -> None:
    server.script(Fault.rate_limit(retry_after=12))
    error = failure(server)
    assert error.transient and error.retry_after == 12.0


@pytest.mark.parametrize("code", [408, 409, 500, 503, 529])
def test_retryable_statuses_are_transient(server: FakeAnthropicServer, code: int) -> None:
    server.script(Fault.status(code))
    error = failure(server)
    assert error.transient and f"HTTP {code}" in str(error)


@pytest.mark.parametrize(
    "fault", [Fault.reset(), Fault.truncate(), Fault.garble()], ids=["reset", "truncate", "garble"]
)
def test_broken_connections_and_bodies_are_transient(
    server: FakeAnthropicServer, fault: Fault
) -> None:
    server.script(fault)
    assert failure(server).transient


def test_wrong_shaped_json_is_transient(server: FakeAnthropicServer) -> None:
    server.script(Fault.raw('{"type": "message", "content": [{"type": "text"}]}'))
    error = failure(server)
    assert error.transient and "malformed" in str(error)


def test_timeout_is_transient(server: FakeAnthropicServer) -> None:
    server.script(Fault.delay(3))
    start = time.monotonic()
    error = failure(server, timeout=0.3)
    assert time.monotonic() - start < 2
    assert error.transient and "0.3 s" in str(error)


def test_bad_key_is_not_transient_and_not_echoed() -> None:
    wrong = "sk-ant-wrong-0123456789abcdef"
    with FakeAnthropicServer(api_key=KEY) as server:
        error = failure(server, api_key=wrong)
        assert isinstance(answer(server), Response)  # the right key passes
    assert not error.transient
    assert "ANTHROPIC_API_KEY" in str(error) and "401" in str(error)
    assert "wrong" not in str(error) and "cdef" not in str(error)


def test_unknown_model_is_not_transient() -> None:
    with FakeAnthropicServer(models={"claude-other"}) as server:
        error = failure(server)
    assert not error.transient and "'claude-test'" in str(error) and "404" in str(error)


def test_bad_request_is_not_transient_with_server_message(server: FakeAnthropicServer) -> None:
    server.script(Fault.status(400, "messages: text content blocks must be non-empty"))
    error = failure(server)
    assert not error.transient and "text content blocks must be non-empty" in str(error)


def test_key_never_in_errors_repr_or_identity() -> None:
    faults = [
        Fault.status(400, f"bad request from key {KEY}"),
        Fault.status(401, f"invalid x-api-key {KEY}"),
        Fault.status(403, f"key {KEY} may not"),
        Fault.status(529, f"overloaded {KEY}"),
        Fault.reset(),
        Fault.delay(2),
    ]
    with FakeAnthropicServer(faults=faults) as server:
        results = call(server, *[ASK] * len(faults), timeout=0.5)
        backend = AnthropicBackend("claude-test", base_url=server.base_url, api_key=KEY)
        texts = [repr(backend), str(backend.identity()), backend.name]
        asyncio.run(backend.aclose())
    for error in results:
        assert isinstance(error, BackendError)
        texts += [str(error), repr(error), *map(str, error.args)]
    for text in texts:
        assert KEY not in text and "SECRET" not in text, text


# --- configuration


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY is not set"):
        AnthropicBackend("claude-test")


def test_key_and_base_url_from_env(
    server: FakeAnthropicServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)

    async def go() -> Backend:
        backend = AnthropicBackend("claude-test")
        await backend.generate(ASK)
        await backend.aclose()
        return backend

    backend = asyncio.run(go())
    assert backend.identity() == {
        "provider": "anthropic",
        "model": "claude-test",
        "base_url": server.base_url,
    }
    assert backend.name == "anthropic/claude-test"
    assert KEY in server.requests[-1].headers.get("authorization", "") + server.requests[
        -1
    ].headers.get("x-api-key", "")


def test_official_identity() -> None:
    backend = AnthropicBackend("claude-x", api_key=KEY)
    assert backend.identity() == {"provider": "anthropic", "model": "claude-x"}
    assert isinstance(backend, Backend)
    asyncio.run(backend.aclose())
