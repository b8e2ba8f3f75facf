"""Fake batch APIs for the fake servers of tests/fakes.py (real HTTP, driven by the real SDKs).

OpenAI (FakeOpenAIServer): POST /v1/files (multipart upload), GET /v1/files/{id}/content,
POST /v1/batches, GET /v1/batches/{id}, POST /v1/batches/{id}/cancel.
Anthropic (FakeAnthropicServer): POST /v1/messages/batches, GET /v1/messages/batches/{id},
POST /v1/messages/batches/{id}/cancel, GET /v1/messages/batches/{id}/results.

A job's lines are answered by the server's ordinary machinery (its handler, `auto_reply`, model
checks), once, when the job ends: a line whose handler returns `Fault.status(code)` becomes an
error line. A job ends at the `polls`-th status check, unless `hold` is set (then it runs until
released: kill a client meanwhile). `outcomes` scripts how the next jobs end: "completed",
"expired" (the first half of the lines ran, the rest expired) or "failed" (refused whole).

    server.batches.hold = True; ...; server.batches.hold = False
    server.batches.outcomes.append("expired")
    server.batches.submissions  # jobs created
"""

from __future__ import annotations

import email
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes import _FakeServer, _Handler


@dataclass
class FakeJob:
    id: str
    lines: list[
        dict[str, Any]
    ]  # OpenAI: {custom_id, method, url, body}; Anthropic: {custom_id, params}
    created: float
    state: str = "in_progress"  # in_progress, cancelling, completed, cancelled, expired, failed
    polls: int = 0
    # custom_id -> (status, body) for lines that ran; absent lines never ran
    results: dict[str, tuple[int, Any]] = field(default_factory=dict)


