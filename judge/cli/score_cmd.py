"""`judge score`: one output row per candidate with its scores."""

from __future__ import annotations

from typing import Any

from judge.cli.common import (
    calibration_options,
    constitution_option,
    exit_with,
    field_options,
    group_options,
    input_command,
    output_option,
    run_task,
    score_options,
)
from judge.cli.flags import say, score_job
from judge.cli.judge_options import judge_options
from judge.cli.ray_run import judge_on_ray, ray_option
from judge.tasks.score import OUT, ScoreTask


@input_command()
@constitution_option
@output_option()
@score_options
@group_options(seed=True)
@calibration_options(
    "calibration.json from judge calibrate (absolute labels): adds "
    "calibrated_score, P(a human rates it good), to each row."
)
@judge_options
@field_options
@ray_option
def score(**kw: Any) -> None:
    """Score every candidate in INPUT under a constitution.

    INPUT is .jsonl, .json, .csv, .parquet, a dataset folder, or - for JSON Lines on stdin, with
    `prompt` + `response`, `prompt` + `responses` (a list), or `text` per row. With --ray,
    INPUT is a folder or glob of shards and -o a folder (one output shard per input shard).
    """
    if kw["ray_address"]:
        return judge_on_ray(kw, score_job(kw, ScoreTask))
    task = score_job(kw, ScoreTask).task(kw["input_path"], say)
    exit_with(run_task(task, {OUT: kw["output"]}, quiet=kw["quiet"], dry_run=kw["dry_run"]))
