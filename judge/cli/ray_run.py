"""`--ray [auto|ADDRESS]` on judge score and judge filter: the command over a folder (or glob) of
shards, one Ray task a shard (judge.ray). Each task runs the command's own work on its shard:
the scoring task through the one driver, or the classifier filter; this module only plans the
shards, connects, and sums the shards' results into the usual summary and exit status."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import click

from judge.engine.runner import Runner
from judge.engine.stats import combined
from judge.io import RowWriter
from judge.tasks.driver import drive, report, run_sync
from judge.tasks.filter import REJECTED, FilterCounts
from judge.tasks.score import OUT, ScoreTask

ray_option = click.option(
    "--ray",
    "ray_address",
    metavar="auto|ADDRESS",
    help="Run on a Ray cluster (pip install 'judge[ray]'): INPUT is a folder or a glob of "
    "shards (.parquet, .jsonl, ...), -o a folder that gets one output shard per input shard "
    "under the same name; a re-run skips finished shards. auto: the cluster this machine runs, "
    "else a local one; ADDRESS: host:port of `ray start --head`.",
)

_PATHS = (
    "constitution_path",
    "calibration_path",
    "cache_path",
    "prices",
    "classifier_dir",
    "judges",
    "cascade_path",
)


@dataclass
class _Described:
    """The whole run as the driver's summary reads it (driver.report)."""

    noun: str
    verb: str
    runners: tuple[Runner, ...] = ()

    def failure(self) -> str | None:
        return None


