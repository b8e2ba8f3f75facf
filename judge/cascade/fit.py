"""`judge calibrate LABELS -m CHEAP --escalate-to STRONG ... --target-agreement A --delta D`:
every judge judges every labelled item (cached: a re-run is free), then the cascade's thresholds
are chosen (judge.cascade.model) and written to cascade.json with a report."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from judge.calibration.agreement import LabelScale, label_scale
from judge.calibration.judgments import Judgment
from judge.calibration.labels import AbsoluteItem, LabelItem, LabelSet, PairItem
from judge.calibration.plots import cost_agreement_figure
from judge.calibration.report import FILES as CALIBRATION_FILES
from judge.calibration.report import write_json, write_judgments
from judge.cascade.model import (
    DELTA_SPLIT,
    Cascade,
    CascadeJudge,
    JudgeRecord,
    curve,
    fit,
    save,
)
from judge.constitution import Constitution
from judge.engine.plan import Plan
from judge.engine.runner import Runner
from judge.io import check_writable, write_text_atomic
from judge.records import Usage
from judge.tasks.calibrate import JudgeSetup, LabelJudge
from judge.tasks.driver import Defaults, Sinks
from judge.tasks.summary import plan_text, plural

FILES = ("cascade.json", "report.json", "report.md", "cascade.png", "judgments.jsonl")
CURVE_TARGETS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def agreed(j: Judgment, scale: LabelScale | None) -> bool | None:
    """Whether a judge's verdict agrees with the human label; None when unjudged."""
    if not j.judged:
        return None
    if isinstance(j.item, PairItem):
        return j.preference == j.item.preference
    if isinstance(j.item, AbsoluteItem) and scale is not None and j.score is not None:
        return scale.predict(j.score) == j.item.label
    return None


def cost_per_item(judgments: Sequence[Judgment]) -> float | None:
    usage = sum((j.usage for j in judgments), Usage())
    if usage.cost_usd is None or not judgments:
        return None
    return usage.cost_usd / len(judgments)


