"""`judge score`: one output row per candidate with its scores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from judge.calibration import Calibration, load_for
from judge.cli.cascade_args import cascade_from
from judge.cli.common import (
    calibration_options,
    candidate_total,
    constitution_option,
    exit_with,
    field_options,
    fields_from,
    group_options,
    output_option,
    run_task,
    score_options,
    score_options_from,
    settings_from,
)
from judge.cli.judge_options import judge_options
from judge.cli.panel_options import panel_from
from judge.cli.ray_run import judge_on_ray, ray_option
from judge.constitution import load
from judge.engine.settings import make_runner
from judge.io import iter_candidates
from judge.tasks.score import OUT, ScoreTask


@click.command()
@click.argument("input_path", metavar="INPUT")
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
        return judge_on_ray(kw, scoring_task, ScoreTask, lambda _: {})
    task = scoring_task(kw, ScoreTask)
    exit_with(run_task(task, {OUT: kw["output"]}, quiet=kw["quiet"], dry_run=kw["dry_run"]))


def scoring_task(
    kw: dict[str, Any],
    cls: type[ScoreTask],
    extra: Callable[[Calibration | None], dict[str, Any]] = lambda _: {},
) -> ScoreTask:
    """The task of `judge score` or `judge filter` (`cls`) from their shared options; `extra`
    gives the rest of cls's fields, from the calibration if there is one."""
    settings = settings_from(kw)
    panel = panel_from(kw, settings)
    fields = fields_from(kw)
    constitution = load(kw["constitution_path"])
    input_path: str = kw["input_path"]
    calibration = None
    if kw["calibration_path"]:
        calibration, warnings = load_for(
            kw["calibration_path"], kind="absolute", sha256=constitution.sha256, force=kw["force"]
        )
        for warning in warnings:
            click.echo(f"judge: warning: {warning}", err=True)
    run = cascade_from(kw, settings, "score", constitution, panel=panel is not None)
    if run is not None:
        runner = run.runners[0]
    elif panel is not None:
        runner = panel.runners[0]
    else:
        runner = make_runner(settings, require_key=not kw["dry_run"])
    if calibration is not None:
        for warning in calibration.warnings(model=runner.backend.name):
            click.echo(f"judge: warning: {warning}", err=True)
    return cls(
        constitution,
        runner,
        lambda: iter_candidates(input_path, fields),
        options=score_options_from(kw),
        fields=fields,
        calibration=calibration,
        count=None if kw["dry_run"] else candidate_total(input_path, fields),
        panel=panel,
        cascade=run,
        **extra(calibration),
    )
