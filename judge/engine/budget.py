"""What calls cost: their usage in tokens and dollars, worst-case estimates, and --max-cost.

The budget reserves each call's worst case (its full output cap, and a prompt-cache write where
the backend bills one) before the call is made and settles it when the answer arrives, so calls
in flight together can never pass --max-cost. A model without a price has unknown costs: they are
never counted as zero (the driver refuses --max-cost for such a model before any call).

A call given up without an answer (a timeout, a connection broken after the request was sent, a
malformed 200, a call cancelled in flight by Ctrl-C) may still be billed by the provider: it
counts as spent at its worst case, and a retry is made only while the budget still holds its
reservation.

Many processes judging one job (judge.ray) share one budget through a Ledger: the reservation
and the spending are then the whole cluster's, not this process's.
"""

from __future__ import annotations

from typing import Protocol

from judge.backends.base import Backend, Request, Response
from judge.engine.prices import Price, estimate_tokens
from judge.engine.stats import RunStats
from judge.errors import BudgetReached
from judge.records import Usage


class InFlight:
    """The worst-case cost of the calls in flight: one per run, shared by the runners that
    call inside it (a panel's members, revise's judge), so that together they stay within
    --max-cost."""

    def __init__(self) -> None:
        self.reserved = 0.0


class Ledger(Protocol):
    """A --max-cost account shared by many processes (judge.ray.permits)."""

    async def reserve(self, worst: float, max_cost: float) -> tuple[bool, float]:
        """Reserve `worst` dollars unless the spending and the reservations of every process
        would then pass `max_cost`; whether it was granted, and the dollars spent so far."""
        ...

    async def settle(self, reserved: float, cost: float) -> None:
        """A call's reservation ends; it cost `cost` dollars (0 when nothing was paid)."""
        ...


class Budget:
    def __init__(
        self,
        backend: Backend,
        price: Price | None,
        max_cost: float | None,
        ledger: Ledger | None = None,
    ) -> None:
        self.backend = backend
        self.price = price
        self.max_cost = max_cost
        self.ledger = ledger
        self.in_flight = InFlight()

    @property
    def reserved(self) -> float:
        """Worst-case cost of the calls in flight, of every runner sharing this one's run."""
        return self.in_flight.reserved

    def share(self, other: Budget) -> None:
        """Count the calls in flight of `other`'s run as this budget's too."""
        self.in_flight = other.in_flight

    def usage_of(self, response: Response) -> Usage:
        """Tokens and dollars of one answer (dollars None when the price is unknown)."""
        cost = (
            None
            if self.price is None
            else self.price.cost(
                response.input_tokens,
                response.output_tokens,
                response.cached_input_tokens,
                response.cache_write_input_tokens,
            )
        )
        return Usage(
            calls=1,
            input_tokens=response.input_tokens,
            cached_input_tokens=response.cached_input_tokens,
            output_tokens=response.output_tokens,
            cost_usd=cost,
        )

    def estimate(self, request: Request) -> tuple[int, int, float | None]:
        """Input tokens, worst-case output tokens and worst-case dollars of one call.

        Where the backend bills writes to its prompt cache above the input rate (Anthropic:
        1.25x), the worst case is that the call writes every block marked cacheable: a cache
        expires after minutes, and concurrent first calls all write it.
        """
        text = "".join(m.content for m in request.messages)
        if request.schema is not None:
            text += str(request.schema)
        tokens_in = estimate_tokens(text)
        if self.price is None:
            return tokens_in, request.max_tokens, None
        written = 0
        if self.backend.bills_cache_writes:
            written = estimate_tokens("".join(m.content for m in request.messages if m.cache))
        cost = self.price.cost(tokens_in, request.max_tokens, cache_write_input_tokens=written)
        return tokens_in, request.max_tokens, cost

    async def reserve(self, request: Request, stats: RunStats) -> float:
        """Reserve the call's worst case, or raise BudgetReached if it could pass --max-cost."""
        if self.max_cost is None:
            return 0.0
        _, _, worst = self.estimate(request)
        worst = worst or 0.0
        if self.ledger is not None:
            granted, spent = await self.ledger.reserve(worst, self.max_cost)
        else:
            spent = stats.spent.cost_usd or 0.0
            granted = spent + self.reserved + worst <= self.max_cost
        if not granted:
            stats.budget_hit = True
            raise BudgetReached(
                f"not judged: the budget of ${self.max_cost:.2f} (--max-cost) would be "
                f"passed (spent ${spent:.4f}); raise it and run the same command again"
            )
        self.in_flight.reserved += worst
        return worst

    async def lost(self, request: Request, stats: RunStats) -> None:
        """A call given up without an answer that the provider may bill (BackendError.billed,
        or cancelled in flight): count it as made and spent at its worst case."""
        _, _, worst = self.estimate(request)
        stats.calls += 1
        stats.lost_calls += 1
        stats.spent = stats.spent + Usage(calls=1, cost_usd=worst)
        if self.ledger is not None and self.max_cost is not None:
            await self.ledger.settle(0.0, worst or 0.0)

    async def again(self, stats: RunStats) -> None:
        """Before retrying a call whose reservation is still held: raise BudgetReached if the
        spending (lost calls included) and the reservations pass --max-cost."""
        if self.max_cost is None:
            return
        if self.ledger is not None:
            granted, spent = await self.ledger.reserve(0.0, self.max_cost)
        else:
            spent = stats.spent.cost_usd or 0.0
            granted = spent + self.reserved <= self.max_cost
        if not granted:
            stats.budget_hit = True
            raise BudgetReached(
                f"not judged: the budget of ${self.max_cost:.2f} (--max-cost) would be passed by "
                f"a retry (spent ${spent:.4f}, calls given up on timeouts counted at their worst "
                "case); raise it and run the same command again"
            )

    async def settle(self, reserved: float, cost: float) -> None:
        """The call that reserved `reserved` is over, having cost `cost` (0: nothing paid)."""
        self.in_flight.reserved -= reserved
        if self.ledger is not None and self.max_cost is not None:
            await self.ledger.settle(reserved, cost)
