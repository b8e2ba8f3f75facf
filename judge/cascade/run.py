"""--cascade: judge each unit with the cascade's judges in turn (judge.cascade.model).

A task-level composition of one runner per judge (each with its own backend, so its own cache
identity): the first judge's runner is the task's first runner, the driver's; the others join its
run (Runner.join), so progress, the summary, --max-cost and the exit status cover every judge.
CascadeScorer and CascadeComparer stand in for the Scorer and the Comparer: they ask the first
trusted judge, escalate while its confidence is below its threshold, and abstain when the last
judge is not confident either. Judges the fit could not trust (no threshold) are never called.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from judge.backends.base import Request
from judge.cascade.model import ABSTAINED, Cascade, CascadeJudge
from judge.engine.plan import Estimate, Plan
from judge.engine.prices import Price
from judge.engine.runner import Runner
from judge.engine.settings import Settings, make_runner
from judge.errors import InputError
from judge.judging.comparison import Ask, CompareOptions, Comparer
from judge.judging.scoring import ScoreOptions, Scorer
from judge.panel.judges import StandIn
from judge.panel.members import Judge, settings_for
from judge.records import Candidate, Comparison, Usage, Verdict
from judge.tasks.summary import plan_text, plural

T = TypeVar("T")


def judge_settings(judge: CascadeJudge, shared: Settings) -> Settings:
    """The settings of one judge: the shared ones with the judge's model, server, key variable
    and price (judge.panel.members.settings_for, as for a panel's member). A judge recorded with
    no server uses the shared --base-url (the embedded model never does)."""
    local = judge.model.startswith("local/") or judge.model == "local"
    numbers = judge.prices
    price = (
        None
        if numbers is None
        else Price(
            numbers["input"],
            numbers["output"],
            numbers.get("cached_input"),
            numbers.get("cache_write"),
        )
    )
    member = Judge(
        name=judge.name,
        model=judge.model,
        base_url=None if local else (judge.base_url or shared.base_url),
        api_key_env=judge.api_key_env,
        prices=price,
    )
    return settings_for(member, shared)


def describe_judge(settings: Settings, runner: Runner, name: str | None = None) -> CascadeJudge:
    """How cascade.json records a judge (the fields of a panel's judge spec)."""
    price = runner.price
    return CascadeJudge(
        name=name or runner.backend.name,
        model=settings.model,
        base_url=settings.base_url,
        api_key_env=settings.api_key_env,
        prices=None
        if price is None
        else {k: v for k, v in dataclasses.asdict(price).items() if v is not None},
    )


def open_judges(
    models: Sequence[str | Judge], shared: Settings, *, require_key: bool = True
) -> tuple[list[Runner], list[CascadeJudge]]:
    """A runner per judge (-m, then each --escalate-to; or the members of a judges file, each
    with its own server, key and price), and how cascade.json records each."""
    runners, judges = [], []
    for model in models:
        if isinstance(model, str):
            settings = judge_settings(CascadeJudge(model, model), shared)
        else:
            settings = settings_for(model, shared)
        runner = make_runner(settings, require_key=require_key)
        runners.append(runner)
        judges.append(
            describe_judge(settings, runner, None if isinstance(model, str) else model.name)
        )
    return runners, judges


@dataclass
class Tally:
    """What the cascade did: verdicts asked of each judge, who decided, how many abstained."""

    # Named as the calibration report writes them (to_json), in its order.
    calls_by_judge: dict[str, int]
    verdicts_asked_by_judge: dict[str, int]
    decided_by_judge: dict[str, int]
    abstained: int = 0

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class CascadeRun:
    """The cascade's trusted judges, each with its runner, and the tally of a run."""

    def __init__(self, cascade: Cascade, runners: Sequence[Runner]) -> None:
        stages = cascade.trusted
        if len(runners) != len(stages):
            raise ValueError("one runner per trusted judge of the cascade")
        self.cascade = cascade
        self.steps = [
            (s.judge.name, runner, float(s.threshold or 0.0), s.reach)
            for s, runner in zip(stages, runners, strict=True)
        ]
        names = [name for name, _, _, _ in self.steps]
        self.tally = Tally(
            calls_by_judge=dict.fromkeys(names, 0),
            verdicts_asked_by_judge=dict.fromkeys(names, 0),
            decided_by_judge=dict.fromkeys(names, 0),
        )

    @property
    def runners(self) -> list[Runner]:
        return [runner for _, runner, _, _ in self.steps]

    @property
    def name(self) -> str:
        """How rows and reports name the cascade as a whole."""
        return "cascade: " + " > ".join(name for name, _, _, _ in self.steps)

    async def decide(
        self,
        ask: Callable[[Runner], Awaitable[T]],
        look: Callable[[T], tuple[bool, float | None, Usage]],
    ) -> tuple[T, str | None, float | None, Usage]:
        """(the last verdict asked, the judge that decided or None, its confidence, the usage
        of every judge asked); `look` reads (judged?, confidence, usage) off a verdict."""
        first = self.runners[0]
        usage = Usage()
        result: Any = None
        confidence: float | None = None
        for name, runner, threshold, _ in self.steps:
            runner.join(first)  # inside the driver's run: one set of stats for every judge
            result = await ask(runner)
            judged, confidence, spent = look(result)
            usage = usage + spent
            self.tally.verdicts_asked_by_judge[name] += 1
            self.tally.calls_by_judge[name] += spent.calls
            if judged and confidence is not None and confidence >= threshold:
                self.tally.decided_by_judge[name] += 1
                return result, name, confidence, usage
        self.tally.abstained += 1
        return result, None, confidence, usage

    def dry_run(self, units: Iterable[list[Request]], what: str) -> str:
        """The --dry-run lines: calls per judge at the coverage the fit expects."""
        unit_list = list(units)
        lines = [f"judge: dry run for a cascade of {plural(len(self.steps), 'judge')}: {what}"]
        total = Plan()
        for name, runner, threshold, reach in self.steps:
            plan = Plan()
            for requests in unit_list:
                for request in requests:
                    plan.add(runner, request)
            lines.append(
                plan_text(
                    name,
                    f"{reach:.0%} of them expected to reach it (threshold {threshold:.3f})",
                    _scaled(plan, reach),
                )
            )
            total = total + _scaled(plan, reach)
        return Estimate("\n".join(lines), total)

    def summary(self) -> str:
        t = self.tally
        decided = ", ".join(f"{name} {n}" for name, n in t.decided_by_judge.items())
        calls = ", ".join(f"{name} {n}" for name, n in t.calls_by_judge.items())
        return (
            f"judge: cascade: decided by {decided}; abstained {t.abstained} (no judge "
            f"confident); calls by judge: {calls}"
        )


def _scaled(plan: Plan, share: float) -> Plan:
    def f(x: float | None) -> float | None:
        return None if x is None else x * share

    return Plan(
        calls=round(plan.calls * share),
        cached=round(plan.cached * share),
        input_tokens=round(plan.input_tokens * share),
        max_output_tokens=round(plan.max_output_tokens * share),
        input_cost=f(plan.input_cost),
        max_cost=f(plan.max_cost),
    )


def open_cascade(cascade: Cascade, shared: Settings, *, require_key: bool = True) -> CascadeRun:
    """A runner per trusted judge, from the shared settings (judge_settings)."""
    runners = [
        make_runner(judge_settings(s.judge, shared), require_key=require_key)
        for s in cascade.trusted
    ]
    return CascadeRun(cascade, runners)


def check_mode(cascade: Cascade, mode: str, where: str) -> None:
    """A cascade's thresholds are on one kind of confidence: per verdict (score) or per
    comparison (compare); using them on the other would mean nothing."""
    if cascade.mode != mode:
        fix = (
            "fit one on absolute labels (judge calibrate --escalate-to ...)"
            if mode == "score"
            else "fit one on pairwise labels with --mode compare"
        )
        raise InputError(
            f"this cascade's thresholds are on {cascade.mode}-mode confidences, and this run "
            f"judges in {mode} mode; {fix}",
            where,
        )


def abstained(error: str | None) -> str:
    """Why an item has no verdict: no judge was confident (the last one's error, if it failed)."""
    return ABSTAINED if error is None else f"{ABSTAINED} (the last judge failed: {error})"


class CascadeScorer(StandIn[ScoreOptions, CascadeRun], Scorer):
    """A Scorer whose verdicts come from the cascade (the runner it is given is not used)."""

    async def score(self, runner: Runner, candidate: Candidate) -> Verdict:
        if candidate.note:
            return await super().score(runner, candidate)

        def look(v: Verdict) -> tuple[bool, float | None, Usage]:
            return v.score is not None, v.confidence, v.usage

        v, name, confidence, usage = await self.judges.decide(
            lambda r: super(CascadeScorer, self).score(r, candidate), look
        )
        if name is None:
            error = abstained(v.error)
            return Verdict(score=None, usage=usage, error=error, confidence=confidence)
        return v.model_copy(update={"usage": usage, "decided_by": name})


class CascadeComparer(StandIn[CompareOptions, CascadeRun], Comparer):
    """A Comparer whose verdicts come from the cascade (the runner it is given is not used)."""

    async def decide(self, runner: Runner, once: Ask, pair: tuple[int, int]) -> Comparison:
        def look(c: Comparison) -> tuple[bool, float | None, Usage]:
            return c.p_a is not None, c.confidence, c.usage

        c, name, confidence, usage = await self.judges.decide(once, look)
        if name is None:
            return Comparison(
                a=pair[0],
                b=pair[1],
                p_a=None,
                winner=None,
                usage=usage,
                error=abstained(c.error),
                confidence=confidence,
                principle=c.principle,
            )
        return c.model_copy(update={"usage": usage, "decided_by": name})
