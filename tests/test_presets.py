"""Providers by name (judge/data/providers.json): each preset against a loopback server at its
overridden base URL, through the official OpenAI SDK's client."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from judge.backends.base import Message, Request
from judge.backends.preset_backend import PresetBackend
from judge.backends.presets import Provider, presets, providers
from judge.backends.registry import get_backend
from judge.engine.prices import PriceTable
from judge.errors import BackendError, ConfigError
from tests.fakes import FakeOpenAIServer

PRESETS = presets()
HOSTED = [p for p in PRESETS if p.key_env]
SCHEMA = {
    "type": "object",
    "properties": {"score": {"type": "integer"}},
    "required": ["score"],
    "additionalProperties": False,
}
REQUEST = Request(messages=(Message("user", "Rate this."),), schema=SCHEMA, logprobs=5)


def ask(backend: PresetBackend) -> str:
    async def go() -> str:
        try:
            return (await backend.generate(REQUEST)).text
        finally:
            await backend.aclose()

    return asyncio.run(go())


def test_the_table_names_every_provider_of_the_issue() -> None:
    names = {p.name for p in PRESETS}
    wanted = "gemini groq deepseek mistral together fireworks openrouter vllm ollama llamacpp"
    assert set(wanted.split()) <= names
    assert {p.name for p in providers()} >= {"openai", "anthropic", "local", *names}
    for p in PRESETS:
        assert p.base_url and p.read
    local = {p.name: p for p in PRESETS if p.key_env is None}
    assert set(local) == {"vllm", "ollama", "llamacpp"}
    assert local["vllm"].url == "http://localhost:8000/v1"
    assert local["ollama"].url == "http://localhost:11434/v1"
    assert local["llamacpp"].url == "http://localhost:8080/v1"


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.name)
def test_a_preset_reads_its_key_and_asks_only_for_what_it_supports(
    preset: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = f"sk-{preset.name}-test" if preset.key_env else None
    if preset.key_env:
        monkeypatch.setenv(preset.key_env, str(key))
        # The OpenAI key is not what a named provider sends.
        monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-wrong")
    with FakeOpenAIServer(api_key=key) as server:
        backend = get_backend(f"{preset.name}/some-model", base_url=server.base_url)
        assert isinstance(backend, PresetBackend)
        assert set(json.loads(ask(backend))) == {"score"}
        sent = server.requests[-1]
        body = server.last_body
    assert server.count == 1
    expected = f"Bearer {key}" if key else "Bearer no-key-needed"
    assert sent.headers["authorization"] == expected
    assert body["model"] == "some-model"
    features = preset.features
    assert ("logprobs" in body) == features.logprobs
    assert ("top_logprobs" in body) == features.logprobs
    assert body["response_format"]["type"] == features.structured_output
    assert (backend.batch is not None) == (features.batch is not None)
    assert backend.identity() == {
        "provider": preset.name,
        "model": "some-model",
        "base_url": server.base_url,
    }


@pytest.mark.parametrize("preset", HOSTED, ids=lambda p: p.name)
def test_without_the_key_the_error_names_the_variable(preset: Provider) -> None:
    assert preset.key_env is not None
    with pytest.raises(ConfigError, match=preset.key_env):
        get_backend(f"{preset.name}/m")
    # A dry run builds the backend without a key; its first call fails with the same words.
    backend = get_backend(f"{preset.name}/m", require_key=False)
    assert isinstance(backend, PresetBackend)
    with pytest.raises(BackendError, match=preset.key_env):
        ask(backend)


def test_a_preset_talks_to_its_own_url_unless_overridden() -> None:
    for preset in PRESETS:
        backend = get_backend(f"{preset.name}/m", require_key=False)
        assert str(backend._client.base_url).rstrip("/") == preset.url  # type: ignore[attr-defined]
        assert backend.identity() == {"provider": preset.name, "model": "m"}


def test_a_lacking_feature_is_never_requested_counted_at_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Groq answers logprobs with a 400: the plain OpenAI backend learns that from a refusal
    (two requests for the first item), the groq/ preset never sends them (one)."""
    monkeypatch.setenv("GROQ_API_KEY", "sk-groq")
    with FakeOpenAIServer(unsupported={"logprobs"}) as server:
        ask(get_backend("groq/llama3-70b-8192", base_url=server.base_url))  # type: ignore[arg-type]
        assert server.count == 1
    with FakeOpenAIServer(unsupported={"logprobs"}) as server:
        asyncio.run(get_backend("openai/x", base_url=server.base_url).generate(REQUEST))
        assert server.count == 2


def test_json_mode_only_writes_the_schema_into_the_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-ds")
    with FakeOpenAIServer(unsupported={"json_schema"}) as server:
        ask(get_backend("deepseek/deepseek-flash", base_url=server.base_url))  # type: ignore[arg-type]
        assert server.count == 1
        body = server.last_body
    assert body["response_format"]["type"] == "json_object"
    assert "JSON schema" in body["messages"][-1]["content"]


