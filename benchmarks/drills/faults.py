"""Drill: a run against a server that fails a share of requests in every way we know.

The share is split evenly over: 429 with Retry-After, 5xx (500, 502, 503), a stall past the
client's timeout, a TCP reset, a 200 whose body is cut short, a 200 with invalid JSON, and a
model answer that is itself truncated JSON (the judge re-asks). Reported: items judged, unjudged
with their reasons, retries and re-asks, wall time.
"""

from __future__ import annotations

import random
import re
import tempfile
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.drills.common import read_jsonl, rows, run, score_cmd, write_jsonl
from tests.fakes import FakeOpenAIServer, Fault, Reply, auto_reply

TIMEOUT = 2.0  # the client's --timeout; a stall lasts longer


def wire_faults(rate: float) -> dict[Fault, float]:
    kinds = [
        Fault.rate_limit(retry_after=0.5),
        Fault.status(500),
        Fault.status(502),
        Fault.status(503),
        Fault.delay(TIMEOUT + 1.0),
        Fault.reset(),
        Fault.truncate(),
        Fault.garble(),
    ]
    # Seven kinds share the rate evenly: six on the wire here (the three 5xx codes split one
    # slot), the seventh is TruncatedAnswers.
    weights = [1, 1 / 3, 1 / 3, 1 / 3, 1, 1, 1, 1]
    return {k: rate * w / 7 for k, w in zip(kinds, weights, strict=True)}


class TruncatedAnswers:
    """A handler that cuts a share of the model's JSON answers in half."""

    def __init__(self, rate: float, seed: int) -> None:
        self.rate = rate
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.cut = 0

    def __call__(self, body: dict[str, Any]) -> Reply | None:
        with self.lock:
            cut = self.rng.random() < self.rate
            self.cut += cut
        if not cut:
            return None
        text = auto_reply(body)
        return Reply(text=text[: len(text) // 2])


def drill(
    n: int = 300, rates: tuple[float, ...] = (0.0, 0.1, 0.3), concurrency: int = 8, seed: int = 6
) -> list[dict[str, Any]]:
    results = []
    for rate in rates:
        handler = TruncatedAnswers(rate / 7, seed)
        server = FakeOpenAIServer(
            handler=handler, latency=0.02, fault_rates=wire_faults(rate), seed=seed
        )
        with server, tempfile.TemporaryDirectory() as tmp:
            src = write_jsonl(Path(tmp) / "in.jsonl", rows(n, tag=f" at {rate}"))
            out = Path(tmp) / "out.jsonl"
            ran = run(
                score_cmd(
                    src, server.base_url, "--concurrency", str(concurrency), "--no-cache",
                    "--timeout", str(TIMEOUT), "-o", str(out),
                ),
                timeout=900,
            )  # fmt: skip
            got = read_jsonl(out)
            reasons = Counter(_reason(r["judge"]["error"]) for r in got if r["score"] is None)
            stats = re.search(r"(\d+) retries, (\d+) re-asks", ran.stderr)
            results.append(
                {
                    "fault_rate": rate,
                    "requests": server.count,
                    "answered": server.answered,
                    "truncated_answers": handler.cut,
                    "exit": ran.code,
                    "traceback": ran.traceback,
                    "items": n,
                    "items_out": len(got),
                    "judged": sum(1 for r in got if r["score"] is not None),
                    "unjudged": dict(reasons),
                    "retries": int(stats.group(1)) if stats else 0,
                    "reasks": int(stats.group(2)) if stats else 0,
                    "wall_s": round(ran.wall, 1),
                    "summary": ran.message,
                }
            )
    return results


def _reason(error: str | None) -> str:
    """The error without the item-specific detail, to group unjudged items by cause."""
    text = error or "unknown"
    text = re.sub(r"\d+(\.\d+)?", "N", text)
    return text[:160]


def rate_limit_drill(
    n: int = 300, rpm: float = 600, concurrency: int = 16, max_retries: int = 8
) -> dict[str, Any]:
    """A steady rate limit far below the demand: every item must still be judged, since a 429
    with Retry-After is the server saying when to come back, not a failure of the item."""
    with (
        FakeOpenAIServer(latency=0.05, rpm=rpm, burst=2) as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        src = write_jsonl(Path(tmp) / "in.jsonl", rows(n, tag=" limited"))
        out = Path(tmp) / "out.jsonl"
        ran = run(
            score_cmd(
                src, server.base_url, "--concurrency", str(concurrency), "--no-cache",
                "--max-retries", str(max_retries), "-o", str(out),
            ),
            timeout=900,
        )  # fmt: skip
        got = read_jsonl(out)
        return {
            "rpm": rpm,
            "items": n,
            "exit": ran.code,
            "traceback": ran.traceback,
            "judged": sum(1 for r in got if r["score"] is not None),
            "requests": server.count,
            "rejected_429": server.rate_limited,
            "wall_s": round(ran.wall, 1),
        }
