"""The one place for concurrency, rate limits, retries, re-asks, the cache, cost and progress.

Commands describe their work as units (one per candidate, pair, ...). A unit is a coroutine that
makes model calls through `Runner.call`; the runner runs units concurrently within a bounded window
(memory stays flat whatever the input size), yields their results in input order, and gives each
call the cache, the budget guard, the rate limits and retries with backoff. Backends never retry.

Two mechanisms keep calls from being wasted:
- The limit on calls in flight adapts to rate limits (`Slots`): a 429 lowers it, successes raise
  it back to --concurrency, so a rate-limited server is not answered with a storm of retries.
- With a cache, a call first claims its key in the cache file (`Cache.claim`), so that two runs
  over the same items (two processes, even) never pay twice: the other run waits for the answer.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from contextlib import aclosing
from dataclasses import replace
from typing import Any, TypeVar

from judge.backends.base import Backend, Request, Response, request_key
from judge.engine.batcher import Batcher, RealtimeFallback, for_runner
from judge.engine.budget import Budget
from judge.engine.cache import Cache, timing_name
from judge.engine.claims import Claims
from judge.engine.jobs import Job, Outcome, RunnerConfig, backoff, reask
from judge.engine.limits import Limiter, MinuteLimiter, Slots
from judge.engine.prices import Price, PriceTable
from judge.engine.stats import (
    BUDGET,
    CANCELLED,
    INVALID_TEXT,
    REFUSED,
    TOO_LONG,
    UNPARSEABLE,
    UNREACHABLE,
    RunStats,
)
from judge.engine.window import in_order
from judge.errors import BackendError, BudgetReached, ParseError
from judge.io.values import has_lone_surrogate
from judge.records import Usage

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741
R = TypeVar("R")


class Runner:
    def __init__(
        self,
        backend: Backend,
        *,
        cache: Cache | None = None,
        config: RunnerConfig | None = None,
        prices: PriceTable | None = None,
        on_progress: Callable[[RunStats], None] | None = None,
        owned: bool = True,
    ) -> None:
        self.backend = backend
        self.cache = cache
        # False: a Session's pool lent the backend and the cache, and closes them itself.
        self.owned = owned
        self.config = config or RunnerConfig()
        table = prices or PriceTable()
        self.price: Price | None = table.lookup(backend.name)
        self.on_progress = on_progress
        self.stats = RunStats()
        self._slots: Slots | None = None
        self._joined: list[Runner] = []  # runners calling inside this one's run (see join)
        self.claims = None if cache is None else Claims(cache, self.config.claim_ttl)
        self._rpm = self._limiter("requests", self.config.requests_per_minute)
        self._tpm = self._limiter("tokens", self.config.tokens_per_minute)
        self._cooldown_until = 0.0
        self._fatal: BackendError | None = None  # once set, no further call is made
        self.batcher: Batcher | None = None
        if self.config.batch.enabled:
            self.batcher = for_runner(self)
            # Batch calls are billed at the provider's batch discount: the summary, --dry-run
            # and --max-cost all count it.
            if self.price is not None:
                self.price = self.price.scaled(table.batch_rate(backend.name))
        shared = self.config.shared
        ledger = None if shared is None else shared.ledger()
        self.budget = Budget(backend, self.price, self.config.max_cost, ledger)

    def _limiter(self, kind: str, per_minute: float | None) -> Limiter | None:
        if not per_minute:
            return None
        shared = self.config.shared
        return MinuteLimiter(per_minute) if shared is None else shared.limiter(kind, per_minute)

    @property
    def batching(self) -> bool:
        """Whether calls go to the provider's batch API (--batch)."""
        return self.batcher is not None

    @property
    def claim_owner(self) -> str | None:
        """Who this run's claims belong to (`pid@host:token`); None without a cache."""
        return None if self.claims is None else self.claims.owner

    @claim_owner.setter
    def claim_owner(self, owner: str) -> None:
        if self.claims is not None:
            self.claims.owner = owner

    async def __aenter__(self) -> Runner:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """End the run's claims, then close the backend and the cache (idempotent) unless a
        Session's pool lent them."""
        if self.batcher is not None:
            self.batcher.close()
        self.release_claims()
        if not self.owned:
            return
        await self.backend.aclose()
        if self.cache is not None:
            self.cache.close()

    # -- accounting (judge.engine.budget) --------------------------------------------------------

    def usage_of(self, response: Response) -> Usage:
        return self.budget.usage_of(response)

    def estimate(self, request: Request) -> tuple[int, int, float | None]:
        return self.budget.estimate(request)

    # -- one call -----------------------------------------------------------------------------

    async def _generate(self, request: Request) -> tuple[Response, bool]:
        """One answer, from the cache or the backend, and whether it came from the cache."""
        key = request_key(self.backend, request)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                self.stats.cached_calls += 1
                return hit, True
        reserved = await self.budget.reserve(request, self.stats)
        stored = False
        cost = 0.0
        try:
            if self.batcher is not None:
                response, paid, stored = await self._batch_call(self.batcher, request, key)
            else:
                response, paid = await self._call_with_retries(request, key)
            if paid:
                cost = self.usage_of(response).cost_usd or 0.0
        finally:
            await self.budget.settle(reserved, cost)
        if not paid:  # another process answered while this one waited on its claim
            self.stats.cached_calls += 1
            return response, True
        self.stats.calls += 1
        self.stats.spent = self.stats.spent + self.usage_of(response)
        if self.cache is not None and not stored:
            # The claim stays until the run ends (one statement less per call): a claim on a
            # key with an answer holds nobody up, since a run claims only keys it cannot read.
            self.cache.put(key, timing_name(self.backend), response)
        return response, False

    async def _batch_call(
        self, batcher: Batcher, request: Request, key: str
    ) -> tuple[Response, bool, bool]:
        """The answer from a batch job (stored in the cache already), or from the real-time
        path after a line failed past its resubmissions (--batch-fallback realtime): the
        answer, whether this run paid for it, and whether the cache has it."""
        claims = self.claims
        if claims is not None:
            holder = claims.claim(key)
            if holder is not None:
                hit = await claims.wait(key, holder)
                if hit is not None:
                    return hit, False, True
        try:
            return await batcher.call(key, request), True, True
        except RealtimeFallback:
            response, paid = await self._call_with_retries(request, key)
            return response, paid, False
        except BaseException:
            if claims is not None:
                claims.release(key)
            raise
        finally:
            if claims is not None:
                claims.done(key)

    async def _call_with_retries(self, request: Request, key: str) -> tuple[Response, bool]:
        """The backend's answer and True; or, when another process held the claim on `key` and
        answered meanwhile, that answer and False."""
        slots = self._slots_now()
        claims = self.claims
        claimed = claims is None  # --no-cache: no claims
        attempt = 0
        limited = 0  # rate-limit retries, counted apart (see RunnerConfig.max_rate_limit_retries)
        try:
            while True:
                holder: str | None = None
                billed = False
                await slots.acquire()
                try:
                    if claims is not None and not claimed:
                        # In the slot, just before the call: a claim covers a call, not a queue.
                        holder = claims.claim(key)
                        claimed = holder is None
                    if claimed:
                        delay = self._cooldown_until - time.monotonic()
                        if delay > 0:
                            await asyncio.sleep(delay)
                        if self._rpm is not None:
                            await self._rpm.acquire(1)
                        if self._tpm is not None:
                            tokens_in, tokens_out, _ = self.estimate(request)
                            await self._tpm.acquire(tokens_in + tokens_out)
                        if self._fatal is not None:
                            raise self._fatal
                        epoch = slots.epoch
                        started = time.monotonic()
                        try:
                            response = await self.backend.generate(request)
                        except asyncio.CancelledError:
                            # Ctrl-C (or a fatal error elsewhere) while the request is out: the
                            # provider may have it and bill it, as a timeout.
                            await self.budget.lost(request, self.stats)
                            raise
                        except BackendError as exc:
                            billed = exc.billed
                            if billed:
                                await self.budget.lost(request, self.stats)
                            wait, told = self._failed(exc, attempt, limited)
                            if told:
                                slots.rate_limited(epoch)
                                self.stats.rate_limits += 1
                                self.stats.note_limit(slots.limit, slots.ceiling)
                        else:
                            if slots.limit < slots.ceiling:
                                slots.succeeded()
                                self.stats.note_limit(slots.limit, slots.ceiling)
                            response.seconds = time.monotonic() - started  # --dry-run's latency
                            return response, True
                finally:
                    slots.release()
                if holder is not None and claims is not None:
                    hit = await claims.wait(key, holder)
                    if hit is not None:
                        return hit, False
                    claimed = True
                    continue
                self.stats.retries += 1
                if told:
                    limited += 1
                    # Everyone held by the cooldown wakes at once; a little jitter on our own
                    # retry keeps the next wave from arriving as a single burst.
                    wait += random.uniform(0, min(wait, 1.0) / 2)
                else:
                    attempt += 1
                await asyncio.sleep(wait)
                if billed:
                    await self.budget.again(self.stats)
        except BaseException:
            if claimed and claims is not None:
                claims.release(key)
            raise
        finally:
            if claims is not None:
                claims.done(key)

    def _slots_now(self) -> Slots:
        """The limit on calls in flight (made at the first call outside `run`, e.g. by a test)."""
        if self._slots is None:
            self._slots = Slots(self.config.concurrency, adaptive=self.config.adaptive)
        return self._slots

    def _failed(self, exc: BackendError, attempt: int, limited: int) -> tuple[float, bool]:
        """Raise if the call must not be retried; else the wait before the next attempt, and
        whether the server rate-limited it (said when to come back)."""
        if not exc.transient and not exc.per_item:
            self._fatal = exc
        told = exc.retry_after is not None
        spent = (
            limited >= self.config.max_rate_limit_retries
            if told
            else attempt >= self.config.max_retries
        )
        if not exc.transient or spent:
            if exc.transient:
                raise BackendError(
                    f"{exc} (gave up after {attempt + limited + 1} attempts)", transient=True
                ) from exc
            raise exc
        wait = backoff(self.config, attempt, exc.retry_after)
        if told:
            # The server said when it will take requests again: hold everyone.
            self._cooldown_until = max(self._cooldown_until, time.monotonic() + wait)
        return wait, told

    async def call(self, job: Job[T]) -> Outcome[T]:
        """Run one job: answer, parse, and re-ask a bounded number of times if it does not parse.

        Errors that will not pass (bad key, bad request) propagate and stop the run; an answer
        that never parses, or the budget, gives an Outcome with `error` set, no value, and the
        kind of failure (judge.engine.stats), which the run's summary and exit status read.
        An answer cut off at its token cap is asked once more with the cap doubled (small models
        ramble) before the usual re-asks.
        """
        request = job.request
        usage = Usage()
        if any(has_lone_surrogate(m.content) for m in request.messages):
            # No encoder (a JSON body, a tokenizer) takes it: this item only, never a crash.
            return self._failed_outcome(
                INVALID_TEXT,
                "a lone surrogate in the text (such as \\ud800 in "
                "JSON), which no model can read; fix the encoding of the source",
                usage,
            )
        all_cached = True
        reasks = 0
        doubled = False
        while True:
            try:
                response, cached = await self._generate(request)
            except BudgetReached as exc:
                return self._failed_outcome(BUDGET, str(exc), usage)
            except BackendError as exc:
                # Retries exhausted, or a problem of this item only: unjudged, the run goes on.
                if exc.transient:
                    kind = CANCELLED if exc.kind == CANCELLED else UNREACHABLE
                    return self._failed_outcome(kind, f"model call failed: {exc}", usage)
                if exc.per_item:
                    kind = TOO_LONG if exc.kind == TOO_LONG else REFUSED
                    return self._failed_outcome(kind, f"model call failed: {exc}", usage)
                raise
            all_cached = all_cached and cached
            usage = usage + self.usage_of(response)
            try:
                value = job.parse(response)
            except ParseError as exc:
                if response.finish_reason == "length" and not doubled:
                    doubled = True
                    self.stats.reasks += 1
                    request = replace(request, max_tokens=2 * request.max_tokens)
                    continue
                if reasks == self.config.max_reasks:
                    message = f"unparseable answer after {reasks + 1 + doubled} attempts: {exc}"
                    outcome = self._failed_outcome(UNPARSEABLE, message, usage)
                    outcome.cached, outcome.response = all_cached, response
                    return outcome
                reasks += 1
                self.stats.reasks += 1
                request = reask(request, response, str(exc))
                continue
            return Outcome(value, None, usage, cached=all_cached, response=response)

    def _failed_outcome(self, kind: str, message: str, usage: Usage) -> Outcome[Any]:
        self.stats.failure(kind, message)
        return Outcome(None, message, usage, cached=False, kind=kind)

    def join(self, parent: Runner) -> None:
        """Let this runner make calls inside `parent.run()` (a second model in one command),
        counted in the parent's stats, so progress, the summary and --max-cost cover both."""
        if parent is self:
            return
        self.stats = parent.stats
        self.budget.share(parent.budget)
        if self._slots is None:
            self._slots = Slots(self.config.concurrency, adaptive=self.config.adaptive)
        if not any(r is self for r in parent._joined):
            parent._joined.append(self)

    def release_claims(self) -> None:
        """Release this process's claims in the caches of this runner and those joined to it
        (and expired claims of killed runs). `run` does it as it ends."""
        for runner in (self, *self._joined):
            if runner.claims is not None:
                runner.claims.close()

    # -- many units ---------------------------------------------------------------------------

    async def run(
        self,
        items: Iterable[I],
        work: Callable[[I], Awaitable[R]],
        *,
        total: int | None = None,
        failed: Callable[[R], bool] | None = None,
    ) -> AsyncGenerator[tuple[I, R], None]:
        """Yield (item, work(item)) in input order, with at most `window` units in flight."""
        self._slots = Slots(self.config.concurrency, adaptive=self.config.adaptive)
        self.stats = RunStats(total=total)
        self._fatal = None  # a Session's runner may run again after a fatal error
        # --batch: a round is as many units as a job holds (their calls make one job).
        window = self.config.window or (
            self.batcher.max_requests
            if self.batcher is not None
            else max(64, 4 * self.config.concurrency)
        )
        units = in_order(
            items,
            work,
            window=window,
            stats=self.stats,
            failed=failed,
            on_progress=self.on_progress,
        )
        try:
            async with aclosing(units):
                async for done in units:
                    yield done
        finally:
            self.release_claims()
