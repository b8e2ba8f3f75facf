"""`judge score`: one output row per candidate with its scores."""

from __future__ import annotations

import asyncio
from typing import Any

import click

from judge.api import make_runner, score_stream
from judge.calibration import load_for
from judge.cli.common import (
    Progress,
    candidate_total,
    constitution_option,
    field_options,
    fields_from,
    model_options,
    plan_scoring,
    plural,
    score_options,
    score_options_from,
    settings_from,
    summary,
)
from judge.constitution import load
from judge.io import iter_candidates, open_writer


@click.command()
@click.argument("input_path", metavar="INPUT")
@constitution_option
@click.option(
    "-o",
    "--output",
    help="Output file (.jsonl, .parquet, .csv) or folder (dataset). Default: JSON Lines on stdout.",
)
@score_options
@click.option(
    "--calibration",
    "calibration_path",
    type=click.Path(dir_okay=False),
    help="calibration.json from judge calibrate (absolute labels): adds "
    "calibrated_score, P(a human rates it good), to each row.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Apply --calibration even when it was fitted under another constitution (its sha256 "
    "differs).",
)
@model_options
@field_options
def score(**kw: Any) -> None:
    """Score every candidate in INPUT under a constitution.

    INPUT is .jsonl, .json, .csv, .parquet, a dataset folder, or - for JSON Lines on stdin, with
    `prompt` + `response`, `prompt` + `responses` (a list), or `text` per row.
    """
    settings = settings_from(kw)
    fields = fields_from(kw)
    constitution = load(kw["constitution_path"])
    options = score_options_from(kw)
    input_path: str = kw["input_path"]
    calibration = None
    if kw["calibration_path"]:
        calibration, _ = load_for(
            kw["calibration_path"], kind="absolute", sha256=constitution.sha256, force=kw["force"]
        )
    runner = make_runner(settings, on_progress=(progress := Progress(kw["quiet"], "cand")))
    if calibration is not None:
        for warning in calibration.check_use(
            sha256=constitution.sha256, model=runner.backend.name, force=True
        ):
            click.echo(f"judge: warning: {warning}", err=True)

    if kw["dry_run"]:
        click.echo(plan_scoring(input_path, fields, constitution, options, runner), err=True)
        return

    writer = open_writer(kw["output"])
    total = candidate_total(input_path, fields)

    async def go() -> None:
        try:
            async for scored in score_stream(
                iter_candidates(input_path, fields),
                constitution,
                runner,
                options,
                fields=fields,
                total=total,
            ):
                if calibration is not None:
                    scored.row["calibrated_score"] = calibration.apply_score(scored.verdict.score)
                writer.write(scored.row)
        finally:
            await runner.backend.aclose()

    try:
        asyncio.run(go())
    except BaseException:
        progress.close()
        writer.abort()
        raise
    writer.close()
    progress.close()
    stats = runner.stats
    click.echo(summary("scored", stats), err=True)
    if stats.budget_hit:
        raise click.exceptions.Exit(_budget_exit(stats.failed))


def _budget_exit(failed: int) -> int:
    click.echo(
        f"judge: the --max-cost budget was reached; {plural(failed, 'candidate')} "
        f"{'is' if failed == 1 else 'are'} not judged "
        "(score null, reason in judge.error). Raise --max-cost and run the same command again: "
        "verdicts already paid for come from the cache.",
        err=True,
    )
    return 1
