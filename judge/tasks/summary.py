"""The words of a run's summary: counts, tokens, dollars, why items went unjudged, dry runs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from judge.backends.base import Backend
from judge.engine.plan import Estimate, Plan
from judge.engine.prices import STALE_AFTER_DAYS, Price
from judge.engine.stats import BUDGET, REASONS, RunStats

# The embedded model's agreement with people, measured by benchmarks/embedded_agreement.py
# (benchmarks/results/embedded_agreement.json; tests/test_summary.py checks they match).
EMBEDDED_AGREEMENT = "23%"
EMBEDDED_JUDGED = 39  # of the sample's 40 items; the other has an empty response


def plural(n: int, noun: str, many: str | None = None) -> str:
    """`1 candidate`, `2 candidates` (`many` for irregular plurals)."""
    return f"{n} {noun if n == 1 else many or noun + 's'}"


def human_tokens(n: float) -> str:
    if n >= 1e6:
        return f"{n / 1e6:.2f}M"
    if n >= 1e4:
        return f"{n / 1e3:.0f}k"
    return f"{n:.0f}"


def dollars(x: float | None) -> str:
    if x is None:
        return "$? (price unknown; give one with --prices)"
    return f"${x:.4f}" if x < 1 else f"${x:,.2f}"


def _cached(tokens: int) -> str:
    """Input tokens the provider read from its prompt cache (billed lower), when there are any."""
    return f" ({human_tokens(tokens)} from the prompt cache)" if tokens else ""


def run_summary(verb: str, stats: RunStats, noun: str = "candidates", counts: bool = True) -> str:
    """The first summary line; `counts`: with how many units were judged and not."""
    spent = stats.spent
    judged = stats.done - stats.failed
    singular = noun[:-1] if noun.endswith("s") else noun
    tally = f" ({judged} judged, {stats.failed} not judged)" if counts else ""
    parts = [
        f"judge: {verb} {plural(stats.done, singular, noun)}{tally}",
        f"in {stats.elapsed:.1f} s ({stats.rate:.1f}/s)",
        f"{plural(stats.calls, 'call')}, {stats.cached_calls} from cache",
        f"{human_tokens(spent.input_tokens)} in{_cached(spent.cached_input_tokens)} / "
        f"{human_tokens(spent.output_tokens)} out tokens",
        dollars(spent.cost_usd),
    ]
    if stats.lost_calls:
        parts.append(
            f"{plural(stats.lost_calls, 'call')} given up without an answer (timeouts, resets, "
            "Ctrl-C) counted at their worst-case cost, as the provider may bill them"
        )
    if stats.retries or stats.reasks:
        parts.append(
            f"{plural(stats.retries, 'retry', 'retries')}, {plural(stats.reasks, 're-ask')}"
        )
    if stats.batches:
        parts.append(batch_summary(stats))
    if stats.rate_limits:
        lowest = stats.lowest_in_flight_limit
        parts.append(
            f"{plural(stats.rate_limits, 'rate-limited answer')}"
            + (f", calls in flight lowered to {lowest} at the least" if lowest else "")
            + " ({opt:rpm}/{opt:tpm} at the provider's limits avoid them)"
        )
    return "; ".join(parts)


def batch_summary(stats: RunStats) -> str:
    """--batch: the jobs this run waited for, and what it submitted."""
    jobs = stats.batches
    states = ", ".join(
        f"{plural(n, 'job')} {state}"
        for state, n in sorted(_count(s.state for s in jobs.values()).items())
    )
    attached = len(jobs) - stats.batch_submitted
    return (
        f"batch: {states} ({stats.batch_submitted} submitted"
        + (f", {attached} re-attached" if attached > 0 else "")
        + (
            f", {plural(stats.batch_resubmitted, 'line')} resubmitted"
            if stats.batch_resubmitted
            else ""
        )
        + "; batch prices)"
    )


def _count(values: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def unjudged_reasons(stats: RunStats) -> list[str]:
    """One line per kind of failed call: how many, why, and the first message of that kind."""
    lines = []
    for kind, why in REASONS.items():
        n = stats.failures.get(kind, 0)
        if n:
            lines.append(
                f"judge: {plural(n, 'call')} without a verdict: {why} "
                f"(e.g. {stats.examples[kind][:300]})"
            )
    return lines


def embedded_note(backend: Backend) -> str | None:
    """The line every run on the embedded model ends with: its verdicts are close to chance."""
    if backend.provider != "local" or backend.model not in ("smollm2", "default", ""):
        return None
    return (
        "judge: note: the embedded model (SmolLM2-135M) judges close to chance: it agreed with "
        f"people on {EMBEDDED_AGREEMENT} of the {EMBEDDED_JUDGED} items it judged of the shipped "
        "PandaLM sample (benchmarks/embedded_agreement.py). For real data pick a strong judge: -m "
        "openai/gpt-4o-mini, -m anthropic/claude-haiku-4-5, or -m openai/NAME --base-url URL "
        "for your own server, and check it with judge calibrate."
    )


def backend_notes(backend: Backend) -> list[str]:
    """The notes a run on `backend` ends with: the embedded model's weakness, and what a named
    provider lacks and so was not asked for (judge.backends.preset_backend)."""
    notes = [n for n in (embedded_note(backend),) if n is not None]
    feature_notes = getattr(backend, "feature_notes", None)
    if callable(feature_notes):
        notes += list(feature_notes())
    return notes


def price_age_note(model: str, price: Price | None) -> str | None:
    """For --dry-run: a price read longer ago than STALE_AFTER_DAYS may no longer be the price."""
    if price is None or not price.stale():
        return None
    return (
        f"judge: note: the price of {model} was read {price.as_of}, over {STALE_AFTER_DAYS} days "
        "ago; the dollars above may be off. Check the provider's page and give the price with "
        "--prices FILE."
    )


def plan_text(
    model: str, what: str, plan: Plan, *, calls_note: str = "", input_note: str = ""
) -> Estimate:
    """The --dry-run line every judging command prints, with its figures."""
    todo = plan.calls - plan.cached
    text = (
        f"judge: dry run for {model}: {what} -> {plural(plan.calls, 'call')}{calls_note} "
        f"({plan.cached} already cached, {todo} to make); "
        f"~{human_tokens(plan.input_tokens)} input tokens "
        f"(estimated at 4 characters a token{input_note}), "
        f"at most {human_tokens(plan.max_output_tokens)} output tokens; "
        f"input {dollars(plan.input_cost)}, at most {dollars(plan.max_cost)} in all"
        + (" (batch prices: the provider's batch API, {opt:batch})" if plan.batch else "")
        + (_time(plan) if todo else "")
    )
    return Estimate(text, plan)


def _time(plan: Plan) -> str:
    if plan.batch:
        return "; time: within the provider's batch window (up to 24 h)"
    return f"; time: at most about {_span(plan.wall_seconds)} ({plan.speed})"


def _span(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass(frozen=True)
class Coverage:
    """How much of a run was judged: the run's last line and --fail-under read it."""

    total: int  # units the run had to judge (pairs: distinct non-duplicate candidates)
    unjudged: int
    noun: str  # plural: "candidates", "labelled items"
    reason: str | None = None  # the most common reason, with how often it came

    @property
    def judged(self) -> int:
        return self.total - self.unjudged


