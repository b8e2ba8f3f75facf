"""`judge batches list|cancel`: the batch jobs (--batch) recorded in the cache."""

from __future__ import annotations

import datetime

import click

from judge.cli.help import Sectioned
from judge.engine.batch_admin import cancel_jobs, list_jobs
from judge.engine.batch_jobs import dumps
from judge.tasks.driver import run_sync

cache_option = click.option(
    "--cache",
    "cache_path",
    envvar="JUDGE_CACHE",
    type=click.Path(dir_okay=False),
    help="Cache file the runs used (SQLite). Default: ~/.cache/judge/cache.sqlite.",
)


@click.group()
def batches() -> None:
    """Batch jobs that --batch runs submitted, as recorded in the cache."""


@batches.command("list", cls=Sectioned)
@cache_option
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, one job a line.")
def list_(cache_path: str | None, as_json: bool) -> None:
    """Every job: id, model, state, lines done of total, failed lines, when it was created."""
    jobs = list_jobs(cache_path)
    if as_json:
        click.echo(dumps(jobs), nl=False)
        return
    if not jobs:
        click.echo("judge: no batch jobs recorded in this cache", err=True)
        return
    click.echo("ID\tMODEL\tSTATE\tDONE\tFAILED\tCREATED")
    for job in jobs:
        created = datetime.datetime.fromtimestamp(job.created, datetime.timezone.utc)
        state = job.state + ("" if job.collected or job.state != "ended" else " (not collected)")
        click.echo(
            f"{job.id}\t{job.model}\t{state}\t{job.succeeded + job.failed}/{job.total}\t"
            f"{job.failed}\t{created:%Y-%m-%d %H:%M:%S}Z"
        )


@batches.command(cls=Sectioned)
@click.argument("job_id", metavar="[JOB]", required=False)
@cache_option
@click.option(
    "--base-url",
    help="Server to cancel at, instead of the one recorded with the job.",
)
def cancel(job_id: str | None, cache_path: str | None, base_url: str | None) -> None:
    """Cancel JOB at the provider (every unfinished job without JOB). The run waiting for it
    reports its unanswered lines as cancelled; running the command again submits them anew."""
    done = run_sync(cancel_jobs(cache_path, job_id, base_url))
    if not done:
        click.echo("judge: no unfinished batch job to cancel", err=True)
    for item in done:
        click.echo(f"judge: batch job {item.job.id} ({item.job.model}): {item.state}", err=True)
