"""Limits on calls: requests and tokens per minute, and the adaptive limit on calls in flight."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from judge.engine.budget import Ledger

CUT = 0.6  # a rate limit multiplies the limit on calls in flight by this
PROBE = 4  # times more successes before the limit goes back to where it was last cut


class MinuteLimiter:
    """Requests or tokens per minute, spread evenly: a token bucket of about one second's worth.

    A sliding one-minute window let a whole minute's quota go out in the first second, which
    servers that meter per second (most do) answer with 429s (benchmarks/peers found --rpm 600
    slower than no --rpm against a 600 rpm server).
    """

    def __init__(self, per_minute: float) -> None:
        self.per_minute = per_minute
        self.rate = per_minute / 60.0  # per second
        # One second's worth, and a small burst (up to 10) for low limits.
        self.capacity = max(self.rate, min(per_minute, 10.0))
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def reserve(self, amount: float = 1.0) -> float:
        """Take `amount` now and say how many seconds the caller must wait before using it.

        The bucket may go into debt: each reservation waits behind the ones before it, so calls
        are spread evenly, and a request larger than the bucket waits for a full bucket, then
        goes into debt, so the long-run rate stays exact and a huge request still passes. Sync,
        so that one limiter can serve many processes (judge.ray's cluster-wide permits).
        """
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        need = min(amount, self.capacity)
        wait = max(0.0, (need - self.tokens) / self.rate)
        self.tokens -= amount
        return wait

    async def acquire(self, amount: float = 1.0) -> None:
        wait = self.reserve(amount)
        if wait > 0:
            await asyncio.sleep(wait)


class Limiter(Protocol):
    """Requests or tokens per minute, as the runner uses them: MinuteLimiter in one process,
    a cluster-wide one (judge.ray.permits) across processes and machines."""

    async def acquire(self, amount: float = 1.0) -> None: ...


class SharedLimits(Protocol):
    """Limits that many processes share (RunnerConfig.shared): the per-minute limits and the
    --max-cost budget of a whole cluster (judge.ray.permits.Limits)."""

    def limiter(self, kind: str, per_minute: float) -> Limiter:
        """The limiter of `kind` ("requests" or "tokens") at `per_minute`."""
        ...

    def ledger(self) -> Ledger:
        """The shared --max-cost account (judge.engine.budget)."""
        ...


class Slots:
    """The limit on calls in flight: --concurrency at most, lower after rate limits (AIMD).

    With a fixed limit of 16 against a server that takes 10 calls a second, most calls were
    answered 429 (~4 requests per item, benchmarks/peers). A rate limit multiplies the limit by
    CUT, at most once per round trip: the 429s of calls sent before a cut say nothing about the
    new limit (`epoch` tells them apart). Each `limit` successes then raise it by one, back up to
    the ceiling; at the ceiling a success costs one compare. The step back to the limit that was
    last cut waits PROBE times longer: under a steady limit that step is the one that fails, and
    probing it less often took requests per item from 1.6 to 1.3 (a server like benchmarks/peers'
    rpm600). A longer wait saves more under a steady limit but recovers slower from a stray 429.
    Waiting calls sleep on futures that `release` wakes: never a polling loop (one starved the
    embedded model of the GIL).
    """

    def __init__(self, ceiling: int, *, adaptive: bool = True) -> None:
        self.ceiling = max(1, ceiling)
        self.limit = self.ceiling
        self.adaptive = adaptive
        self.busy = 0
        self.epoch = 0  # bumped by every cut
        self.successes = 0  # since the limit last grew
        self.cuts = 0
        self.cut_from = self.ceiling + 1  # the limit before the last cut
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        if self.busy < self.limit and not self._waiters:
            self.busy += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot just as it was cancelled: pass it on
            raise

    def release(self) -> None:
        self.busy -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.busy < self.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():  # a cancelled waiter is dropped
                self.busy += 1
                waiter.set_result(None)

    def rate_limited(self, epoch: int) -> None:
        """A call sent in `epoch` was rate-limited."""
        if self.adaptive and epoch == self.epoch:
            self.epoch += 1
            self.cuts += 1
            self.cut_from = self.limit
            self.limit = max(1, int(self.limit * CUT))
            self.successes = 0

    def succeeded(self) -> None:
        """A call succeeded while the limit is below the ceiling (the caller checks)."""
        self.successes += 1
        if self.successes >= self.limit * (PROBE if self.limit + 1 >= self.cut_from else 1):
            self.successes = 0
            self.limit += 1
            self._wake()
