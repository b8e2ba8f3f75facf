"""What online rewards need of the judge: verdicts on a list of candidates, and comparisons.

`Verdicts` is the narrow interface the reward function and the reward server call; `Judging`
implements it with one runner kept for its lifetime on a judge.Session, whose pool owns the
connections, the cache, the budget and the rate limits: every step and every request shares them,
and the Session, not the reward, closes them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from judge.constitution import Constitution
from judge.engine.runner import Runner
from judge.engine.settings import make_runner
from judge.engine.stats import BUDGET
from judge.errors import ConfigError
from judge.judging.comparison import CompareOptions, Comparer
from judge.judging.grouped import make_scorer
from judge.judging.scoring import ScoreOptions, Scorer
from judge.judging.verifiers import with_verifiers
from judge.records import Candidate, Comparison, Usage, Verdict
from judge.session import Session


class Verdicts(Protocol):
    """Judge candidates and pairs; the reward function knows nothing else of the judge."""

    constitution: Constitution

    async def score(self, candidates: Sequence[Candidate], *, group: bool) -> list[Verdict]:
        """One verdict a candidate, in order; `group`: a prompt's candidates in one call."""
        ...

    async def compare(self, prompt: str | None, a: str, b: str) -> Comparison:
        """a against b, both orders."""
        ...

    def spent(self) -> Usage:
        """What every call so far cost."""
        ...

    def budget_reached(self) -> bool:
        """Whether --max-cost stopped a call."""
        ...

    async def aclose(self) -> None: ...


@dataclass
class Judging:
    """Verdicts through one runner on `session` (open), for the lifetime of this object."""

    constitution: Constitution
    session: Session
    # None: the model's default (ScoreOptions.for_model: short rationales on the embedded one)
    score_options: ScoreOptions | None = None
    compare_options: CompareOptions = field(default_factory=CompareOptions)
    group_size: int = 64  # group=True: at most this many candidates a call

    def __post_init__(self) -> None:
        # the runner borrows the Session's backends, cache, limits and budget
        self.runner: Runner = make_runner(self.session.shared_settings())
        if self.runner.config.max_cost is not None and self.runner.price is None:
            raise ConfigError(
                f"{{opt:max_cost}} needs the price of {self.runner.backend.name}, which is "
                "unknown: give it with {opt:prices} FILE, or drop {opt:max_cost}"
            )
        options = self.score_options or ScoreOptions.for_model(self.session.settings.model)
        self.score_options = options
        self.scorer = self._scorer(options)
        grouped = dataclasses.replace(options, group=self.group_size)
        self.grouped = self._scorer(grouped)
        # compare mode asks the model about the model-judged principles (verifiers are code)
        judged = self.constitution.model_copy(update={"principles": self.constitution.judged()})
        self.comparer = Comparer(judged, self.compare_options)
        self._ids = itertools.count()  # candidate indexes: unique across concurrent requests

    def _scorer(self, options: ScoreOptions) -> Scorer:
        return with_verifiers(self.constitution, lambda c: make_scorer(c, options))

    async def score(self, candidates: Sequence[Candidate], *, group: bool) -> list[Verdict]:
        scorer = self.grouped if group else self.scorer
        mine = [c.model_copy(update={"index": next(self._ids)}) for c in candidates]
        if group:  # a prompt's candidates next to each other: the grouped scorer's runs
            order = sorted(range(len(mine)), key=lambda i: (mine[i].prompt or "", i))
            planned = list(scorer.plan([mine[i] for i in order]))
            by_index = {c.index: c for c in planned}
            mine = [by_index[c.index] for c in mine]
        return list(await asyncio.gather(*(scorer.score(self.runner, c) for c in mine)))

    async def compare(self, prompt: str | None, a: str, b: str) -> Comparison:
        if not self.comparer.constitution.principles:
            raise ConfigError(
                f"pairwise rewards compare under the principles a model judges; every principle "
                f"of {self.constitution.name} is a verifier: drop pairwise"
            )
        return await self.comparer.compare(self.runner, prompt, a, b)

    def spent(self) -> Usage:
        return self.runner.stats.spent

    def budget_reached(self) -> bool:
        stats = self.runner.stats
        return stats.budget_hit or stats.failures.get(BUDGET, 0) > 0

    async def aclose(self) -> None:
        """End the runner's cache claims (the Session closes what it lent)."""
        await self.runner.aclose()
