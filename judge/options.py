"""The option objects of the judging commands, built from plain keywords: the CLI passes its
flags here, judge.Session its keywords, so both check them the same way and a problem names
the option (`{opt:NAME}`, written `--name` by the CLI and `name=` by the API)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from judge.engine.settings import DEFAULT_MODEL, Settings
from judge.errors import ConfigError
from judge.judging.comparison import CompareOptions
from judge.judging.scoring import DEFAULT_MAX_CHARS, ScoreOptions

T = TypeVar("T")


def make_settings(
    *,
    model: str | None = None,
    base_url: str | None = None,
    concurrency: int | None = None,
    rpm: float | None = None,
    tpm: float | None = None,
    max_retries: int | None = None,
    timeout: float | None = None,
    cache: str | Path | None = None,
    no_cache: bool | None = None,
    max_cost: float | None = None,
    prices: str | Path | None = None,
    batch: bool | None = None,
    batch_fallback: str | None = None,
    batch_size: int | None = None,
    batch_poll: float | None = None,
    batch_poll_max: float | None = None,
    dry_run: bool = False,
    base: Settings | None = None,
) -> Settings:
    """How to reach the judge model and how hard to push it: `base` (default Settings()) with
    every keyword that is not None in its place."""
    s = base or Settings()
    r, b = s.runner, s.runner.batch
    batch_config = replace(
        b,
        enabled=_or(batch, b.enabled),
        fallback=_or(batch_fallback, b.fallback),
        max_requests=_or(batch_size, b.max_requests),
        poll=_or(batch_poll, b.poll),
        poll_max=_or(batch_poll_max, b.poll_max),
    )
    runner = replace(
        r,
        batch=batch_config,
        concurrency=_or(concurrency, r.concurrency),
        requests_per_minute=_or(rpm, r.requests_per_minute),
        tokens_per_minute=_or(tpm, r.tokens_per_minute),
        max_retries=_or(max_retries, r.max_retries),
        max_cost=_or(max_cost, r.max_cost),
    )
    settings = replace(
        s,
        runner=runner,
        model=_or(model, s.model),
        base_url=_or(base_url, s.base_url),
        cache=_or(cache, s.cache),
        prices=_or(prices, s.prices),
        timeout=_or(timeout, s.timeout),
        use_cache=s.use_cache if no_cache is None else not no_cache,
        require_key=s.require_key and not dry_run,  # a dry run calls nothing: no key needed
    )
    _check(settings)
    return settings


def _or(value: T | None, default: T) -> T:
    return default if value is None else value


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
    rationale: str = "full",
    group: bool = False,
    group_size: int = 8,
    mix_prompts: bool = False,
    seed: int = 0,
) -> ScoreOptions:
    """How each candidate is judged; `group` turns grouped scoring on (at most `group_size`
    candidates a call)."""
    if group and per_principle:
        raise ConfigError(
            "{opt:group} judges every principle in one call: drop {opt:per_principle}"
        )
    if mix_prompts and not group:
        raise ConfigError("{opt:mix_prompts} fills the calls of {opt:group}: add {opt:group}")
    if group_size < 1:
        raise ConfigError(f"{{opt:group_size}} must be at least 1, got {group_size}")
    from judge.judging.scoring import RATIONALES

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
