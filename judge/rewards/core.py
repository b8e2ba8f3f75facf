"""Rewards from verdicts: a candidate's score (or calibrated score, or one principle's), or its
win rate against the other completions of its prompt. Async, on whatever loop calls it; the
reward function (judge.rewards.function) and the reward server (judge.cli.serve_cmd) share it."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from judge.calibration import Calibration
from judge.constitution import Constitution
from judge.errors import ConfigError
from judge.records import Candidate, Usage, Verdict
from judge.rewards.inputs import REFERENCE, candidates
from judge.rewards.verdicts import Verdicts


@dataclass
class Reward:
    """One completion's reward and what it came from (the server's `details`)."""

    reward: float | None
    verdict: Verdict | None = None
    wins: list[float] | None = None  # pairwise: P(this completion is better), one per rival
    error: str | None = None

    def detail(self) -> dict[str, Any]:
        out: dict[str, Any] = {"reward": self.reward}
        if self.verdict is not None:
            v = self.verdict
            out.update(score=v.score, scores=v.scores, rationales=v.rationales, cached=v.cached)
            out["usage"] = v.usage.model_dump()
        if self.wins is not None:
            out["wins"] = self.wins
        out["error"] = self.error if self.verdict is None else self.verdict.error or self.error
        return out


def only(constitution: Constitution, principle: str | None) -> Constitution:
    """The constitution, or one principle of it alone (`principle=`)."""
    if principle is None:
        return constitution
    try:
        p = constitution.principle(principle)
    except KeyError:
        known = ", ".join(q.id for q in constitution.principles)
        raise ConfigError(
            f"no principle `{principle}` in {constitution.name}; known: {known}"
        ) from None
    return constitution.model_copy(update={"principles": [p]})


class RewardCore:
    """Rewards through `verdicts` (which owns the runner, cache and budget)."""

    def __init__(
        self,
        verdicts: Verdicts,
        *,
        group: bool = False,
        pairwise: bool = False,
        calibration: Calibration | None = None,
        reference: str = REFERENCE,
    ) -> None:
        if pairwise and (group or calibration is not None):
            raise ConfigError(
                "pairwise=True rewards win rates from comparisons: not with group=True or a "
                "calibration (which maps scores)"
            )
        self.verdicts = verdicts
        self.group = group
        self.pairwise = pairwise
        self.calibration = calibration
        self.reference = reference

    @property
    def constitution(self) -> Constitution:
        return self.verdicts.constitution

    async def rewards(
        self, prompts: Sequence[Any], completions: Sequence[Any], columns: Mapping[str, Any]
    ) -> list[Reward]:
        """One reward a completion, in order (None where it could not be judged)."""
        cands = candidates(prompts, completions, columns, reference=self.reference)
        if not cands:
            return []
        if self.pairwise:
            return await self._pairwise(cands)
        verdicts = await self.verdicts.score(cands, group=self.group)
        return [Reward(self._value(v), v) for v in verdicts]

    def _value(self, verdict: Verdict) -> float | None:
        if self.calibration is None:
            return verdict.score
        return self.calibration.apply_score(verdict.score)

    async def _pairwise(self, cands: list[Candidate]) -> list[Reward]:
        """Each completion's win rate against the others of its prompt, both orders judged."""
        by_prompt: dict[str, list[int]] = {}
        for i, c in enumerate(cands):
            if c.note is None:
                by_prompt.setdefault(c.prompt or "", []).append(i)
        pairs = [p for members in by_prompt.values() for p in itertools.combinations(members, 2)]
        results = await asyncio.gather(
            *(self.verdicts.compare(cands[a].prompt, cands[a].response, cands[b].response)
              for a, b in pairs)
        )  # fmt: skip
        wins: dict[int, list[float]] = {i: [] for i in range(len(cands))}
        errors: dict[int, str] = {}
        for (a, b), result in zip(pairs, results, strict=True):
            if result.p_a is None:
                errors.setdefault(a, result.error or "not judged")
                errors.setdefault(b, result.error or "not judged")
                continue
            wins[a].append(result.p_a)
            wins[b].append(1.0 - result.p_a)
        out = []
        for i, c in enumerate(cands):
            won = wins[i]
            if won:
                out.append(Reward(sum(won) / len(won), wins=won))
            elif c.note:
                out.append(Reward(None, error=f"not judged: {c.note}"))
            else:
                alone = len(by_prompt.get(c.prompt or "", [])) < 2
                why = "no other completion of its prompt to compare with" if alone else errors[i]
                out.append(Reward(None, wins=[], error=why))
        return out

    def spent(self) -> Usage:
        return self.verdicts.spent()
