"""`--ray [auto|ADDRESS]` on judge score and judge filter: the command over a folder (or glob) of
shards, one Ray task a shard (judge.ray.run: the workers get a typed job, no click). This module
checks the options, and prints the shards' progress, the summary and the exit status."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click

from judge.distill.classify import ClassifierFilter
from judge.engine.runner import Runner
from judge.engine.stats import RunStats, combined
from judge.errors import as_flag, spelled
from judge.tasks.driver import report
from judge.tasks.judges import Judges
from judge.tasks.score import ScoreTask
from judge.tasks.score_job import ScoreJob
from judge.tasks.summary import Coverage, coverage

ray_option = click.option(
    "--ray",
    "ray_address",
    metavar="auto|ADDRESS",
    help="Run on a Ray cluster (pip install 'judge[ray]'): INPUT is a folder or a glob of "
    "shards (.parquet, .jsonl, ...), -o a folder that gets one output shard per input shard "
    "under the same name; a re-run skips finished shards. auto: the cluster this machine runs, "
    "else a local one; ADDRESS: host:port of `ray start --head`.",
)


@dataclass
class _Described:
    """The whole run as the driver's summary reads it (driver.report)."""

    noun: str
    verb: str
    runners: tuple[Runner, ...] = ()

    def failure(self) -> str | None:
        return None

    def coverage(self, stats: RunStats) -> Coverage:
        return coverage(stats, self.noun)


def _shards(kw: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    from judge.ray import run

    if kw.get("dry_run"):
        raise click.UsageError("--dry-run does not go with --ray: dry-run one shard without --ray")
    if kw.get("keep_top") is not None:
        raise click.UsageError(
            "--keep-top needs every score before the cut, so it does not go with --ray (each "
            "shard is filtered on its own): give a threshold (--min-score, --min-prob)"
        )
    return run.plan(kw["input_path"], kw["output"], kw.get("rejected_path"))


def _run(kw: dict[str, Any], todo: list[Any], work: Callable[[Any], Any]) -> list[Any]:
    from judge.ray import run

    quiet = kw["quiet"]
    finished = [0]

    def shown(shard: Any, done: Any) -> None:
        finished[0] += 1
        if not quiet:
            click.echo(f"judge: shard {shard.name} done ({finished[0]}/{len(todo)})", err=True)

    return run.run(kw["ray_address"], todo, work, shown)


def _skipped_line(shards: list[Any], todo: list[Any]) -> str:
    before = len(shards) - len(todo)
    return (
        f"judge: {len(shards)} shards on Ray: {len(todo)} run now, {before} finished before "
        "(skipped, not rewritten)"
    )


def _unwritten_line(failed: list[Any], run: int, named: int = 3) -> str:
    names = ", ".join(s.name for s in failed[:named])
    more = f" and {len(failed) - named} more" if len(failed) > named else ""
    return (
        f"judge: error: {len(failed)} of {run} shards not written, their runs failed: "
        f"{names}{more}. Run the same command again to redo only those shards (the written ones "
        "are kept; verdicts already made come from the cache)."
    )


def _absolute(job: ScoreJob) -> ScoreJob:
    """The job with its files' paths absolute: workers run elsewhere."""

    def full(path: str | Path | None) -> str | None:
        return None if path is None else os.path.abspath(path)

    s = job.settings
    settings = replace(s, cache=full(s.cache), prices=full(s.prices))
    j = job.judges
    panel = full(j.panel) if isinstance(j.panel, str | Path) else j.panel
    cascade = full(j.cascade) if isinstance(j.cascade, str | Path) else j.cascade
    return replace(job, settings=settings, judges=Judges(panel or (), j.quorum, cascade))


def judge_on_ray(kw: dict[str, Any], job: ScoreJob) -> None:
    """judge score / judge filter (LLM) with --ray; exits with the run's status."""
    from judge.ray import run
    from judge.ray.shards import unwritten

    shards, todo = _shards(kw)
    job = _absolute(job)
    if todo and (kw["rpm"] or kw["tpm"] or kw["max_cost"] is not None):
        from judge.ray.cluster import connect
        from judge.ray.permits import Limits

        connect(kw["ray_address"])
        job = job.with_shared(Limits())  # one rate limit and one budget for every worker
    started = time.monotonic()
    dones = _run(kw, todo, run.judge_shards(job)) if todo else []
    stats = combined([d.stats for d in dones], started)
    lines = []
    cls = job.cls
    if cls is not ScoreTask:
        from judge.tasks.filter import describe_counts

        written = [d for d in dones if d.exit_code == 0]  # a failed shard's rows are not out
        line = f"judge: {describe_counts(run.summed([d.counts for d in written]))}"
        if len(written) < len(dones):
            line += f" (in the {len(written)} of {len(dones)} shards written)"
        lines.append(line)
    # Unlike one output file, a shard whose run failed is not written (see judge.ray.run).
    fail_under = click.get_current_context().params.get("fail_under")
    described = _Described(cls.noun, cls.verb)
    done = report(described, stats, lines, written=False, fail_under=fail_under)
    failed = unwritten(todo)
    if failed:
        done.lines.append(_unwritten_line(failed, len(todo)))
    for line in [_skipped_line(shards, todo), *done.lines]:
        click.echo(spelled(line, as_flag), err=True)
    code = max([done.exit_code, *(d.exit_code for d in dones)])
    if code:
        raise click.exceptions.Exit(code)


def classify_on_ray(kw: dict[str, Any], job: ClassifierFilter) -> None:
    """judge filter --classifier with --ray: one process a shard (Ray gives each a CPU)."""
    from judge.distill.classify import describe_counts
    from judge.ray import run

    shards, todo = _shards(kw)
    start = time.perf_counter()
    dones = _run(kw, todo, run.classify_shards(job)) if todo else []
    seconds = time.perf_counter() - start
    counts = run.summed([d.counts for d in dones])
    rows = counts.kept + counts.dropped + counts.failed
    click.echo(_skipped_line(shards, todo), err=True)
    click.echo(
        f"judge: classified {rows} candidates in {seconds:.1f}s "
        f"({rows / max(seconds, 1e-9):,.0f}/s), no model calls",
        err=True,
    )
    click.echo(f"judge: {describe_counts(counts)}", err=True)
