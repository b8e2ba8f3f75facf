"""`judge score` against a real OpenAI-compatible server: llama-cpp-python's, with the embedded
SmolLM2 model, started by the test on a free loopback port. Also, with the fake server, the way
that server refuses structured output (a 500 "validation error", not a 400)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from judge.backends.base import Message, Request, Response
from judge.backends.openai import OpenAIBackend
from judge.cli import main
from judge.errors import BackendError, ConfigError
from tests.fakes import FakeOpenAIServer, Fault, HandlerResult, auto_reply

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "rationale": {"type": "string"},
        "score": {"type": "integer", "enum": [1, 2, 3, 4, 5]},
    },
    "required": ["rationale", "score"],
    "additionalProperties": False,
}
CONSTITUTION = "name: tiny\n\n## helpful\n\nDoes the response answer the question?\n"
# What llama-cpp-python 0.3 answers to response_format {"type": "json_schema"}.
LLAMA_CPP_REFUSAL = (
    "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
    "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema'}"
)
SERVER_EXTRAS = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context")
STARTUP_SECONDS = 60.0


def _llama_cpp_refuses_json_schema(body: dict[str, Any]) -> HandlerResult:
    if body.get("response_format", {}).get("type") == "json_schema":
        return Fault.status(500, LLAMA_CPP_REFUSAL)
    return auto_reply(body)


def test_500_validation_error_falls_back_to_json_object_with_the_schema() -> None:
    """Runs without llama.cpp: the fake server answers the way llama-cpp-python does."""
    with FakeOpenAIServer(handler=_llama_cpp_refuses_json_schema) as server:
        backend = OpenAIBackend("smollm2", base_url=server.base_url)
        response, mode = asyncio.run(_ask(backend))
        bodies = server.bodies
    assert mode == "json_object"
    assert [b["response_format"]["type"] for b in bodies] == ["json_schema", "json_object"]
    # The schema rides along, so llama.cpp constrains the output to it.
    assert bodies[1]["response_format"]["schema"] == SCHEMA
    assert set(json.loads(response.text)) == {"rationale", "score"}


def test_other_500s_are_still_transient() -> None:
    with FakeOpenAIServer(faults=[Fault.status(500, "out of memory")]) as server:
        backend = OpenAIBackend("smollm2", base_url=server.base_url)
        with pytest.raises(BackendError) as info:
            asyncio.run(_ask(backend))
    assert info.value.transient and server.count == 1


async def _ask(backend: OpenAIBackend) -> tuple[Response, str]:
    request = Request(
        messages=(
            Message("system", "You judge answers. Score 1 (bad) to 5 (good)."),
            Message("user", "Question: 2+2? Answer: 4. Judge the answer."),
        ),
        schema=SCHEMA,
        max_tokens=60,
    )
    try:
        response = await backend.generate(request)
    finally:
        await backend.aclose()
    return response, backend._schema_mode


# --- the real server ------------------------------------------------------------------------------


def _model_path() -> Path:
    missing = [m for m in SERVER_EXTRAS if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(
            f"llama-cpp-python's server is not installed (missing {', '.join(missing)}); "
            "pip install 'judge[local]'"
        )
    from judge.backends.local import embedded_model_path

    try:
        return embedded_model_path()
    except ConfigError as exc:
        pytest.skip(f"the embedded model is not installed: {exc}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/models", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of `python -m llama_cpp.server` serving the embedded model."""
    model = _model_path()
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llama") / "server.log"
    # 2 threads: the judge process only waits on the server while it computes.
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "4096",
        "--n_threads",
        "2",
    ]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _ready(url):
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:]
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{tail}")
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not answer within {STARTUP_SECONDS:g} s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.embedded
def test_structured_output_against_llama_cpp_server(llama_server: str) -> None:
    response, mode = asyncio.run(_ask(OpenAIBackend("smollm2", base_url=llama_server)))
    # llama-cpp-python 0.3 refuses json_schema (500) and the backend falls back to json_object
    # with the schema, which it turns into a grammar; a server that accepts json_schema keeps it.
    assert mode in ("json_schema", "json_object")
    answer = json.loads(response.text)  # a grammar-constrained answer always parses
    assert set(answer) == {"rationale", "score"} and answer["score"] in range(1, 6)


@pytest.mark.embedded
def test_judge_score_against_llama_cpp_server(llama_server: str, tmp_path: Path) -> None:
    constitution = tmp_path / "tiny.md"
    constitution.write_text(CONSTITUTION, encoding="utf-8")
    rows = [
        {"id": 1, "prompt": "What is 2+2?", "response": "4"},
        {"id": 2, "prompt": "Capital of France?", "response": "Paris."},
        # About 4,000 tokens: more than the server's 4,096-token context with the prompt.
        {"id": 3, "prompt": "Repeat a word.", "response": "word " * 4000},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    args = [
        "score",
        str(src),
        "-c",
        str(constitution),
        "-m",
        "openai/smollm2",
        "--base-url",
        llama_server,
        "--cache",
        str(tmp_path / "cache.sqlite"),
        "--concurrency",
        "2",
        "--timeout",
        "120",
        "--max-retries",
        "2",
    ]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert [r["id"] for r in out] == [1, 2, 3]
    for row in out:
        judged = row["score"] is not None and row["scores"]["helpful"] in range(1, 6)
        assert judged or row["judge"]["error"], row
    # The server's own 400 context_length_exceeded: that item only, no retry, no re-ask.
    assert out[2]["score"] is None and "too long" in out[2]["judge"]["error"]
    assert "3 candidates" in result.stderr
    with contextlib.suppress(ValueError):
        print(result.stderr.strip().splitlines()[-1])  # the summary, shown with pytest -s
