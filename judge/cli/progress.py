"""The progress display on stderr: a bar on a terminal, plain lines in a log, and a line for each
batch job.

It counts units as they finish, in any order (RunStats.finished), with the total when the input
was counted, the rate since the run began and the time left. Off a terminal (CI, nohup, a pipe)
it writes a plain line every JUDGE_PROGRESS_EVERY seconds (default 10) or each further tenth of
the total, so a long run's log shows it is alive.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import click

from judge.engine.stats import RunStats
from judge.tasks.summary import dollars, human_tokens

DEFAULT_EVERY = 10.0  # seconds between two plain lines


def _every() -> float:
    try:
        return max(0.1, float(os.environ.get("JUDGE_PROGRESS_EVERY", DEFAULT_EVERY)))
    except ValueError:
        return DEFAULT_EVERY


def duration(seconds: float) -> str:
    """`42 s`, `3 min 05 s`, `2 h 07 min`."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def progress_line(stats: RunStats, unit: str) -> str:
    """One plain line: `judge: 3/7 items (43%) in 33 s, 0.09 item/s, about 44 s left; ...`."""
    n, total, elapsed = stats.finished, stats.total, stats.elapsed
    done = f"{n}/{total} {unit}s ({100 * n / total:.0f}%)" if total else f"{n} {unit}s"
    parts = [f"judge: {done} in {duration(elapsed)}"]
    if n and elapsed >= 1:  # no rate from a single instant (a first answer from the cache)
        rate = n / elapsed
        if rate < 0.5:  # a slow model: seconds an item reads better than 0.01 items a second
            parts.append(f"{elapsed / n:.0f} s/{unit}")
        else:
            parts.append(f"{rate:.1f} {unit}/s" if rate < 10 else f"{rate:.0f} {unit}/s")
        if total and total > n:
            parts.append(f"about {duration((total - n) / rate)} left")
    return ", ".join(parts) + "; " + _extras(stats)


def _extras(stats: RunStats) -> str:
    spent = stats.spent
    return (
        f"{human_tokens(spent.total_tokens)} tok, {dollars(spent.cost_usd)}"
        f", {stats.finished_failed} failed"
        + (f", {stats.cached_calls} cached" if stats.cached_calls else "")
        + (
            f", rate-limited: {stats.in_flight_limit} in flight"
            if stats.in_flight_limit is not None
            else ""
        )
    )


class Progress:
    """A tqdm bar on a terminal, plain lines off one; nothing with --quiet."""

    def __init__(self, quiet: bool, unit: str = "item") -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.unit = unit
        self.bar: Any = None
        self.every = _every()
        self._shown: tuple[float, int] | None = None  # plain lines: when, and at what count
        self._jobs: dict[str, tuple[str, int, int, int]] = {}  # batch jobs as last shown

    def __call__(self, stats: RunStats) -> None:
        if self.quiet:
            return
        self._show_jobs(stats)
        if self.tty:
            self._bar(stats)
        else:
            self._plain(stats)

    def _bar(self, stats: RunStats) -> None:
        if self.bar is None:
            from tqdm import tqdm

            # Made at the run's first report (its start): the rate is the average since then,
            # never that of the first instant.
            self.bar = tqdm(
                total=stats.total,
                unit=self.unit,
                file=sys.stderr,
                dynamic_ncols=True,
                smoothing=0,
            )
            self.bar.start_t -= stats.elapsed
        self.bar.n = stats.finished
        self.bar.set_postfix_str(_extras(stats), refresh=False)
        self.bar.refresh()

    def _plain(self, stats: RunStats) -> None:
        now = time.monotonic()
        if self._shown is None:  # the start: the next line comes after `every` seconds
            self._shown = (now, stats.finished)
            return
        when, count = self._shown
        total = stats.total or 0
        tenth = total > 0 and stats.finished * 10 // total > count * 10 // total
        if now - when >= self.every or (tenth and now - when >= 1.0):
            self._shown = (now, stats.finished)
            click.echo(progress_line(stats, self.unit), err=True)

    def _show_jobs(self, stats: RunStats) -> None:
        """A line for each --batch job whose state or counts changed (also off a terminal:
        jobs take hours, and a log should say where they are)."""
        for job in list(stats.batches.values()):
            shown = (job.state, job.total, job.succeeded, job.failed)
            if self._jobs.get(job.id) == shown:
                continue
            self._jobs[job.id] = shown
            line = (
                f"judge: batch job {job.id}: {job.state}, {job.succeeded + job.failed}/"
                f"{job.total} done ({job.failed} failed)"
            )
            if self.bar is not None:
                self.bar.write(line, file=sys.stderr)
            else:
                click.echo(line, err=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
