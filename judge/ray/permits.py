"""One rate limit and one --max-cost budget for every worker of a cluster.

A Ray actor holds the limiters (judge.engine.limits.MinuteLimiter, one a kind) and the dollar
account; workers ask it for permits through the engine's own protocols (SharedLimits, Limiter,
Ledger), so the runner limits and budgets exactly as in one process. A permit is a reservation:
the actor debits the bucket and says how long to wait, and the worker waits on its own, so the
actor is never blocked and each call costs one round trip to it.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import ray

from judge.engine.limits import MinuteLimiter


class _Permits:
    """The cluster's limiters and dollar account (a Ray actor: one call at a time)."""

    def __init__(self) -> None:
        self.limiters: dict[str, MinuteLimiter] = {}
        self.spent = 0.0
        self.reserved = 0.0

    def take(self, kind: str, per_minute: float, amount: float) -> float:
        """Seconds to wait before using `amount` of `kind` (debited now)."""
        limiter = self.limiters.get(kind)
        if limiter is None or limiter.per_minute != per_minute:
            limiter = self.limiters[kind] = MinuteLimiter(per_minute)
        return limiter.reserve(amount)

    def reserve(self, worst: float, max_cost: float) -> tuple[bool, float]:
        if self.spent + self.reserved + worst > max_cost:
            return False, self.spent
        self.reserved += worst
        return True, self.spent

    def settle(self, reserved: float, cost: float) -> None:
        self.reserved -= reserved
        self.spent += cost

    def total_spent(self) -> float:
        return self.spent


class _ClusterLimiter:
    def __init__(self, actor: Any, kind: str, per_minute: float) -> None:
        self.actor, self.kind, self.per_minute = actor, kind, per_minute

    async def acquire(self, amount: float = 1.0) -> None:
        wait = await self.actor.take.remote(self.kind, self.per_minute, amount)
        if wait > 0:
            await asyncio.sleep(wait)


class _ClusterLedger:
    def __init__(self, actor: Any) -> None:
        self.actor = actor

    async def reserve(self, worst: float, max_cost: float) -> tuple[bool, float]:
        granted, spent = await self.actor.reserve.remote(worst, max_cost)
        return bool(granted), float(spent)

    async def settle(self, reserved: float, cost: float) -> None:
        await self.actor.settle.remote(reserved, cost)


class Limits:
    """Cluster-wide limits (judge.engine.limits.SharedLimits): make one in the driver and hand
    it to every worker (it pickles as a handle to the actor).

        limits = Limits()
        RunnerConfig(requests_per_minute=500, max_cost=20.0, shared=limits)

    The actor lives as long as the process that made it (Ray ends it with that process)."""

    def __init__(self, actor: Any = None) -> None:
        if actor is None:
            name = f"judge-permits-{uuid.uuid4().hex[:8]}"
            actor = ray.remote(num_cpus=0)(_Permits).options(name=name).remote()
        self.actor = actor

    def limiter(self, kind: str, per_minute: float) -> _ClusterLimiter:
        return _ClusterLimiter(self.actor, kind, per_minute)

    def ledger(self) -> _ClusterLedger:
        return _ClusterLedger(self.actor)

    def spent(self) -> float:
        """Dollars every worker has spent so far (blocking; not from inside an event loop)."""
        return float(ray.get(self.actor.total_spent.remote()))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Limits, (self.actor,))
