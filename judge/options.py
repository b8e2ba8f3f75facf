"""The option objects of the judging commands, built from plain keywords: the CLI passes its
flags here, judge.Session its keywords, so both check them the same way and a problem names
the option (`{opt:NAME}`, written `--name` by the CLI and `name=` by the API)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from typing_extensions import Unpack

from judge.engine.settings import DEFAULT_MODEL, Settings
from judge.errors import ConfigError
from judge.judging.comparison import CompareOptions
from judge.judging.scoring import DEFAULT_MAX_CHARS, ScoreOptions

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    from judge.keywords import SettingsKeywords

T = TypeVar("T")
D = TypeVar("D", bound="DataclassInstance")

# ReviseOptions' fields whose flag (and keyword) is named otherwise.
REVISE_FLAGS = {"critique_tokens": "critique_max_tokens", "revision_tokens": "revision_max_tokens"}


def options_of(
    cls: type[D],
    kw: Mapping[str, Any],
    renames: Mapping[str, str] | None = None,
    base: D | None = None,
    **given: Any,
) -> D:
    """An option dataclass from flags or keywords: each field from the one of its name, or of
    the name `renames` gives it (field -> name); `given` sets the fields no one flag sets. A
    field given no value keeps `base`'s (default: the class's default)."""
    names = {f.name: (renames or {}).get(f.name, f.name) for f in dataclasses.fields(cls)}
    found = {field: kw[name] for field, name in names.items() if name in kw and field not in given}
    return replace(base, **found, **given) if base is not None else cls(**found, **given)


# Where each keyword of make_settings goes: a field of Settings, of its runner (RunnerConfig) or
# of the runner's batch configuration.
_SETTINGS = {k: k for k in ("model", "base_url", "cache", "prices", "timeout")}
_RUNNER = {
    "concurrency": "concurrency",
    "rpm": "requests_per_minute",
    "tpm": "tokens_per_minute",
    "max_retries": "max_retries",
    "max_cost": "max_cost",
}
_BATCH = {
    "batch": "enabled",
    "batch_fallback": "fallback",
    "batch_size": "max_requests",
    "batch_poll": "poll",
    "batch_poll_max": "poll_max",
}


def make_settings(
    *,
    model: str | None = None,
    dry_run: bool = False,
    base: Settings | None = None,
    **given: Unpack[SettingsKeywords],
) -> Settings:
    """How to reach the judge model and how hard to push it: `base` (default Settings()) with
    every keyword that is not None in its place."""
    s = base or Settings()
    values: dict[str, Any] = {"model": model, **given}

    def overlay(obj: T, fields: dict[str, str]) -> T:
        """`obj` with each value that is not None in its place (a new object)."""
        new = {field: values[k] for k, field in fields.items() if values.get(k) is not None}
        return replace(obj, **new)  # type: ignore[type-var]

    settings = overlay(s, _SETTINGS)
    settings.runner = replace(overlay(s.runner, _RUNNER), batch=overlay(s.runner.batch, _BATCH))
    if given.get("no_cache") is not None:
        settings.use_cache = not given["no_cache"]
    settings.require_key = s.require_key and not dry_run  # a dry run calls nothing: no key
    _check(settings)
    return settings


def _check(settings: Settings) -> None:
    r = settings.runner
    if r.concurrency < 1:
        raise ConfigError(f"{{opt:concurrency}} must be at least 1, got {r.concurrency}")
    if r.max_cost is not None and r.max_cost < 0:
        raise ConfigError(f"{{opt:max_cost}} is dollars, at least 0; got {r.max_cost}")
    for name, value in (("rpm", r.requests_per_minute), ("tpm", r.tokens_per_minute)):
        if value is not None and value <= 0:
            raise ConfigError(f"{{opt:{name}}} must be above 0, got {value}")
    if r.batch.fallback not in ("none", "realtime"):
        raise ConfigError(
            f"{{opt:batch_fallback}} is 'none' or 'realtime', got {r.batch.fallback!r}"
        )


def one_model(model: str | Sequence[str] | None) -> tuple[str, list[str]]:
    """The model and, when several are given (-m repeated, or a list), the panel's members."""
    if model is None:
        return DEFAULT_MODEL, []
    if isinstance(model, str):
        return model, []
    models = list(model) or [DEFAULT_MODEL]
    return models[0], models if len(models) > 1 else []


def score_options(
    *,
    per_principle: bool = False,
    max_chars: int = DEFAULT_MAX_CHARS,
    logprobs: bool = True,
    rationale: str | None = None,
    model: str = "",
    group: bool = False,
    group_size: int = 8,
    mix_prompts: bool = False,
    seed: int = 0,
) -> ScoreOptions:
    """How each candidate is judged; `group` turns grouped scoring on (at most `group_size`
    candidates a call); no `rationale`: the default for `model` (short on the embedded one)."""
    if group and per_principle:
        raise ConfigError(
            "{opt:group} judges every principle in one call: drop {opt:per_principle}"
        )
    if mix_prompts and not group:
        raise ConfigError("{opt:mix_prompts} fills the calls of {opt:group}: add {opt:group}")
    if group_size < 1:
        raise ConfigError(f"{{opt:group_size}} must be at least 1, got {group_size}")
    from judge.judging.scoring import RATIONALES, default_rationale

    rationale = rationale or default_rationale(model)
    if rationale not in RATIONALES:
        raise ConfigError(f"{{opt:rationale}} is one of {', '.join(RATIONALES)}; got {rationale!r}")
    return ScoreOptions(
        per_principle=per_principle,
        max_chars=max_chars,
        logprobs=logprobs,
        rationale=rationale,
        group=group_size if group else 0,
        seed=seed,
        mix_prompts=mix_prompts,
    )


def compare_options(
    *,
    principles: str = "all",
    seed: int = 0,
    logprobs: bool = True,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> CompareOptions:
    """How two responses are compared (pairs and calibrate in compare mode)."""
    if principles not in ("all", "sample"):
        raise ConfigError(f"{{opt:principles}} is 'all' or 'sample', got {principles!r}")
    return CompareOptions(principles=principles, seed=seed, logprobs=logprobs, max_chars=max_chars)
