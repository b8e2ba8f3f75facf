"""`judge filter`: keep the candidates (documents or responses) a judge scores high."""

from __future__ import annotations

from typing import Any

import click

from judge.calibration import Calibration
from judge.cli.common import (
    calibration_options,
    constitution_option,
    exit_with,
    field_options,
    model_options,
    output_option,
    run_task,
    score_options,
)
from judge.cli.score_cmd import scoring_task
from judge.tasks.filter import REJECTED, FilterTask, Rule
from judge.tasks.score import OUT


@click.command("filter")
@click.argument("input_path", metavar="INPUT")
@constitution_option
@output_option(
    "Kept rows: .jsonl, .parquet, .csv or a dataset folder. Default: JSON Lines on stdout."
)
@click.option(
    "--min-score",
    type=click.FloatRange(0, 1),
    help="Keep rows whose score is >= this (a score equal to it is kept).",
)
@click.option(
    "--keep-top",
    type=click.FloatRange(0, 1, min_open=True),
    help="Keep this fraction of the judged rows, best first: floor(F x judged); equal "
    "scores at the cut are kept in input order.",
)
@click.option(
    "--target-precision",
    type=click.FloatRange(0, 1, min_open=True),
    help="Keep rows above the lowest score whose precision on the calibration's human "
    "labels is >= this; needs --calibration.",
)
@calibration_options(
    "calibration.json from judge calibrate (absolute labels): adds "
    "calibrated_score to each row; needed by --target-precision."
)
@click.option(
    "--rejected", "rejected_path", help="Also write the dropped and the unjudged rows here."
)
@score_options
@model_options
@field_options
def filter_(**kw: Any) -> None:
    """Keep the rows of INPUT that a judge scores high under a constitution.

    Rows are documents (`text`) or prompt + response(s). Kept rows carry their scores; kept,
    dropped and failed counts and the tokens spent go to stderr. Rows the judge could not judge
    are never kept.
    """
    out = kw["output"]

    def extra(calibration: Calibration | None) -> dict[str, Any]:
        return {"rule": _rule(kw, calibration), "output": out}

    task = scoring_task(kw, FilterTask, extra)
    outputs = {OUT: out, **({REJECTED: kw["rejected_path"]} if kw["rejected_path"] else {})}
    exit_with(run_task(task, outputs, quiet=kw["quiet"], dry_run=kw["dry_run"], unit="cand"))


def _rule(kw: dict[str, Any], calibration: Calibration | None) -> Rule:
    given = [k for k in ("min_score", "keep_top", "target_precision") if kw[k] is not None]
    if len(given) != 1:
        raise click.UsageError(
            "give exactly one of --min-score S, --keep-top FRACTION, or --target-precision P "
            "(with --calibration FILE)"
        )
    if kw["min_score"] is not None:
        return Rule(min_score=kw["min_score"])
    if kw["keep_top"] is not None:
        return Rule(keep_top=kw["keep_top"])
    if calibration is None:
        raise click.UsageError(
            "--target-precision needs --calibration FILE (the calibration.json that "
            "judge calibrate writes from absolute labels)"
        )
    chosen = calibration.threshold(kw["target_precision"])
    click.echo(
        f"judge: --target-precision {kw['target_precision']:g}: keeping scores >= "
        f"{chosen['threshold']:.4g} (on the {calibration.n} labelled items of "
        f"{calibration.where}: precision {chosen['precision']:.3f}, recall "
        f"{chosen['recall']:.3f}, {chosen['kept']:.1%} kept)",
        err=True,
    )
    return Rule(min_score=chosen["threshold"])
