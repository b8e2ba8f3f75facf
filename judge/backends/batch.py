"""The batch contract: a provider's batch API (half price, answers within hours) as a backend
offers it, in provider-neutral terms. The engine (judge.engine.batcher) decides what goes into a
job, records jobs in the cache, polls and resubmits; a BatchApi only speaks the wire format.

States a job reports (`JobStatus.state`), whatever the provider calls them:
- RUNNING: accepted, not finished (OpenAI validating/in_progress/finalizing, Anthropic
  in_progress),
- CANCELLING: a cancel was asked, lines may still finish,
- ENDED: processing is over; every line has a result (success or error),
- CANCELLED, EXPIRED: over early; lines without a result were not run,
- FAILED: the job as a whole was refused (e.g. its input file): no line ran.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from judge.backends.base import Request, Response
from judge.errors import BackendError

RUNNING = "running"
CANCELLING = "cancelling"
ENDED = "ended"
CANCELLED = "cancelled"
EXPIRED = "expired"
FAILED = "failed"
# The kind of a line's BackendError when the backend dropped a feature the server refused:
# resubmitted without counting against the line's resubmissions (the modes are few).
DEGRADED = "degraded"
# States after which a job changes no more.
FINAL = (ENDED, CANCELLED, EXPIRED, FAILED)


@dataclass(frozen=True)
class BatchLimits:
    """How much one job may hold (the provider's documented limits by default)."""

    max_requests: int
    max_bytes: int


@dataclass(frozen=True)
class JobStatus:
    """A job as the provider reports it."""

    id: str
    state: str  # see the module's docstring
    total: int = 0
    succeeded: int = 0
    failed: int = 0  # errored, expired or cancelled lines, as far as the provider counts them
    created: float = 0.0  # Unix time


# One line's result: its answer, or why it has none (a BackendError with the usual kinds:
# transient -> resubmit, per_item -> that item is unjudged, otherwise the run stops).
LineResult = Response | BackendError


class BatchApi(Protocol):
    """A provider's batch API for one backend (its model, server and key)."""

    limits: BatchLimits

    def line(self, custom_id: str, request: Request) -> bytes:
        """The request as one line of a job's input (JSON, no newline); its size counts
        against `limits.max_bytes`. `custom_id` is at most 64 of [A-Za-z0-9_-]."""
        ...

    async def submit(self, lines: Sequence[bytes]) -> JobStatus:
        """Create a job of these lines; raises BackendError."""
        ...

    async def status(self, job_id: str) -> JobStatus: ...

    def results(
        self, job_id: str, requests: Mapping[str, Request]
    ) -> AsyncIterator[tuple[str, LineResult]]:
        """(custom_id, result) for each line of `requests` (custom_id -> the request it was
        made from, to read its answer as the real-time path would) that has one; lines a
        cancelled or expired job never ran are absent."""
        ...

    async def cancel(self, job_id: str) -> JobStatus: ...