def test_an_unknown_provider_lists_every_known_one() -> None:
    with pytest.raises(ConfigError) as info:
        get_backend("nosuch/model")
    for p in providers():
        assert f" {p.name}," in str(info.value) or f" {p.name} (" in str(info.value)


def test_batch_is_refused_where_the_provider_has_no_compatible_batch_api() -> None:
    from judge.engine.runner import Runner, RunnerConfig

    backend = get_backend("gemini/gemini-2.5-flash", require_key=False)
    config = RunnerConfig()
    config.batch.enabled = True
    with pytest.raises(ConfigError, match="groq/"):
        Runner(backend, config=config)


def test_batch_prices_come_from_the_table() -> None:
    table = PriceTable()
    assert table.batch_rate("groq/openai/gpt-oss-120b") == 0.5
    assert table.batch_rate("gemini/gemini-2.5-pro") == 1.0
    assert table.batch_rate("openai/gpt-4o") == 0.5


def test_the_seed_systems_are_priced_under_their_names_of_the_time() -> None:
    table = PriceTable()
    turbo, opus, llama = (
        table.lookup(m)
        for m in ("openai/gpt-4-turbo", "anthropic/claude-3-opus", "groq/llama3-70b-8192")
    )
    assert turbo and (turbo.input, turbo.output) == (10.0, 30.0)
    assert opus and (opus.input, opus.output) == (15.0, 75.0)
    assert llama and (llama.input, llama.output) == (0.59, 0.79)
    gemini = table.lookup("gemini/gemini-1.5-pro")
    assert gemini and (gemini.input, gemini.output) == (3.5, 10.5)  # prompts up to 128k
    for price in table.prices.values():
        assert (price.as_of and price.source) or price.as_of == "2026-11"


def test_a_price_without_its_input_is_listed_but_never_prices_a_call(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"groq/some-model": {"input": None, "output": 2.0}}))
    table = PriceTable(path)
    assert table.lookup("groq/some-model") is None
    assert table.partial["groq/some-model"]["output"] == 2.0


# -- through the command line ------------------------------------------------------------------


def judge_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "judge", *args]


def run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": ".", **env},
    )


def test_a_preset_model_is_priced_in_the_summary_and_under_max_cost(
    tmp_path: Path, constitution_file: Path
) -> None:
    src = tmp_path / "in.jsonl"
    rows = [{"prompt": f"q{i}", "response": f"a{i}"} for i in range(3)]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with FakeOpenAIServer(api_key="sk-groq") as server:
        common = ["-c", str(constitution_file), "-m", "groq/llama3-70b-8192"]
        args = ["--base-url", server.base_url]
        proc = run(
            judge_cmd("score", str(src), *common, *args, "--max-cost", "5"),
            GROQ_API_KEY="sk-groq",
        )
        assert proc.returncode == 0, proc.stderr
        assert "$?" not in proc.stderr and "$0.00" in proc.stderr
        assert "log-probabilities" in proc.stderr  # said once, at the end
        assert proc.stderr.count("log-probabilities") == 1
        out = [json.loads(line) for line in proc.stdout.splitlines()]
        assert all(r["judge"]["usage"]["cost_usd"] > 0 for r in out)
        assert server.count == 3 and not any("logprobs" in b for b in server.bodies)
        # The price of 2024 is old: the dry run says so (and needs no key).
        dry = run(judge_cmd("score", str(src), *common, *args, "--dry-run", "--no-cache"))
    assert dry.returncode == 0, dry.stderr
    assert "the price of groq/llama3-70b-8192 was read 2024" in dry.stderr + dry.stdout


def test_judge_models_json_lists_every_provider_and_never_a_key() -> None:
    proc = run(judge_cmd("models", "--json"), GROQ_API_KEY="sk-secret-groq-value")
    assert proc.returncode == 0, proc.stderr
    assert "sk-secret-groq-value" not in proc.stdout + proc.stderr
    listed = {p["name"]: p for p in json.loads(proc.stdout)["providers"]}
    assert set(listed) == {p.name for p in providers()}
    assert listed["groq"]["key_set"] is True and listed["gemini"]["key_set"] is False
    assert listed["groq"]["key_env"] == "GROQ_API_KEY"
    assert listed["vllm"]["base_url"] == "http://localhost:8000/v1"
    groq_models = {m["model"]: m for m in listed["groq"]["models"]}
    assert groq_models["groq/llama3-70b-8192"]["batch"] == {"input": 0.295, "output": 0.395}
    assert groq_models["groq/llama3-70b-8192"]["stale"] is True
    seed = {m["model"]: m for m in listed["gemini"]["models"]}["gemini/gemini-1.5-pro"]
    assert (seed["input"], seed["output"], seed["stale"]) == (3.5, 10.5, True)


def test_judge_models_text_and_an_unknown_provider() -> None:
    proc = run(judge_cmd("models", "groq"))
    assert proc.returncode == 0, proc.stderr
    assert "GROQ_API_KEY (not set)" in proc.stdout and "gemini/" not in proc.stdout
    bad = run(judge_cmd("models", "nosuch"))
    assert bad.returncode == 2
    assert "unknown provider 'nosuch'" in bad.stderr and "groq" in bad.stderr
