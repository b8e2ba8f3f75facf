"""What a run did: the counts behind the progress display, the summary and the exit status."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from judge.backends.batch import JobStatus
from judge.records import Usage

# Why a call gave no answer, as the summary and the exit status read it. `unreachable` and
# `budget` are the run's problems (exit 1); the others are the item's own (exit 0, counted).
UNREACHABLE = "unreachable"  # connection refused, 5xx or time-outs out of retries
TOO_LONG = "too_long"  # the item does not fit the model's context window
REFUSED = "refused"  # a content filter or the model refused this item
UNPARSEABLE = "unparseable"  # the answer never followed the format, re-asks included
BUDGET = "budget"  # --max-cost would have been passed
CANCELLED = "cancelled"  # its batch job was cancelled (judge batches cancel) before answering
INVALID_TEXT = "invalid_text"  # the item's text is not valid Unicode (a lone surrogate)
KINDS = (UNREACHABLE, TOO_LONG, REFUSED, UNPARSEABLE, BUDGET, CANCELLED, INVALID_TEXT)
# Why the calls of each kind went unjudged, as the summary says it (judge.tasks.summary), in the
# summary's order; the budget is said apart, as a run's stopping point.
REASONS = {
    UNREACHABLE: "the model could not be reached",
    TOO_LONG: "too long for the model's context window",
    REFUSED: "refused by the model or a content filter",
    UNPARSEABLE: "the answer never followed the format",
    CANCELLED: "their batch job was cancelled",
    INVALID_TEXT: "the text is not valid Unicode",
}


@dataclass
class RunStats:
    """What the progress display and the final summary show."""

    total: int | None = None
    done: int = 0  # units yielded, in input order (the summary's count)
    failed: int = 0
    finished: int = 0  # units whose work is done, in any order (the progress display's count)
    finished_failed: int = 0
    calls: int = 0  # model calls made (not cached), lost ones included
    lost_calls: int = 0  # no answer (timeouts, resets, Ctrl-C in flight): at their worst case
    cached_calls: int = 0
    retries: int = 0
    reasks: int = 0
    # This run's calls only. Zero dollars, not unknown, until a call of an unpriced model.
    spent: Usage = field(default_factory=lambda: Usage(cost_usd=0.0))
    started: float = field(default_factory=time.monotonic)
    budget_hit: bool = False
    rate_limits: int = 0  # answers that said "come back later" (429 with Retry-After)
    in_flight_limit: int | None = None  # the adaptive limit while below --concurrency
    lowest_in_flight_limit: int | None = None
    # Calls that gave no answer, by kind (see KINDS), and the first message of each kind.
    failures: dict[str, int] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)
    # --batch: every job of this run (submitted or re-attached), by id, as last seen; jobs
    # submitted and lines resubmitted; jobs cancelled while this run waited for them.
    batches: dict[str, JobStatus] = field(default_factory=dict)
    batch_submitted: int = 0
    batch_resubmitted: int = 0
    batch_cancelled: set[str] = field(default_factory=set)

    def note_limit(self, limit: int, ceiling: int) -> None:
        """The adaptive limit on calls in flight, for the progress display and the summary."""
        below = limit < ceiling
        self.in_flight_limit = limit if below else None
        low = self.lowest_in_flight_limit
        if below and (low is None or limit < low):
            self.lowest_in_flight_limit = limit

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    def failure(self, kind: str, message: str) -> None:
        self.failures[kind] = self.failures.get(kind, 0) + 1
        self.examples.setdefault(kind, message)


def combined(parts: list[RunStats], started: float) -> RunStats:
    """The stats of one job run as many parts (judge.ray: one run a shard), as of `started`."""
    out = RunStats(started=started)
    lows = [p.lowest_in_flight_limit for p in parts if p.lowest_in_flight_limit is not None]
    out.lowest_in_flight_limit = min(lows) if lows else None
    known = [p.total for p in parts]
    out.total = None if None in known else sum(t or 0 for t in known)
    for p in parts:
        out.done += p.done
        out.failed += p.failed
        out.finished += p.finished
        out.finished_failed += p.finished_failed
        out.calls += p.calls
        out.lost_calls += p.lost_calls
        out.cached_calls += p.cached_calls
        out.retries += p.retries
        out.reasks += p.reasks
        out.rate_limits += p.rate_limits
        out.spent = out.spent + p.spent
        out.budget_hit = out.budget_hit or p.budget_hit
        for kind, n in p.failures.items():
            out.failures[kind] = out.failures.get(kind, 0) + n
        for kind, message in p.examples.items():
            out.examples.setdefault(kind, message)
        out.batches.update(p.batches)
        out.batch_submitted += p.batch_submitted
        out.batch_resubmitted += p.batch_resubmitted
        out.batch_cancelled |= p.batch_cancelled
    return out
