"""`constitution_reward(...)`: a constitution as a reward function that TRL's GRPOTrainer,
RLOOTrainer and OnlineDPOTrainer take in `reward_funcs` as it is.

    reward = judge.rewards.constitution_reward("constitutions/math-answers.md",
                                               model="openai/gpt-4o-mini")
    trainer = GRPOTrainer(model=..., reward_funcs=reward, train_dataset=...)

TRL calls it with `prompts`, `completions` and every dataset column (one value a completion) as
keywords, and takes a list of floats back; None leaves that completion out of the reward. The
function keeps one judge (connections, cache, budget, rate limits) and one event loop, in a
thread of its own, for its lifetime: every step shares them, and a step's completions are judged
concurrently. `.as_async()` is the same reward as a coroutine function, for TRL's async path.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from judge.calibration import Calibration, load_for
from judge.constitution import Constitution, load
from judge.engine.runner import RunnerConfig
from judge.engine.settings import Settings
from judge.judging.comparison import CompareOptions
from judge.judging.scoring import ScoreOptions
from judge.rewards.core import Reward, RewardCore, only
from judge.rewards.inputs import REFERENCE
from judge.rewards.verdicts import Judging, Verdicts

T = TypeVar("T")


class _Loop:
    """One event loop for the reward's lifetime: the judge's connections live on it across
    steps. A trainer that calls from a thread without a running loop (TRL's sync path) runs it
    right there, so that math-verify's time limits (SIGALRM, main thread only) hold for
    `verify: answer`; once called from a running loop (TRL's async path, a notebook), the loop
    moves to a daemon thread of its own for good."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread: threading.Thread | None = None

    def _threaded(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(
                target=self.loop.run_forever, name="judge-rewards", daemon=True
            )
            self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            if self.thread is None:
                return self.loop.run_until_complete(coro)
        self._threaded()
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def submit(self, coro: Coroutine[Any, Any, T]) -> Awaitable[T]:
        self._threaded()
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def close(self) -> None:
        if self.loop.is_closed():
            return
        if self.thread is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join()
        self.loop.close()


class ConstitutionReward:
    """A reward function: `reward(prompts, completions, **columns) -> list[float | None]`."""

    def __init__(self, core: RewardCore, name: str) -> None:
        self.core = core
        self.__name__ = name  # TRL logs rewards/<name>/mean
        self._loop = _Loop()
        self.last: list[Reward] = []  # the last call's rewards with their verdicts
        atexit.register(self.close)  # the cache and connections closed even if no one does

    def __call__(
        self, prompts: list[Any], completions: list[Any], **columns: Any
    ) -> list[float | None]:
        return self._log(self._loop.run(self.core.rewards(prompts, completions, columns)), columns)

    def as_async(self) -> Callable[..., Awaitable[list[float | None]]]:
        """The same reward as a coroutine function (TRL runs those concurrently)."""

        async def reward(
            prompts: list[Any], completions: list[Any], **columns: Any
        ) -> list[float | None]:
            found = await self._loop.submit(self.core.rewards(prompts, completions, columns))
            return self._log(found, columns)

        reward.__name__ = reward.__qualname__ = self.__name__
        return reward

    def _log(self, found: list[Reward], columns: dict[str, Any]) -> list[float | None]:
        """The rewards; with TRL's `log_metric`, the step's unjudged share and judge spending."""
        self.last = found
        log = columns.get("log_metric")
        if callable(log) and found:
            log("judge/unjudged", sum(r.reward is None for r in found) / len(found))
            spent = self.core.spent()
            log("judge/calls", float(spent.calls))
            if spent.cost_usd is not None:
                log("judge/cost_usd", spent.cost_usd)
        return [r.reward for r in found]

    def close(self) -> None:
        """Close the judge's connections and cache, then the loop (also at exit)."""
        if not self._loop.loop.is_closed():
            self._loop.run(self.core.verdicts.aclose())
            self._loop.close()
            atexit.unregister(self.close)

    def __enter__(self) -> ConstitutionReward:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def constitution_reward(
    constitution: str | Path | Constitution,
    *,
    model: str | None = None,
    base_url: str | None = None,
    group: bool = False,
    pairwise: bool = False,
    principle: str | None = None,
    calibration: str | Path | Calibration | None = None,
    reference: str = REFERENCE,
    concurrency: int = 32,
    max_cost: float | None = None,
    cache: str | Path | None = None,
    use_cache: bool = True,
    settings: Settings | None = None,
    score_options: ScoreOptions | None = None,
    group_size: int = 64,
    name: str | None = None,
    verdicts: Verdicts | None = None,
) -> ConstitutionReward:
    """The constitution as a TRL reward function (see the module's doc).

    The reward is the completion's `score` in [0, 1] as `judge score` writes it; with
    `calibration` its calibrated score; with `principle` that principle's score alone (the
    others are not asked). `group=True` judges the completions of one prompt in one call;
    `pairwise=True` makes each reward the completion's win rate against the others of its
    prompt (compare mode, both orders). `reference` names the dataset column of reference
    answers (`verify: answer` principles). `settings` replaces model, base_url, concurrency,
    max_cost and cache; `verdicts` replaces the judge altogether (tests, other judges).
    """
    c = constitution if isinstance(constitution, Constitution) else load(constitution)
    c = only(c, principle)
    cal = calibration
    if cal is not None and not isinstance(cal, Calibration):
        cal = load_for(cal, kind="absolute", sha256=c.sha256)[0]
    if verdicts is None:
        if settings is None:
            settings = Settings(
                model=model or Settings.model,
                base_url=base_url,
                cache=cache,
                use_cache=use_cache,
                runner=RunnerConfig(concurrency=concurrency, max_cost=max_cost),
            )
        verdicts = Judging(c, settings, score_options, CompareOptions(), group_size=group_size)
    core = RewardCore(
        verdicts, group=group, pairwise=pairwise, calibration=cal, reference=reference
    )
    label = name or (c.name if principle is None else f"{c.name}.{principle}")
    return ConstitutionReward(core, label)
