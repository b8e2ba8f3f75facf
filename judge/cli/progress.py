"""The progress display on stderr: a bar on a terminal, and a line for each batch job."""

from __future__ import annotations

import sys
from typing import Any

import click

from judge.engine.stats import RunStats
from judge.tasks.summary import dollars, human_tokens


class Progress:
    """A tqdm bar on stderr, shown only on a terminal and without --quiet."""

    def __init__(self, quiet: bool, unit: str = "item") -> None:
        self.quiet = quiet
        self.enabled = not quiet and sys.stderr.isatty()
        self.unit = unit
        self.bar: Any = None
        self._jobs: dict[str, tuple[str, int, int, int]] = {}  # batch jobs as last shown

    def __call__(self, stats: RunStats) -> None:
        if not self.quiet:
            self._show_jobs(stats)
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=stats.total, unit=self.unit, file=sys.stderr, dynamic_ncols=True)
        self.bar.n = stats.done
        spent = stats.spent
        self.bar.set_postfix_str(
            f"{human_tokens(spent.total_tokens)} tok, {dollars(spent.cost_usd)}"
            f", {stats.failed} failed"
            + (f", {stats.cached_calls} cached" if stats.cached_calls else "")
            + (
                f", rate-limited: {stats.in_flight_limit} in flight"
                if stats.in_flight_limit is not None
                else ""
            ),
            refresh=False,
        )
        self.bar.refresh()

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
