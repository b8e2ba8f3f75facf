"""`judge filter --classifier MODEL_DIR`: filter with a distilled classifier, no model calls."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import click

from judge.cli.common import fields_from
from judge.cli.ray_run import classify_on_ray
from judge.distill import model_dir
from judge.distill.classify import ClassifierFilter, default_processes, describe_counts
from judge.io import RowWriter, open_writer
from judge.tasks.filter import FilterCounts

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
        fields=fields_from(kw),
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


def classify_into(
    job: ClassifierFilter,
    input_path: str,
    kept_path: str | None,
    rejected_path: str | None,
    opener: Callable[[str | None], RowWriter] = open_writer,
) -> FilterCounts:
    """Run the filter into its outputs: all written, or none (aborted) if it fails."""
    kept = opener(kept_path)
    writers = [kept]
    rejected = None
    if rejected_path:
        rejected = opener(rejected_path)
        writers.append(rejected)
    try:
        counts = job.run(input_path, kept, rejected)
    except BaseException:
        for w in writers:
            w.abort()
        raise
    for w in writers:
        w.close()
    return counts
