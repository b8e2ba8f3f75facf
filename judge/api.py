"""The Python API that the CLI is a thin layer over; usable from a notebook.

import judge
c = judge.load_constitution("constitutions/helpful-honest-harmless.md")
results = judge.score([{"prompt": "Hi", "response": "Hello!"}], c, model="local/smollm2")
results[0].verdict.score, results[0].row          # typed results
judge.score(df, c)                                 # a pandas DataFrame in, a DataFrame out
judge.score(dataset, c)                            # a datasets.Dataset in, a Dataset out
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from judge.backends.base import Backend
from judge.backends.registry import get_backend
from judge.constitution import Constitution, load
from judge.engine.cache import Cache
from judge.engine.prices import PriceTable
from judge.engine.runner import Runner, RunnerConfig, RunStats
from judge.io import FieldMap, iter_candidates
from judge.judging.scoring import ScoreOptions, Scorer
from judge.records import Candidate, Verdict

DEFAULT_MODEL = "local/smollm2"
T = TypeVar("T")


@dataclass
class Settings:
    """How to reach the judge model and how hard to push it."""

    model: str = DEFAULT_MODEL
    base_url: str | None = None
    cache: str | Path | None = None  # None: the default cache file
    use_cache: bool = True
    prices: str | Path | None = None
    timeout: float = 120.0
    # False for a dry run: it calls nothing, so the backend is built without an API key.
    require_key: bool = True
    runner: RunnerConfig = field(default_factory=RunnerConfig)


def make_backend(settings: Settings) -> Backend:
    return get_backend(
        settings.model,
        base_url=settings.base_url,
        timeout=settings.timeout,
        require_key=settings.require_key,
    )


def make_runner(
    settings: Settings,
    backend: Backend | None = None,
    on_progress: Callable[[RunStats], None] | None = None,
) -> Runner:
    return Runner(
        backend or make_backend(settings),
        cache=Cache(settings.cache) if settings.use_cache else None,
        config=settings.runner,
        prices=PriceTable(settings.prices),
        on_progress=on_progress,
    )


@dataclass
class Scored:
    """One judged candidate: the input, the verdict, and the output row."""

    candidate: Candidate
    verdict: Verdict
    row: dict[str, Any]


def output_row(
    candidate: Candidate,
    verdict: Verdict,
    constitution: Constitution,
    model: str,
    *,
    fields: FieldMap | None = None,
    truncated: bool = False,
    mode: str = "all-principles",
) -> dict[str, Any]:
    """The contract's row: every input field, then `score`, `scores`, `rationales`, `judge`."""
    fields = fields or FieldMap()
    row = dict(candidate.row)
    if candidate.response_index is not None:
        # One row per response: the list becomes this row's response and its position.
        row.pop(fields.responses, None)
        row[fields.response] = candidate.response
        row["response_index"] = candidate.response_index
    row["score"] = verdict.score
    row["scores"] = verdict.scores
    row["rationales"] = verdict.rationales
    judge_info: dict[str, Any] = {
        "model": model,
        "constitution": {"name": constitution.name, "sha256": constitution.sha256},
        "mode": mode,
        "usage": verdict.usage.model_dump(),
        "cached": verdict.cached,
        "error": verdict.error,
    }
    if truncated:
        judge_info["truncated"] = True
    if verdict.expected_scores:
        judge_info["expected_scores"] = verdict.expected_scores
    row["judge"] = judge_info
    return row


async def score_stream(
    candidates: Iterable[Candidate],
    constitution: Constitution,
    runner: Runner,
    options: ScoreOptions | None = None,
    *,
    fields: FieldMap | None = None,
    total: int | None = None,
) -> AsyncIterator[Scored]:
    """Judge candidates in input order, streaming, through one runner."""
    scorer = Scorer(constitution, options)
    mode = "per-principle" if scorer.options.per_principle else "all-principles"

    async def work(c: Candidate) -> Verdict:
        return await scorer.score(runner, c)

    async for cand, verdict in runner.run(
        candidates, work, total=total, failed=lambda v: v.score is None
    ):
        row = output_row(
            cand,
            verdict,
            constitution,
            runner.backend.name,
            fields=fields,
            truncated=scorer.truncated(cand),
            mode=mode,
        )
        yield Scored(cand, verdict, row)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from sync code, also inside a notebook whose event loop is running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _records(data: Any) -> tuple[list[dict[str, Any]], str]:
    try:
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            return [
                {str(k): v for k, v in r.items()} for r in data.to_dict(orient="records")
            ], "pandas"
    except ImportError:  # pragma: no cover - pandas is a core dependency
        pass
    try:
        import datasets

        if isinstance(data, datasets.Dataset):
            return list(data), "datasets"
    except ImportError:  # pragma: no cover
        pass
    return [dict(r) for r in data], "records"


def load_constitution(path: str | Path) -> Constitution:
    return load(path)


def score(
    data: Any,
    constitution: Constitution | str | Path,
    model: str | None = None,
    *,
    options: ScoreOptions | None = None,
    settings: Settings | None = None,
    fields: FieldMap | None = None,
) -> Any:
    """Score records (a list of dicts, a pandas DataFrame or a datasets.Dataset).

    Returns a list of `Scored` for records, or the same kind of table with the output columns
    added for a DataFrame or a Dataset.
    """
    if not isinstance(constitution, Constitution):
        constitution = load(constitution)
    settings = settings or Settings()
    if model is not None:
        settings.model = model
    fields = fields or FieldMap()
    records, kind = _records(data)
    candidates = list(
        iter_candidates("<data>", fields, rows=((i + 1, r) for i, r in enumerate(records)))
    )

    async def collect() -> list[Scored]:
        runner = make_runner(settings)
        try:
            return [s async for s in score_stream(candidates, constitution, runner, options)]
        finally:
            await runner.backend.aclose()

    results = run_sync(collect())
    if kind == "records":
        return results
    rows = [s.row for s in results]
    if kind == "pandas":
        import pandas as pd

        return pd.DataFrame(rows)
    import datasets

    return datasets.Dataset.from_list(rows)


def iter_rows(results: Iterable[Scored]) -> Iterator[dict[str, Any]]:
    for s in results:
        yield s.row
