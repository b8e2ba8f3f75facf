"""`judge filter`: keep the candidates (documents or responses) a judge scores high."""

from __future__ import annotations

from typing import Any

import click

from judge.cli.classifier_filter import classifier_filter
from judge.cli.common import (
    calibration_options,
    constitution_flag,
    exit_with,
    field_options,
    group_options,
    input_command,
    number,
    output_option,
    rule_options,
    run_task,
    score_options,
)
from judge.cli.flags import say, score_job
from judge.cli.judge_options import judge_options
from judge.cli.ray_run import judge_on_ray, ray_option
from judge.tasks.build import filter_rule
from judge.tasks.filter import REJECTED, FilterTask
from judge.tasks.score import OUT


@input_command("filter")
@constitution_flag(
    "Constitution file (check one with `judge constitution check`); not with --classifier.",
    required=False,
)
@click.option(
    "--classifier",
    "classifier_dir",
    type=click.Path(file_okay=False),
    help="Filter with a classifier from judge distill (MODEL_DIR) instead of a judge: no model "
    "calls; rows get classifier_prob; give --min-prob P or --keep-top F.",
)
@number(
    "--min-prob",
    click.FloatRange(0, 1),
    help="With --classifier: keep rows whose P(keep) is >= this.",
)
@number(
    "--processes",
    click.IntRange(1),
    help="With --classifier: processes running the classifier (default: one a core).",
)
@output_option(
    "Kept rows: .jsonl, .parquet, .csv or a dataset folder. Default: JSON Lines on stdout."
)
@rule_options("Keep")
@calibration_options(
    "calibration.json from judge calibrate (absolute labels): adds "
    "calibrated_score to each row; needed by --target-precision."
)
@click.option(
    "--rejected", "rejected_path", help="Also write the dropped and the unjudged rows here."
)
@score_options
@group_options(seed=True)
@judge_options
@field_options
@ray_option
def filter_(**kw: Any) -> None:
    """Keep the rows of INPUT that a judge scores high under a constitution.

    Rows are documents (`text`) or prompt + response(s). Kept rows carry their scores; kept,
    dropped and failed counts and the tokens spent go to stderr. Rows the judge could not judge
    are never kept. With --classifier MODEL_DIR (from judge distill) a fastText classifier
    decides instead, at CPU speed, and kept rows carry classifier_prob.
    """
    if kw["classifier_dir"]:
        return classifier_filter(kw)
    if kw["min_prob"] is not None or kw["processes"] is not None:
        raise click.UsageError("--min-prob and --processes go with --classifier MODEL_DIR")
    if not kw["constitution_path"]:
        raise click.UsageError(
            "give -c/--constitution FILE to filter with a judge, or --classifier MODEL_DIR "
            "(from judge distill) to filter with a classifier"
        )
    job = score_job(kw, FilterTask)
    rule = filter_rule(
        kw["min_score"], kw["keep_top"], kw["target_precision"], job.calibration, say
    )
    out = kw["output"]
    if kw["ray_address"]:
        job.extra = {"rule": rule}
        return judge_on_ray(kw, job)
    job.extra = {"rule": rule, "output": out}
    task = job.task(kw["input_path"], say)
    outputs = {OUT: out, **({REJECTED: kw["rejected_path"]} if kw["rejected_path"] else {})}
    exit_with(run_task(task, outputs, quiet=kw["quiet"], dry_run=kw["dry_run"], unit="cand"))
