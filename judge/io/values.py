"""Values as JSON: non-JSON types converted rather than refused, one row per line, and the
text form of a value in a CSV cell (or a text column of a columnar output)."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import decimal
import enum
import json
import math
import os
import re
from collections.abc import Mapping
from typing import Any

# A surrogate code point: in a Python string only a lone one can be left (JSON's "\ud800" escape
# with no partner), and it cannot be encoded as UTF-8. Escaped in JSON text, it reads "\udXXX".
_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def has_lone_surrogate(text: str) -> bool:
    """Whether a string holds a lone surrogate, which no UTF-8 encoder (nor model) accepts."""
    return _SURROGATE.search(text) is not None


def replace_surrogates(value: Any) -> Any:
    """A copy of a JSON value with each lone surrogate replaced by U+FFFD, for outputs that
    must be valid UTF-8 (Parquet, CSV, datasets); JSON Lines keep them escaped instead."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {replace_surrogates(k): replace_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [replace_surrogates(v) for v in value]
    return value


def spooled_row(line: str) -> Any:
    """A row read back from a JSON Lines spool, lone surrogates replaced (replace_surrogates)."""
    row = json.loads(line)
    return replace_surrogates(row) if _ESCAPED_SURROGATE.search(line) else row


def _jsonable(value: Any) -> Any:
    """A JSON-native copy of a value: non-JSON types are converted rather than refused."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {_json_key(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if type(value).__name__ in ("NAType", "NaTType"):  # pandas missing values
        return None
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(data).decode("ascii")
    if isinstance(value, decimal.Decimal):
        return _jsonable(float(value))
    if isinstance(value, enum.Enum):
        return _jsonable(value.value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "model_dump"):  # pydantic models
        return _jsonable(value.model_dump(mode="json"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if hasattr(value, "dtype") and hasattr(value, "tolist"):  # numpy scalars and arrays
        return _jsonable(value.tolist())
    return str(value)


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    converted = _jsonable(key)
    return converted if isinstance(converted, str) else json.dumps(converted)


_LINE_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _dumps(row: Mapping[str, Any]) -> str:
    """One JSON line. Characters that str.splitlines() and some readers take as line breaks are
    escaped (they can only occur inside strings), so every row stays on one physical line."""
    if not isinstance(row, Mapping):
        raise TypeError(f"rows must be dicts, got {type(row).__name__}")
    try:
        line = json.dumps(row, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        line = json.dumps(_jsonable(row), ensure_ascii=False, allow_nan=False)
    if _SURROGATE.search(line):
        # Not UTF-8: escaped as JSON allows ("\ud800"), so the row is kept as it came in.
        line = json.dumps(_jsonable(row), ensure_ascii=True, allow_nan=False)
    for char, escape in _LINE_BREAKS.items():
        if char in line:
            line = line.replace(char, escape)
    return line


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
