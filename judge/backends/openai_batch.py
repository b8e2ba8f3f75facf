"""The OpenAI Batch API (/v1/files + /v1/batches), also at `--base-url` servers that implement
it: a JSONL input file of chat-completion requests is uploaded, a batch is created over it, and
its output and error files are read line by line when it ends. Limits: 50,000 requests and
200 MB a batch. Lines are the very requests the real-time path sends (OpenAIBackend._params)
and their answers are read by the same code (OpenAIBackend._answer).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import openai
import orjson

from judge.backends.base import Request
from judge.backends.batch import (
    CANCELLED,
    CANCELLING,
    DEGRADED,
    ENDED,
    EXPIRED,
    FAILED,
    RUNNING,
    BatchLimits,
    JobStatus,
    LineResult,
)
from judge.backends.http_errors import error_detail
from judge.errors import BackendError

if TYPE_CHECKING:
    from judge.backends.openai import OpenAIBackend

ENDPOINT = "/v1/chat/completions"
LIMITS = BatchLimits(max_requests=50_000, max_bytes=200 * 1024 * 1024)
_STATES = {
    "validating": RUNNING,
    "in_progress": RUNNING,
    "finalizing": RUNNING,
    "completed": ENDED,
    "cancelling": CANCELLING,
    "cancelled": CANCELLED,
    "expired": EXPIRED,
    "failed": FAILED,
}
# Error codes of lines that never ran: absent from the results, so the engine resubmits them.
_NOT_RUN = ("batch_expired", "batch_cancelled")


class OpenAIBatch:
    """The batch API of one OpenAIBackend (its client, model and server)."""

    limits = LIMITS

    def __init__(self, backend: OpenAIBackend) -> None:
        self.backend = backend
        # custom_id -> the structured-output mode its line was written in, so that a line the
        # server refuses for that mode degrades the backend once (as a real-time call does).
        self._modes: dict[str, str | None] = {}

    def _client(self) -> openai.AsyncOpenAI:
        self.backend._check_ready()
        return self.backend._client

    def line(self, custom_id: str, request: Request) -> bytes:
        b = self.backend
        mode = b._schema_mode if request.schema is not None else None
        body = b._params(request, mode, set(b._dropped))
        self._modes[custom_id] = mode
        return orjson.dumps(
            {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body}
        )

    async def submit(self, lines: Sequence[bytes]) -> JobStatus:
        client = self._client()
        data = b"\n".join(lines) + b"\n"
        try:
            upload = await client.files.create(
                file=("judge-batch.jsonl", data, "application/jsonl"), purpose="batch"
            )
            job = await client.batches.create(
                input_file_id=upload.id,
                endpoint="/v1/chat/completions",
                completion_window="24h",
                metadata={"made_by": "judge"},
            )
        except openai.OpenAIError as exc:
            raise self.backend.sdk_error(exc, openai) from None
        return _status(job)

    async def status(self, job_id: str) -> JobStatus:
        try:
            return _status(await self._client().batches.retrieve(job_id))
        except openai.OpenAIError as exc:
            raise self.backend.sdk_error(exc, openai) from None

    async def cancel(self, job_id: str) -> JobStatus:
        try:
            return _status(await self._client().batches.cancel(job_id))
        except openai.OpenAIError as exc:
            raise self.backend.sdk_error(exc, openai) from None

    async def results(
        self, job_id: str, requests: Mapping[str, Request]
    ) -> AsyncIterator[tuple[str, LineResult]]:
        client = self._client()
        try:
            job = await client.batches.retrieve(job_id)
            files = [f for f in (job.output_file_id, job.error_file_id) if f]
            contents = [(await client.files.content(f)).content for f in files]
        except openai.OpenAIError as exc:
            raise self.backend.sdk_error(exc, openai) from None
        for content in contents:
            for raw in content.splitlines():
                if not raw.strip():
                    continue
                try:
                    entry = orjson.loads(raw)
                    custom_id = str(entry["custom_id"])
                except (ValueError, KeyError, TypeError):
                    continue  # not a line of ours: its request stays unanswered (resubmitted)
                request = requests.get(custom_id)
                if request is None:
                    continue
                result = self._line_result(entry, request, self._modes.pop(custom_id, None))
                if result is not None:
                    yield custom_id, result

    def _line_result(
        self, entry: dict[str, Any], request: Request, mode: str | None
    ) -> LineResult | None:
        """A line's answer or error; None for a line that never ran (expired, cancelled). A
        line refused for a feature the server lacks (structured output, logprobs, ...) drops
        that feature for later lines and comes back as a passing error of kind DEGRADED, to be
        resubmitted without it."""
        b = self.backend
        response = entry.get("response") or {}
        error = entry.get("error") or {}
        status = response.get("status_code")
        body = response.get("body")
        if status == 200 and isinstance(body, dict):
            try:
                return b._answer(orjson.dumps(body), request, logprobs=_asked_logprobs(body))
            except BackendError as exc:
                return exc
        if isinstance(error, dict) and error.get("code") in _NOT_RUN:
            return None
        if isinstance(status, int):
            params = b._params(request, mode, set(b._dropped))
            error = b._rejected(status, body, {}, mode, params)
            if error is None:
                detail = error_detail(body, f"HTTP {status}")
                why = f"{b.name}: the server refused a feature ({detail}); sent again without it"
                return BackendError(why, transient=True, kind=DEGRADED)
            return error
        message = error.get("message") if isinstance(error, dict) else None
        return BackendError(f"{b.name}: batch line failed: {message or entry}", transient=True)


def _asked_logprobs(body: dict[str, Any]) -> bool:
    """Whether the answer carries log-probabilities (a choice's `logprobs`)."""
    choices = body.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else None
    return isinstance(first, dict) and bool(first.get("logprobs"))


def _status(job: Any) -> JobStatus:
    counts = job.request_counts
    return JobStatus(
        id=job.id,
        state=_STATES.get(job.status, RUNNING),
        total=counts.total if counts else 0,
        succeeded=counts.completed if counts else 0,
        failed=counts.failed if counts else 0,
        created=float(job.created_at or 0),
    )
