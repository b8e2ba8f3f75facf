"""`judge calibrate`: how far a judge agrees with human labels, and a calibration for it."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import click

from judge.api import make_runner
from judge.calibration import save
from judge.calibration.agreement import label_scale, summarize
from judge.calibration.fitting import fit
from judge.calibration.judgments import Judgment
from judge.calibration.labels import LabelFields, LabelSet, load_labels, parse_label_map
from judge.calibration.report import (
    FILES,
    headline,
    threshold_table,
    write_figures,
    write_json,
    write_judgments,
    write_markdown,
)
from judge.cli.common import (
    Progress,
    compare_options_from,
    constitution_option,
    model_options,
    plan_text,
    plural,
    score_options,
    score_options_from,
    settings_from,
    summary,
)
from judge.constitution import load
from judge.engine.plan import Plan
from judge.errors import InputError
from judge.records import Usage
from judge.tasks.calibrate import JudgeSetup, LabelJudge

_FIELDS = (
    ("prompt", "prompt", "The prompt (optional for absolute labels)."),
    ("response_a", "response_a", "Pairwise: the first response."),
    ("response_b", "response_b", "Pairwise: the second response."),
    ("chosen", "chosen", "DPO-style: the preferred response."),
    ("rejected", "rejected", "DPO-style: the other response."),
    ("response", "response", "Absolute: the response."),
    ("text", "text", "Absolute: a document without prompt."),
)


def _label_field_options(func: Any) -> Any:
    for name, default, text in reversed(_FIELDS):
        flag = f"--{name.replace('_', '-')}-field"
        func = click.option(flag, f"{name}_field", default=default, show_default=True, help=text)(
            func
        )
    func = click.option(
        "--annotators-field",
        help="Field with one label per annotator (a list); a dotted name reaches into objects, "
        "e.g. meta.votes. Default: annotators, votes, meta.votes or meta.annotators if a list.",
    )(func)
    return click.option(
        "--label-field",
        help="Field with the human label. Default: preference, human_preference, winner or "
        "label for pairs; label, human_score, human_label or rating for absolute labels.",
    )(func)


@click.command()
@click.argument("labels_path", metavar="LABELS")
@constitution_option
@click.option(
    "-o",
    "--output",
    "output_dir",
    default="calibration",
    show_default=True,
    help="Folder for report.md, report.json, the PNG figures, judgments.jsonl and "
    "calibration.json.",
)
@click.option(
    "--mode",
    type=click.Choice(["score", "compare"]),
    default="score",
    show_default=True,
    help="Pairwise labels: score each response alone and prefer the higher score, or "
    "compare the two in both orders.",
)
@click.option(
    "--kind",
    type=click.Choice(["auto", "pairwise", "absolute"]),
    default="auto",
    show_default=True,
    help="Kind of labels (auto: from the fields of the first row).",
)
@click.option(
    "--tie-margin",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Score mode: scores of a and b this close (or equal) are a tie.",
)
@click.option(
    "--positive-label",
    type=float,
    help="Absolute labels: labels >= this count as good (default: the labels above "
    "the middle of the observed range).",
)
@click.option("--label-map", help='Extra preference codes, e.g. "0=a,1=b" or "first=a,same=tie".')
@click.option(
    "--sample", type=click.IntRange(1), help="Judge a seeded random sample of this many items."
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed for --sample, the DPO display order and the bootstrap.",
)
@click.option(
    "--resamples",
    type=click.IntRange(10),
    default=1000,
    show_default=True,
    help="Bootstrap resamples for the confidence intervals.",
)
@click.option(
    "--principles",
    type=click.Choice(["all", "sample"]),
    default="all",
    show_default=True,
    help="Compare mode: all principles in one call, or one drawn per pair by weight.",
)
@score_options
@model_options
@_label_field_options
def calibrate(**kw: Any) -> None:
    """Measure a judge against human labels in LABELS and fit a calibration.

    LABELS has pairwise rows (prompt, response_a, response_b, preference a/b/tie), DPO-style
    rows (prompt, chosen, rejected) or absolute rows (prompt and response, or text, with a
    numeric label). Writes report.md, report.json, reliability.png, scores.png,
    judgments.jsonl and calibration.json to the output folder.
    """
    settings = settings_from(kw)
    constitution = load(kw["constitution_path"])
    labels = _labels(kw)
    if labels.kind == "absolute" and kw["mode"] == "compare":
        raise click.UsageError("--mode compare needs pairwise labels; these are absolute")
    setup = JudgeSetup(
        mode=kw["mode"],
        tie_margin=kw["tie_margin"],
        score=score_options_from(kw),
        compare=compare_options_from(kw),
    )
    folder = Path(kw["output_dir"])
    if folder.exists() and not folder.is_dir():
        raise InputError("is a file; give -o a folder for the report", where=str(folder))
    judge = LabelJudge(constitution, setup)
    runner = make_runner(settings, on_progress=(progress := Progress(kw["quiet"], "item")))
    if kw["dry_run"]:
        plan = Plan()
        for item in labels.items:
            for request in judge.requests(item):
                plan.add(runner, request)
        click.echo(
            plan_text(runner.backend.name, plural(len(labels.items), "labelled item"), plan),
            err=True,
        )
        return

    async def go() -> list[Judgment]:
        try:
            return [j async for j in judge.stream(runner, labels)]
        finally:
            await runner.backend.aclose()

    try:
        judgments = asyncio.run(go())
    finally:
        progress.close()
    stats = runner.stats
    click.echo(summary("judged", stats, "labelled item"), err=True)

    folder.mkdir(parents=True, exist_ok=True)
    scale = (
        label_scale([i.label for i in labels.absolutes()], kw["positive_label"])
        if labels.kind == "absolute"
        else None
    )
    result = fit(
        judgments,
        kind=labels.kind,
        mode=kw["mode"],
        constitution=constitution,
        model=runner.backend.name,
        options=setup.describe(),
        scale=scale,
        seed=kw["seed"],
    )
    report = summarize(
        judgments,
        labels,
        mode=kw["mode"],
        positive_label=kw["positive_label"],
        seed=kw["seed"],
        resamples=kw["resamples"],
    )
    report.update(
        model=runner.backend.name,
        constitution={
            "name": constitution.name,
            "sha256": constitution.sha256,
            "path": kw["constitution_path"],
        },
        labels={"path": kw["labels_path"], "fields": labels.fields, "sample": kw["sample"]},
        options={**setup.describe(), "seed": kw["seed"], "resamples": kw["resamples"]},
        calibration=result.to_json(),
        usage=sum((j.usage for j in judgments), Usage()).model_dump(),
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
    for stale in {*FILES, "calibration.json"} - set(written):
        # A file left by an earlier run would pass for this run's (a calibration, above all).
        (folder / stale).unlink(missing_ok=True)
    if report["n"]:
        click.echo(f"judge: {headline(report)}", err=True)
    if result.calibration is None:
        click.echo(f"judge: no calibration fitted: {result.reason}", err=True)
    click.echo(f"judge: wrote {', '.join(written)} in {folder}", err=True)
    if stats.budget_hit:
        click.echo(
            f"judge: the --max-cost budget was reached; {plural(stats.failed, 'item')} "
            f"{'is' if stats.failed == 1 else 'are'} not judged and "
            "left out of the figures. Raise --max-cost and run the same command again: verdicts "
            "already paid for come from the cache.",
            err=True,
        )
        raise click.exceptions.Exit(1)
    if report["n"] == 0:
        click.echo(
            f"judge: error: the judge could not judge any item; the reasons are in "
            f"{folder / 'judgments.jsonl'} (field error)",
            err=True,
        )
        raise click.exceptions.Exit(1)


def _labels(kw: dict[str, Any]) -> LabelSet:
    fields = LabelFields(
        **{f"{name}": kw.pop(f"{name}_field") for name, _, _ in _FIELDS},
        label=kw.pop("label_field"),
        annotators=kw.pop("annotators_field"),
    )
    kind = None if kw["kind"] == "auto" else kw["kind"]
    labels = load_labels(
        kw["labels_path"],
        fields,
        kind=kind,
        label_map=parse_label_map(kw["label_map"]),
        seed=kw["seed"],
    )
    if kw["sample"] and kw["sample"] < len(labels.items):
        chosen = sorted(random.Random(kw["seed"]).sample(range(len(labels.items)), kw["sample"]))
        labels.items = [labels.items[i] for i in chosen]
    return labels
