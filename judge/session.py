"""judge.Session: one object that owns the judges' backends, runners, the cache and one budget,
for any number of calls.

    import judge
    with judge.Session("openai/gpt-4o-mini", max_cost=5) as s:   # or: async with
        scored = s.score(rows, "constitutions/helpful-honest-harmless.md")
        kept = s.filter(df, c, min_score=0.7)          # a DataFrame in, a DataFrame out
        pairs = s.pairs(dataset, c)                    # a Dataset in, a Dataset out
        print(s.plan("score", more_rows, c))           # calls, tokens, dollars; nothing called

Everything made inside a Session shares one HTTP connection pool per model and server, one
connection to each cache file, one rate limit of each kind and one `max_cost` account: the
budget spans every call. Resources are opened on enter and closed on exit, also when a call
fails. A sync Session runs its calls on an event loop of its own (in a thread), so that
connections are reused across calls, also from a notebook whose loop is running; inside
`async with`, await the `a` methods (`ascore`, `afilter`, ...) on your loop instead.

Where the CLI would exit 1 (the model could not be reached, the budget ran out) a call raises
judge.errors.RunFailed, whose `result` holds what the call would have returned.
"""

from __future__ import annotations

import asyncio
import threading
import warnings
from collections.abc import Coroutine, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from typing_extensions import Unpack

from judge.by_kind import Records, Row, blocking, by_kind, filters, sync
from judge.errors import ConfigError, RunFailed, spelled
from judge.keywords import (
    CalibrateKeywords,
    CheckKeywords,
    ClassifyEither,
    ClassifyKeywords,
    ClassifySplit,
    DistillKeywords,
    FilterAsync,
    FilterEither,
    FilterKeywords,
    FilterSplit,
    PairsKeywords,
    ReviseKeywords,
    ScoreKeywords,
    SessionKeywords,
    SettingsKeywords,
    check,
    keys,
)
from judge.tasks.score import Scored

if TYPE_CHECKING:
    import datasets
    import pandas as pd

    from judge.commands import Call, ConstitutionLike
    from judge.constitution import Problem
    from judge.engine.plan import Estimate
    from judge.engine.pool import Pool
    from judge.engine.settings import Settings
    from judge.records import Verdict

T = TypeVar("T")
Command = Literal["score", "filter", "pairs", "calibrate", "revise"]
# The Session's keywords that make its Settings (the others say who judges).
_SETTINGS = keys(SettingsKeywords)


def _filter_rejected(
    data: Any, /, constitution: ConstitutionLike, **kw: Unpack[FilterSplit]
) -> None:
    """Session.filter's keywords with rejected=True (a declaration for type checkers)."""


def _filter_either(
    data: Any, /, constitution: ConstitutionLike, **kw: Unpack[FilterEither]
) -> None:
    """Session.filter's keywords with rejected=<a bool> (a declaration for type checkers)."""


def _classify_rejected(data: Any, /, model_dir: str, **kw: Unpack[ClassifySplit]) -> None:
    """Session.classify's keywords with rejected=True (a declaration for type checkers)."""


def _classify_either(data: Any, /, model_dir: str, **kw: Unpack[ClassifyEither]) -> None:
    """Session.classify's keywords with rejected=<a bool> (a declaration for type checkers)."""


