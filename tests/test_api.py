"""The Python API: records, DataFrames and Datasets in, typed results out."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pandas as pd
import pytest

import judge
from judge.engine.settings import Settings
from judge.tasks.score import Scored
from judge.testing import FakeBackend


def test_score_records_gives_typed_results(
    constitution_file: Path, fake_backend: FakeBackend
) -> None:
    c = judge.load_constitution(constitution_file)
    results = judge.score(
        [{"prompt": "2+2?", "response": "4", "id": 7}, {"text": "a document"}],
        c,
        model="fake/judge",
    )
    assert all(isinstance(r, Scored) for r in results)
    assert results[0].verdict.scores == {"helpful": 4.0, "honest": 4.0}
    assert results[0].row["id"] == 7 and results[1].candidate.is_document


def test_score_dataframe_and_dataset(constitution_file: Path, fake_backend: FakeBackend) -> None:
    df = pd.DataFrame({"prompt": ["a", "b"], "response": ["x", "y"], "n": [1, 2]})
    out = judge.score(df, constitution_file, model="fake/judge")
    assert isinstance(out, pd.DataFrame)
    assert list(out["n"]) == [1, 2] and out["score"].notna().all()

    import datasets

    ds = datasets.Dataset.from_pandas(df)
    out_ds = judge.score(ds, constitution_file, settings=Settings(model="fake/judge"))
    assert isinstance(out_ds, datasets.Dataset)
    assert out_ds.num_rows == 2 and out_ds[0]["scores"]["helpful"] == 4.0


def test_score_works_inside_a_running_event_loop(
    constitution_file: Path, fake_backend: FakeBackend
) -> None:
    async def notebook_cell() -> list[Scored]:
        result: list[Scored] = judge.score(
            [{"prompt": "p", "response": "r"}], constitution_file, model="fake/judge"
        )
        return result

    assert asyncio.run(notebook_cell())[0].verdict.score is not None


def test_bad_records_raise_a_clear_error(
    constitution_file: Path, fake_backend: FakeBackend
) -> None:
    from judge.errors import InputError

    with pytest.raises(InputError, match="response"):
        judge.score([{"prompt": "only a prompt"}], constitution_file, model="fake/judge")
