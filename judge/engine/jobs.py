"""What the runner is given and gives back: a job (one model call and how to read its answer),
its outcome, and the runner's settings."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar

from judge.backends.base import Message, Request, Response
from judge.engine.batcher import BatchConfig
from judge.engine.claims import CLAIM_TTL
from judge.engine.limits import SharedLimits
from judge.records import Usage

T = TypeVar("T")


@dataclass
class Job(Generic[T]):
    """One model call and how to read its answer."""

    request: Request
    parse: Callable[[Response], T]


@dataclass
class Outcome(Generic[T]):
    value: T | None
    error: str | None
    usage: Usage
    cached: bool
    response: Response | None = None
    kind: str | None = None  # why there is no value (judge.engine.stats KINDS)


@dataclass
class RunnerConfig:
    concurrency: int = 8
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    max_retries: int = 8
    # Rate limits (a transient error with Retry-After) have their own, larger budget: the server
    # said when to come back, so waiting is not a sign that the item will never pass. Counting
    # them against max_retries lost items under a steady rate limit (benchmarks/drills, peers).
    max_rate_limit_retries: int = 100
    max_reasks: int = 2
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    max_cost: float | None = None
    window: int | None = None  # units in flight; default 4 x concurrency, at least 64
    # Lower the limit on calls in flight after a rate limit (see Slots); False: a fixed limit.
    adaptive: bool = True
    # Seconds a claim on a cache key lasts unless renewed (judge.engine.claims). A claim whose
    # process is gone (same host) ends at once.
    claim_ttl: float = CLAIM_TTL
    # --batch: calls go to the provider's batch API, one job a round (judge.engine.batcher).
    batch: BatchConfig = field(default_factory=BatchConfig)
    # Limits shared with other processes (judge.ray: one rate limit and one --max-cost budget
    # for a cluster); None: this process's own.
    shared: SharedLimits | None = None


def reask(request: Request, response: Response, problem: str) -> Request:
    """The same question, with the unparseable answer and what was wrong with it."""
    wanted = "the JSON object" if request.schema is not None else "the text"
    follow_up = (
        f"Your answer could not be used: {problem}. Answer again with only {wanted} "
        "the instructions ask for, with no other text."
    )
    messages = (
        *request.messages,
        Message("assistant", response.text[:4000]),
        Message("user", follow_up),
    )
    return replace(request, messages=messages)


MAX_RETRY_AFTER = 600.0  # seconds


def backoff(config: RunnerConfig, attempt: int, retry_after: float | None) -> float:
    """The wait before retry `attempt`: what the server said, else exponential with jitter."""
    if retry_after is not None:
        # The server knows best; the cap only guards against absurd values.
        return min(max(retry_after, 0.0), MAX_RETRY_AFTER)
    cap = min(config.backoff_max, config.backoff_base * (2**attempt))
    return random.uniform(cap / 2, cap)  # full jitter
