"""One driver runs every judging command, for the CLI and the Python API alike.

A task (score, filter, pairs, calibrate, revise, ...) says how it plans its calls (--dry-run),
how it judges one unit through its runners, how a result becomes rows in its outputs, and what it
tallies. The driver owns the rest: the runners' lifetime (`async with`: backends and caches are
closed whatever happens), the budget check before any call, progress, the outputs (closed on
success, aborted on failure so no half-written file passes for a result), the summary lines and
the exit status. Only `judge.cli` prints: the driver returns the lines to show.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack, aclosing
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from judge.engine.plan import Estimate
from judge.engine.runner import Runner
from judge.engine.stats import CANCELLED, TOO_LONG, UNREACHABLE, RunStats
from judge.errors import ConfigError
from judge.tasks.summary import (
    Coverage,
    backend_notes,
    coverage,
    coverage_line,
    plural,
    price_age_note,
    run_summary,
    unjudged_reasons,
)

T = TypeVar("T")
U = TypeVar("U")
R = TypeVar("R")


# What a failed run's summary says of its rows when they are written (one output file). A --ray
# run does not write a failed shard, so it says which shards instead (judge.cli.ray_run).
ROWS_WRITTEN = " (every row is written; those have no verdict)"


class Sink(Protocol):
    """Where a task's rows go: a file writer (judge.io.open_writer), or a list in the API."""

    def write(self, row: dict[str, Any]) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


Sinks = Mapping[str, Sink]


class RowList:
    """A sink that keeps its rows in memory (the Python API)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def write(self, row: dict[str, Any]) -> None:
        self.rows.append(row)

    def close(self) -> None:
        return None

    def abort(self) -> None:
        return None


class Task(Protocol[U, R]):
    """A judging command's work, as the driver runs it."""

    noun: str  # what a unit is, plural: "candidates", "prompts", "labelled items"
    verb: str  # what was done to them: "scored", "filtered", ...

    @property
    def runners(self) -> Sequence[Runner]:
        """The runners the task calls models through; the first one's stats are the run's."""
        ...

    def units(self) -> Iterable[U]: ...

    def total(self) -> int | None: ...

    def dry_run(self) -> str:
        """The --dry-run line: calls, tokens and dollars, from the plan of every unit."""
        ...

    async def judge(self, unit: U) -> R: ...

    def failed(self, result: R) -> bool:
        """Whether the unit went unjudged (counted in the summary)."""
        ...

    def write(self, unit: U, result: R, sinks: Sinks) -> None: ...

    def finish(self, sinks: Sinks) -> list[str]:
        """After the last unit, before the outputs close: rows that needed every result (a
        keep-top cut), files beside the rows (a report, a card), and the task's summary lines."""
        ...

    def failure(self) -> str | None:
        """Why the run failed as a whole though every unit was tried (exit 1), or None."""
        ...

    def abandon(self) -> None:
        """The run stopped on an error: drop work files (the outputs are aborted already)."""
        ...

    def coverage(self, stats: RunStats) -> Coverage:
        """How many of what the run had to judge it judged, and the most common reason why
        not (the last summary line, --fail-under)."""
        ...


class Defaults:
    """What most tasks do: progress counts `count` units, the end adds nothing, and the units
    are what coverage counts."""

    count: int | None = None
    noun: str

    def total(self) -> int | None:
        return self.count

    def coverage(self, stats: RunStats) -> Coverage:
        return coverage(stats, self.noun)

    def finish(self, sinks: Sinks) -> list[str]:
        return []

    def failure(self) -> str | None:
        return None

    def abandon(self) -> None:
        return None


@dataclass
class Report:
    """What a run did: the lines to show on stderr, the exit status, the statistics."""

    stats: RunStats
    lines: list[str] = field(default_factory=list)
    exit_code: int = 0
    # The run failed only because too few units were judged (see coverage_line): its outputs
    # are whole (a --ray shard is written; the run's own summary decides its exit status).
    shortfall: bool = False


def check_budget(runners: Sequence[Runner]) -> None:
    """--max-cost with a model that has no price would never stop: refuse before any call."""
    for runner in runners:
        if runner.config.max_cost is not None and runner.price is None:
            raise ConfigError(
                f"{{opt:max_cost}} needs the price of {runner.backend.name}, which the built-in "
                "table does not know; give it with {opt:prices} FILE (JSON: "
                '{"PROVIDER/MODEL": {"input": USD per 1M tokens, "output": ...}}) or drop '
                "{opt:max_cost}"
            )


