"""OpenAIBackend against the fake server, through the real openai SDK.

Every test runs twice: through the lean aiohttp POST that compatible servers get, and through the
SDK's own request path that the official API gets (both must behave the same).
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import pytest

from judge.backends.base import Backend, Message, Request, Response
from judge.backends.http_errors import retry_after_seconds
from judge.backends.openai import (
    SCHEMA_INSTRUCTION,
    OpenAIBackend,
    is_strict_schema,
)
from judge.errors import BackendError, ConfigError
from tests.fakes import FakeOpenAIServer, Fault, Reply

KEY = "sk-test-0123456789abcdefSECRET"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "score": {"type": "integer", "minimum": 1, "maximum": 5},
        "reason": {"type": "string"},
    },
    "required": ["score", "reason"],
    "additionalProperties": False,
}
ASK = Request(messages=(Message("system", "You judge.", cache=True), Message("user", "Rate this.")))
ASK_JSON = Request(messages=ASK.messages, schema=SCHEMA)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True, params=["lean", "sdk"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which request path every OpenAIBackend made in the test takes."""
    made = OpenAIBackend.__init__

    def init(self: OpenAIBackend, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("lean", request.param == "lean")
        made(self, *args, **kwargs)

    monkeypatch.setattr(OpenAIBackend, "__init__", init)
    return str(request.param)


class FakeUrl:
    """A stand-in server whose URL nothing listens on any more."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url


Target = FakeOpenAIServer | FakeUrl


@pytest.fixture
def server() -> Any:
    with FakeOpenAIServer() as fake:
        yield fake


def call(server: Target, *requests: Request, **kwargs: Any) -> list[Response | BackendError]:
    """Send the requests in order through one backend; errors are returned, not raised."""
    kwargs.setdefault("api_key", KEY)

    async def go() -> list[Response | BackendError]:
        backend = OpenAIBackend("gpt-test", base_url=server.base_url, **kwargs)
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


def answer(server: Target, request: Request = ASK, **kwargs: Any) -> Response:
    (result,) = call(server, request, **kwargs)
    assert isinstance(result, Response), result
    return result


def failure(server: Target, request: Request = ASK, **kwargs: Any) -> BackendError:
    (result,) = call(server, request, **kwargs)
    assert isinstance(result, BackendError), result
    return result


# --- answers and request shape


def test_text_answer_and_request_shape() -> None:
    with FakeOpenAIServer(handler=lambda body: "Looks fine.") as server:
        request = Request(messages=ASK.messages, max_tokens=50, temperature=0.3, seed=7)
        response = answer(server, request)
    assert response.text == "Looks fine."
    assert response.finish_reason == "stop"
    assert response.logprobs is None
    body = server.last_body
    assert body["model"] == "gpt-test"
    assert body["messages"] == [
        {"role": "system", "content": "You judge."},
        {"role": "user", "content": "Rate this."},
    ]
    assert body["max_tokens"] == 50  # compatible servers get max_tokens
    assert "max_completion_tokens" not in body
    assert body["temperature"] == 0.3
    assert body["seed"] == 7
    assert "response_format" not in body and "logprobs" not in body
    assert server.requests[-1].headers["authorization"] == f"Bearer {KEY}"


def test_official_api_gets_max_completion_tokens(server: FakeOpenAIServer) -> None:
    async def go() -> None:
        backend = OpenAIBackend("gpt-test", api_key=KEY)
        assert backend.official and backend.identity() == {
            "provider": "openai",
            "model": "gpt-test",
        }
        backend._client.base_url = server.base_url  # aim the "official" client at the fake
        await backend.generate(Request(messages=ASK.messages, max_tokens=64))
        await backend.aclose()

    asyncio.run(go())
    assert server.last_body["max_completion_tokens"] == 64
    assert "max_tokens" not in server.last_body


def test_structured_output_request_shape(server: FakeOpenAIServer) -> None:
    response = answer(
        server, Request(messages=ASK.messages, schema=SCHEMA, schema_name="my verdict!")
    )
    assert response.text == '{"score": 1, "reason": "ok"}'  # the fake's schema instance
    fmt = server.last_body["response_format"]
    assert fmt == {
        "type": "json_schema",
        "json_schema": {"name": "my_verdict", "schema": SCHEMA, "strict": True},
    }
    assert server.last_body["messages"][-1]["content"] == "Rate this."  # no instruction needed


def test_rationale_words_change_nothing_sent(server: FakeOpenAIServer) -> None:
    """Request.words bounds the embedded model's grammar only: an HTTP server gets the same
    body with it as without (no pattern in the schema, the same max_tokens)."""
    plain = Request(messages=ASK.messages, schema=SCHEMA, max_tokens=160)
    answer(server, plain)
    before = server.last_body
    answer(server, Request(messages=ASK.messages, schema=SCHEMA, max_tokens=160, words=10))
    assert server.last_body == before
    assert "pattern" not in json.dumps(before)


def test_strict_only_when_the_schema_allows_it(server: FakeOpenAIServer) -> None:
    loose = {"type": "object", "properties": {"score": {"type": "integer"}}}
    answer(server, Request(messages=ASK.messages, schema=loose))
    assert server.last_body["response_format"]["json_schema"]["strict"] is False
    assert is_strict_schema(SCHEMA)
    assert not is_strict_schema({**SCHEMA, "required": ["score"]})
    nested = {**SCHEMA, "properties": {**SCHEMA["properties"], "more": loose}}
    nested["required"] = [*SCHEMA["required"], "more"]
    assert not is_strict_schema(nested)
    assert not is_strict_schema({"type": "array", "items": loose})
    assert is_strict_schema({"anyOf": [SCHEMA, {"type": "null"}]})


def test_falls_back_to_json_object_and_remembers() -> None:
    with FakeOpenAIServer(unsupported={"json_schema"}) as server:
        first, second = call(server, ASK_JSON, ASK_JSON)
    assert isinstance(first, Response) and isinstance(second, Response)
    assert first.text == '{"score": 1, "reason": "ok"}'
    kinds = [b.get("response_format", {}).get("type") for b in server.bodies]
    assert kinds == ["json_schema", "json_object", "json_object"]  # one rejection, remembered
    last_user = server.last_body["messages"][-1]
    assert last_user["role"] == "user"
    assert last_user["content"].startswith("Rate this.\n\n" + SCHEMA_INSTRUCTION)
    assert '"score"' in last_user["content"]


def test_falls_back_to_schema_in_prompt() -> None:
    with FakeOpenAIServer(unsupported={"json_schema", "json_object"}) as server:
        results = call(server, ASK_JSON, ASK_JSON)
    assert all(isinstance(r, Response) and r.text.startswith('{"score"') for r in results)
    kinds = [b.get("response_format", {}).get("type") for b in server.bodies]
    assert kinds == ["json_schema", "json_object", None, None]
    assert SCHEMA_INSTRUCTION in server.last_body["messages"][-1]["content"]


def test_unrelated_400_does_not_degrade() -> None:
    with FakeOpenAIServer(handler=lambda b: Fault.status(400, "context length exceeded")) as server:
        error = failure(server, ASK_JSON)
    assert not error.transient
    assert "context length exceeded" in str(error) and "HTTP 400" in str(error)
    assert server.count == 1


# --- log-probabilities and usage


def test_logprobs_mapping() -> None:
    lps = [("4", -0.1, {"4": -0.1, "5": -2.5, "3": -3.0})]
    with FakeOpenAIServer(handler=lambda b: Reply("4", logprobs=lps)) as server:
        response = answer(server, Request(messages=ASK.messages, logprobs=3))
    assert server.last_body["logprobs"] is True and server.last_body["top_logprobs"] == 3
    assert response.logprobs is not None and len(response.logprobs) == 1
    token = response.logprobs[0]
    assert (token.token, token.logprob) == ("4", -0.1)
    assert token.top == {"4": -0.1, "5": -2.5, "3": -3.0}


def test_logprobs_rejected_are_dropped_and_remembered() -> None:
    with FakeOpenAIServer(unsupported={"logprobs"}) as server:
        request = Request(messages=ASK.messages, logprobs=5)
        results = call(server, request, request)
    assert all(isinstance(r, Response) and r.logprobs is None for r in results)
    assert ["logprobs" in b for b in server.bodies] == [True, False, False]


def test_temperature_refused_by_reasoning_models_is_dropped() -> None:
    with FakeOpenAIServer(unsupported={"temperature"}) as server:
        response = answer(server)
    assert response.text == "OK"
    assert ["temperature" in b for b in server.bodies] == [True, False]


def test_usage_mapping_with_cached_tokens() -> None:
    reply = Reply("fine", input_tokens=1200, output_tokens=9, cached_tokens=1024)
    with FakeOpenAIServer(handler=lambda b: reply) as server:
        response = answer(server)
    assert (response.input_tokens, response.output_tokens) == (1200, 9)
    assert response.cached_input_tokens == 1024


def test_usage_counted_by_the_fake_with_prefix_cache(server: FakeOpenAIServer) -> None:
    first, second = call(server, ASK, ASK)
    assert isinstance(first, Response) and isinstance(second, Response)
    assert first.input_tokens == second.input_tokens > 0
    assert first.output_tokens == 1  # "OK"
    assert first.cached_input_tokens == 0
    assert second.cached_input_tokens == 3  # "You judge." seen before


# --- errors


def test_rate_limit_is_transient_with_retry_after(server: FakeOpenAIServer) -> None:
    server.script(Fault.rate_limit(retry_after=7))
    error = failure(server)
    assert error.transient and error.retry_after == 7.0
    assert "429" in str(error)


def test_retry_after_as_http_date() -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    with FakeOpenAIServer(
        faults=[Fault.rate_limit(retry_after=format_datetime(when, usegmt=True))]
    ) as s:
        error = failure(s)
    assert error.transient and error.retry_after is not None
    assert 25 <= error.retry_after <= 31


def test_retry_after_parsing() -> None:
    assert retry_after_seconds({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after_seconds({"retry-after": "2"}) == 2.0
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({"retry-after": "nan"}) is None
    assert retry_after_seconds({}) is None


def test_an_exhausted_rate_limit_says_when_it_resets() -> None:
    """Without Retry-After, the x-ratelimit-* headers (OpenAI, Groq) say how long to wait."""
    limited = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "6m0.5s"}
    assert retry_after_seconds(limited) == 360.5
    tokens = {
        "x-ratelimit-remaining-requests": "12",
        "x-ratelimit-reset-requests": "9m",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "120ms",
    }
    assert retry_after_seconds(tokens) == pytest.approx(0.12)
    assert retry_after_seconds({**tokens, "retry-after": "2"}) == 2.0  # Retry-After wins
    not_exhausted = {"x-ratelimit-remaining-requests": "5", "x-ratelimit-reset-requests": "1s"}
    assert retry_after_seconds(not_exhausted) is None
    garbled = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "soon"}
    assert retry_after_seconds(garbled) is None


def test_rate_limit_from_requests_per_minute() -> None:
    with FakeOpenAIServer(rpm=60, burst=2) as server:
        results = call(server, ASK, ASK, ASK)
    assert [type(r) for r in results] == [Response, Response, BackendError]
    error = results[2]
    assert isinstance(error, BackendError) and error.transient
    assert error.retry_after is not None and 0.5 < error.retry_after <= 1.01


@pytest.mark.parametrize("code", [408, 409, 500, 502, 503])
def test_retryable_statuses_are_transient(server: FakeOpenAIServer, code: int) -> None:
    server.script(Fault.status(code))
    error = failure(server)
    assert error.transient and f"HTTP {code}" in str(error)


@pytest.mark.parametrize(
    "fault", [Fault.reset(), Fault.truncate(), Fault.garble()], ids=["reset", "truncate", "garble"]
)
def test_broken_connections_and_bodies_are_transient(
    server: FakeOpenAIServer, fault: Fault
) -> None:
    server.script(fault)
    error = failure(server)
    assert error.transient


@pytest.mark.parametrize(
    "body", ['{"id": "x", "choices": []}', '{"unexpected": true}', "[1, 2]"], ids=str
)
def test_wrong_shaped_json_is_transient(server: FakeOpenAIServer, body: str) -> None:
    server.script(Fault.raw(body))
    error = failure(server)
    assert error.transient and "malformed" in str(error)


def test_html_page_instead_of_json_is_transient(server: FakeOpenAIServer) -> None:
    server.script(Fault.raw("<html>proxy login</html>", content_type="text/html"))
    error = failure(server)
    assert error.transient and "malformed" in str(error)


def test_timeout_is_transient(server: FakeOpenAIServer) -> None:
    server.script(Fault.delay(3))
    start = time.monotonic()
    error = failure(server, timeout=0.3)
    assert time.monotonic() - start < 2
    assert error.transient and "0.3 s" in str(error)


def test_bad_key_is_not_transient_and_not_echoed() -> None:
    wrong = "sk-wrong-key-0123456789abcdef"
    with FakeOpenAIServer(api_key=KEY) as server:
        error = failure(server, api_key=wrong)
        assert isinstance(answer(server), Response)  # the right key passes
    assert not error.transient
    assert "OPENAI_API_KEY" in str(error) and "401" in str(error)
    assert "wrong" not in str(error) and "cdef" not in str(error)


def test_forbidden_is_not_transient(server: FakeOpenAIServer) -> None:
    server.script(Fault.status(403, "You are not allowed to sample from this model"))
    error = failure(server)
    assert not error.transient and "OPENAI_API_KEY" in str(error) and "403" in str(error)


def test_unknown_model_is_not_transient() -> None:
    with FakeOpenAIServer(models={"other-model"}) as server:
        error = failure(server)
    assert not error.transient
    assert "'gpt-test'" in str(error) and "404" in str(error) and server.base_url in str(error)


def test_bad_request_is_not_transient_with_server_message(server: FakeOpenAIServer) -> None:
    server.script(Fault.status(400, "Invalid 'messages[1].content':   string too long."))
    error = failure(server)
    assert not error.transient and error.retry_after is None
    assert "Invalid 'messages[1].content': string too long." in str(error)


def test_connection_refused_is_transient() -> None:
    with FakeOpenAIServer() as server:
        url = server.base_url
    error = failure(FakeUrl(url))
    assert error.transient and "connection" in str(error)


def test_key_never_in_errors_repr_or_identity() -> None:
    faults = [
        Fault.status(400, f"bad request from key {KEY}"),
        Fault.status(401, f"Incorrect API key provided: {KEY}"),
        Fault.status(403, f"key {KEY} may not"),
        Fault.status(404, f"no model for {KEY}"),
        Fault.status(500, f"oops {KEY}"),
        Fault.rate_limit(),
        Fault.reset(),
        Fault.garble(),
        Fault.delay(2),
    ]
    with FakeOpenAIServer(faults=faults) as server:
        results = call(server, *[ASK] * len(faults), timeout=0.5)

        async def inspect() -> list[str]:
            backend = OpenAIBackend("gpt-test", base_url=server.base_url, api_key=KEY)
            seen = [repr(backend), str(backend.identity()), backend.name]
            await backend.aclose()
            return seen

        texts = asyncio.run(inspect())
    for error in results:
        assert isinstance(error, BackendError)
        texts += [str(error), repr(error), *map(str, error.args)]
    for text in texts:
        assert KEY not in text and "SECRET" not in text, text


# --- configuration


def test_missing_key_for_the_official_api() -> None:
    with pytest.raises(ConfigError, match=r"OPENAI_API_KEY is not set.*--base-url.*local/smollm2"):
        OpenAIBackend("gpt-4o-mini")


def test_compatible_server_needs_no_key(server: FakeOpenAIServer) -> None:
    async def go() -> Response:
        backend = OpenAIBackend("llama", base_url=server.base_url)
        try:
            return await backend.generate(ASK)
        finally:
            await backend.aclose()

    assert asyncio.run(go()).text == "OK"
    assert server.requests[-1].headers["authorization"].startswith("Bearer ")


def test_env_key_and_env_base_url(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url + "/")

    async def go() -> Backend:
        backend = OpenAIBackend("llama")
        await backend.generate(ASK)
        await backend.aclose()
        return backend

    backend = asyncio.run(go())
    assert backend.identity() == {
        "provider": "openai",
        "model": "llama",
        "base_url": server.base_url,
    }
    assert backend.name == "openai/llama"
    assert server.requests[-1].headers["authorization"] == f"Bearer {KEY}"


def test_official_url_counts_as_official() -> None:
    backend = OpenAIBackend("gpt-4o", base_url="https://api.openai.com/v1/", api_key=KEY)
    assert backend.official and "base_url" not in backend.identity()
    assert isinstance(backend, Backend)


def test_missing_model_name() -> None:
    with pytest.raises(ConfigError, match="openai/NAME"):
        OpenAIBackend("", api_key=KEY)


def test_many_concurrent_requests() -> None:
    with FakeOpenAIServer(latency=0.1) as server:

        async def go() -> list[Response]:
            backend = OpenAIBackend("gpt-test", base_url=server.base_url, api_key=KEY)
            try:
                return await asyncio.gather(*[backend.generate(ASK) for _ in range(60)])
            finally:
                await backend.aclose()

        start = time.monotonic()
        responses = asyncio.run(go())
        elapsed = time.monotonic() - start
    assert len(responses) == 60 and all(r.text == "OK" for r in responses)
    assert server.count == server.answered == 60
    assert elapsed < 4  # served concurrently, not one after another (60 x 0.1 s = 6 s)
