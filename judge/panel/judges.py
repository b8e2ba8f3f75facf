"""A panel in the place of one judge: the Scorer and Comparer that score, filter, pairs and
calibrate call, asking every member of the panel instead of one model.

They plan the same requests as one judge (for --dry-run, once per member), and their `score` /
`compare` take the run's runner, which the members' runners join.
"""

from __future__ import annotations

from judge.constitution import Constitution
from judge.engine.runner import Runner
from judge.judging.comparison import Ask, CompareOptions, Comparer
from judge.judging.scoring import ScoreOptions, Scorer
from judge.panel.panel import Panel
from judge.records import Candidate, Comparison, Verdict


class PanelScorer(Scorer):
    def __init__(
        self, constitution: Constitution, options: ScoreOptions | None, panel: Panel
    ) -> None:
        super().__init__(constitution, options)
        self.panel = panel
        self.single = Scorer(constitution, options)  # what each member runs

    async def score(self, runner: Runner, candidate: Candidate) -> Verdict:
        return await self.panel.score(self.single, runner, candidate)


class PanelComparer(Comparer):
    def __init__(
        self, constitution: Constitution, options: CompareOptions | None, panel: Panel
    ) -> None:
        super().__init__(constitution, options)
        self.panel = panel

    async def decide(self, runner: Runner, once: Ask, pair: tuple[int, int]) -> Comparison:
        return await self.panel.compare(runner, once)
