"""How to reach a judge model and how hard to push it: Settings, and the runner they make."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from judge.backends.base import Backend
from judge.backends.http_errors import looks_like_key
from judge.backends.registry import get_backend
from judge.engine.cache import Cache
from judge.engine.pool import Pool
from judge.engine.prices import Price, PriceTable
from judge.engine.runner import Runner, RunnerConfig
from judge.engine.stats import RunStats
from judge.errors import ConfigError

DEFAULT_MODEL = "local/smollm2"


@dataclass
class Settings:
    """How to reach the judge model and how hard to push it."""

    model: str = DEFAULT_MODEL
    base_url: str | None = None
    cache: str | Path | None = None  # None: the default cache file
    use_cache: bool = True
    prices: str | Path | None = None
    timeout: float = 120.0
    runner: RunnerConfig = field(default_factory=RunnerConfig)
    # False for a dry run: it calls nothing, so the backend is built without an API key.
    require_key: bool = True
    # A judge of its own (judge.panel.members): the variable holding its key, and its price.
    api_key_env: str | None = None
    price: Price | None = None
    # Inside a Session: the backends, caches, limits and budget its runners share (the pool
    # closes them when the Session ends). None: each runner has its own and closes them.
    pool: Pool | None = field(default=None, compare=False, repr=False)


_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def key_env_problem(value: str) -> str | None:
    """Why `value` cannot be the name of the environment variable that holds a key, or None.
    The value itself is never quoted: a key pasted there must not reach a terminal or a log."""
    if looks_like_key(value):
        return (
            "this looks like an API key, not the name of an environment variable (it is not "
            "shown here): never write a key in a file; export it in a variable "
            "(export MY_KEY=...) and give the variable's name (api_key_env: MY_KEY)"
        )
    if not _VARIABLE.fullmatch(value):
        return (
            "not the name of an environment variable (letters, digits and _; it is not shown "
            "here): give the name of the variable that holds the key, e.g. api_key_env: MY_KEY"
        )
    return None


def make_backend(settings: Settings, *, require_key: bool = True) -> Backend:
    """The backend `settings.model` names; `require_key=False` for a dry run, which calls nothing
    and so needs no API key."""
    problem = settings.api_key_env and key_env_problem(settings.api_key_env)
    if problem:
        raise ConfigError(f"{settings.model}: api_key_env: {problem}")
    extra: dict[str, Any] = {} if require_key and settings.require_key else {"require_key": False}
    if settings.api_key_env and os.environ.get(settings.api_key_env):
        extra["api_key"] = os.environ[settings.api_key_env]

    def make() -> Backend:
        return get_backend(
            settings.model, base_url=settings.base_url, timeout=settings.timeout, **extra
        )

    if settings.pool is None:
        return make()
    key = (settings.model, settings.base_url, settings.api_key_env, settings.timeout, *extra)
    return settings.pool.backend(key, make)


def make_runner(
    settings: Settings,
    backend: Backend | None = None,
    on_progress: Callable[[RunStats], None] | None = None,
    *,
    require_key: bool = True,
) -> Runner:
    backend = backend or make_backend(settings, require_key=require_key)
    prices = PriceTable(settings.prices)
    if settings.price is not None:
        prices.prices[backend.name] = settings.price
    pool = settings.pool
    cache = None
    if settings.use_cache:
        cache = Cache(settings.cache) if pool is None else pool.cache(settings.cache)
    config = settings.runner
    if pool is not None and config.shared is None:
        config = replace(config, shared=pool)  # one budget and one rate limit for the Session
    return Runner(
        backend,
        cache=cache,
        config=config,
        prices=prices,
        on_progress=on_progress,
        owned=pool is None,
    )
