"""A panel in the place of one judge: the Scorer and Comparer that score, filter, pairs and
calibrate call, asking every member of the panel instead of one model.

They plan the same requests as one judge (for --dry-run, once per member), and their `score` /
`compare` take the run's runner, which the members' runners join.
"""

from __future__ import annotations

from functools import cached_property
from typing import Generic, TypeVar

from judge.constitution import Constitution
from judge.engine.runner import Runner
from judge.judging.comparison import Ask, CompareOptions, Comparer
from judge.judging.scoring import ScoreOptions, Scorer
from judge.panel.panel import Panel
from judge.records import Candidate, Comparison, Verdict

Opt = TypeVar("Opt")
Judges = TypeVar("Judges")


class StandIn(Generic[Opt, Judges]):
    """Mixed in before a Scorer or a Comparer whose verdicts come from other judges (a panel, a
    cascade): it takes them as a third argument, after the constitution and the options."""

    def __init__(self, constitution: Constitution, options: Opt | None, judges: Judges) -> None:
        # The Scorer's or the Comparer's, next in the method resolution order.
        super().__init__(constitution, options)  # type: ignore[call-arg]
        self.judges = judges


class PanelScorer(StandIn[ScoreOptions, Panel], Scorer):
    @cached_property
    def single(self) -> Scorer:
        """What each member runs."""
        return Scorer(self.constitution, self.options)

    async def score(self, runner: Runner, candidate: Candidate) -> Verdict:
        return await self.judges.score(self.single, runner, candidate)


class PanelComparer(StandIn[CompareOptions, Panel], Comparer):
    async def decide(self, runner: Runner, once: Ask, pair: tuple[int, int]) -> Comparison:
        return await self.judges.compare(runner, once)
