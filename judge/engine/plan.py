"""What a run would cost, for --dry-run."""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from judge.backends.base import Request, request_key
from judge.engine.cache import timing_name
from judge.errors import ConfigError

if TYPE_CHECKING:
    from judge.engine.runner import Runner

T = TypeVar("T")


@dataclass
class Plan:
    """What a run would cost, for --dry-run: nothing is called."""

    calls: int = 0
    cached: int = 0  # calls the cache already answers: free
    input_tokens: int = 0  # estimated, for the calls still to make
    max_output_tokens: int = 0  # the output cap of those calls: the worst case
    input_cost: float | None = 0.0
    max_cost: float | None = 0.0
    batch: bool = False  # priced at the provider's batch rate (--batch)
    # The time of the calls still to make, one after the other, and how many run at once.
    seconds: float = 0.0
    parallel: int = 1
    speed: str = ""  # how `seconds` was estimated, for the --dry-run line
    # (seconds a call or None, how it was found): read from the cache once a plan
    _latency: tuple[float | None, str] | None = field(default=None, repr=False, compare=False)

    @property
    def wall_seconds(self) -> float:
        return self.seconds / max(1, self.parallel)

    def add(self, runner: Runner, request: Request) -> None:
        self.calls += 1
        self.batch = self.batch or runner.batching
        if runner.cache is not None and runner.cache.get(request_key(runner.backend, request)):
            self.cached += 1
            return
        tokens_in, tokens_out, worst = runner.estimate(request)
        self.input_tokens += tokens_in
        self.max_output_tokens += tokens_out
        self._time(runner, tokens_in, tokens_out)
        if runner.price is None or self.input_cost is None or self.max_cost is None:
            self.input_cost = self.max_cost = None
        else:
            self.input_cost += runner.price.cost(tokens_in, 0)
            self.max_cost += worst or 0.0

    def _time(self, runner: Runner, tokens_in: int, tokens_out: int) -> None:
        """Seconds for one call: the backend's measured speed where it has one (the embedded
        model: tokens a second on this machine); else JUDGE_CALL_SECONDS; else the latency
        measured on this model's earlier calls (kept in the cache: the 90th percentile, for an
        "at most"); else an assumed 1 s a call plus 80 output tokens a second (the output cap
        is the worst case)."""
        measure = getattr(runner.backend, "tokens_per_second", None)
        if measure is not None:
            read, write = measure()
            self.seconds += tokens_in / read + tokens_out / write
            self.parallel = 1  # one model in the process answers one call at a time
            self.speed = f"measured here: {read:.0f} prompt and {write:.0f} output tokens/s"
            return
        each = configured_latency()
        if each is not None:
            speed = f"JUDGE_CALL_SECONDS={each:g} a call"
        else:
            if self._latency is None:
                self._latency = measured_latency(runner)
            each, speed = self._latency
        self.seconds += each if each is not None else 1.0 + tokens_out / 80
        self.parallel = max(self.parallel, runner.config.concurrency)
        self.speed = f"{speed}, --concurrency {runner.config.concurrency}"

    def __add__(self, other: Plan) -> Plan:
        def both(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else a + b

        return Plan(
            self.calls + other.calls,
            self.cached + other.cached,
            self.input_tokens + other.input_tokens,
            self.max_output_tokens + other.max_output_tokens,
            both(self.input_cost, other.input_cost),
            both(self.max_cost, other.max_cost),
            self.batch or other.batch,
        )


ASSUMED = "assumed 1 s a call + 80 output tokens/s; set JUDGE_CALL_SECONDS"
MIN_MEASURED = 5  # fewer measured calls than this say too little: the assumption is used


def configured_latency() -> float | None:
    """JUDGE_CALL_SECONDS, seconds a call; ConfigError for a value that is not one (a dry run
    that quietly fell back to another estimate would not be the one asked for)."""
    configured = os.environ.get("JUDGE_CALL_SECONDS", "").strip()
    if not configured:
        return None
    try:
        each = float(configured)
    except ValueError:
        each = math.nan
    if not math.isfinite(each) or each <= 0:
        raise ConfigError(
            f"JUDGE_CALL_SECONDS={configured!r} is not a number of seconds above 0; set it "
            "to one (e.g. 2.5), or unset it to estimate from measured or assumed latency"
        )
    return each


def measured_latency(runner: Runner) -> tuple[float | None, str]:
    """The 90th percentile of the latest calls' measured seconds for this model (the cache
    keeps them), and how it was found; (None, the assumption) without enough of them."""
    name = timing_name(runner.backend)
    times = runner.cache.call_seconds(name) if runner.cache is not None else []
    if len(times) < MIN_MEASURED:
        return None, ASSUMED
    p90 = statistics.quantiles(times, n=10, method="inclusive")[-1]
    said = f"the 90th percentile of the last {len(times)} calls to {name} in the cache"
    return p90, f"measured: {p90:.2g} s a call, {said}"


class Estimate(str):
    """The --dry-run text, with the figures it states (judge.Session.plan returns it)."""

    plan: Plan

    def __new__(cls, text: str, plan: Plan | None = None) -> Estimate:
        made = super().__new__(cls, text)
        made.plan = plan if plan is not None else Plan()
        return made

    @property
    def calls(self) -> int:
        return self.plan.calls

    @property
    def cached(self) -> int:
        """Calls the cache answers already: free."""
        return self.plan.cached

    @property
    def input_tokens(self) -> int:
        return self.plan.input_tokens

    @property
    def max_output_tokens(self) -> int:
        return self.plan.max_output_tokens

    @property
    def max_cost(self) -> float | None:
        """Dollars at most (None: a model without a price)."""
        return self.plan.max_cost


def plan_all(units: Iterable[T], plan_unit: Callable[[Plan, T], object]) -> tuple[Plan, int]:
    """Plan every unit of a task (for --dry-run); returns the plan and how many units it read."""
    plan = Plan()
    n = 0
    for unit in units:
        n += 1
        plan_unit(plan, unit)
    return plan, n
