"""`judge score`: one output row per candidate, with every input field and the verdict."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from judge.backends.base import Request
from judge.calibration import Calibration
from judge.cascade.run import CascadeRun, CascadeScorer
from judge.constitution import Constitution
from judge.engine.plan import Plan, plan_all
from judge.engine.runner import Runner
from judge.errors import ConfigError
from judge.io import FieldMap, input_row
from judge.judging.grouped import make_scorer
from judge.judging.scoring import ScoreOptions, Scorer
from judge.judging.verifiers import with_verifiers
from judge.panel import report as panel_report
from judge.panel.judges import PanelScorer
from judge.panel.panel import Panel
from judge.records import Candidate, Verdict
from judge.tasks.driver import Defaults, Sinks
from judge.tasks.judges import JudgedBy
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
    row = input_row(candidate, fields or FieldMap())
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
    if verdict.panel is not None:
        judge_info["panel"] = verdict.panel
    judge_info["confidence"] = verdict.confidence
    if verdict.decided_by is not None:
        judge_info["decided_by"] = verdict.decided_by
    if verdict.group is not None:
        judge_info["group"] = verdict.group.model_dump()
    row["judge"] = judge_info
    return row


@dataclass
class ScoreTask(JudgedBy, Defaults):
    """Judge every candidate under a constitution; one row each, in input order."""

    constitution: Constitution
    runner: Runner
    candidates: Callable[[], Iterable[Candidate]]  # called once per pass (dry run, run)
    options: ScoreOptions = field(default_factory=ScoreOptions)
    fields: FieldMap = field(default_factory=FieldMap)
    calibration: Calibration | None = None  # adds calibrated_score to every row
    count: int | None = None  # candidates, for progress
    keep: bool = False  # keep every Scored in `results` (the Python API)
    panel: Panel | None = None  # every member judges; `runner` is then the first member's
    cascade: CascadeRun | None = None  # --cascade: the judges in turn (runner is the first's)
    noun = "candidates"
    verb = "scored"
    results: list[Scored] = field(default_factory=list)
    no_reference: int = 0  # rows judged without the principles that require a reference

    def __post_init__(self) -> None:
        if self.options.group and (self.panel is not None or self.cascade is not None):
            raise ConfigError(
                "grouped scoring ({opt:group}) does not run with a panel of judges or a cascade "
                "yet: give one {opt:model} and no {opt:cascade}"
            )
        self.scorer = with_verifiers(self.constitution, self._scorer)
        self.mode = (
            "grouped"
            if self.options.group
            else "per-principle"
            if self.options.per_principle
            else "all-principles"
        )

    def _scorer(self, constitution: Constitution) -> Scorer:
        """The scorer of the model-judged principles."""
        if self.panel is not None:
            return PanelScorer(constitution, self.options, self.panel)
        if self.cascade is not None:
            return CascadeScorer(constitution, self.options, self.cascade)
        return make_scorer(constitution, self.options)

    def units(self) -> Iterable[Candidate]:
        return self.scorer.plan(self.candidates())

    def dry_run(self) -> str:
        """One call a candidate, or one a group with --group (the first member plans it)."""
        if self.cascade is not None:
            cands = list(self.candidates())
            todo = (self.requests(c) for c in cands)
            return self.cascade.dry_run(todo, plural(len(cands), "candidate"))
        if self.panel is not None:
            return panel_report.plan(self.panel, "candidate", self.candidates, self.requests)
        plan, n = plan_all(self.scorer.plan(self.candidates()), self.plan_one)
        return plan_text(self.runner.backend.name, plural(n, "candidate"), plan)

    def plan_one(self, plan: Plan, cand: Candidate) -> None:
        for request in self.requests(cand):
            plan.add(self.runner, request)

    def requests(self, cand: Candidate) -> list[Request]:
        """The calls a candidate needs of each judge."""
        return [] if cand.note else self.scorer.requests(cand)

    async def judge(self, candidate: Candidate) -> Verdict:
        return await self.scorer.score(self.runner, candidate)

    def failed(self, verdict: Verdict) -> bool:
        return verdict.score is None

    def scored(self, candidate: Candidate, verdict: Verdict) -> Scored:
        row = output_row(
            candidate,
            verdict,
            self.constitution,
            verdict.decided_by or self.model,
            fields=self.fields,
            truncated=self.scorer.truncated(candidate),
            mode=self.mode,
        )
        if self.calibration is not None:
            row["calibrated_score"] = self.calibration.apply_score(verdict.score)
        if not candidate.reference and not candidate.note and self.constitution.needs_reference():
            self.no_reference += 1
        return Scored(candidate, verdict, row)

    def write(self, candidate: Candidate, verdict: Verdict, sinks: Sinks) -> None:
        scored = self.scored(candidate, verdict)
        if self.keep:
            self.results.append(scored)
        sinks[OUT].write(scored.row)

    def finish(self, sinks: Sinks) -> list[str]:
        lines = reference_lines(self.constitution, self.no_reference)
        if self.cascade is not None:
            return [self.cascade.summary(), *lines]
        return [*lines, *([] if self.panel is None else panel_report.summary_lines(self.panel))]


def reference_lines(constitution: Constitution, skipped: int) -> list[str]:
    """The summary's line on the principles that `requires: reference` skipped."""
    needs = constitution.needs_reference()
    if not needs or not skipped:
        return []
    ids = ", ".join(p.id for p in needs)
    return [
        f"judge: {plural(skipped, 'row')} without a reference: not judged under {ids} "
        "(requires: reference)"
    ]
