"""`judge.ray.BatchScorer`: score the rows of a Ray Data pipeline, as a callable class for
`Dataset.map_batches`. Each batch is judged through the Python API (`judge.score`, so the one
driver and the normal runner with its concurrency) and comes back with the score columns.

    import ray
    from judge.engine.runner import RunnerConfig
    from judge.engine.settings import Settings
    from judge.ray import BatchScorer, Limits

    limits = Limits()  # one rate limit and one budget for every worker
    settings = Settings(model="openai/gpt-4o-mini",
                        runner=RunnerConfig(concurrency=16, requests_per_minute=5000, max_cost=50))
    scored = ray.data.read_parquet("corpus/").map_batches(
        BatchScorer,
        fn_constructor_kwargs={"constitution": "quality.md", "settings": settings,
                               "limits": limits},
        batch_size=256, batch_format="pandas", concurrency=4)
    scored.filter(lambda row: (row["score"] or 0) >= 0.6).write_parquet("kept/")
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pandas as pd

from judge.api import score
from judge.constitution import Constitution, load
from judge.engine.settings import Settings
from judge.errors import RunFailed
from judge.io import FieldMap
from judge.judging.scoring import ScoreOptions
from judge.keywords import ScoreCall
from judge.ray.permits import Limits


class BatchScorer:
    """Adds `score`, `scores`, `rationales` and `judge` to every row of a batch (pandas,
    pyarrow, or a dict of numpy arrays; a pyarrow batch comes back as pyarrow, the others as
    pandas). Rows that could not be judged keep a null `score`, and `judge.error` says why."""

    def __init__(
        self,
        constitution: str | Path | Constitution,
        model: str | None = None,
        *,
        settings: Settings | None = None,
        options: ScoreOptions | None = None,
        fields: FieldMap | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.constitution = (
            constitution if isinstance(constitution, Constitution) else load(constitution)
        )
        settings = settings or Settings()
        if model is not None:
            settings = replace(settings, model=model)
        if limits is not None:
            settings = replace(settings, runner=replace(settings.runner, shared=limits))
        self.settings = settings
        self.options = options
        self.fields = fields

    def __call__(self, batch: Any) -> Any:
        arrow = not isinstance(batch, (pd.DataFrame, dict))
        frame = batch if isinstance(batch, pd.DataFrame) else _frame(batch)
        extra: ScoreCall = {"settings": self.settings}
        if self.options is not None:
            extra["options"] = self.options
        if self.fields is not None:
            extra["fields"] = self.fields
        try:
            out: pd.DataFrame = score(frame, self.constitution, **extra)
        except RunFailed as failed:  # model unreachable, budget: every row, without a verdict
            out = cast(pd.DataFrame, failed.result)
        if arrow:
            import pyarrow as pa

            return pa.Table.from_pandas(out, preserve_index=False)
        return out


def _frame(batch: Any) -> pd.DataFrame:
    if isinstance(batch, dict):  # numpy arrays by column
        return pd.DataFrame({k: list(v) for k, v in batch.items()})
    return batch.to_pandas()
