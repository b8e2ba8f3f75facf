"""Many units at once: a bounded window of coroutines whose results come out in input order.

Memory stays flat whatever the input size (at most `window` units exist at a time), and a unit's
exception stops the whole run at once rather than when the output reaches it."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from typing import TypeVar

from judge.engine.stats import RunStats

I = TypeVar("I")  # noqa: E741
R = TypeVar("R")


async def in_order(
    items: Iterable[I],
    work: Callable[[I], Awaitable[R]],
    *,
    window: int,
    stats: RunStats,
    failed: Callable[[R], bool] | None = None,
    on_progress: Callable[[RunStats], None] | None = None,
) -> AsyncGenerator[tuple[I, R], None]:
    """Yield (item, work(item)) in input order, with at most `window` units in flight; count
    them in `stats` and show `on_progress` as they finish and once a second."""
    pending: deque[tuple[I, asyncio.Task[R]]] = deque()
    iterator = iter(items)
    exhausted = False
    last_report = 0.0
    ticker = None if on_progress is None else asyncio.ensure_future(_tick(stats, on_progress))

    def finished(task: asyncio.Task[R]) -> None:
        # Progress counts units as they finish, in any order: the output waits for the
        # head of the window, and a slow first item kept the display at 0 for minutes.
        if not task.cancelled() and task.exception() is None:
            stats.finished += 1
            stats.finished_failed += failed is not None and failed(task.result())

    try:
        while True:
            while not exhausted and len(pending) < window:
                try:
                    item = next(iterator)
                except StopIteration:
                    exhausted = True
                    break
                unit = asyncio.ensure_future(work(item))
                unit.add_done_callback(finished)
                pending.append((item, unit))
            if not pending:
                break
            item, task = pending[0]
            if not task.done():
                # Wait for the head, but wake on any failure so a fatal error stops at once.
                # Only unfinished tasks: a finished one would wake the wait at once, forever
                # (a busy loop that starved the embedded model's thread of the GIL).
                running = [t for _, t in pending if not t.done()]
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for t in done:
                    if t.exception() is not None:
                        raise t.exception()  # type: ignore[misc]
                continue
            pending.popleft()
            result = task.result()
            stats.done += 1
            if failed is not None and failed(result):
                stats.failed += 1
            now = time.monotonic()
            if on_progress is not None and (now - last_report > 0.1 or not pending):
                last_report = now
                on_progress(stats)
            yield item, result
    finally:
        if ticker is not None:
            ticker.cancel()
        for _, task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*(t for _, t in pending), return_exceptions=True)
        if on_progress is not None:
            on_progress(stats)


async def _tick(stats: RunStats, on_progress: Callable[[RunStats], None]) -> None:
    """Show progress once a second whatever finishes (the display decides what to print):
    a run whose first answer takes a minute still shows its clock, and a log its life."""
    while True:
        on_progress(stats)
        await asyncio.sleep(1.0)