def most_common(counts: Mapping[str, int], noun: str) -> str | None:
    """`counts`' most frequent reason as "REASON (N NOUNs)", or None when there is none."""
    if not counts:
        return None
    reason, n = max(counts.items(), key=lambda kv: kv[1])
    return f"{reason[:200]} ({plural(n, noun)})"


def coverage(stats: RunStats, noun: str) -> Coverage:
    """The coverage of a run whose units are what its stats count (most commands)."""
    counts = {stats.examples.get(k, k): n for k, n in stats.failures.items() if k != BUDGET}
    if stats.failures.get(BUDGET):
        counts["the --max-cost budget was reached"] = stats.failures[BUDGET]
    reason = most_common(counts, "call")
    return Coverage(stats.done, stats.failed, noun, reason)


def coverage_line(c: Coverage, fail_under: float | None) -> tuple[str | None, bool]:
    """The last line of a run that left units unjudged, and whether it fails the run: when it
    judged nothing, or a smaller fraction than --fail-under."""
    if not c.total or (not c.unjudged and fail_under is None):
        return None, False
    why = f"; most common reason: {c.reason}" if c.reason else "; the rows say why"
    share = c.judged / c.total
    if c.judged == 0:
        return f"judge: error: nothing was judged: all {c.total} {c.noun} went unjudged{why}", True
    counted = f"{c.judged} of {c.total} {c.noun} judged ({100 * share:.0f}%)"
    if fail_under is not None and share < fail_under:
        return f"judge: error: {counted}, under --fail-under {fail_under:g}{why}", True
    if not c.unjudged:
        return None, False
    return f"judge: {c.unjudged} of {c.total} {c.noun} not judged{why}", False
