"""Judging human-labelled items, for `judge calibrate`.

Absolute items (a response or text with a numeric label) get the Scorer's overall score. Pairwise
items are judged in one of two modes:
- `score`: each response is scored on its own; the judge prefers the higher overall score, and
  calls a tie when the two are within `tie_margin`. The calibration reads the margin (a - b).
- `compare`: the Comparer judges the pair in both orders; the calibration reads its p_a.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from judge.backends.base import Request
from judge.calibration.judgments import Judgment, preference_from_margin
from judge.calibration.labels import AbsoluteItem, LabelItem, LabelSet, PairItem
from judge.constitution import Constitution
from judge.engine.runner import Runner
from judge.judging.comparison import CompareOptions, Comparer
from judge.judging.scoring import ScoreOptions, Scorer
from judge.records import Candidate, Verdict

MODES = ("score", "compare")


@dataclass(frozen=True)
class JudgeSetup:
    mode: str = "score"  # pairwise items: "score" or "compare"
    tie_margin: float = 0.0  # score mode: |score a - score b| <= this is a tie
    score: ScoreOptions = field(default_factory=ScoreOptions)
    compare: CompareOptions = field(default_factory=CompareOptions)

    def describe(self) -> dict[str, Any]:
        """What changes the judge's numbers; saved with the calibration."""
        out: dict[str, Any] = {"mode": self.mode, "per_principle": self.score.per_principle}
        if self.mode == "score":
            out["tie_margin"] = self.tie_margin
        else:
            out["principles"] = self.compare.principles
        return out


def candidate(item: LabelItem, response: str, which: int = 0) -> Candidate:
    return Candidate(
        index=2 * item.index + which,
        row_index=item.index + 1,
        prompt=item.prompt,
        response=response,
        is_document=item.prompt is None,
        note=None if response.strip() else "empty response",
    )


class LabelJudge:
    """Judges the items of a label set through a runner."""

    def __init__(self, constitution: Constitution, setup: JudgeSetup) -> None:
        if setup.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {setup.mode!r}")
        self.setup = setup
        self.scorer = Scorer(constitution, setup.score)
        self.comparer = Comparer(constitution, setup.compare)

    def requests(self, item: LabelItem) -> Iterator[Request]:
        """The model calls an item needs (for --dry-run)."""
        if isinstance(item, AbsoluteItem):
            c = candidate(item, item.response)
            yield from [] if c.note else self.scorer.requests(c)
        elif self.setup.mode == "compare":
            yield from self.comparer.requests(
                item.prompt, item.response_a, item.response_b, str(item.index)
            )
        else:
            for which, text in enumerate((item.response_a, item.response_b)):
                c = candidate(item, text, which)
                yield from [] if c.note else self.scorer.requests(c)

    async def judge(self, runner: Runner, item: LabelItem) -> Judgment:
        if isinstance(item, AbsoluteItem):
            v = await self.scorer.score(runner, candidate(item, item.response))
            return Judgment(
                item,
                error=v.error,
                usage=v.usage,
                cached=v.cached,
                score=v.score,
                scores=v.scores,
                rationale=_rationale(v),
            )
        if self.setup.mode == "compare":
            return await self._compare(runner, item)
        va, vb = await asyncio.gather(
            self.scorer.score(runner, candidate(item, item.response_a, 0)),
            self.scorer.score(runner, candidate(item, item.response_b, 1)),
        )
        errors = [f"{side}: {v.error}" for side, v in (("a", va), ("b", vb)) if v.error]
        judgment = Judgment(
            item,
            error="; ".join(errors) or None,
            usage=va.usage + vb.usage,
            cached=va.cached and vb.cached,
            score_a=va.score,
            score_b=vb.score,
            scores_a=va.scores,
            scores_b=vb.scores,
            rationale=f"a: {_rationale(va)} | b: {_rationale(vb)}",
        )
        if va.score is not None and vb.score is not None and not errors:
            judgment.signal = va.score - vb.score
            judgment.preference = preference_from_margin(judgment.signal, self.setup.tie_margin)
        return judgment

    async def _compare(self, runner: Runner, item: PairItem) -> Judgment:
        c = await self.comparer.compare(
            runner, item.prompt, item.response_a, item.response_b, key=str(item.index)
        )
        return Judgment(
            item,
            error=c.error,
            usage=c.usage,
            preference=c.winner,
            signal=c.p_a,
            compared=True,
            flipped=c.flipped if c.error is None else None,
            first_position_wins=c.first_position_wins if c.error is None else None,
            verdicts=c.verdicts or None,
            rationale=c.rationale,
        )

    async def stream(self, runner: Runner, labels: LabelSet) -> AsyncIterator[Judgment]:
        """Judgments in label-file order, streaming through the runner."""

        async def work(item: LabelItem) -> Judgment:
            return await self.judge(runner, item)

        async for _, judgment in runner.run(
            labels.items, work, total=len(labels.items), failed=lambda j: not j.judged
        ):
            yield judgment


def _rationale(v: Verdict) -> str:
    return " ".join(f"[{pid}] {text}" for pid, text in v.rationales.items() if text)
