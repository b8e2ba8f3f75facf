"""What the HTTP backends share (judge/backends/http_backend.py): server URL and key set-up,
redaction of credentials, the lean path's own error mapping, --dry-run without a key, and the
context-length hint. CLI cases run `judge` as a subprocess, as a user would."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import openai
import pytest

from judge.backends.anthropic import AnthropicBackend
from judge.backends.base import Message, Request, Response
from judge.backends.http_backend import HttpBackend
from judge.backends.http_errors import error_from_status, redact
from judge.backends.openai import OpenAIBackend
from judge.backends.registry import get_backend
from judge.errors import BackendError, ConfigError
from tests.fakes import FakeOpenAIServer, Fault
from tests.test_backends_openai import call

SECRET = "pa55w0rdQX"
ASK = Request(messages=(Message("user", "Rate this."),))
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"score": {"type": "integer"}},
    "required": ["score"],
    "additionalProperties": False,
}
KEY_VARS = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "JUDGE_MODEL",
    "JUDGE_BASE_URL",
)


@pytest.fixture(autouse=True)
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in KEY_VARS:
        monkeypatch.delenv(name, raising=False)


def run_judge(tmp_path: Path, constitution_file: Path, *args: str) -> subprocess.CompletedProcess:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"prompt": "Hi?", "response": "Hello."}) + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARS}
    env["JUDGE_CACHE"] = str(tmp_path / "cache.sqlite")
    return subprocess.run(
        [sys.executable, "-m", "judge", "score", str(src), "-c", str(constitution_file), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


# --- credentials in the server URL (item 2)


def test_credentials_in_the_url_are_refused_without_a_traceback(
    tmp_path: Path, constitution_file: Path
) -> None:
    with FakeOpenAIServer() as server:
        url = server.base_url.replace("://", f"://judge:{SECRET}@")
        done = run_judge(tmp_path, constitution_file, "-m", "openai/llama", "--base-url", url)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("judge: error: ") and "OPENAI_API_KEY" in done.stderr
    assert "user name or password" in done.stderr
    assert SECRET not in done.stderr + done.stdout


def test_key_like_query_parameters_never_reach_rows_or_summary(
    tmp_path: Path, constitution_file: Path
) -> None:
    with FakeOpenAIServer() as server:
        url = server.base_url  # nothing listens there once the server is closed
    url += f"?api-key={SECRET}&token={SECRET}x"
    done = run_judge(
        tmp_path, constitution_file, "-m", "openai/llama", "--base-url", url, "--max-retries", "0"
    )
    assert "Traceback" not in done.stderr
    [row] = [json.loads(line) for line in done.stdout.splitlines()]
    assert row["score"] is None and "connection to" in row["judge"]["error"]
    assert SECRET not in done.stderr + done.stdout


@pytest.mark.parametrize("make", [OpenAIBackend, AnthropicBackend])
def test_both_backends_redact_the_url_alike(make: type[HttpBackend]) -> None:
    url = f"https://example.test/v1?key={SECRET}&sig={SECRET}&api-version=2"
    backend = make("m", base_url=url, api_key="sk-test-0123456789abcdef")
    shown = [repr(backend), json.dumps(backend.identity()), backend.name, backend.server]
    shown.append(str(backend.status_error(404, "no such model", {})))
    shown.append(str(backend.connection_error(f"cannot reach {url}")))
    for text in shown:
        assert SECRET not in text and "0123456789" not in text, text
    assert "api-version=2" in backend.server
    with pytest.raises(ConfigError, match="user name or password") as caught:
        make("m", base_url=f"http://me:{SECRET}@example.test/v1", api_key="k")
    assert SECRET not in str(caught.value)


def test_redact_url_credentials() -> None:
    assert redact(f"http://me:{SECRET}@h:1/v1") == "http://[redacted]@h:1/v1"
    for name in ("key", "api-key", "api_key", "token", "access_token", "auth", "password", "sig"):
        assert SECRET not in redact(f"see https://h/v1?x=1&{name}={SECRET}#frag"), name
    assert redact("https://h/v1?api-version=2024-10-21") == "https://h/v1?api-version=2024-10-21"


# --- --dry-run needs no key (item 4)


@pytest.mark.parametrize(
    ("model", "variable"),
    [("openai/gpt-4o-mini", "OPENAI_API_KEY"), ("anthropic/claude-haiku-4-5", "ANTHROPIC_API_KEY")],
)
def test_dry_run_needs_no_key(
    tmp_path: Path, constitution_file: Path, model: str, variable: str
) -> None:
    dry = run_judge(tmp_path, constitution_file, "-m", model, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"judge: dry run for {model}: 1 candidate -> 1 call " in dry.stderr
    real = run_judge(tmp_path, constitution_file, "-m", model)
    assert real.returncode == 2 and "Traceback" not in real.stderr
    assert f"{variable} is not set" in real.stderr


def test_a_backend_built_without_a_key_says_so_at_its_first_call() -> None:
    for spec, variable in (("openai/gpt-4o-mini", "OPENAI_API_KEY"), ("anthropic/c", "ANTHROPIC")):
        with pytest.raises(ConfigError, match=variable):
            get_backend(spec)
        backend = get_backend(spec, require_key=False)

        async def go(backend: Any = backend) -> None:
            try:
                await backend.generate(ASK)
            finally:
                await backend.aclose()

        with pytest.raises(BackendError, match=f"{variable}.* is not set") as caught:
            asyncio.run(go())
        assert not caught.value.transient


# --- the lean path maps errors itself (item 6)


@pytest.fixture
def no_private_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the lean path must not use the SDK's private error builder")

    monkeypatch.setattr(openai.AsyncOpenAI, "_make_status_error_from_response", refuse)


def lean_results(server: FakeOpenAIServer, *requests: Request) -> list[Response | BackendError]:
    return call(server, *requests, lean=True)


@pytest.mark.usefixtures("no_private_sdk")
def test_lean_path_classifies_error_answers_without_the_sdk() -> None:
    faults = [
        Fault.rate_limit(retry_after=7),
        Fault.status(503, "overloaded"),
        Fault.status(400, "This model's maximum context length is 2048 tokens."),
        Fault.status(401, "bad key"),
        Fault.status(404, "no such model"),
        Fault.status(400, "Invalid 'messages'"),
    ]
    with FakeOpenAIServer(faults=faults) as server:
        limited, busy, long, refused, missing, bad = lean_results(server, *[ASK] * len(faults))
    assert isinstance(limited, BackendError) and limited.transient and limited.retry_after == 7
    assert isinstance(busy, BackendError) and busy.transient and "overloaded" in str(busy)
    assert isinstance(long, BackendError) and long.per_item and "too long" in str(long)
    assert isinstance(refused, BackendError) and not refused.transient and "401" in str(refused)
    assert isinstance(missing, BackendError) and not missing.transient and "404" in str(missing)
    assert isinstance(bad, BackendError) and not bad.transient and not bad.per_item


@pytest.mark.usefixtures("no_private_sdk")
def test_lean_path_still_degrades_features() -> None:
    ask = Request(messages=ASK.messages, schema=SCHEMA, logprobs=3)
    with FakeOpenAIServer(unsupported={"json_schema", "logprobs"}) as server:
        first, second = lean_results(server, ask, ask)
        bodies = server.bodies
    assert isinstance(first, Response) and isinstance(second, Response)
    assert bodies[-1]["response_format"]["type"] == "json_object" and "logprobs" not in bodies[-1]
    assert len(bodies) == 4  # two rejections, then both requests without what was refused


def test_pyproject_needs_no_httpx2() -> None:
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    assert "httpx2" not in pyproject.read_text(encoding="utf-8")


# --- one shared piece of code (item 7)


def test_both_http_backends_share_set_up_and_error_mapping() -> None:
    for make in (OpenAIBackend, AnthropicBackend):
        assert issubclass(make, HttpBackend)
        for shared in ("identity", "__repr__", "name", "status_error", "sdk_error"):
            assert shared not in vars(make), (make, shared)
    a = OpenAIBackend("m", base_url="http://h/v1", api_key="k")
    b = AnthropicBackend("m", base_url="http://h/v1", api_key="k")
    assert str(a.timeout_error()).replace("openai", "x") == str(b.timeout_error()).replace(
        "anthropic", "x"
    )


# --- the context-length error names the fix (item 5)


def test_too_long_error_names_the_server_flags() -> None:
    error = error_from_status(
        400,
        "This model's maximum context length is 2048 tokens.",
        {},
        name="openai/llama",
        key_env="OPENAI_API_KEY",
    )
    assert error.per_item
    for words in ("--max-chars", "longer context", "--n_ctx 8192", "--max-model-len"):
        assert words in str(error), words