class FakeBatches:
    """The batch endpoints of one fake server."""

    def __init__(self, server: _FakeServer, provider: str) -> None:
        self.server = server
        self.provider = provider
        self.jobs: dict[str, FakeJob] = {}
        self.files: dict[str, bytes] = {}
        self.hold = False
        self.polls = 1
        self.outcomes: deque[str] = deque()
        self._lock = threading.Lock()

    @property
    def submissions(self) -> int:
        with self._lock:
            return len(self.jobs)

    @property
    def lines_run(self) -> int:
        with self._lock:
            return sum(len(j.results) for j in self.jobs.values())

    def job_ids(self) -> list[str]:
        with self._lock:
            return list(self.jobs)

    def job_sizes(self) -> list[int]:
        with self._lock:
            return [len(j.lines) for j in self.jobs.values()]

    # -- routing

    def handles(self, path: str) -> bool:
        prefix = "/v1/messages/batches" if self.provider == "anthropic" else "/v1/batches"
        return path.startswith(prefix) or (
            self.provider == "openai" and path.startswith("/v1/files")
        )

    def serve(self, h: _Handler, method: str, path: str, body: Any, raw: bytes) -> None:
        parts = path.strip("/").split("/")
        try:
            if self.provider == "openai":
                status, payload = self._openai(h, method, parts, body, raw)
            else:
                status, payload = self._anthropic(method, parts, body)
        except KeyError as exc:
            status, payload = 404, self.server.error_body(404, f"no such object: {exc}")
        if isinstance(payload, bytes):
            h.send_json(status, payload, content_type="application/octet-stream")
        else:
            h.send_json(status, payload)

    # -- OpenAI

    def _openai(
        self, h: _Handler, method: str, parts: list[str], body: Any, raw: bytes
    ) -> tuple[int, Any]:
        if parts == ["v1", "files"] and method == "POST":
            data = _multipart_file(h.headers.get("Content-Type", ""), raw)
            with self._lock:
                file_id = f"file-{len(self.files) + 1}"
                self.files[file_id] = data
            return 200, {
                "id": file_id,
                "object": "file",
                "bytes": len(data),
                "created_at": int(time.time()),
                "filename": "batch.jsonl",
                "purpose": "batch",
                "status": "processed",
            }
        if parts[:2] == ["v1", "files"] and parts[-1] == "content" and method == "GET":
            with self._lock:
                return 200, self.files[parts[2]]
        if parts == ["v1", "batches"] and method == "POST":
            with self._lock:
                data = self.files[body["input_file_id"]]
            lines = [json.loads(line) for line in data.splitlines() if line.strip()]
            job = self._create("batch", lines)
            return 200, self._openai_batch(job)
        job = self._job(parts[2])
        if method == "POST" and parts[-1] == "cancel":
            self._cancel(job)
        elif method == "GET":
            self._advance(job)
        return 200, self._openai_batch(job)

    def _openai_batch(self, job: FakeJob) -> dict[str, Any]:
        with self._lock:
            state = job.state
            results = dict(job.results)
            output_file = error_file = None
            if state in ("completed", "expired", "cancelled"):
                ok, bad = [], []
                for i, line in enumerate(job.lines):
                    cid = line["custom_id"]
                    if cid in results:
                        status, payload = results[cid]
                        entry = {
                            "id": f"batch_req_{i}",
                            "custom_id": cid,
                            "response": {
                                "status_code": status,
                                "request_id": f"req_{i}",
                                "body": payload,
                            },
                            "error": None,
                        }
                        (ok if status == 200 else bad).append(entry)
                    else:
                        code = "batch_cancelled" if state == "cancelled" else "batch_expired"
                        bad.append(
                            {
                                "id": f"batch_req_{i}",
                                "custom_id": cid,
                                "response": None,
                                "error": {"code": code, "message": "This request was not run."},
                            }
                        )
                output_file = self._file(f"{job.id}-out", ok) if ok else None
                error_file = self._file(f"{job.id}-err", bad) if bad else None
            done = sum(1 for s, _ in results.values() if s == 200)
        return {
            "id": job.id,
            "object": "batch",
            "endpoint": "/v1/chat/completions",
            "errors": None,
            "input_file_id": "file-in",
            "completion_window": "24h",
            "status": state,
            "output_file_id": output_file,
            "error_file_id": error_file,
            "created_at": int(job.created),
            "request_counts": {
                "total": len(job.lines),
                "completed": done,
                "failed": len(results) - done if state != "completed" else len(job.lines) - done,
            },
            "metadata": None,
        }

    def _file(self, name: str, entries: list[dict[str, Any]]) -> str:
        self.files[name] = "".join(json.dumps(e) + "\n" for e in entries).encode()
        return name

    # -- Anthropic

    def _anthropic(self, method: str, parts: list[str], body: Any) -> tuple[int, Any]:
        if parts == ["v1", "messages", "batches"] and method == "POST":
            lines = list(body["requests"])
            return 200, self._anthropic_batch(self._create("msgbatch", lines))
        job = self._job(parts[3])
        if method == "POST" and parts[-1] == "cancel":
            self._cancel(job)
        elif method == "GET" and parts[-1] == "results":
            return 200, self._anthropic_results(job)
        elif method == "GET":
            self._advance(job)
        return 200, self._anthropic_batch(job)

    def _anthropic_batch(self, job: FakeJob) -> dict[str, Any]:
        with self._lock:
            state = job.state
            results = dict(job.results)
        ended = state in ("completed", "expired", "cancelled", "failed")
        ok = sum(1 for s, _ in results.values() if s == 200)
        not_run = len(job.lines) - len(results)
        return {
            "id": job.id,
            "type": "message_batch",
            "processing_status": "ended" if ended else state.replace("cancelling", "canceling"),
            "request_counts": {
                "processing": 0 if ended else len(job.lines),
                "succeeded": ok,
                "errored": len(results) - ok,
                "canceled": not_run if state == "cancelled" else 0,
                "expired": not_run if state in ("expired", "failed") else 0,
            },
            "created_at": _iso(job.created),
            "expires_at": _iso(job.created + 86400),
            "ended_at": _iso(time.time()) if ended else None,
            "cancel_initiated_at": _iso(job.created) if "cancel" in state else None,
            "archived_at": None,
            "results_url": f"{self.server.base_url}/v1/messages/batches/{job.id}/results"
            if ended
            else None,
        }

    def _anthropic_results(self, job: FakeJob) -> bytes:
        out = []
        with self._lock:
            state = job.state
            results = dict(job.results)
        for line in job.lines:
            cid = line["custom_id"]
            if cid in results:
                status, payload = results[cid]
                if status == 200:
                    result: dict[str, Any] = {"type": "succeeded", "message": payload}
                else:
                    result = {"type": "errored", "error": payload}
            else:
                result = {"type": "canceled" if state == "cancelled" else "expired"}
            out.append(json.dumps({"custom_id": cid, "result": result}) + "\n")
        return "".join(out).encode()

    # -- jobs

    def _create(self, prefix: str, lines: list[dict[str, Any]]) -> FakeJob:
        with self._lock:
            # Unique across servers, as real ids are: tests share one cache file.
            number = len(self.jobs) + 1
            job = FakeJob(f"{prefix}_{self.server.port}x{number}", lines, time.time())
            self.jobs[job.id] = job
            return job

    def _job(self, job_id: str) -> FakeJob:
        with self._lock:
            return self.jobs[job_id]

    def _cancel(self, job: FakeJob) -> None:
        with self._lock:
            if job.state == "in_progress":
                job.state = "cancelling"

    def _advance(self, job: FakeJob) -> None:
        """A status check: a job past its checks (and not held) runs its lines and ends."""
        with self._lock:
            job.polls += 1
            if job.state == "cancelling":
                job.state = "cancelled"
                return
            if job.state != "in_progress" or self.hold or job.polls < self.polls:
                return
            outcome = self.outcomes.popleft() if self.outcomes else "completed"
        lines = job.lines
        if outcome == "expired":
            lines = lines[: len(lines) // 2]
        elif outcome == "failed":
            lines = []
        results = {line["custom_id"]: self.server.line_answer(_body(line)) for line in lines}
        with self._lock:
            job.results = results
            job.state = outcome


def _body(line: dict[str, Any]) -> dict[str, Any]:
    return dict(line.get("body") or line.get("params") or {})


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat().replace("+00:00", "Z")


def _multipart_file(content_type: str, raw: bytes) -> bytes:
    """The `file` part of a multipart/form-data body."""
    message = email.message_from_bytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw
    )
    for part in message.get_payload():  # type: ignore[union-attr]
        if part.get_param("name", header="content-disposition") == "file":
            data = part.get_payload(decode=True)
            return bytes(data)
    raise KeyError("file part")
