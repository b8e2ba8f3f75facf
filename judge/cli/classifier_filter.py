"""`judge filter --classifier MODEL_DIR`: filter with a distilled classifier, no model calls."""

from __future__ import annotations

import os
import time
from typing import Any

import click

from judge.cli.flags import (
    fields_of,
)
from judge.cli.ray_run import classify_on_ray
from judge.distill import model_dir
from judge.distill.classify import (
    ClassifierFilter,
    classify_into,
    default_processes,
    describe_counts,
)

# judge filter's options that belong to judging with a model, and make no sense here.
_JUDGE_ONLY = {
    "min_score": "--min-score",
    "target_precision": "--target-precision",
    "calibration_path": "--calibration",
    "judges": "--judges",
    "cascade_path": "--cascade",
}


def classifier_filter(kw: dict[str, Any]) -> None:
    ctx = click.get_current_context()
    source = ctx.get_parameter_source("constitution_path")
    if kw["constitution_path"] and source == click.core.ParameterSource.COMMANDLINE:
        raise click.UsageError(
            "-c/--constitution and --classifier exclude each other: the classifier decides "
            "alone (its MODEL_DIR/meta.json names the constitution it learnt)"
        )
    wrong = [flag for key, flag in _JUDGE_ONLY.items() if kw.get(key) is not None]
    if ctx.get_parameter_source("model") == click.core.ParameterSource.COMMANDLINE:
        wrong.insert(0, "-m")  # a model or a panel of them: the classifier would ignore them
    if wrong:
        raise click.UsageError(
            f"{', '.join(wrong)} judge with a model; with --classifier give --min-prob P "
            "or --keep-top FRACTION"
        )
    if (kw["min_prob"] is None) == (kw["keep_top"] is None):
        raise click.UsageError("with --classifier give exactly one of --min-prob P, --keep-top F")
    model = model_dir.load(os.path.abspath(kw["classifier_dir"]))
    # Field names not given here are the ones the classifier was distilled with.
    learnt = model.meta.get("text", {}).get("fields", {})
    for part in ("text", "prompt", "response"):
        key = f"{part}_field"
        if ctx.get_parameter_source(key) == click.core.ParameterSource.DEFAULT and part in learnt:
            kw[key] = learnt[part]
    job = ClassifierFilter(
        model,
        min_prob=kw["min_prob"],
        keep_top=kw["keep_top"],
        fields=fields_of(kw),
        processes=kw["processes"] or default_processes(),
    )
    if kw["ray_address"]:
        return classify_on_ray(kw, job)
    start = time.perf_counter()
    counts = classify_into(job, kw["input_path"], kw["output"], kw["rejected_path"])
    seconds = time.perf_counter() - start
    rows = counts.kept + counts.dropped + counts.failed
    click.echo(
        f"judge: classified {rows} candidates in {seconds:.1f}s "
        f"({rows / max(seconds, 1e-9):,.0f}/s, {job.processes} processes), no model calls",
        err=True,
    )
    click.echo(f"judge: {describe_counts(counts)}", err=True)
