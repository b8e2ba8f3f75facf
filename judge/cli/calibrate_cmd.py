"""`judge calibrate`: how far a judge agrees with human labels, and a calibration for it."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import click

from judge.calibration.labels import LabelFields, LabelSet, load_labels, parse_label_map
from judge.cli.common import (
    choice,
    constitution_option,
    exit_with,
    group_options,
    number,
    run_task,
    score_options,
    seed_option,
)
from judge.cli.flags import comparing_of, judges_of, judging_of, say, settings_of
from judge.cli.help import Sectioned
from judge.cli.judge_options import judge_options
from judge.constitution import load
from judge.options import options_of
from judge.tasks.build import calibrate_task
from judge.tasks.calibrate import JudgeSetup

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


@click.command(cls=Sectioned)
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
@choice(
    "--mode",
    ["score", "compare"],
    "score",
    "Pairwise labels: score each response alone and prefer the higher score, or "
    "compare the two in both orders.",
)
@choice(
    "--kind",
    ["auto", "pairwise", "absolute"],
    "auto",
    "Kind of labels (auto: from the fields of the first row).",
)
@number(
    "--tie-margin",
    click.FloatRange(0, 1),
    default=0.0,
    help="Score mode: scores of a and b this close (or equal) are a tie.",
)
@click.option(
    "--positive-label",
    type=float,
    help="Absolute labels: labels >= this count as good (default: the labels above "
    "the middle of the observed range).",
)
@click.option("--label-map", help='Extra preference codes, e.g. "0=a,1=b" or "first=a,same=tie".')
@number("--sample", click.IntRange(1), help="Judge a seeded random sample of this many items.")
@seed_option("Seed for --sample, the DPO display order and the bootstrap.")
@number(
    "--resamples",
    click.IntRange(10),
    default=1000,
    help="Bootstrap resamples for the confidence intervals.",
)
@choice(
    "--principles",
    ["all", "sample"],
    "all",
    "Compare mode: all principles in one call, or one drawn per pair by weight.",
)
@score_options
@group_options(seed=False)
@judge_options
@click.option(
    "--escalate-to",
    "escalate_to",
    multiple=True,
    metavar="MODEL",
    help="Fit a cascade: -m is the first (cheap) judge, each --escalate-to a stronger one after "
    "it; writes cascade.json for --cascade. Needs --target-agreement.",
)
@number(
    "--target-agreement",
    click.FloatRange(0, 1, min_open=True, max_open=True),
    help="Cascade: the agreement with people to guarantee on the items the cascade decides.",
)
@number(
    "--delta",
    click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.1,
    help="Cascade: the guarantee holds with probability at least 1 - delta.",
)
@_label_field_options
def calibrate(**kw: Any) -> None:
    """Measure a judge against human labels in LABELS and fit a calibration.

    LABELS has pairwise rows (prompt, response_a, response_b, preference a/b/tie), DPO-style
    rows (prompt, chosen, rejected) or absolute rows (prompt and response, or text, with a
    numeric label). Writes report.md, report.json, reliability.png, scores.png,
    judgments.jsonl and calibration.json to the output folder.
    """
    constitution = load(kw["constitution_path"])
    labels = _labels(kw)
    setup = options_of(JudgeSetup, kw, score=judging_of(kw), compare=comparing_of(kw))
    meta = {
        "constitution": kw["constitution_path"],
        "labels": kw["labels_path"],
        "sample": kw["sample"],
        "cascade": kw["cascade_path"],
    }
    task = calibrate_task(
        constitution,
        labels,
        settings_of(kw),
        judges_of(kw),
        setup,
        Path(kw["output_dir"]),
        meta=meta,
        positive_label=kw["positive_label"],
        seed=kw["seed"],
        resamples=kw["resamples"],
        escalate_to=kw["escalate_to"],
        target_agreement=kw["target_agreement"],
        delta=kw["delta"],
        warn=say,
    )
    exit_with(run_task(task, {}, quiet=kw["quiet"], dry_run=kw["dry_run"]))


def _labels(kw: dict[str, Any]) -> LabelSet:
    fields = LabelFields(
        **{f"{name}": kw[f"{name}_field"] for name, _, _ in _FIELDS},
        label=kw["label_field"],
        annotators=kw["annotators_field"],
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
