"""Errors that concern one item only (too long, content filter, refusal): that item is unjudged,
the run goes on. Through the real SDKs against the fake servers, then through the runner."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from judge.backends.anthropic import AnthropicBackend
from judge.backends.base import Backend, Message, Request, Response
from judge.backends.http_errors import error_codes, error_from_status
from judge.backends.openai import OpenAIBackend
from judge.cli import main
from judge.engine.runner import Job, Outcome, Runner, RunnerConfig
from judge.errors import BackendError, ParseError
from tests.fakes import (
    FakeAnthropicServer,
    FakeOpenAIServer,
    Fault,
    HandlerResult,
    Reply,
    auto_reply,
)

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"score": {"type": "integer", "minimum": 1, "maximum": 5}},
    "required": ["score"],
    "additionalProperties": False,
}
ASK = Request(messages=(Message("system", "You judge."), Message("user", "item 0")), schema=SCHEMA)

CONTEXT_EXCEEDED = json.dumps(
    {
        "error": {
            "message": "This model's maximum context length is 4096 tokens. However, you "
            "requested 5000 tokens (4900 in the messages, 100 in the completion). Please reduce "
            "the length of the messages or completion.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        }
    }
)
CONTENT_FILTER = json.dumps(
    {
        "error": {
            "message": "The response was filtered due to the prompt triggering the content "
            "management policy.",
            "type": None,
            "param": "prompt",
            "code": "content_filter",
        }
    }
)


def generate(backend: Backend, request: Request = ASK) -> Response | BackendError:
    async def go() -> Response | BackendError:
        try:
            return await backend.generate(request)
        except BackendError as exc:
            return exc
        finally:
            await backend.aclose()

    return asyncio.run(go())


def openai_failure(fault: HandlerResult) -> tuple[BackendError, FakeOpenAIServer]:
    with FakeOpenAIServer(handler=lambda body: fault) as server:
        result = generate(OpenAIBackend("gpt-test", base_url=server.base_url, api_key="sk-x"))
    assert isinstance(result, BackendError), result
    return result, server


def anthropic_failure(fault: HandlerResult) -> tuple[BackendError, FakeAnthropicServer]:
    with FakeAnthropicServer(handler=lambda body: fault) as server:
        result = generate(AnthropicBackend("claude-test", base_url=server.base_url, api_key="k"))
    assert isinstance(result, BackendError), result
    return result, server


# --- the backends classify -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        (Fault.raw(CONTEXT_EXCEEDED, code=400), "too long"),
        # vLLM / llama.cpp word it alike but send no code.
        (Fault.status(400, "This model's maximum context length is 2048 tokens."), "too long"),
        (Fault.status(413, "Request Entity Too Large"), "too long"),
        (Fault.raw(CONTENT_FILTER, code=400), "content filter"),
        (Reply("", finish_reason="content_filter"), "content filter"),
    ],
)
def test_openai_item_errors_are_per_item(fault: HandlerResult, words: str) -> None:
    error, server = openai_failure(fault)
    assert error.per_item and not error.transient
    assert words in str(error)
    # Not mistaken for an unsupported response_format: no degraded second request.
    assert server.count == 1


def test_openai_refusal_is_per_item() -> None:
    body: dict[str, Any] = {"id": "x", "object": "chat.completion", "created": 0}
    body["model"] = "gpt-test"
    body["choices"] = [
        {
            "index": 0,
            "message": {"role": "assistant", "content": None, "refusal": "I can't help with that."},
            "finish_reason": "stop",
        }
    ]
    error, _ = openai_failure(Fault.raw(json.dumps(body)))
    assert error.per_item and "refused" in str(error) and "I can't help" in str(error)


def test_openai_other_bad_requests_still_stop_the_run() -> None:
    error, _ = openai_failure(Fault.status(400, "Invalid value for 'max_tokens': too large."))
    assert not error.per_item and not error.transient


def test_openai_structured_output_still_degrades() -> None:
    with FakeOpenAIServer(unsupported={"json_schema"}) as server:
        result = generate(OpenAIBackend("gpt-test", base_url=server.base_url, api_key="sk-x"))
    assert isinstance(result, Response) and server.count == 2


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        (Fault.status(400, "prompt is too long: 210000 tokens > 200000 maximum"), "too long"),
        (Fault.status(413, "Request exceeds the maximum allowed number of bytes."), "too long"),
        (Reply("", finish_reason="refusal"), "refused"),
    ],
)
def test_anthropic_item_errors_are_per_item(fault: HandlerResult, words: str) -> None:
    error, server = anthropic_failure(fault)
    assert error.per_item and not error.transient
    assert words in str(error)
    assert server.count == 1  # the output_config mode was not given up for it


def test_anthropic_other_bad_requests_still_stop_the_run() -> None:
    error, _ = anthropic_failure(Fault.status(400, "max_tokens: must be at most 64000"))
    assert not error.per_item and not error.transient


def test_error_codes_read_both_body_shapes() -> None:
    assert error_codes({"code": "content_filter", "type": None}) == {"content_filter"}
    anthropic_body = {"type": "error", "error": {"type": "request_too_large", "message": "m"}}
    assert "request_too_large" in error_codes(anthropic_body)
    assert error_codes("not a dict") == frozenset()
    error = error_from_status(400, "x", {}, name="p/m", key_env="K", codes={"request_too_large"})
    assert error.per_item


# --- the runner goes on --------------------------------------------------------------------------


def item_of(body: dict[str, Any]) -> int:
    """Which item a request is about: the last `item N` in its messages."""
    found = re.findall(r"item (\d+)", json.dumps(body.get("messages")))
    return int(found[-1]) if found else -1


def per_item_faults(too_long: HandlerResult, filtered: HandlerResult) -> Callable[..., Any]:
    def handler(body: dict[str, Any]) -> HandlerResult:
        i = item_of(body)
        if i == 3:
            return too_long
        if i == 6:
            return filtered
        return auto_reply(body)

    return handler


def parse_score(response: Response) -> int:
    try:
        return int(json.loads(response.text)["score"])
    except (ValueError, KeyError, TypeError):
        raise ParseError(f"no score in {response.text!r}") from None


async def run_items(backend: Backend, n: int) -> tuple[list[Outcome[int]], Runner]:
    runner = Runner(backend, config=RunnerConfig(concurrency=4, backoff_base=0.001))

    async def work(i: int) -> Outcome[int]:
        request = Request(messages=(Message("user", f"item {i}"),), schema=SCHEMA)
        return await runner.call(Job(request, parse_score))

    try:
        results = [o async for _, o in runner.run(range(n), work, failed=lambda o: o.value is None)]
    finally:
        await backend.aclose()
    return results, runner


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_runner_marks_the_item_unjudged_and_goes_on(provider: str) -> None:
    server: FakeOpenAIServer | FakeAnthropicServer
    backend: Backend
    if provider == "openai":
        handler = per_item_faults(
            Fault.raw(CONTEXT_EXCEEDED, code=400), Reply("", finish_reason="content_filter")
        )
        server = FakeOpenAIServer(handler=handler)
        backend = OpenAIBackend("gpt-test", base_url=server.base_url, api_key="sk-x")
    else:
        handler = per_item_faults(
            Fault.status(413, "request too large"), Reply("", finish_reason="refusal")
        )
        server = FakeAnthropicServer(handler=handler)
        backend = AnthropicBackend("claude-test", base_url=server.base_url, api_key="k")
    with server:
        results, runner = asyncio.run(run_items(backend, 10))
        calls = server.count
    assert len(results) == 10
    unjudged = [i for i, o in enumerate(results) if o.value is None]
    assert unjudged == [3, 6]
    assert "too long" in (results[3].error or "")
    assert "content filter" in (results[6].error or "") or "refused" in (results[6].error or "")
    assert runner.stats.failed == 2 and runner.stats.done == 10
    # Neither retried nor re-asked: asking again would get the same answer.
    assert calls == 10 and runner.stats.retries == 0 and runner.stats.reasks == 0


def test_score_cli_writes_every_row_with_the_reason(
    tmp_path: Path, constitution_file: Path
) -> None:
    rows = [{"id": i, "prompt": f"question {i}", "response": f"item {i}"} for i in range(8)]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    handler = per_item_faults(
        Fault.raw(CONTEXT_EXCEEDED, code=400), Fault.raw(CONTENT_FILTER, code=400)
    )
    with FakeOpenAIServer(handler=handler) as server:
        args = [
            "score",
            str(src),
            "-c",
            str(constitution_file),
            "-m",
            "openai/test",
            "--base-url",
            server.base_url,
            "--cache",
            str(tmp_path / "c.sqlite"),
        ]
        result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in out] == list(range(8))
    assert [r["id"] for r in out if r["score"] is None] == [3, 6]
    assert "too long" in out[3]["judge"]["error"]
    assert "content filter" in out[6]["judge"]["error"]
    assert "8 candidates (6 judged, 2 not judged)" in result.stderr


def test_loading_anthropic_does_not_import_the_openai_sdk() -> None:
    code = "import sys, judge.backends.anthropic; print('openai' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
