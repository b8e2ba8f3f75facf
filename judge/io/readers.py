"""Reading any supported input: the format chosen by the path, rows streamed, and where a row
is (`FILE:LINE`, `FILE:row N`) for messages."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from typing import Any

from judge.errors import InputError
from judge.io.columnar_input import _load_dataset, _parquet_file, _read_dataset, _read_parquet
from judge.io.json_input import _json_is_array, _read_json_file
from judge.io.text_input import (
    STDIN_NAME,
    _count_lines,
    _csv_reader,
    _read_csv,
    _read_jsonl_file,
    _read_stdin,
)

_INPUT_KINDS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".parquet": "parquet",
}
_SUPPORTED = (
    ".jsonl, .ndjson, .json, .csv, .parquet, a Hugging Face dataset folder, "
    "or - for JSON Lines on stdin"
)


def read_rows(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (where_index, row) for every row of the input, streaming.

    where_index is the 1-based line for JSON Lines, stdin and CSV (the line where the record
    starts; the header is line 1) and the 1-based row number otherwise. A missing path or an
    unsupported extension raises at once; an input with no rows raises when it is exhausted.
    """
    path = os.fspath(path)
    kind = _input_kind(path)
    readers = {
        "stdin": _read_stdin,
        "jsonl": _read_jsonl_file,
        "json": _read_json_file,
        "csv": _read_csv,
        "parquet": _read_parquet,
        "dataset": _read_dataset,
    }
    return _require_rows(readers[kind](path), STDIN_NAME if path == "-" else path)


def describe(path: str, index: int) -> str:
    """Where a row is, for messages: `FILE:LINE`, `FILE:row N` or `<stdin>:LINE`."""
    path = os.fspath(path)
    if path == "-":
        return f"{STDIN_NAME}:{index}"
    suffix = os.path.splitext(path)[1].lower()
    line_based = suffix in (".jsonl", ".ndjson", ".csv") or (
        suffix == ".json" and not _json_is_array(path)
    )
    return f"{path}:{index}" if line_based else f"{path}:row {index}"


def count_rows(path: str) -> int | None:
    """A cheap row count for progress bars; None when it is not known cheaply (stdin, a JSON array).

    JSON Lines are counted by newlines (blank lines included), Parquet from its metadata and a
    dataset folder from its info. Raises the same InputError as read_rows for a bad path.
    """
    path = os.fspath(path)
    kind = _input_kind(path)
    if kind == "stdin":
        return None
    if kind == "jsonl" or (kind == "json" and not _json_is_array(path)):
        return _count_lines(path)
    if kind == "csv":
        try:
            with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
                records = sum(1 for values in _csv_reader(f) if values)
        except csv.Error:
            return None  # read_rows will name the problem
        return max(records - 1, 0)
    if kind == "parquet":
        return int(_parquet_file(path).metadata.num_rows)
    if kind == "dataset":
        return len(_load_dataset(path))
    return None


def _input_kind(path: str) -> str:
    if path == "-":
        return "stdin"
    if os.path.isdir(path):
        return "dataset"
    if not os.path.exists(path):
        raise InputError("no such file", where=path)
    if not os.access(path, os.R_OK):
        raise InputError("cannot read the file (permission denied)", where=path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in _INPUT_KINDS:
        raise InputError(
            f"unsupported input format {suffix or '(no extension)'!r}: use {_SUPPORTED}",
            where=path,
        )
    return _INPUT_KINDS[suffix]


def _require_rows(
    rows: Iterator[tuple[int, dict[str, Any]]], name: str
) -> Iterator[tuple[int, dict[str, Any]]]:
    empty = True
    for item in rows:
        empty = False
        yield item
    if empty:
        raise InputError("empty input: no rows", where=name)
