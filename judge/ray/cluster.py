"""Run shards on a Ray cluster: one Ray task a shard, retried by Ray when its worker dies.

The work of a shard is the command's own (the task through the one driver, or the classifier
filter), given as a function of the shard; it writes the shard's outputs atomically, so a task
that is killed and retried leaves no partial rows and writes each row once. Tasks are retried
only when their worker dies (Ray's max_retries); an error of the work itself (bad input) is not
retried: the other shards finish, then it is raised. No scheduler of our own: Ray places the
tasks, one CPU each, so a cluster of N CPUs runs N shards at once.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any, TypeVar

from judge.engine.stats import RunStats
from judge.errors import ConfigError, JudgeError
from judge.ray import local
from judge.ray.shards import Shard

T = TypeVar("T")

MAX_RETRIES = 3  # attempts of a shard after its worker died
# Test hook: "NAME:ROWS:MARKER" makes the first attempt of shard NAME exit its worker process
# after writing ROWS rows (the MARKER file records that the first attempt happened).
KILL_ENV = "JUDGE_RAY_KILL_SHARD"


@dataclass
class ShardDone:
    """What one shard's run returns to the driver, for the summary and the exit status."""

    stats: RunStats | None = None  # judging runs
    counts: Any = None  # judge filter: FilterCounts
    exit_code: int = 0
    lines: list[str] = field(default_factory=list)


def require_ray() -> ModuleType:
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "Ray is an optional extra: pip install 'judge[ray]' (or 'ray[data]>=2.9')"
        ) from None
    return ray


def connect(address: str) -> None:
    """Join the cluster at `address`, or with "auto" the one this machine runs (RAY_ADDRESS, or
    the last `ray start`), else a local one of this run's own (judge.ray.local: it ends with
    this process, even one killed with -9), with one worker a core."""
    ray = require_ray()
    if ray.is_initialized():
        return
    options: dict[str, Any] = {
        "log_to_driver": False,  # the shards' summaries come back as results
        "logging_level": logging.WARNING,
    }
    if address == "auto":
        try:
            ray.init(address="auto", **options)
            return
        except ConnectionError:
            address = local.start()
    try:
        ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigError(
            f"could not reach the Ray cluster at {address}: {exc}. Start one with `ray start "
            "--head` and give its address (host:port), or use {opt:ray} auto for a local one"
        ) from None


def kill_hook() -> tuple[str, int, str] | None:
    """The test hook of KILL_ENV, read in the driver (workers do not see its environment)."""
    value = os.environ.get(KILL_ENV)
    if not value:
        return None
    name, rows, marker = value.split(":", 2)
    return name, int(rows), marker


def _attempt(work: Callable[[Shard], T], shard: Shard, kill: tuple[str, int, str] | None) -> T:
    if kill is not None and kill[0] == shard.name:
        try:
            os.close(os.open(kill[2], os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            pass  # a retry: run normally
        else:
            shard = replace(shard, kill_after=kill[1])
    return work(shard)


def run_shards(
    shards: list[Shard],
    work: Callable[[Shard], T],
    *,
    on_done: Callable[[Shard, T], None] | None = None,
    max_retries: int = MAX_RETRIES,
) -> list[T]:
    """work(shard) for every shard, as Ray tasks; results in the order of `shards`."""
    ray = require_ray()
    remote = ray.remote(num_cpus=1, max_retries=max_retries, retry_exceptions=False)(_attempt)
    work_ref = ray.put(work)
    kill = kill_hook()
    pending = {remote.remote(work_ref, shard, kill): shard for shard in shards}
    results: dict[Shard, T] = {}
    error: BaseException | None = None
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            shard = pending.pop(ref)
            try:
                value = ray.get(ref)
            except Exception as exc:
                error = error or _unwrapped(ray, exc, shard, max_retries)
                continue
            results[shard] = value
            if on_done is not None:
                on_done(shard, value)
    if error is not None:
        raise error
    return [results[s] for s in shards]


def _unwrapped(ray: ModuleType, exc: Exception, shard: Shard, retries: int) -> BaseException:
    """The work's own error (an InputError keeps its exit 2), or a clear one for a lost worker."""
    cause = getattr(exc, "cause", None)
    if isinstance(exc, ray.exceptions.RayTaskError) and isinstance(cause, BaseException):
        return cause
    return JudgeError(
        f"shard {shard.input} failed on Ray after {retries + 1} attempts ({exc}); run the same "
        "command again: finished shards are kept"
    )
