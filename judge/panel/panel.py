"""A panel of judges: every member judges each item through its own runner, and the panel's
verdict aggregates theirs (judge.panel.aggregate).

A member that gives no verdict (down, refused, unparseable) is recorded with its error in the
item's `judge.panel`; the panel verdict comes from the others as long as at least `quorum`
members gave one, else the item is unjudged with the reason. The members' runners join the run's
runner (the one the driver runs units through), so progress, the summary, --max-cost and the exit
status (1 when a model could not be reached) cover every member.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from judge.engine.runner import Runner
from judge.engine.settings import Settings
from judge.errors import ConfigError
from judge.judging.scoring import Scorer
from judge.panel.aggregate import (
    LABELS,
    default_quorum,
    majority,
    mean_scores,
    spread_confidence,
)
from judge.panel.agreement import Ratings, Votes
from judge.panel.members import Judge, judges_from_models, runner_for
from judge.records import Candidate, Comparison, Usage, Verdict


def resolve_quorum(quorum: int | None, members: int) -> int:
    """The quorum asked for (default: a majority), checked against the panel's size."""
    chosen = default_quorum(members) if quorum is None else quorum
    if not 1 <= chosen <= members:
        raise ConfigError(
            f"{{opt:quorum}} {chosen} is not between 1 and the panel's {members} members"
        )
    return chosen


@dataclass
class Member:
    judge: Judge
    runner: Runner


@dataclass
class MemberTally:
    """What one member did in this run."""

    verdicts: int = 0
    errors: int = 0
    calls: int = 0  # calls made (paid)
    cached_calls: int = 0
    spent: Usage = field(default_factory=lambda: Usage(cost_usd=0.0))  # this run's calls only
    example: str | None = None  # the first error

    def add(self, error: str | None, usage: Usage, cached: bool) -> None:
        if error is None:
            self.verdicts += 1
        else:
            self.errors += 1
            self.example = self.example or error
        if cached:
            self.cached_calls += usage.calls
        else:
            self.calls += usage.calls
            self.spent = self.spent + usage


