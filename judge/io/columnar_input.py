"""Parquet files and Hugging Face dataset folders as input (pyarrow and datasets are imported
only when such an input is read)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from judge.errors import InputError


def _parquet_file(path: str) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if os.path.getsize(path) == 0:
        raise InputError("empty input: no rows", where=path)
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as e:
        raise InputError(f"not a valid Parquet file ({e})", where=path) from None


def _read_parquet(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    import pyarrow as pa

    number = 0
    batches = _parquet_file(path).iter_batches(batch_size=1000)
    while True:
        try:
            batch = next(batches, None)
        except (pa.ArrowException, OSError) as e:
            raise InputError(
                f"damaged Parquet file ({e})", where=f"{path}:row {number + 1}"
            ) from None
        if batch is None:
            return
        for row in batch.to_pylist():
            number += 1
            yield number, row


def _load_dataset(path: str) -> Any:
    """The datasets.Dataset saved in a folder (a DatasetDict folder with one split is accepted)."""
    names = ("state.json", "dataset_dict.json")
    has = {name for name in names if os.path.isfile(os.path.join(path, name))}
    if not has:
        raise InputError(
            "a folder, but not a Hugging Face dataset (no state.json or dataset_dict.json "
            "from save_to_disk); give a file or a dataset folder",
            where=path,
        )
    if "state.json" in has and _dataset_has_no_data(path):
        # datasets cannot load a saved dataset of zero rows; it is an empty input.
        raise InputError("empty input: no rows", where=path)
    import datasets

    try:
        loaded = datasets.load_from_disk(path)
    except Exception as e:  # datasets raises many kinds for a damaged folder
        raise InputError(f"cannot read the Hugging Face dataset ({e})", where=path) from None
    if isinstance(loaded, datasets.DatasetDict):
        splits = list(loaded)
        if len(splits) != 1:
            raise InputError(
                f"the dataset has splits {', '.join(splits)}: give one split's folder, "
                f"e.g. {os.path.join(path, splits[0] if splits else 'train')}",
                where=path,
            )
        return loaded[splits[0]]
    return loaded


def _dataset_has_no_data(path: str) -> bool:
    try:
        with open(os.path.join(path, "state.json"), encoding="utf-8") as f:
            return json.load(f).get("_data_files") == []
    except (OSError, ValueError, AttributeError):
        return False


def _read_dataset(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    number = 0
    for table in _load_dataset(path).with_format("arrow").iter(batch_size=1000):
        for row in table.to_pylist():
            number += 1
            yield number, row
