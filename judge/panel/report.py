"""What a panel did, in words (the run's summary, --dry-run) and as JSON (calibrate's report):
inter-judge agreement, confidence, and calls and cost per member."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from statistics import mean
from typing import Any, TypeVar

import numpy as np

from judge.backends.base import Request
from judge.engine.plan import Estimate, Plan, plan_all
from judge.engine.runner import Runner
from judge.panel.agreement import fleiss_kappa, krippendorff_alpha
from judge.panel.panel import Panel
from judge.tasks.summary import dollars, human_tokens, plan_text, plural

T = TypeVar("T")


def describe(panel: Panel) -> str:
    return f"panel of {len(panel.members)} (quorum {panel.quorum})"


def plan(
    panel: Panel,
    noun: str,
    units: Callable[[], Iterable[T]],
    requests: Callable[[T], Iterable[Request]],
) -> str:
    """The --dry-run lines: the panel's total, then each member's plan (every member makes
    every call); `requests(unit)` are the calls a unit needs of one judge."""
    total = Plan()
    lines = []
    n = 0
    for m in panel.members:

        def add(p: Plan, unit: T, runner: Runner = m.runner) -> None:
            for request in requests(unit):
                p.add(runner, request)

        p, n = plan_all(units(), add)
        line = plan_text(f"member {m.judge.name}", plural(n, noun), p)
        lines.append("judge:   " + line.removeprefix("judge: "))
        total = total + p
    return Estimate("\n".join([plan_text(panel.name, plural(n, noun), total), *lines]), total)


def agreement(panel: Panel) -> dict[str, Any]:
    """Inter-judge agreement of this run's items (empty with fewer than two members)."""
    if len(panel.members) < 2:
        return {}
    out: dict[str, Any] = {}
    if len(panel.overall):
        overall = panel.overall.matrix()
        out["krippendorff_alpha"] = {
            "overall": krippendorff_alpha(overall, "interval"),
            "level": "interval (overall score in [0, 1]); ordinal per principle",
            "principles": {
                pid: krippendorff_alpha(r.matrix(), "ordinal")
                for pid, r in panel.principles.items()
            },
            "items": int(((~np.isnan(overall)).sum(axis=0) >= 2).sum()),
        }
    if len(panel.winners):
        counts = panel.winners.counts()
        out["fleiss_kappa"] = {"winners": fleiss_kappa(counts), "items": int(counts.shape[0])}
    return out


def report(panel: Panel) -> dict[str, Any]:
    """The panel section of calibrate's report.json."""
    return {
        "members": [
            {
                "name": m.judge.name,
                "model": m.runner.backend.name,
                "weight": m.judge.weight,
                **_tally(panel, m.judge.name),
            }
            for m in panel.members
        ],
        "quorum": panel.quorum,
        "agreement": agreement(panel),
        "mean_confidence": mean(panel.confidences) if panel.confidences else None,
        "below_quorum": panel.below_quorum,
        "judged_without_every_member": panel.rescued,
    }


def _tally(panel: Panel, name: str) -> dict[str, Any]:
    t = panel.tally[name]
    return {
        "verdicts": t.verdicts,
        "errors": t.errors,
        "calls": t.calls,
        "cached_calls": t.cached_calls,
        "usage": t.spent.model_dump(),
        "first_error": t.example,
    }


def summary_lines(panel: Panel) -> list[str]:
    """The panel's lines in a run's summary."""
    lines = []
    agree = agreement(panel)
    parts = [f"judge: {describe(panel)}"]
    alpha = agree.get("krippendorff_alpha")
    if alpha is not None:
        parts.append(
            f"inter-judge agreement: Krippendorff's alpha {_num(alpha['overall'])} (interval, "
            f"overall score, {plural(alpha['items'], 'item')} judged by two members or more)"
        )
    kappa = agree.get("fleiss_kappa")
    if kappa is not None:
        parts.append(
            f"Fleiss' kappa {_num(kappa['winners'])} (winners, "
            f"{plural(kappa['items'], 'comparison')} every member judged)"
        )
    if panel.confidences:
        parts.append(f"mean confidence {mean(panel.confidences):.2f}")
    lines.append("; ".join(parts))
    for m in panel.members:
        t = panel.tally[m.judge.name]
        lines.append(
            f"judge:   member {m.judge.name} (weight {m.judge.weight:g}): "
            f"{t.verdicts} verdicts, {t.errors} without one; {plural(t.calls, 'call')}, "
            f"{t.cached_calls} from cache; {human_tokens(t.spent.input_tokens)} in / "
            f"{human_tokens(t.spent.output_tokens)} out tokens; {dollars(t.spent.cost_usd)}"
            + (f" (e.g. {t.example[:200]})" if t.example else "")
        )
    if panel.rescued:
        lines.append(
            f"judge: {plural(panel.rescued, 'item')} got the panel's verdict without every "
            f"member (quorum {panel.quorum}); run the same command again to ask the missing "
            "members (verdicts already made come from the cache)"
        )
    if panel.below_quorum:
        lines.append(
            f"judge: {plural(panel.below_quorum, 'item')} not judged: fewer than "
            f"{panel.quorum} members gave a verdict (the rows' judge.panel says why)"
        )
    return lines


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def markdown(r: dict[str, Any]) -> list[str]:
    """The Panel section of calibrate's report.md, from report()'s dict."""
    agree = r.get("agreement", {})
    lines = ["", "## Panel", ""]
    lines.append(
        f"{len(r['members'])} members, quorum {r['quorum']}; "
        f"{r['below_quorum']} items below the quorum, {r['judged_without_every_member']} judged "
        "without every member. Mean confidence (agreement among members): "
        f"{_num(r.get('mean_confidence'))}."
    )
    alpha = agree.get("krippendorff_alpha")
    if alpha:
        principles = ", ".join(f"{k} {_num(v)}" for k, v in alpha["principles"].items())
        lines += [
            "",
            f"- Krippendorff's alpha among members: {_num(alpha['overall'])} (interval, "
            f"overall score, {alpha['items']} items); per principle (ordinal): {principles}",
        ]
    kappa = agree.get("fleiss_kappa")
    if kappa:
        lines.append(
            f"- Fleiss' kappa among members: {_num(kappa['winners'])} (winners a/b/tie, "
            f"{kappa['items']} comparisons every member judged)"
        )
    lines += ["", "| member | model | weight | verdicts | errors | calls | cached | cost |"]
    lines.append("|---|---|---|---|---|---|---|---|")
    for m in r["members"]:
        lines.append(
            f"| {m['name']} | `{m['model']}` | {m['weight']:g} | {m['verdicts']} | "
            f"{m['errors']} | {m['calls']} | {m['cached_calls']} | "
            f"{dollars(m['usage']['cost_usd'])} |"
        )
    return lines
