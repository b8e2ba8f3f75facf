"""`judge calibrate`: how far a judge agrees with human labels, and a calibration for it."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import click

from judge.calibration.agreement import label_scale
from judge.calibration.labels import LabelFields, LabelSet, load_labels, parse_label_map
from judge.cascade.fit import CascadeFitTask
from judge.cascade.run import open_judges
from judge.cli.cascade_args import cascade_from
from judge.cli.common import (
    choice,
    compare_options_from,
    constitution_option,
    exit_with,
    group_options,
    number,
    run_task,
    score_options,
    score_options_from,
    seed_option,
    settings_from,
)
from judge.cli.judge_options import judge_options
from judge.cli.panel_options import panel_from
from judge.constitution import Constitution, load
from judge.engine.settings import Settings, make_runner
from judge.errors import InputError
from judge.panel.members import Judge, load_judges
from judge.tasks.calibrate import CalibrateTask, JudgeSetup

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
    settings = settings_from(kw)
    # Fitting a cascade from a judges file: its members in order (each its own server, key and
    # price), the first the cheapest; not a panel.
    staged: list[Judge] | None = None
    if kw["target_agreement"] is not None and kw.get("judges"):
        if kw["escalate_to"] or kw.get("models"):
            raise click.UsageError(
                "give a cascade's judges with --judges FILE (in order) or with -m and "
                "--escalate-to, not both"
            )
        staged = load_judges(kw.pop("judges"))
        if len(staged) < 2:
            raise click.UsageError("a cascade from --judges FILE needs at least two judges")
    panel = panel_from(kw, settings)
    constitution = load(kw["constitution_path"])
    if kw["escalate_to"] or kw["target_agreement"] is not None:
        if kw["cascade_path"]:
            raise click.UsageError("--cascade uses a cascade; --escalate-to fits one: give one")
        if kw["target_agreement"] is None:
            raise click.UsageError("fitting a cascade needs --target-agreement A (e.g. 0.8)")
        if panel is not None:
            raise click.UsageError(
                "a cascade's judges are -m (once) and each --escalate-to; a panel (-m repeated "
                "or --judges) is not a stage of a cascade"
            )
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
    meta = {
        "constitution": kw["constitution_path"],
        "labels": kw["labels_path"],
        "sample": kw["sample"],
        "cascade": kw["cascade_path"],
    }
    if kw["target_agreement"] is not None:
        models: list[str | Judge] = (
            [settings.model, *kw["escalate_to"]] if staged is None else list(staged)
        )
        fit_task = cascade_fit_task(kw, settings, models, constitution, labels, setup, folder)
        fit_task.meta = meta
        exit_with(run_task(fit_task, {}, quiet=kw["quiet"], dry_run=kw["dry_run"]))
        return
    run = cascade_from(kw, settings, setup.mode, constitution, panel=panel is not None)
    task = CalibrateTask(
        constitution,
        run.runners[0]
        if run
        else panel.runners[0]
        if panel
        else make_runner(settings, require_key=not kw["dry_run"]),
        labels,
        setup,
        folder,
        meta=meta,
        positive_label=kw["positive_label"],
        seed=kw["seed"],
        resamples=kw["resamples"],
        panel=panel,
        cascade=run,
    )
    exit_with(run_task(task, {}, quiet=kw["quiet"], dry_run=kw["dry_run"]))


def cascade_fit_task(
    kw: dict[str, Any],
    settings: Settings,
    models: list[str | Judge],
    constitution: Constitution,
    labels: LabelSet,
    setup: JudgeSetup,
    folder: Path,
) -> CascadeFitTask:
    """The task that judges the labels with every judge and fits the cascade's thresholds."""
    if labels.kind == "pairwise" and setup.mode != "compare":
        raise click.UsageError(
            "a cascade on pairwise labels needs --mode compare (its confidence is per "
            "comparison); for score and filter, fit one on absolute labels"
        )
    if labels.kind == "absolute":
        scale = label_scale([i.label for i in labels.absolutes()], kw["positive_label"])
        if scale.measure in ("continuous", "constant"):
            raise InputError(
                f"the labels are {scale.measure}: a cascade needs labels a verdict can agree "
                "with exactly (binary or a few levels)",
                where=kw["labels_path"],
            )
    if len({m if isinstance(m, str) else m.name for m in models}) < len(models):
        raise click.UsageError("each judge of a cascade once: -m and --escalate-to repeat one")
    runners, judges = open_judges(models, settings, require_key=not kw["dry_run"])
    return CascadeFitTask(
        constitution,
        runners,
        judges,
        labels,
        setup,
        folder,
        target=kw["target_agreement"],
        delta=kw["delta"],
        positive_label=kw["positive_label"],
    )


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
