"""Records, a pandas DataFrame or a datasets.Dataset in (the Python API), and the same kind out.

A cell that is NaN, None or pandas' NA in a table is a missing value: the row does not have that
field. A frame read from JSON Lines of mixed shapes (`response` on some rows, `responses` on
others) fills each row's missing fields so, and they must not be read as values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Literal

Kind = Literal["records", "pandas", "datasets"]


def _missing(value: Any) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    return type(value).__name__ in ("NAType", "NaTType")


def _present(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in row.items() if not _missing(v)}


def kind_of(data: Any) -> Kind:
    """Which kind of table `data` is, without importing pandas or datasets for records."""
    module = type(data).__module__
    if module.startswith("pandas") and type(data).__name__ == "DataFrame":
        return "pandas"
    if module.startswith("datasets") and type(data).__name__ == "Dataset":
        return "datasets"
    return "records"


def records_of(data: Any) -> tuple[list[dict[str, Any]], Kind]:
    """The rows of `data` as dicts, and the kind of table it was."""
    kind = kind_of(data)
    if kind == "pandas":
        return [_present(r) for r in data.to_dict(orient="records")], kind
    if kind == "datasets":
        return [_present(r) for r in data], kind
    rows: Iterable[Mapping[str, Any]] = data
    return [dict(r) for r in rows], kind


def like(rows: list[dict[str, Any]], kind: Kind) -> Any:
    """Rows as the kind of table they came in (records stay a list of dicts)."""
    if kind == "pandas":
        import pandas as pd

        return pd.DataFrame(rows)
    if kind == "datasets":
        import datasets

        # from_list takes its columns from the first row: give every row every column.
        names = list(dict.fromkeys(k for row in rows for k in row))
        return datasets.Dataset.from_list([{k: row.get(k) for k in names} for row in rows])
    return rows
