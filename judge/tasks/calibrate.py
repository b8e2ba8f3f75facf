"""Judging human-labelled items, for `judge calibrate`.

Absolute items (a response or text with a numeric label) get the Scorer's overall score. Pairwise
items are judged in one of two modes:
- `score`: each response is scored on its own; the judge prefers the higher overall score, and
  calls a tie when the two are within `tie_margin`. The calibration reads the margin (a - b).
- `compare`: the Comparer judges the pair in both orders; the calibration reads its p_a.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from judge.backends.base import Request
from judge.calibration import save
from judge.calibration.agreement import label_scale, summarize
from judge.calibration.fitting import Fit, fit
from judge.calibration.judgments import Judgment, preference_from_margin, rationale
from judge.calibration.labels import AbsoluteItem, LabelItem, LabelSet, PairItem
from judge.calibration.report import (
    FILES,
    headline,
    threshold_table,
    write_figures,
    write_json,
    write_judgments,
    write_markdown,
)
from judge.cascade.model import ABSTAINED
from judge.cascade.run import CascadeComparer, CascadeRun, CascadeScorer
from judge.constitution import Constitution
from judge.engine.plan import Plan
from judge.engine.runner import Runner
from judge.errors import ConfigError
from judge.io import check_writable
from judge.judging.comparison import CompareOptions, Comparer
from judge.judging.grouped import make_scorer
from judge.judging.scoring import ScoreOptions
from judge.judging.verifiers import with_verifiers
from judge.panel import report as panel_report
from judge.panel.judges import PanelComparer, PanelScorer
from judge.panel.panel import Panel
from judge.records import Candidate, Usage
from judge.tasks.driver import Defaults, Sinks
from judge.tasks.judges import JudgedBy
from judge.tasks.summary import plan_text, plural

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
        if self.score.rationale != "full":
            out["rationale"] = self.score.rationale
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
        context=item.context,
        reference=item.reference,
        note=None if response.strip() else "empty response",
    )


def asked(item: PairItem) -> str | Candidate | None:
    """What a pair's comparison shows first: the prompt, or (a conversation, a reference) a
    candidate whose sections the judge reads."""
    if item.context is None and item.reference is None:
        return item.prompt
    return candidate(item, item.response_a)


class LabelJudge:
    """Judges the items of a label set through a runner."""

    def __init__(
        self,
        constitution: Constitution,
        setup: JudgeSetup,
        panel: Panel | None = None,
        cascade: CascadeRun | None = None,
    ) -> None:
        if setup.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {setup.mode!r}")
        self.setup = setup
        self.scorer = with_verifiers(constitution, lambda c: make_scorer(c, setup.score))
        self.comparer = Comparer(constitution, setup.compare)
        self.panel = panel
        self._planned = False  # plan() formed the groups across items (--mix-prompts)
        if panel is not None:  # every member judges; the verdicts aggregate
            if setup.score.group:
                raise ConfigError(
                    "grouped scoring ({opt:group}) does not run with a panel of judges yet: "
                    "give one -m"
                )
            self.scorer = with_verifiers(constitution, lambda c: PanelScorer(c, setup.score, panel))
            self.comparer = PanelComparer(constitution, setup.compare, panel)
        elif cascade is not None:  # each verdict from the first confident judge
            self.scorer = with_verifiers(
                constitution, lambda c: CascadeScorer(c, setup.score, cascade)
            )
            self.comparer = CascadeComparer(constitution, setup.compare, cascade)

    def plan(self, items: list[LabelItem]) -> None:
        """--mix-prompts: the groups span items, so they are formed once, before any item is
        judged (without it, a pair's two responses are planned as one group when judged)."""
        if not self.setup.score.mix_prompts or self.setup.mode == "compare":
            return
        every = (c for item in items for c in self._candidates(item))
        for _ in self.scorer.plan(every):
            pass
        self._planned = True

    def requests(self, item: LabelItem) -> Iterator[Request]:
        """The model calls an item needs (for --dry-run)."""
        if isinstance(item, PairItem) and self.setup.mode == "compare":
            yield from self.comparer.requests(
                asked(item), item.response_a, item.response_b, str(item.index)
            )
            return
        # plan: with --group the two responses are one group, one call.
        for c in self._planned_candidates(item):
            yield from [] if c.note else self.scorer.requests(c)

    def _planned_candidates(self, item: LabelItem) -> list[Candidate]:
        both = self._candidates(item)
        return both if self._planned or len(both) == 1 else list(self.scorer.plan(both))

    @staticmethod
    def _candidates(item: LabelItem) -> list[Candidate]:
        if isinstance(item, AbsoluteItem):
            return [candidate(item, item.response)]
        return [candidate(item, item.response_a, 0), candidate(item, item.response_b, 1)]

    async def judge(self, runner: Runner, item: LabelItem) -> Judgment:
        if isinstance(item, AbsoluteItem):
            v = await self.scorer.score(runner, candidate(item, item.response))
            return Judgment.of_verdict(item, v)
        if self.setup.mode == "compare":
            return await self._compare(runner, item)
        ca, cb = self._planned_candidates(item)
        va, vb = await asyncio.gather(self.scorer.score(runner, ca), self.scorer.score(runner, cb))
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
            rationale=f"a: {rationale(va)} | b: {rationale(vb)}",
            panel=None if va.panel is None else {"a": va.panel, "b": vb.panel},
            confidence=_lower(va.confidence, vb.confidence),
        )
        if self.panel is not None and va.panel is not None and vb.panel is not None:
            # Each member's own preference, from its two scores, for Fleiss' kappa.
            self.panel.winners.add(
                [
                    None
                    if a["score"] is None or b["score"] is None
                    else preference_from_margin(a["score"] - b["score"], self.setup.tie_margin)
                    for a, b in zip(va.panel, vb.panel, strict=True)
                ]
            )
        if va.score is not None and vb.score is not None and not errors:
            judgment.signal = va.score - vb.score
            judgment.preference = preference_from_margin(judgment.signal, self.setup.tie_margin)
        return judgment

    async def _compare(self, runner: Runner, item: PairItem) -> Judgment:
        c = await self.comparer.compare(
            runner, asked(item), item.response_a, item.response_b, key=str(item.index)
        )
        return Judgment.of_comparison(item, c)