def _shards(kw: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """Every shard and those still to do; paths made absolute for workers elsewhere."""
    from judge.ray.shards import plan_shards

    if kw.get("dry_run"):
        raise click.UsageError("--dry-run does not go with --ray: dry-run one shard without --ray")
    if kw.get("keep_top") is not None:
        raise click.UsageError(
            "--keep-top needs every score before the cut, so it does not go with --ray (each "
            "shard is filtered on its own): give a threshold (--min-score, --min-prob)"
        )
    for key in _PATHS:
        if kw.get(key):
            kw[key] = os.path.abspath(kw[key])
    shards = plan_shards(kw["input_path"], kw["output"], kw.get("rejected_path"))
    shards = [replace(s, input=os.path.abspath(s.input)) for s in shards]
    shards = [replace(s, output=os.path.abspath(s.output)) for s in shards]
    shards = [replace(s, rejected=s.rejected and os.path.abspath(s.rejected)) for s in shards]
    return shards, [s for s in shards if not s.finished]


def _run(kw: dict[str, Any], todo: list[Any], work: Callable[[Any], Any]) -> list[Any]:
    from judge.ray.cluster import connect, run_shards

    connect(kw.pop("ray_address"))
    quiet = kw["quiet"]
    finished = [0]

    def shown(shard: Any, done: Any) -> None:
        finished[0] += 1
        if not quiet:
            click.echo(f"judge: shard {shard.name} done ({finished[0]}/{len(todo)})", err=True)

    return run_shards(todo, work, on_done=shown)


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


def judge_on_ray(
    kw: dict[str, Any],
    scoring_task: Callable[..., ScoreTask],
    cls: type[ScoreTask],
    extra: Callable[[Any], dict[str, Any]],
) -> None:
    """judge score / judge filter (LLM) with --ray; exits with the run's status."""
    from judge.ray.shards import unwritten

    shards, todo = _shards(kw)
    if todo and (kw["rpm"] or kw["tpm"] or kw["max_cost"] is not None):
        from judge.ray.cluster import connect
        from judge.ray.permits import Limits

        connect(kw["ray_address"])
        kw["shared_limits"] = Limits()  # one rate limit and one budget for every worker
    started = time.monotonic()
    work = functools.partial(_judge_shard, dict(kw, ray_address=None), scoring_task, cls, extra)
    dones = _run(kw, todo, work) if todo else []
    stats = combined([d.stats for d in dones], started)
    lines = []
    if cls is not ScoreTask:
        from judge.tasks.filter import describe_counts

        written = [d for d in dones if d.exit_code == 0]  # a failed shard's rows are not out
        line = f"judge: {describe_counts(_summed([d.counts for d in written]))}"
        if len(written) < len(dones):
            line += f" (in the {len(written)} of {len(dones)} shards written)"
        lines.append(line)
    # Unlike one output file, a shard whose run failed is not written (see _judge_shard).
    done = report(_Described(cls.noun, cls.verb), stats, lines, written=False)
    failed = unwritten(todo)
    if failed:
        done.lines.append(_unwritten_line(failed, len(todo)))
    for line in [_skipped_line(shards, todo), *done.lines]:
        click.echo(line, err=True)
    code = max([done.exit_code, *(d.exit_code for d in dones)])
    if code:
        raise click.exceptions.Exit(code)


def _judge_shard(
    kw: dict[str, Any],
    scoring_task: Callable[..., ScoreTask],
    cls: type[ScoreTask],
    extra: Callable[[Any], dict[str, Any]],
    shard: Any,
) -> Any:
    """One shard, in a Ray worker: the command's task through the driver, into its outputs."""
    from judge.ray.cluster import ShardDone
    from judge.ray.shards import open_output

    task = scoring_task(dict(kw, input_path=shard.input), cls, extra)
    sinks = {OUT: _Held(open_output(shard, shard.output))}
    if shard.rejected is not None:
        sinks[REJECTED] = _Held(open_output(shard, shard.rejected))
    done = run_sync(drive(task, sinks))
    # A shard whose run failed (model unreachable, budget reached) is not written, so that the
    # next run does it again: its verdicts so far come from the cache then.
    for sink in sinks.values():
        sink.commit() if done.exit_code == 0 else sink.abort()
    counts = getattr(task, "counts", None)
    return ShardDone(stats=done.stats, counts=counts, exit_code=done.exit_code, lines=done.lines)


class _Held:
    """A sink whose close waits for commit(): the driver closes it, the shard's fate decides."""

    def __init__(self, sink: RowWriter) -> None:
        self.sink = sink

    def write(self, row: dict[str, Any]) -> None:
        self.sink.write(row)

    def close(self) -> None:
        return None

    def commit(self) -> None:
        self.sink.close()

    def abort(self) -> None:
        self.sink.abort()


def classify_on_ray(kw: dict[str, Any], job: Any) -> None:
    """judge filter --classifier with --ray: one process a shard (Ray gives each a CPU)."""
    from judge.distill.classify import describe_counts

    shards, todo = _shards(kw)
    start = time.perf_counter()
    work = functools.partial(_classify_shard, replace(job, processes=1))
    dones = _run(kw, todo, work) if todo else []
    seconds = time.perf_counter() - start
    counts = _summed([d.counts for d in dones])
    rows = counts.kept + counts.dropped + counts.failed
    click.echo(_skipped_line(shards, todo), err=True)
    click.echo(
        f"judge: classified {rows} candidates in {seconds:.1f}s "
        f"({rows / max(seconds, 1e-9):,.0f}/s), no model calls",
        err=True,
    )
    click.echo(f"judge: {describe_counts(counts)}", err=True)


def _classify_shard(job: Any, shard: Any) -> Any:
    """One shard, in a Ray worker: the classifier filter into the shard's outputs."""
    from judge.cli.classifier_filter import classify_into
    from judge.ray.cluster import ShardDone
    from judge.ray.shards import open_output

    opener = functools.partial(open_output, shard)
    counts = classify_into(job, shard.input, shard.output, shard.rejected, opener)
    return ShardDone(counts=counts)


def _summed(parts: list[FilterCounts]) -> FilterCounts:
    return FilterCounts(
        kept=sum(p.kept for p in parts),
        dropped=sum(p.dropped for p in parts),
        failed=sum(p.failed for p in parts),
    )
