"""`judge score`: one output row per candidate, with every input field and the verdict."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from judge.calibration import Calibration
from judge.constitution import Constitution
from judge.engine.plan import Plan, plan_all
from judge.engine.runner import Runner
from judge.io import FieldMap
from judge.judging.scoring import ScoreOptions, Scorer
from judge.records import Candidate, Verdict
from judge.tasks.driver import Defaults, Sinks
from judge.tasks.summary import plan_text, plural

OUT = "out"  # the name of the rows' output among a task's sinks


@dataclass
class Scored:
    """One judged candidate: the input, the verdict, and the output row."""

    candidate: Candidate
    verdict: Verdict
    row: dict[str, Any]


def output_row(
    candidate: Candidate,
    verdict: Verdict,
    constitution: Constitution,
    model: str,
    *,
    fields: FieldMap | None = None,
    truncated: bool = False,
    mode: str = "all-principles",
) -> dict[str, Any]:
    """The contract's row: every input field, then `score`, `scores`, `rationales`, `judge`."""
    fields = fields or FieldMap()
    row = dict(candidate.row)
    if candidate.response_index is not None:
        # One row per response: the list becomes this row's response and its position.
        row.pop(fields.responses, None)
        row[fields.response] = candidate.response
        row["response_index"] = candidate.response_index
    row["score"] = verdict.score
    row["scores"] = verdict.scores
    row["rationales"] = verdict.rationales
    judge_info: dict[str, Any] = {
        "model": model,
        "constitution": {"name": constitution.name, "sha256": constitution.sha256},
        "mode": mode,
        "usage": verdict.usage.model_dump(),
        "cached": verdict.cached,
        "error": verdict.error,
    }
    if truncated:
        judge_info["truncated"] = True
    if verdict.expected_scores:
        judge_info["expected_scores"] = verdict.expected_scores
    row["judge"] = judge_info
    return row


@dataclass
class ScoreTask(Defaults):
    """Judge every candidate under a constitution; one row each, in input order."""

    constitution: Constitution
    runner: Runner
    candidates: Callable[[], Iterable[Candidate]]  # called once per pass (dry run, run)
    options: ScoreOptions = field(default_factory=ScoreOptions)
    fields: FieldMap = field(default_factory=FieldMap)
    calibration: Calibration | None = None  # adds calibrated_score to every row
    count: int | None = None  # candidates, for progress
    keep: bool = False  # keep every Scored in `results` (the Python API)
    noun = "candidates"
    verb = "scored"
    results: list[Scored] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.scorer = Scorer(self.constitution, self.options)
        self.mode = "per-principle" if self.options.per_principle else "all-principles"

    @property
    def runners(self) -> Sequence[Runner]:
        return [self.runner]

    def units(self) -> Iterable[Candidate]:
        return self.candidates()

    def dry_run(self) -> str:
        plan, n = plan_all(self.candidates(), self.plan_one)
        return plan_text(self.runner.backend.name, plural(n, "candidate"), plan)

    def plan_one(self, plan: Plan, cand: Candidate) -> None:
        if not cand.note:
            for request in self.scorer.requests(cand):
                plan.add(self.runner, request)

    async def judge(self, candidate: Candidate) -> Verdict:
        return await self.scorer.score(self.runner, candidate)

    def failed(self, verdict: Verdict) -> bool:
        return verdict.score is None

    def scored(self, candidate: Candidate, verdict: Verdict) -> Scored:
        row = output_row(
            candidate,
            verdict,
            self.constitution,
            self.runner.backend.name,
            fields=self.fields,
            truncated=self.scorer.truncated(candidate),
            mode=self.mode,
        )
        if self.calibration is not None:
            row["calibrated_score"] = self.calibration.apply_score(verdict.score)
        return Scored(candidate, verdict, row)

    def write(self, candidate: Candidate, verdict: Verdict, sinks: Sinks) -> None:
        scored = self.scored(candidate, verdict)
        if self.keep:
            self.results.append(scored)
        sinks[OUT].write(scored.row)
