"""judge score / judge filter over a folder (or glob) of shards, one Ray task a shard: what runs
in the workers (no click, no judge.cli: they get a typed job) and how the shards' results add
up. The CLI (judge.cli.ray_run) plans, connects and prints."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from judge.distill.classify import ClassifierFilter, classify_into
from judge.io import RowWriter
from judge.tasks.driver import drive, run_sync
from judge.tasks.filter import REJECTED, FilterCounts
from judge.tasks.score import OUT
from judge.tasks.score_job import ScoreJob


def plan(input_path: str, output: str, rejected: str | None) -> tuple[list[Any], list[Any]]:
    """Every shard and those still to do; paths made absolute for workers elsewhere."""
    from judge.ray.shards import plan_shards

    shards = plan_shards(input_path, output, rejected)
    shards = [replace(s, input=os.path.abspath(s.input)) for s in shards]
    shards = [replace(s, output=os.path.abspath(s.output)) for s in shards]
    shards = [replace(s, rejected=s.rejected and os.path.abspath(s.rejected)) for s in shards]
    return shards, [s for s in shards if not s.finished]


def run(
    address: str,
    todo: list[Any],
    work: Callable[[Any], Any],
    on_done: Callable[[Any, Any], None],
) -> list[Any]:
    from judge.ray.cluster import connect, run_shards

    connect(address)
    return run_shards(todo, work, on_done=on_done)


def judge_shards(job: ScoreJob) -> Callable[[Any], Any]:
    """What a worker does with one shard of a judging run."""
    return functools.partial(_judge_shard, job)


def classify_shards(job: ClassifierFilter) -> Callable[[Any], Any]:
    """What a worker does with one shard of a classifier filter (one process: Ray gives each
    task a CPU)."""
    return functools.partial(_classify_shard, replace(job, processes=1))


def _judge_shard(job: ScoreJob, shard: Any) -> Any:
    """One shard, in a Ray worker: the command's task through the driver, into its outputs."""
    from judge.ray.cluster import ShardDone
    from judge.ray.shards import open_output

    task = job.task(shard.input)
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


def _classify_shard(job: ClassifierFilter, shard: Any) -> Any:
    """One shard, in a Ray worker: the classifier filter into the shard's outputs."""
    from judge.ray.cluster import ShardDone
    from judge.ray.shards import open_output

    opener = functools.partial(open_output, shard)
    counts = classify_into(job, shard.input, shard.output, shard.rejected, opener)
    return ShardDone(counts=counts)


def summed(parts: list[FilterCounts]) -> FilterCounts:
    return FilterCounts(
        kept=sum(p.kept for p in parts),
        dropped=sum(p.dropped for p in parts),
        failed=sum(p.failed for p in parts),
    )
