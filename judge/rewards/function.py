"""`constitution_reward(...)`: a constitution as a reward function that TRL's GRPOTrainer,
RLOOTrainer and OnlineDPOTrainer take in `reward_funcs` as it is.

    reward = judge.rewards.constitution_reward("constitutions/math-answers.md",
                                               model="openai/gpt-4o-mini")
    trainer = GRPOTrainer(model=..., reward_funcs=reward, train_dataset=...)

TRL calls it with `prompts`, `completions` and every dataset column (one value a completion) as
keywords, and takes a list of floats back; None leaves that completion out of the reward. The
function holds one judge.Session for its lifetime (connections, cache, budget, rate limits, on
the Session's event loop in a thread of its own): every step shares it, whichever thread or event
loop calls, and a step's completions are judged concurrently. `.as_async()` is the same reward as
a coroutine function, for TRL's async path. TRL never closes a reward: the Session is closed at
interpreter exit, or by `close()` or a `with` block.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from judge.calibration import Calibration, load_for
from judge.constitution import Constitution, load
from judge.engine.settings import Settings
from judge.errors import ConfigError
from judge.judging.comparison import CompareOptions
from judge.judging.scoring import ScoreOptions
from judge.rewards.core import Reward, RewardCore, only
from judge.rewards.inputs import REFERENCE
from judge.rewards.verdicts import Judging
from judge.session import Session


class ConstitutionReward:
    """A reward function: `reward(prompts, completions, **columns) -> list[float | None]`."""

    def __init__(self, core: RewardCore, name: str, session: Session) -> None:
        self.core = core
        self.session = session  # open; the reward closes it
        self.__name__ = name  # TRL logs rewards/<name>/mean
        self.last: list[Reward] = []  # the last call's rewards with their verdicts
        self._closing = threading.Lock()
        self._closed = False
        atexit.register(self.close)  # the cache and connections closed even if no one does

    def __call__(
        self, prompts: list[Any], completions: list[Any], **columns: Any
    ) -> list[float | None]:
        self._check_open()
        found = self.session.run(self.core.rewards(prompts, completions, columns))
        return self._log(found, columns)

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigError(
                f"the reward function {self.__name__} is closed (close(), or its `with` block "
                "ended): make another with judge.rewards.constitution_reward(...)"
            )

    def as_async(self) -> Callable[..., Awaitable[list[float | None]]]:
        """The same reward as a coroutine function (TRL runs those concurrently)."""

        async def reward(
            prompts: list[Any], completions: list[Any], **columns: Any
        ) -> list[float | None]:
            self._check_open()
            found = await self.session.run_async(self.core.rewards(prompts, completions, columns))
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
        """Close the Session: its connections, its cache, then its loop (also at exit); once."""
        with self._closing:
            if self._closed:
                return
            self._closed = True
        atexit.unregister(self.close)
        try:
            self.session.run(self.core.verdicts.aclose())
        finally:
            self.session.__exit__(None, None, None)

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
) -> ConstitutionReward:
    """The constitution as a TRL reward function (see the module's doc).

    The reward is the completion's `score` in [0, 1] as `judge score` writes it; with
    `calibration` its calibrated score; with `principle` that principle's score alone (the
    others are not asked). `group=True` judges the completions of one prompt in one call;
    `pairwise=True` makes each reward the completion's win rate against the others of its
    prompt (compare mode, both orders). `reference` names the dataset column of reference
    answers (`verify: answer` principles). `settings` replaces model, base_url, concurrency,
    max_cost and cache.
    """
    c = constitution if isinstance(constitution, Constitution) else load(constitution)
    c = only(c, principle)
    cal = calibration
    if cal is not None and not isinstance(cal, Calibration):
        cal = load_for(cal, kind="absolute", sha256=c.sha256)[0]
    if settings is None:
        session = Session(
            model,
            base_url=base_url,
            cache=cache,
            no_cache=not use_cache,
            concurrency=concurrency,
            max_cost=max_cost,
        )
    else:
        session = Session(settings=settings)
    session.__enter__()
    try:
        verdicts = Judging(c, session, score_options, CompareOptions(), group_size=group_size)
    except BaseException:
        session.__exit__(None, None, None)
        raise
    core = RewardCore(
        verdicts, group=group, pairwise=pairwise, calibration=cal, reference=reference
    )
    label = name or (c.name if principle is None else f"{c.name}.{principle}")
    return ConstitutionReward(core, label, session)
