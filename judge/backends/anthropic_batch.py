"""Anthropic Message Batches (client.messages.batches: create, retrieve, results, cancel).
Limits: 100,000 requests and 256 MB a batch. Lines are the very requests the real-time path sends
(AnthropicBackend._params) and their messages are read by the same code
(AnthropicBackend._response).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import anthropic
import orjson

from judge.backends.base import Request
from judge.backends.batch import (
    CANCELLED,
    CANCELLING,
    ENDED,
    EXPIRED,
    RUNNING,
    BatchLimits,
    JobStatus,
    LineResult,
)
from judge.errors import BackendError

if TYPE_CHECKING:
    from judge.backends.anthropic import AnthropicBackend

LIMITS = BatchLimits(max_requests=100_000, max_bytes=256 * 1024 * 1024)
# An errored line's error type, as the HTTP status the real-time API answers it with (so it
# maps to the same kind: transient, per item, or fatal).
_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


class AnthropicBatch:
    """The Message Batches API of one AnthropicBackend (its client, model and server)."""

    limits = LIMITS

    def __init__(self, backend: AnthropicBackend) -> None:
        self.backend = backend

    def _client(self) -> anthropic.AsyncAnthropic:
        self.backend._check_ready()
        return self.backend._client

    def _mode(self, request: Request) -> str | None:
        return self.backend._schema_mode if request.schema is not None else None

    def line(self, custom_id: str, request: Request) -> bytes:
        params = self.backend._params(request, self._mode(request))
        return orjson.dumps({"custom_id": custom_id, "params": params})

    async def submit(self, lines: Sequence[bytes]) -> JobStatus:
        requests: list[Any] = [orjson.loads(line) for line in lines]
        try:
            job = await self._client().messages.batches.create(requests=requests)
        except anthropic.AnthropicError as exc:
            raise self.backend._error(exc) from None
        return _status(job)

    async def status(self, job_id: str) -> JobStatus:
        try:
            return _status(await self._client().messages.batches.retrieve(job_id))
        except anthropic.AnthropicError as exc:
            raise self.backend._error(exc) from None

    async def cancel(self, job_id: str) -> JobStatus:
        try:
            return _status(await self._client().messages.batches.cancel(job_id))
        except anthropic.AnthropicError as exc:
            raise self.backend._error(exc) from None

    async def results(
        self, job_id: str, requests: Mapping[str, Request]
    ) -> AsyncIterator[tuple[str, LineResult]]:
        b = self.backend
        try:
            lines = [item async for item in await self._client().messages.batches.results(job_id)]
        except anthropic.AnthropicError as exc:
            raise b._error(exc) from None
        for item in lines:
            request = requests.get(item.custom_id)
            if request is None:
                continue
            result = item.result
            if result.type == "succeeded":
                try:
                    yield item.custom_id, b._response(result.message, self._mode(request))
                except BackendError as exc:
                    yield item.custom_id, exc
            elif result.type == "errored":
                error = result.error.error
                status = _ERROR_STATUS.get(error.type, 500)
                yield item.custom_id, b.status_error(status, error.message, {}, (error.type,))
            # canceled, expired: the line never ran; it stays unanswered (resubmitted)


def _status(job: Any) -> JobStatus:
    counts = job.request_counts
    if job.processing_status == "in_progress":
        state = RUNNING
    elif job.processing_status == "canceling":
        state = CANCELLING
    elif job.cancel_initiated_at is not None:
        state = CANCELLED
    elif counts.expired:
        state = EXPIRED
    else:
        state = ENDED
    failed = counts.errored + counts.canceled + counts.expired
    return JobStatus(
        id=job.id,
        state=state,
        total=counts.processing + counts.succeeded + failed,
        succeeded=counts.succeeded,
        failed=failed,
        created=job.created_at.timestamp(),
    )
