"""Spool -> Arrow, for Parquet and dataset-folder outputs: two passes over the spool (the
JSON Lines temp file), one to agree on a schema, one to convert."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from judge.errors import JudgeError
from judge.io.values import _csv_cell, spooled_row

if TYPE_CHECKING:
    import pyarrow as pa

_log = logging.getLogger(__name__)

_BATCH_ROWS = 2000  # rows per Arrow batch when converting a spool
_BATCH_BYTES = 32 << 20  # and at most this much JSON text per batch


def _spool_batches(spool: str) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    size = 0
    with open(spool, encoding="utf-8") as f:
        for line in f:
            row = spooled_row(line)
            batch.append({key: _empty_objects_to_null(value) for key, value in row.items()})
            size += len(line)
            if len(batch) >= _BATCH_ROWS or size >= _BATCH_BYTES:
                yield batch
                batch, size = [], 0
    if batch:
        yield batch


def _empty_objects_to_null(value: Any) -> Any:
    """Parquet cannot store an empty struct, so `{}` becomes null (at any depth)."""
    if isinstance(value, dict):
        if not value:
            return None
        return {k: _empty_objects_to_null(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_empty_objects_to_null(v) for v in value]
    return value


def _columns(batch: list[dict[str, Any]]) -> dict[str, list[Any]]:
    keys: dict[str, None] = {}
    for row in batch:
        keys.update(dict.fromkeys(row))
    return {key: [row.get(key) for row in batch] for key in keys}


def _infer_schema(spool: str, target: str) -> tuple[pa.Schema, set[str]]:
    """One schema for all rows: types merged across batches (null + float -> float, struct
    fields united); a column whose types cannot be merged is stored as text."""
    import pyarrow as pa

    types: dict[str, pa.DataType] = {}
    text_columns: set[str] = set()
    for batch in _spool_batches(spool):
        for key, values in _columns(batch).items():
            if key in text_columns:
                continue
            try:
                found = pa.array(values).type
                old = types.get(key)
                types[key] = found if old is None else _merge_types(old, found)
            except (pa.ArrowException, OverflowError):
                text_columns.add(key)
                types[key] = pa.string()
                _log.warning(
                    "column %r holds values of different types; it is stored as text in %s",
                    key,
                    target,
                )
    return pa.schema([pa.field(key, t) for key, t in types.items()]), text_columns


def _merge_types(a: pa.DataType, b: pa.DataType) -> pa.DataType:
    import pyarrow as pa

    if a == b:
        return a
    merged = pa.unify_schemas(
        [pa.schema([pa.field("x", a)]), pa.schema([pa.field("x", b)])],
        promote_options="permissive",
    )
    return merged.field("x").type


def _arrow_batches(spool: str, schema: pa.Schema, text_columns: set[str]) -> Iterator[pa.Table]:
    import pyarrow as pa

    for batch in _spool_batches(spool):
        columns = _columns(batch)
        arrays = []
        for field in schema:
            values = columns.get(field.name)
            if values is None:
                arrays.append(pa.nulls(len(batch), field.type))
                continue
            if field.name in text_columns:
                values = [_csv_cell(v) if v is not None else None for v in values]
            try:
                arrays.append(pa.array(values, type=field.type))
            except (pa.ArrowException, OverflowError) as e:
                raise JudgeError(
                    f"cannot store column {field.name!r} as {field.type} ({e}); "
                    "write .jsonl instead"
                ) from None
        yield pa.Table.from_arrays(arrays, schema=schema)
