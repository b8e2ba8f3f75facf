"""Model specs (`provider/name`) to backends."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from judge.backends import registry
from judge.backends.anthropic import AnthropicBackend
from judge.backends.base import Backend, Request, Response
from judge.backends.openai import OpenAIBackend
from judge.backends.registry import get_backend, register
from judge.errors import ConfigError


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys set, no stray base URL, and registrations undone after each test."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    monkeypatch.setattr(registry, "_factories", dict(registry._factories))


class Recorder:
    """A backend stand-in that remembers how it was built."""

    provider = "rec"
    bills_cache_writes = False
    batch = None

    def __init__(self, model: str = "", **kwargs: Any) -> None:
        self.model = model
        self.kwargs = kwargs

    @property
    def name(self) -> str:
        return f"rec/{self.model}"

    def identity(self) -> dict[str, Any]:
        return {"provider": "rec", "model": self.model}

    async def generate(self, request: Request) -> Response:
        return Response(text="ok")

    async def aclose(self) -> None:
        pass


@pytest.fixture
def fake_local(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replace judge.backends.local so the tests need no GGUF model."""
    module = types.ModuleType("judge.backends.local")
    module.LocalBackend = Recorder  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "judge.backends.local", module)


def test_openai() -> None:
    backend = get_backend("openai/gpt-4o-mini", timeout=5.0)
    assert isinstance(backend, OpenAIBackend)
    assert backend.model == "gpt-4o-mini" and backend.timeout == 5.0
    assert backend.identity() == {"provider": "openai", "model": "gpt-4o-mini"}


def test_openai_compatible_server_keeps_slashes_in_the_name() -> None:
    backend = get_backend("openai/meta-llama/Llama-3.1-8B", base_url="http://localhost:8000/v1")
    assert isinstance(backend, OpenAIBackend)
    assert backend.model == "meta-llama/Llama-3.1-8B"
    assert backend.identity()["base_url"] == "http://localhost:8000/v1"


@pytest.mark.parametrize("spec", ["qwen2.5:7b", "meta-llama/Llama-3.1-8B"])
def test_bare_name_with_base_url_is_openai_compatible(spec: str) -> None:
    backend = get_backend(spec, base_url="http://localhost:11434/v1")
    assert isinstance(backend, OpenAIBackend) and backend.model == spec


def test_anthropic() -> None:
    backend = get_backend(" anthropic/claude-haiku-4-5 ")
    assert isinstance(backend, AnthropicBackend) and backend.model == "claude-haiku-4-5"
    assert backend.name == "anthropic/claude-haiku-4-5"


def test_local_with_and_without_a_name(fake_local: None) -> None:
    bare = get_backend("local", timeout=30.0)
    named = get_backend("local/smollm2-q8")
    assert isinstance(bare, Recorder) and bare.model == "smollm2" and bare.kwargs == {}
    assert isinstance(named, Recorder) and named.model == "smollm2-q8"


def test_local_refuses_a_base_url(fake_local: None) -> None:
    with pytest.raises(ConfigError, match="base_url="):
        get_backend("local/smollm2", base_url="http://localhost:8000/v1")


def test_local_missing_gives_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "judge.backends.local", None)  # import now fails
    with pytest.raises(ConfigError, match=r"judge\[local\]"):
        get_backend("local")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty model name"),
        ("gpt-4o-mini", "names no provider"),
        ("bard/gemini-pro", "unknown model provider 'bard'"),
    ],
)
def test_bad_specs_name_the_format_and_providers(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        get_backend(spec)
    text = str(info.value)
    assert "PROVIDER/NAME" in text and "--base-url" in text
    assert "anthropic, deepseek" in text and "groq, llamacpp, local" in text


def test_missing_model_name_after_provider() -> None:
    with pytest.raises(ConfigError, match="openai/NAME"):
        get_backend("openai/")


def test_missing_key_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        get_backend("openai/gpt-4o-mini")


def test_register_a_provider() -> None:
    register("rec", Recorder)
    plain = get_backend("rec/judge-1", timeout=1.0)
    served = get_backend("rec/judge-2", base_url="http://x")
    assert isinstance(plain, Recorder) and isinstance(served, Recorder)
    assert isinstance(plain, Backend)
    assert (plain.model, plain.kwargs) == ("judge-1", {"timeout": 1.0})
    assert (served.model, served.kwargs) == ("judge-2", {"base_url": "http://x"})
    assert "rec" in registry.providers()


def test_register_replaces_a_provider() -> None:
    register("openai", Recorder)
    assert isinstance(get_backend("openai/anything"), Recorder)


@pytest.mark.parametrize("name", ["", "a/b"])
def test_register_rejects_bad_names(name: str) -> None:
    with pytest.raises(ValueError):
        register(name, Recorder)