@dataclass
class CalibrateTask(JudgedBy, Defaults):
    """Judge every labelled item, then measure agreement, fit a calibration and write the
    report: report.md, report.json, the figures, judgments.jsonl and calibration.json in
    `folder` (files an earlier run left there and this one did not write are removed)."""

    constitution: Constitution
    runner: Runner
    labels: LabelSet
    setup: JudgeSetup
    folder: Path
    meta: dict[str, Any] = field(default_factory=dict)  # labels path, constitution path, ...
    positive_label: float | None = None
    seed: int = 0
    resamples: int = 1000
    panel: Panel | None = None  # every member judges; `runner` is then the first member's
    cascade: CascadeRun | None = None  # --cascade: the judges in turn (runner is the first's)
    noun = "labelled items"
    verb = "judged"

    def __post_init__(self) -> None:
        check_writable(str(self.folder), folder=True)  # before any model call
        self.judge_items = LabelJudge(self.constitution, self.setup, self.panel, self.cascade)
        self.judgments: list[Judgment] = []
        self.report: dict[str, Any] = {}

    def units(self) -> Iterable[LabelItem]:
        self.judge_items.plan(self.labels.items)
        return self.labels.items

    def total(self) -> int | None:
        return len(self.labels.items)

    def dry_run(self) -> str:
        if self.cascade is not None:
            todo = (list(self.judge_items.requests(item)) for item in self.labels.items)
            return self.cascade.dry_run(todo, plural(len(self.labels.items), "labelled item"))
        if self.panel is not None:
            requests = self.judge_items.requests
            return panel_report.plan(self.panel, "labelled item", self.units, requests)
        plan = Plan()
        self.judge_items.plan(self.labels.items)
        for item in self.labels.items:
            for request in self.judge_items.requests(item):
                plan.add(self.runner, request)
        what = plural(len(self.labels.items), "labelled item")
        return plan_text(self.runner.backend.name, what, plan)

    async def judge(self, item: LabelItem) -> Judgment:
        return await self.judge_items.judge(self.runner, item)

    def failed(self, judgment: Judgment) -> bool:
        return not judgment.judged

    def write(self, item: LabelItem, judgment: Judgment, sinks: Sinks) -> None:
        self.judgments.append(judgment)

    def finish(self, sinks: Sinks) -> list[str]:
        self.report, written, result = write_calibration(self)
        lines = []
        if self.report["n"]:
            lines.append(f"judge: {headline(self.report)}")
        if result.calibration is None:
            lines.append(f"judge: no calibration fitted: {result.reason}")
        if self.panel is not None:
            lines += panel_report.summary_lines(self.panel)
        lines.append(f"judge: wrote {', '.join(written)} in {self.folder}")
        if self.cascade is not None:
            lines.append(self.cascade.summary())
        return lines

    def failure(self) -> str | None:
        abstained = all((j.error or "").startswith(ABSTAINED) for j in self.judgments)
        if self.report.get("n", 0) == 0 and self.judgments and not abstained:
            where = self.folder / "judgments.jsonl"
            return f"the judge could not judge any item; the reasons are in {where} (field error)"
        return None


