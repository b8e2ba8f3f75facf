"""`judge filter`: keep the candidates (documents or responses) a judge scores high."""

from __future__ import annotations

import asyncio
from typing import Any

import click

from judge.api import make_runner
from judge.calibration import Calibration, load_for
from judge.cli.common import (
    Progress,
    candidate_total,
    constitution_option,
    field_options,
    fields_from,
    model_options,
    plan_scoring,
    score_options,
    score_options_from,
    settings_from,
    summary,
)
from judge.cli.score_cmd import _budget_exit
from judge.constitution import load
from judge.io import RowWriter, iter_candidates, open_writer
from judge.tasks.filter import Filter, Rule, describe_counts


@click.command("filter")
@click.argument("input_path", metavar="INPUT")
@constitution_option
@click.option(
    "-o",
    "--output",
    help="Kept rows: .jsonl, .parquet, .csv or a dataset folder. Default: JSON Lines on stdout.",
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
@click.option(
    "--calibration",
    "calibration_path",
    type=click.Path(dir_okay=False),
    help="calibration.json from judge calibrate (absolute labels): adds "
    "calibrated_score to each row; needed by --target-precision.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Apply --calibration even when it was fitted under another constitution (its sha256 "
    "differs).",
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
    settings = settings_from(kw)
    fields = fields_from(kw)
    constitution = load(kw["constitution_path"])
    options = score_options_from(kw)
    calibration = None
    if kw["calibration_path"]:
        calibration, warnings = load_for(
            kw["calibration_path"],
            kind="absolute",
            sha256=constitution.sha256,
            force=kw["force"],
        )
        for warning in warnings:
            click.echo(f"judge: warning: {warning}", err=True)
    rule = _rule(kw, calibration)
    input_path: str = kw["input_path"]
    runner = make_runner(settings, on_progress=(progress := Progress(kw["quiet"], "cand")))
    if calibration is not None:
        for warning in calibration.warnings(model=runner.backend.name):
            click.echo(f"judge: warning: {warning}", err=True)

    if kw["dry_run"]:
        click.echo(plan_scoring(input_path, fields, constitution, options, runner), err=True)
        return

    total = candidate_total(input_path, fields)
    kept = open_writer(kw["output"])
    writers: list[RowWriter] = [kept]
    rejected = None
    if kw["rejected_path"]:
        rejected = open_writer(kw["rejected_path"])
        writers.append(rejected)
    job = Filter(constitution, rule, options, fields, calibration)

    async def go() -> Any:
        try:
            return await job.run(
                iter_candidates(input_path, fields),
                runner,
                kept,
                rejected,
                total=total,
                output=kw["output"],
            )
        finally:
            await runner.backend.aclose()

    try:
        counts = asyncio.run(go())
    except BaseException:
        progress.close()
        for w in writers:
            w.abort()
        raise
    for w in writers:
        w.close()
    progress.close()
    stats = runner.stats
    click.echo(summary("filtered", stats), err=True)
    click.echo(f"judge: {describe_counts(counts)}", err=True)
    if stats.budget_hit:
        raise click.exceptions.Exit(_budget_exit(stats.failed))


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