class Panel:
    """Members with their runners, the quorum, and what they said in this run."""

    def __init__(self, members: Sequence[Member], quorum: int | None = None) -> None:
        if not members:
            raise ConfigError("a panel needs at least one member")
        self.quorum = resolve_quorum(quorum, len(members))
        self.members = list(members)
        self.tally = {m.judge.name: MemberTally() for m in self.members}
        # For inter-judge agreement: each member's overall score, per-principle scores and
        # comparison winners, item by item.
        n = len(self.members)
        self.overall = Ratings(n)
        self.principles: dict[str, Ratings] = {}
        self.winners = Votes(n, LABELS)
        self.confidences: list[float] = []
        self.below_quorum = 0
        self.rescued = 0  # items with a panel verdict though a member gave none

    @property
    def runners(self) -> list[Runner]:
        return [m.runner for m in self.members]

    @property
    def name(self) -> str:
        return "panel(" + ", ".join(m.judge.name for m in self.members) + ")"

    def join(self, runner: Runner) -> None:
        """Count every member's calls in `runner`'s run (call inside the run, as units start)."""
        for m in self.members:
            m.runner.join(runner)

    # -- scores -----------------------------------------------------------------------------

    async def score(self, scorer: Scorer, runner: Runner, candidate: Candidate) -> Verdict:
        if candidate.note:
            return Verdict(score=None, error=f"not judged: {candidate.note}")
        self.join(runner)
        verdicts = await asyncio.gather(*(scorer.score(m.runner, candidate) for m in self.members))
        records = []
        for m, v in zip(self.members, verdicts, strict=True):
            self.tally[m.judge.name].add(v.error if v.score is None else None, v.usage, v.cached)
            records.append(
                {
                    "name": m.judge.name,
                    "model": m.runner.backend.name,
                    "weight": m.judge.weight,
                    "score": v.score,
                    "scores": v.scores,
                    "error": v.error,
                    "usage": v.usage.model_dump(),
                }
            )
        judged = [
            (m, v) for m, v in zip(self.members, verdicts, strict=True) if v.score is not None
        ]
        self.overall.add([v.score for v in verdicts])
        for p in scorer.constitution.principles:
            self.principles.setdefault(p.id, Ratings(len(self.members))).add(
                [v.scores.get(p.id) if v.score is not None else None for v in verdicts]
            )
        usage = sum((v.usage for v in verdicts), Usage())
        cached = all(v.cached for v in verdicts)
        error = self._short(len(judged), verdicts, lambda v: v.error)
        if error is not None:
            return Verdict(score=None, usage=usage, error=error, cached=cached, panel=records)
        scores, overall = mean_scores(
            scorer.constitution, [(v.scores, m.judge.weight) for m, v in judged]
        )
        confidence = spread_confidence([v.score for _, v in judged if v.score is not None])
        self._count(confidence, len(judged))
        return Verdict(
            score=overall,
            scores=scores,
            rationales=dict(judged[0][1].rationales),  # the first member's: one voice
            usage=usage,
            cached=cached,
            panel=records,
            confidence=confidence,
        )

    # -- comparisons ----------------------------------------------------------------------

    async def compare(
        self, runner: Runner, ask: Callable[[Runner], Awaitable[Comparison]]
    ) -> Comparison:
        """`ask(member's runner)` is one judge's comparison of the pair (Comparer.compare)."""
        self.join(runner)
        found = await asyncio.gather(*(ask(m.runner) for m in self.members))
        records = []
        for m, c in zip(self.members, found, strict=True):
            self.tally[m.judge.name].add(c.error, c.usage, c.cached)
            records.append(
                {
                    "name": m.judge.name,
                    "model": m.runner.backend.name,
                    "weight": m.judge.weight,
                    "winner": c.winner,
                    "p_a": c.p_a,
                    "flipped": c.flipped,
                    "error": c.error,
                    "usage": c.usage.model_dump(),
                }
            )
        judged = [(m, c) for m, c in zip(self.members, found, strict=True) if c.p_a is not None]
        self.winners.add([c.winner if c.p_a is not None else None for c in found])
        usage = sum((c.usage for c in found), Usage())
        base = Comparison(
            a=found[0].a,
            b=found[0].b,
            p_a=None,
            winner=None,
            usage=usage,
            principle=found[0].principle,
            cached=all(c.cached for c in found),
            panel=records,
        )
        error = self._short(len(judged), found, lambda c: c.error)
        if error is not None:
            return base.model_copy(update={"error": error})
        winner, confidence = majority([(c.winner or "tie", m.judge.weight) for m, c in judged])
        total = sum(m.judge.weight for m, _ in judged)
        p_a = sum((c.p_a or 0.0) * m.judge.weight for m, c in judged) / total
        flips = sum(c.flipped for _, c in judged)
        first_wins = sum(c.first_position_wins for _, c in judged) / len(judged)
        self._count(confidence, len(judged))
        return base.model_copy(
            update={
                "p_a": p_a,
                "winner": winner,
                "flipped": 2 * flips > len(judged),  # most members' verdicts flipped
                "first_position_wins": round(first_wins),
                "rationale": judged[0][1].rationale,
                "verdicts": judged[0][1].verdicts,
                "confidence": confidence,
            }
        )

    # -- shared -----------------------------------------------------------------------------

    def _short(self, judged: int, results: Sequence[Any], error_of: Any) -> str | None:
        """Why the item is unjudged (fewer than `quorum` members gave a verdict), or None."""
        if judged >= self.quorum:
            return None
        self.below_quorum += 1
        why = "; ".join(
            f"{m.judge.name}: {error_of(r)}"
            for m, r in zip(self.members, results, strict=True)
            if error_of(r)
        )
        return (
            f"panel: {judged} of {len(self.members)} members gave a verdict, below the quorum "
            f"of {self.quorum} ({why})"
        )

    def _count(self, confidence: float | None, judged: int) -> None:
        if confidence is not None:
            self.confidences.append(confidence)
        if judged < len(self.members):
            self.rescued += 1


def make_panel(
    judges: Sequence[Judge | str], settings: Settings, quorum: int | None = None
) -> Panel:
    """A panel of `judges` (Judge specs, or model names that share `settings`' other options),
    each with its runner; ConfigError for a quorum out of range, before any backend is built."""
    resolve_quorum(quorum, len(judges))
    names = [j for j in judges if isinstance(j, str)]
    shared = iter(judges_from_models(names, settings))
    specs = [j if isinstance(j, Judge) else next(shared) for j in judges]
    return Panel([Member(j, runner_for(j, settings)) for j in specs], quorum)
