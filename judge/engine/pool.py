"""What a Session shares between its runs: one backend per model and server (so one HTTP
connection pool each), one cache connection per file, one per-minute limiter of each kind and one
--max-cost account. Runners made with a pool (Settings.pool) borrow these; the pool, not the
runner, closes them, when the Session ends.

The pool is made and closed on the event loop its runs use: backends open their HTTP sessions
on the loop of their first call, and a connection pool cannot move between loops.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from pathlib import Path

from judge.backends.base import Backend
from judge.engine.cache import Cache, default_path
from judge.engine.limits import Limiter, MinuteLimiter


class Account:
    """The --max-cost account of a Session: every call of every run inside it (a Ledger)."""

    def __init__(self) -> None:
        self.spent = 0.0
        self.reserved = 0.0

    async def reserve(self, worst: float, max_cost: float) -> tuple[bool, float]:
        if self.spent + self.reserved + worst > max_cost:
            return False, self.spent
        self.reserved += worst
        return True, self.spent

    async def settle(self, reserved: float, cost: float) -> None:
        self.reserved -= reserved
        self.spent += cost


class Pool:
    """Backends, caches, limiters and the budget account that a Session's runners share."""

    def __init__(self) -> None:
        self.backends: dict[Hashable, Backend] = {}
        self.caches: dict[Path, Cache] = {}
        self.limiters: dict[tuple[str, float], MinuteLimiter] = {}
        self.account = Account()
        self.closed = False

    def backend(self, key: Hashable, make: Callable[[], Backend]) -> Backend:
        """The pool's backend for `key` (model, server, key variable, timeout), made once."""
        if key not in self.backends:
            self.backends[key] = make()
        return self.backends[key]

    def cache(self, path: str | Path | None) -> Cache:
        """The pool's connection to the cache file at `path` (None: the default file)."""
        where = Path(path).expanduser() if path is not None else default_path()
        if where not in self.caches:
            self.caches[where] = Cache(where)
        return self.caches[where]

    # SharedLimits (judge.engine.limits), so that RunnerConfig.shared can be the pool.

    def limiter(self, kind: str, per_minute: float) -> Limiter:
        key = (kind, per_minute)
        if key not in self.limiters:
            self.limiters[key] = MinuteLimiter(per_minute)
        return self.limiters[key]

    def ledger(self) -> Account:
        return self.account

    async def aclose(self) -> None:
        """Close every backend and cache (idempotent; each is tried even when one fails)."""
        self.closed = True
        backends, self.backends = list(self.backends.values()), {}
        caches, self.caches = list(self.caches.values()), {}
        errors: list[BaseException] = []
        for backend in backends:
            try:
                await backend.aclose()
            except Exception as exc:
                errors.append(exc)
        for cache in caches:
            cache.close()
        if errors:
            raise errors[0]