def write_calibration(task: CalibrateTask) -> tuple[dict[str, Any], list[str], Fit]:
    """Fit, measure and write every file of a calibration run; (report, files written, fit)."""
    folder, labels, judgments = task.folder, task.labels, task.judgments
    model = task.model
    folder.mkdir(parents=True, exist_ok=True)
    scale = (
        label_scale([i.label for i in labels.absolutes()], task.positive_label)
        if labels.kind == "absolute"
        else None
    )
    result = fit(
        judgments,
        kind=labels.kind,
        mode=task.setup.mode,
        constitution=task.constitution,
        model=model,
        options=task.setup.describe(),
        scale=scale,
        seed=task.seed,
    )
    report = summarize(
        judgments,
        labels,
        mode=task.setup.mode,
        positive_label=task.positive_label,
        seed=task.seed,
        resamples=task.resamples,
    )
    c = task.constitution
    report.update(
        model=model,
        constitution={"name": c.name, "sha256": c.sha256, "path": task.meta.get("constitution")},
        labels={
            "path": task.meta.get("labels"),
            "fields": labels.fields,
            "sample": task.meta.get("sample"),
        },
        options={**task.setup.describe(), "seed": task.seed, "resamples": task.resamples},
        calibration=result.to_json(),
        usage=sum((j.usage for j in judgments), Usage()).model_dump(),
    )
    if task.panel is not None:
        report["panel"] = panel_report.report(task.panel)
    if task.cascade is not None:
        # Agreement and the rest are on the decided items; coverage says how many those are.
        decided = sum(1 for j in judgments if j.judged)
        report.update(
            cascade=task.meta.get("cascade"),
            coverage=decided / len(judgments) if judgments else 0.0,
            target_agreement=task.cascade.cascade.target,
            **task.cascade.tally.to_json(),
        )
    if result.calibration is not None:
        save(result.calibration, folder / "calibration.json")
        report["thresholds"] = threshold_table(result.calibration.thresholds) or None
    write_judgments(folder / "judgments.jsonl", judgments)
    report["figures"] = write_figures(folder, result, judgments, scale)
    write_json(folder / "report.json", report)
    write_markdown(folder / "report.md", report)
    written = ["report.md", "report.json", *report["figures"].values(), "judgments.jsonl"]
    if result.calibration is not None:
        written.append("calibration.json")
    for stale in {*FILES, "calibration.json", "cascade.json", "cascade.png"} - set(written):
        # A file left by an earlier run would pass for this run's (a calibration, above all).
        (folder / stale).unlink(missing_ok=True)
    return report, written, result


def _lower(x: float | None, y: float | None) -> float | None:
    both = [c for c in (x, y) if c is not None]
    return min(both) if both else None