async def drive(
    task: Task[Any, Any],
    sinks: Sinks,
    *,
    on_progress: Callable[[RunStats], None] | None = None,
    fail_under: float | None = None,
) -> Report:
    """Run `task` to the end, writing its rows to `sinks`; the Report says how it went. The run
    fails (exit 1) when it judged nothing, or a smaller fraction of its units than `fail_under`."""
    async with AsyncExitStack() as stack:
        for runner in task.runners:
            await stack.enter_async_context(runner)
        stats = task.runners[0].stats if task.runners else RunStats(total=task.total())
        try:
            check_budget(task.runners)  # inside: runners closed, outputs aborted on the way out
            # aclosing: on an error (a full disk) the units still in flight are cancelled
            # now, before the runners close, not when the generator is collected later (a
            # call made after its backend closed left an unclosed HTTP session).
            async with aclosing(_results(task, stats, on_progress)) as results:
                async for unit, result in results:
                    task.write(unit, result, sinks)
            lines = task.finish(sinks)
        except BaseException:
            for sink in sinks.values():
                sink.abort()
            task.abandon()
            raise
        for sink in sinks.values():
            sink.close()
        stats = task.runners[0].stats if task.runners else stats
    return report(task, stats, lines, fail_under=fail_under)


async def _results(
    task: Task[Any, Any], stats: RunStats, on_progress: Callable[[RunStats], None] | None
) -> AsyncGenerator[tuple[Any, Any], None]:
    """(unit, result) in input order: through the first runner, or one by one when the task
    makes no model call (pairs from scores already in the input)."""
    if task.runners:
        main = task.runners[0]
        main.on_progress = on_progress
        pairs = main.run(task.units(), task.judge, total=task.total(), failed=task.failed)
        async with aclosing(pairs):
            async for pair in pairs:
                yield pair
        return
    for unit in task.units():
        result = await task.judge(unit)
        stats.done += 1
        stats.failed += task.failed(result)
        stats.finished, stats.finished_failed = stats.done, stats.failed
        yield unit, result


async def plan_only(task: Task[Any, Any]) -> str:
    """The --dry-run line; the runners are opened and closed, and no model is called."""
    async with AsyncExitStack() as stack:
        for runner in task.runners:
            await stack.enter_async_context(runner)
        notes = (price_age_note(r.backend.name, r.price) for r in task.runners)
        planned = task.dry_run()
        text = "\n".join([planned, *dict.fromkeys(n for n in notes if n is not None)])
        return Estimate(text, planned.plan) if isinstance(planned, Estimate) else text


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from sync code, also inside a notebook whose event loop is running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


class Described(Protocol):
    """What the summary and the exit status read of a task (judge.ray gives the same for a run
    of many shards, each driven as a task of its own)."""

    noun: str
    verb: str

    @property
    def runners(self) -> Sequence[Runner]: ...

    def failure(self) -> str | None: ...

    def coverage(self, stats: RunStats) -> Coverage: ...


def report(
    task: Described,
    stats: RunStats,
    lines: list[str],
    *,
    written: bool = True,
    fail_under: float | None = None,
) -> Report:
    """The summary lines and the exit status of a run that ended with `stats`; `written`: the
    rows of items that failed are in the output (not so for a failed --ray shard). The last
    line says how many units went unjudged and the most common reason (see coverage_line)."""
    rows = ROWS_WRITTEN if written else ""
    covered = task.coverage(stats)
    # A task whose units are not what it judges (pairs: prompts, of candidates) counts what
    # it judged in its own lines; the first line then counts only its units.
    counts = covered.noun == task.noun
    first = run_summary(task.verb, stats, task.noun, counts=counts)
    report: Report = Report(stats, [first, *lines])
    report.lines += unjudged_reasons(stats)
    failure = task.failure()
    judged = stats.done - stats.failed
    if stats.budget_hit:
        report.exit_code = 1
        noun = "item" if task.noun == "labelled items" else task.noun.removesuffix("s")
        verb = "is" if stats.failed == 1 else "are"
        report.lines.append(
            f"judge: the {{opt:max_cost}} budget was reached; {plural(stats.failed, noun)} {verb} "
            f"not judged{' (the rows say why)' if written else ''}. Raise {{opt:max_cost}} and run "
            "the same command again: verdicts already paid for come from the cache."
        )
    if stats.failures.get(UNREACHABLE):
        report.exit_code = 1
        report.lines.append(
            f"judge: error: the model could not be reached for some items{rows}. Check the "
            "server and run the same command again: verdicts already made come from the cache."
        )
    if stats.failures.get(CANCELLED):
        report.exit_code = 1
        jobs = ", ".join(sorted(stats.batch_cancelled))
        report.lines.append(
            f"judge: error: batch job {jobs} was cancelled before it answered every request"
            f"{rows}. Run the same command again to submit them anew; answers already in come "
            "from the cache."
        )
    if stats.failures.get(TOO_LONG) and judged == 0 and stats.done:
        report.exit_code = 1
        report.lines.append(
            "judge: error: no item fits the model's context window; raise the server's context "
            "(llama.cpp: --n_ctx 8192, vLLM: --max-model-len) or lower {opt:max_chars}"
        )
    if failure is not None:
        report.exit_code = 1
        report.lines.append(f"judge: error: {failure}")
    notes = (note for r in task.runners for note in backend_notes(r.backend))
    report.lines += list(dict.fromkeys(notes))
    last, fails = coverage_line(covered, fail_under)
    if last is not None:
        report.lines.append(last)
    if fails:
        report.shortfall = report.exit_code == 0
        report.exit_code = 1
    return report