class Session:
    """Judges and what they share, for many calls: `with judge.Session(model, ...) as s:`.

    `model` is PROVIDER/NAME (default: the embedded local model), or a list of them for a panel;
    the keywords are the CLI's options of the same names (`max_cost` is `--max-cost`)."""

    def __init__(
        self, model: str | Sequence[str] | None = None, **keywords: Unpack[SessionKeywords]
    ) -> None:
        from judge.options import make_settings, one_model
        from judge.tasks.judges import Judges

        check(keywords, SessionKeywords, "Session")
        base = keywords.get("settings")
        first, members = one_model(model if model is not None else base.model if base else None)
        given: dict[str, Any] = {k: keywords[k] for k in _SETTINGS if k in keywords}  # type: ignore[literal-required]
        self.settings = make_settings(model=first, base=base, **given)
        self.judges = Judges.of(
            members, keywords.get("judges"), keywords.get("quorum"), keywords.get("cascade")
        )
        self._pool: Pool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # a sync Session's own loop
        self._thread: threading.Thread | None = None

    # -- lifetime -----------------------------------------------------------------------------

    def __enter__(self) -> Session:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="judge-session", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        try:
            self._wait(self._open())
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._wait(self._close())
        finally:
            self._stop()

    async def __aenter__(self) -> Session:
        await self._open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._close()

    async def _open(self) -> None:
        from judge.engine.pool import Pool

        if self._pool is not None:
            raise ConfigError("this Session is open already; open a Session once")
        pool = Pool()
        if self.settings.use_cache:
            pool.cache(self.settings.cache)  # opened now: a bad cache path fails here
        self._pool = pool

    async def _close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.aclose()

    def _stop(self) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()

    def _wait(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the Session's loop and wait for it (a sync Session)."""
        if self._loop is None:
            coro.close()
            if self._pool is not None:
                raise ConfigError(
                    "inside `async with Session(...)`, await the a-methods (ascore, afilter, ...)"
                )
            raise ConfigError("open the Session first: `with judge.Session(...) as s:`")
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # Ctrl-C: the call stops, the Session closes what it opened
            raise

    # -- for code that keeps one Session across many calls of its own (judge.rewards) ----------

    def shared_settings(self) -> Settings:
        """Settings whose runners borrow this open Session's backends, cache, limits and
        budget (judge.engine.settings.make_runner); the Session closes them, not the runner."""
        settings: Settings = self._settings()
        return settings

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on this sync Session's event loop and wait for it, from any thread."""
        return self._wait(coro)

    async def run_async(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await `coro` run on this sync Session's event loop, from a coroutine on any other
        loop: the Session's connections never move between loops."""
        if self._loop is None:
            return self._wait(coro)  # says why not
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    def _settings(self, dry_run: bool = False) -> Any:
        if self._pool is None:
            raise ConfigError("open the Session first: `with judge.Session(...) as s:`")
        return replace(self.settings, pool=self._pool, require_key=not dry_run)

    # -- running a command --------------------------------------------------------------------

    def _call(
        self,
        command: Command,
        data: Any,
        constitution: Any,
        kw: Mapping[str, Any],
        dry: bool,
        **required: Any,
    ) -> Call:
        from judge import commands

        allowed = {
            "score": ScoreKeywords,
            "filter": FilterKeywords,
            "pairs": PairsKeywords,
            "calibrate": CalibrateKeywords,
            "revise": ReviseKeywords,
        }[command]
        check(kw, allowed, command)
        make = getattr(commands, f"{command}_call")
        given = commands.Given(
            self._settings(dry), self.judges, data, constitution, {**kw, **required}, _warn
        )
        call: Call = make(given)
        return call

    async def _drive(
        self, command: Command, data: Any, c: Any, kw: Mapping[str, Any], **required: Any
    ) -> Any:
        from judge.tasks.driver import drive

        call = self._call(command, data, c, kw, dry=False, **required)
        report = await drive(call.task, call.sinks, fail_under=kw.get("fail_under"))
        if report.exit_code:
            raise RunFailed([spelled(line) for line in report.lines], call.result())
        return call.result()

    async def aplan(
        self, command: Command, data: Any, constitution: ConstitutionLike, **kw: Any
    ) -> Estimate:
        """What `command` would cost on `data` (calls, tokens, dollars), calling nothing: the
        `--dry-run` line, with its figures as attributes."""
        from judge.engine.plan import Estimate
        from judge.tasks.driver import plan_only

        call = self._call(command, data, constitution, kw, dry=True)
        text = await plan_only(call.task)
        plan = text.plan if isinstance(text, Estimate) else None
        return Estimate(spelled(text), plan)

    plan = blocking(aplan)

    # -- the commands -------------------------------------------------------------------------

    async def ascore(
        self, data: Any, /, constitution: ConstitutionLike, **kw: Unpack[ScoreKeywords]
    ) -> Any:
        """Score every candidate: a list of `Scored` for records, or the same kind of table with
        `score`, `scores`, `rationales` and `judge` added."""
        return await self._drive("score", data, constitution, kw)

    score = sync(ascore, Scored)

    async def averdicts(
        self, data: Records, constitution: ConstitutionLike, **kw: Unpack[ScoreKeywords]
    ) -> list[Verdict]:
        """The verdict on each candidate, in order: for online rewards, many calls a Session
        (the cache, the connections and the budget are the Session's)."""
        scored: list[Scored] = await self._drive("score", list(data), constitution, kw)
        return [s.verdict for s in scored]

    async def afilter(
        self, data: Any, /, constitution: ConstitutionLike, **kw: Unpack[FilterAsync]
    ) -> Any:
        """The rows the judge keeps (`min_score`, `keep_top` or `target_precision`), with their
        scores; `rejected=True`: a Filtered, `.kept` and `.rejected` (the rows dropped or left
        unjudged), each the kind of table given."""
        return await self._drive("filter", data, constitution, kw)

    filter = filters(_filter_rejected, _filter_either)(sync(afilter, Row))

    async def apairs(
        self, data: Any, /, constitution: ConstitutionLike, **kw: Unpack[PairsKeywords]
    ) -> Any:
        """DPO preference pairs from prompts with several responses (rows that already have a
        `score` are ranked by it, with no model call unless `rescore=True`)."""
        return await self._drive("pairs", data, constitution, kw)

    pairs = sync(apairs, Row)

    async def acalibrate(
        self,
        labels: Records | pd.DataFrame | datasets.Dataset,
        constitution: ConstitutionLike,
        *,
        output_dir: str,
        **kw: Unpack[CalibrateKeywords],
    ) -> dict[str, Any]:
        """Measure the judge against human labels and fit a calibration (or, with
        `target_agreement`, a cascade): the report as a dict; its files in `output_dir`."""
        result: dict[str, Any] = await self._drive(
            "calibrate", labels, constitution, kw, output_dir=output_dir
        )
        return result

    calibrate = blocking(acalibrate)

    async def arevise(
        self, data: Any, /, constitution: ConstitutionLike, **kw: Unpack[ReviseKeywords]
    ) -> Any:
        """Critique and revise each response, judged against the original (`pairs=True`: the
        revision-vs-original preference pairs instead of the rows)."""
        return await self._drive("revise", data, constitution, kw)

    revise = sync(arevise, Row)

    # -- no judge called ----------------------------------------------------------------------

    def distill(
        self,
        scored: Records | pd.DataFrame | datasets.Dataset,
        output_dir: str,
        **kw: Unpack[DistillKeywords],
    ) -> dict[str, Any]:
        """Train a fastText classifier on the judge's verdicts in `scored` (score's rows) and
        write it to `output_dir`: what its meta.json says (rule, held-out agreement, ...)."""
        from judge.distill import api

        check(kw, DistillKeywords, "distill")
        return api.distill(scored, output_dir, kw)

    @filters(_classify_rejected, _classify_either)
    @by_kind(Row)
    @staticmethod
    def classify(data: Any, /, model_dir: str, **kw: Unpack[ClassifyKeywords]) -> Any:
        """Filter with a classifier from distill (`min_prob` or `keep_top`), at CPU speed, no
        model call: the kept rows with `classifier_prob` (`rejected=True`: a Filtered, the
        kept rows and the dropped ones)."""
        from judge.distill import api

        check(kw, ClassifyKeywords, "classify")
        return api.classify(data, model_dir, kw)

    @staticmethod
    def check(*paths: str | Path, **kw: Unpack[CheckKeywords]) -> list[Problem]:
        """Lint constitution files: every problem (`str(p)` is `FILE:LINE: message`), warnings
        included (`p.level`); an empty list when they are clean. `strict=True` (the CLI's
        `--strict`): warnings fail the check too, so they come back as errors."""
        from judge.constitution import check_file

        check(kw, CheckKeywords, "check")
        problems = [problem for path in paths for problem in check_file(path)]
        if kw.get("strict"):
            problems = [replace(p, level="error") for p in problems]
        return problems


def _warn(message: str) -> None:
    warnings.warn(spelled(message.removeprefix("warning: ")), UserWarning, stacklevel=4)