@dataclass
class CascadeFitTask(Defaults):
    constitution: Constitution
    judge_runners: list[Runner]
    judges: list[CascadeJudge]
    labels: LabelSet
    setup: JudgeSetup
    folder: Path
    target: float
    delta: float
    positive_label: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    noun = "labelled items"
    verb = "judged"

    def __post_init__(self) -> None:
        check_writable(str(self.folder), folder=True)  # before any model call
        self.judge_items = LabelJudge(self.constitution, self.setup)
        self.judgments: list[list[Judgment]] = []
        self.cascade: Cascade | None = None
        self.report: dict[str, Any] = {}
        self.scale = (
            label_scale([i.label for i in self.labels.absolutes()], self.positive_label)
            if self.labels.kind == "absolute"
            else None
        )

    @property
    def runners(self) -> Sequence[Runner]:
        return self.judge_runners

    def units(self) -> Iterable[LabelItem]:
        return self.labels.items

    def total(self) -> int | None:
        return len(self.labels.items)

    def dry_run(self) -> str:
        lines = []
        for runner in self.judge_runners:
            plan = Plan()
            for item in self.labels.items:
                for request in self.judge_items.requests(item):
                    plan.add(runner, request)
            what = plural(len(self.labels.items), "labelled item")
            lines.append(plan_text(runner.backend.name, what, plan))
        return "\n".join(lines)

    async def judge(self, item: LabelItem) -> list[Judgment]:
        first = self.judge_runners[0]
        for runner in self.judge_runners:
            runner.join(first)  # one set of stats (progress, --max-cost) for every judge
        return list(
            await asyncio.gather(*(self.judge_items.judge(r, item) for r in self.judge_runners))
        )

    def failed(self, result: list[Judgment]) -> bool:
        return not any(j.judged for j in result)

    def write(self, item: LabelItem, result: list[Judgment], sinks: Sinks) -> None:
        self.judgments.append(result)

    def records(self) -> list[JudgeRecord]:
        out = []
        for k, judge in enumerate(self.judges):
            js = [row[k] for row in self.judgments]
            out.append(
                JudgeRecord(
                    judge,
                    [j.confidence if j.judged else None for j in js],
                    [agreed(j, self.scale) for j in js],
                    cost_per_item(js),
                )
            )
        return out

    def finish(self, sinks: Sinks) -> list[str]:
        c = self.constitution
        records = self.records()
        kind, mode = self.labels.kind, self.setup.mode
        cascade = fit(
            records,
            target=self.target,
            delta=self.delta,
            mode=mode,
            kind=kind,
            constitution={
                "name": c.name,
                "sha256": c.sha256,
                "path": self.meta.get("constitution"),
            },
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        alone = [_alone(r) for r in records]
        points = curve(records, delta=self.delta, mode=mode, kind=kind, targets=CURVE_TARGETS)
        self.report = {
            **cascade.to_json(),
            "met": bool(cascade.trusted),
            "labels": {"path": self.meta.get("labels"), "kind": kind},
            "judges_alone": alone,
            "curve": points,
            "options": self.setup.describe(),
        }
        written = ["report.json", "report.md", "cascade.png", "judgments.jsonl"]
        if cascade.trusted:
            self.cascade = cascade
            save(cascade, self.folder / "cascade.json")
            written.insert(0, "cascade.json")
        for stale in {*FILES, *CALIBRATION_FILES, "calibration.json"} - set(written):
            # An earlier run's file would pass for this run's (a cascade.json above all).
            (self.folder / stale).unlink(missing_ok=True)
        cost_agreement_figure(self.folder / "cascade.png", alone, points, self.target)
        write_json(self.folder / "report.json", self.report)
        write_text_atomic(self.folder / "report.md", markdown(self.report))
        write_judgments(
            self.folder / "judgments.jsonl",
            [j for row in self.judgments for j in row],
            [judge.name for _ in self.judgments for judge in self.judges],
        )
        lines = [f"judge: {line}" for line in stage_lines(self.report)]
        lines.append(f"judge: wrote {', '.join(written)} in {self.folder}")
        return lines

    def failure(self) -> str | None:
        if self.cascade is not None or not self.judgments:
            return None
        return (
            f"no judge's threshold can guarantee an agreement of {self.target:g} with "
            f"probability {1 - self.delta:g} on these {plural(len(self.judgments), 'label')}; "
            "lower --target-agreement, raise --delta, add labels or a stronger judge "
            f"(--escalate-to); see {self.folder / 'report.md'}"
        )


def _alone(r: JudgeRecord) -> dict[str, Any]:
    """A judge asked about every item, trusted on all it judged."""
    judged = [a for a in r.agreed if a is not None]
    return {
        "judge": r.judge.name,
        "agreement": sum(judged) / len(judged) if judged else None,
        "coverage": len(judged) / len(r.agreed) if r.agreed else 0.0,
        "cost_per_item": r.cost_per_item,
    }


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _usd(x: float | None) -> str:
    return "unknown" if x is None else f"${x:.6f}"


def stage_lines(r: dict[str, Any]) -> list[str]:
    out = []
    for s in r["stages"]:
        if s["threshold"] is None:
            out.append(
                f"{s['judge']}: no threshold meets {r['target_agreement']:g} "
                f"(reached by {_pct(s['reach'])} of the items): never trusted, skipped"
            )
            continue
        out.append(
            f"{s['judge']}: trusted at confidence >= {s['threshold']:.4f}: decides "
            f"{_pct(s['coverage'])} of the items with {_pct(s['agreement'])} agreement "
            f"(p = {s['p_value']:.3g} <= {s['delta']:.3g}); reached by {_pct(s['reach'])}"
        )
    out.append(
        f"cascade: coverage {_pct(r['coverage'])}, agreement on decided items "
        f"{_pct(r['expected_agreement'])}, cost per item {_usd(r['cost_per_item'])} "
        f"(target {r['target_agreement']:g}, delta {r['delta']:g})"
    )
    return out


def markdown(r: dict[str, Any]) -> str:
    lines = [
        "# Cascade calibration (Trust or Escalate)",
        "",
        f"Target agreement {r['target_agreement']:g} with probability at least "
        f"{1 - r['delta']:g}, on {r['items']} labelled items ({r['kind']}, {r['mode']} mode). "
        f"Delta split: {DELTA_SPLIT}.",
        "",
        "| judge | threshold | reached by | decides | agreement on decided | p-value | "
        "cost per item it judges |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in r["stages"]:
        t = "never trusted" if s["threshold"] is None else f"{s['threshold']:.4f}"
        p = "n/a" if s["p_value"] is None else f"{s['p_value']:.3g}"
        lines.append(
            f"| {s['judge']} | {t} | {_pct(s['reach'])} | {_pct(s['coverage'])} | "
            f"{_pct(s['agreement'])} | {p} | {_usd(s['cost_per_item'])} |"
        )
    lines += [
        "",
        f"**Cascade**: coverage {_pct(r['coverage'])}, agreement on decided items "
        f"{_pct(r['expected_agreement'])}, expected cost per item {_usd(r['cost_per_item'])}.",
        "",
    ]
    if not r["met"]:
        lines += [
            f"**No judge can be trusted at {r['target_agreement']:g}**: no cascade.json was "
            "written.",
            "",
        ]
    lines += ["## Each judge alone", "", "| judge | agreement | cost per item |", "|---|---|---|"]
    for a in r["judges_alone"]:
        lines.append(f"| {a['judge']} | {_pct(a['agreement'])} | {_usd(a['cost_per_item'])} |")
    lines += [
        "",
        "## Cost against agreement",
        "",
        "The cascade fitted at each target (same labels, same delta):",
        "",
        "| target | coverage | agreement on decided | cost per item |",
        "|---|---|---|---|",
    ]
    for p in r["curve"]:
        lines.append(
            f"| {p['target']:g} | {_pct(p['coverage'])} | {_pct(p['agreement'])} | "
            f"{_usd(p['cost_per_item'])} |"
        )
    lines += ["", "![cost against agreement](cascade.png)", ""]
    return "\n".join(lines)
