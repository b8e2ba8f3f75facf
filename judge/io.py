"""Read and write every supported format, streaming, and turn rows into candidates.

Inputs: `.jsonl`/`.ndjson`, `.json` (an array of objects, or JSON Lines content), `.csv`,
`.parquet`, a Hugging Face dataset folder (`save_to_disk` output) and `-` (JSON Lines on stdin).
Outputs are chosen by the path's extension; a path with no extension (or ending in `/`) is a
Hugging Face dataset folder.

Round trips: JSON Lines and `.json` give back exactly the rows written (after the conversions of
`_jsonable`: numpy values become Python values, datetimes ISO text, bytes UTF-8 or base64 text,
NaN and infinities null). CSV gives back every value as a string: nested values as JSON text,
null as an empty cell, booleans as `true`/`false`. Parquet and dataset folders are columnar: a key
missing from a row comes back as null, integers in a column that also holds floats come back as
floats, an empty object comes back as null (Parquet cannot store an empty struct), and a column
whose values have incompatible types (text in one row, a number in another) is stored as text,
like CSV.

Every file output is written to a temporary name next to it and moved into place at `close()`, so
a crash never leaves a half-written output (and the input may safely be the output).
"""

from __future__ import annotations

import base64
import contextlib
import csv
import dataclasses
import datetime
import decimal
import enum
import json
import logging
import math
import os
import re
import secrets
import shutil
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Protocol

from judge.errors import InputError, JudgeError
from judge.records import Candidate

if TYPE_CHECKING:
    import pyarrow as pa

_log = logging.getLogger(__name__)

STDIN_NAME = "<stdin>"
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
_BATCH_ROWS = 2000  # rows per Arrow batch when converting a spool
_BATCH_BYTES = 32 << 20  # and at most this much JSON text per batch
_MAX_SHOWN_KEYS = 12
_JSON_CHUNK = 1 << 16  # characters read at a time from a JSON array


@dataclass(frozen=True)
class FieldMap:
    """The names of the input fields that hold the candidate's parts (remappable from the CLI)."""

    prompt: str = "prompt"
    response: str = "response"
    responses: str = "responses"
    text: str = "text"


# --------------------------------------------------------------------------- reading


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


def _type_name(value: Any) -> str:
    """The JSON name of a value's type with its article, for messages ("a number")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a {type(value).__name__}"


def _check_text_file(path: str, label: str) -> None:
    """Refuse binary files up front with a message that says what they look like."""
    with open(path, "rb") as f:
        head = f.read(8192)
    hint = ""
    if head.startswith(b"PAR1"):
        hint = "; it looks like a Parquet file: give it the .parquet extension"
    elif head.startswith(b"\x1f\x8b"):
        hint = "; it looks gzip-compressed: decompress it first (gunzip)"
    elif head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"the file is UTF-16 text: save it as UTF-8 {label}", where=path)
    elif b"\x00" not in head:
        return
    raise InputError(f"not {label} text: the file is binary{hint}", where=path)


def _decode_line(raw: bytes, name: str, lineno: int) -> str:
    try:
        return raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
    except UnicodeDecodeError as e:
        raise InputError(
            f"invalid UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1}): "
            "save the file as UTF-8",
            where=f"{name}:{lineno}",
        ) from None


def _decoded_lines(f: IO[bytes], name: str) -> Iterator[str]:
    for lineno, raw in enumerate(f, 1):
        yield _decode_line(raw, name, lineno)


def _count_lines(path: str) -> int:
    count = 0
    last = b""
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (1 if last not in (b"", b"\n") else 0)


# JSON Lines ------------------------------------------------------------------------


def _read_jsonl_file(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    _check_text_file(path, "JSON Lines")
    with open(path, "rb") as f:
        yield from _parse_json_lines(f, path, json_suffix=False)


def _read_stdin(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    stream = sys.stdin
    buffer = getattr(stream, "buffer", None)
    # Read bytes where we can, so that a bad byte is reported with its line.
    lines: Iterable[bytes | str] = buffer if buffer is not None else stream
    yield from _parse_json_lines(lines, STDIN_NAME, json_suffix=False)


def _parse_json_lines(
    lines: Iterable[bytes | str], name: str, *, json_suffix: bool
) -> Iterator[tuple[int, dict[str, Any]]]:
    first = True
    for lineno, raw in enumerate(lines, 1):
        if isinstance(raw, bytes):
            text = _decode_line(raw, name, lineno)
        else:
            text = raw.removeprefix("\ufeff") if lineno == 1 else raw
        if not text or text.isspace():
            continue
        where = f"{name}:{lineno}"
        if first and "\x00" in text:
            raise InputError("not JSON Lines text: the input is binary", where=where)
        try:
            value = json.loads(text)
        except json.JSONDecodeError as e:
            hint = _json_lines_hint(text, first=first, json_suffix=json_suffix)
            raise InputError(f"not valid JSON: {e.msg} (column {e.colno}){hint}", where) from None
        except RecursionError:
            raise InputError("not valid JSON: nested too deeply", where) from None
        first = False
        if not isinstance(value, dict):
            raise InputError(f"expected a JSON object on each line, got {_type_name(value)}", where)
        yield lineno, value


def _json_lines_hint(text: str, *, first: bool, json_suffix: bool) -> str:
    if not first:
        return ""
    stripped = text.strip()
    if json_suffix:
        return "; a .json file must hold an array of objects, or one object per line"
    if stripped.startswith("["):
        return "; this looks like a JSON array: name the file .json, or write one object per line"
    if stripped == "{":
        return "; this looks like pretty-printed JSON: JSON Lines needs one object per line"
    return ""


# JSON (array or JSON Lines content) ----------------------------------------------------

_NON_WS = re.compile(r"[^ \t\n\r]")


def _json_is_array(path: str) -> bool:
    """True when a .json file's first non-blank character is `[` (else it is JSON Lines)."""
    try:
        with open(path, "rb") as f:
            while chunk := f.read(4096):
                stripped = chunk.removeprefix(b"\xef\xbb\xbf").lstrip()
                if stripped:
                    return stripped.startswith(b"[")
    except OSError:
        return False
    return False


def _read_json_file(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    _check_text_file(path, "JSON")
    if not _json_is_array(path):
        with open(path, "rb") as f:
            yield from _parse_json_lines(f, path, json_suffix=True)
        return
    try:
        with open(path, encoding="utf-8-sig") as f:
            yield from _JsonArrayReader(f, path).rows()
    except UnicodeDecodeError:
        line = _first_bad_utf8_line(path)
        raise InputError("invalid UTF-8: save the file as UTF-8", where=f"{path}:{line}") from None


def _first_bad_utf8_line(path: str) -> int:
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return lineno
    return 1


class _JsonArrayReader:
    """Streams the objects of a top-level JSON array without loading the whole file.

    The text is read in chunks; each element is decoded with `raw_decode`, reading more text when
    an element runs past the end of what has been read.
    """

    def __init__(self, f: IO[str], path: str) -> None:
        self.f = f
        self.path = path
        self.buf = ""
        self.pos = 0
        self.line = 1  # line number of buf[0]
        self.eof = False
        self.chunk = _JSON_CHUNK
        self.decoder = json.JSONDecoder()

    def rows(self) -> Iterator[tuple[int, dict[str, Any]]]:
        self._next_char()  # the "[" that _json_is_array found
        self.pos += 1
        if self._next_char() == "]":
            self.pos += 1
            self._expect_end()
            return
        number = 0
        while True:
            number += 1
            where = self._where(self.pos)
            value = self._decode()
            if not isinstance(value, dict):
                raise InputError(
                    f"expected an array of JSON objects; item {number} is {_type_name(value)}",
                    where,
                )
            yield number, value
            char = self._next_char()
            self.pos += 1
            if char == "]":
                self._expect_end()
                return
            if char != ",":
                raise InputError(
                    f"not valid JSON: expected ',' or ']' after item {number}",
                    self._where(self.pos - 1),
                )
            if self._next_char() == "]":
                raise InputError("not valid JSON: trailing comma", self._where(self.pos))

    def _where(self, pos: int) -> str:
        return f"{self.path}:{self.line + self.buf.count(chr(10), 0, pos)}"

    def _fill(self) -> bool:
        if self.eof:
            return False
        data = self.f.read(self.chunk)
        if not data:
            self.eof = True
            return False
        self.line += self.buf.count("\n", 0, self.pos)
        self.buf = self.buf[self.pos :] + data
        self.pos = 0
        return True

    def _next_char(self) -> str:
        """Skip blanks; return the next character ("" at the end of the file)."""
        while True:
            match = _NON_WS.search(self.buf, self.pos)
            if match:
                self.pos = match.start()
                return self.buf[self.pos]
            self.pos = len(self.buf)
            if not self._fill():
                return ""

    def _expect_end(self) -> None:
        if self._next_char():
            raise InputError(
                "not valid JSON: unexpected data after the array", self._where(self.pos)
            )

    def _decode(self) -> Any:
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as e:
                # An element cut by the end of the buffer fails near its end (or as an
                # unterminated string): read more and retry; anything else is a real error.
                cut = e.msg.startswith("Unterminated string") or len(self.buf) - e.pos <= 16
                if cut and self._fill():
                    self.chunk = min(self.chunk * 2, 1 << 26)
                    continue
                raise InputError(f"not valid JSON: {e.msg}", self._where(e.pos)) from None
            except RecursionError:
                raise InputError(
                    "not valid JSON: nested too deeply", self._where(self.pos)
                ) from None
            if end == len(self.buf) and self._fill():
                continue  # a number could go on in the next chunk
            self.pos = end
            return value


# CSV -------------------------------------------------------------------------------


def _csv_reader(lines: Iterable[str]) -> Any:
    csv.field_size_limit(2**31 - 1)  # documents can be longer than the default 128 KiB
    return csv.reader(lines)


def _read_csv(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    _check_text_file(path, "CSV")
    with open(path, "rb") as f:
        reader = _csv_reader(_decoded_lines(f, path))
        header: list[str] = []
        while not header:
            try:
                header = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                raise InputError(f"not valid CSV: {e}", f"{path}:{reader.line_num}") from None
        header_line = reader.line_num
        seen: set[str] = set()
        for name in header:
            if name in seen:
                raise InputError(
                    f"column {name!r} appears twice in the header", f"{path}:{header_line}"
                )
            seen.add(name)
        while True:
            start = reader.line_num + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                raise InputError(f"not valid CSV: {e}", f"{path}:{reader.line_num}") from None
            if not values:
                continue  # a blank line
            if len(values) != len(header):
                raise InputError(
                    f"the row has {len(values)} values but the header has {len(header)} "
                    "columns (quote values that contain commas)",
                    f"{path}:{start}",
                )
            yield start, dict(zip(header, values, strict=True))


# Parquet and dataset folders -----------------------------------------------------------


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


# --------------------------------------------------------------------------- candidates


class _RowProblem(Exception):
    """A problem with one row; iter_candidates adds where the row is (computed only then)."""


def iter_candidates(
    path: str,
    fields: FieldMap = FieldMap(),
    *,
    rows: Iterable[tuple[int, dict[str, Any]]] | None = None,
) -> Iterator[Candidate]:
    """Turn rows into Candidates, streaming (see FieldMap for the field names).

    prompt + response gives one candidate; prompt + responses (a list of strings; in CSV a JSON
    array string) one per item, with response_index; text alone a document. As columnar formats
    give every row every column, a null or empty cell counts as absent when choosing among these
    (so `responses` expands when `response` is empty, and `text` is a document when `prompt` is
    empty and there is no response). An empty response is not an error: it gives response=""
    and note="empty response", so the row is kept. An empty responses list gives one such
    candidate (response_index None), so its row is not lost either.
    `rows` replaces reading `path` (which is then only used to name places in messages).
    """
    path = os.fspath(path)
    source = read_rows(path) if rows is None else rows
    is_csv = path != "-" and os.path.splitext(path)[1].lower() == ".csv"
    index = 0
    for row_index, row in source:
        try:
            parts = list(_row_candidates(row, fields, is_csv))
        except _RowProblem as e:
            raise InputError(str(e), where=describe(path, row_index)) from None
        for prompt, response, response_index, is_document in parts:
            text, note = _clean_response(response)
            yield Candidate(
                index=index,
                row_index=row_index,
                prompt=prompt,
                response=text,
                response_index=response_index,
                is_document=is_document,
                row=row,
                note=note,
            )
            index += 1


def _clean_response(value: str | None) -> tuple[str, str | None]:
    if value is None or not value.strip():
        return "", "empty response"
    return value, None


def _row_candidates(
    row: Any, fields: FieldMap, is_csv: bool
) -> Iterator[tuple[str | None, str | None, int | None, bool]]:
    """(prompt, response, response_index, is_document) for each candidate in one row."""
    if not isinstance(row, dict):
        raise _RowProblem(f"expected an object with named fields, got {_type_name(row)}")
    # Columnar formats (CSV, Parquet, datasets) give every row every column, so a null or empty
    # cell counts as absent when deciding what kind of row this is.
    answered = _given(row, fields.response) or _given(row, fields.responses)
    if fields.prompt not in row or (
        not _given(row, fields.prompt) and _given(row, fields.text) and not answered
    ):
        yield _document(row, fields)
        return
    prompt = row[fields.prompt]
    if not isinstance(prompt, str):
        raise _RowProblem(f"{fields.prompt!r} is {_type_name(prompt)}, expected text")
    expand = _given(row, fields.responses) and not _given(row, fields.response)
    if fields.response in row and not expand:
        yield prompt, _optional_text(row, fields.response), None, False
        return
    if fields.responses not in row:
        raise _RowProblem(
            f"no {fields.response!r} or {fields.responses!r} field ({_row_keys(row)}); "
            "map yours with --response-field/--responses-field/--prompt-field",
        )
    items = _responses_list(row[fields.responses], fields.responses, is_csv)
    if not items:
        yield prompt, None, None, False
        return
    for i, item in enumerate(items):
        if item is not None and not isinstance(item, str):
            raise _RowProblem(f"{fields.responses!r}[{i}] is {_type_name(item)}, expected text")
        yield prompt, item, i, False


def _given(row: dict[str, Any], field: str) -> bool:
    return row.get(field) not in (None, "")


def _document(
    row: dict[str, Any], fields: FieldMap
) -> tuple[str | None, str | None, int | None, bool]:
    """A row without a prompt: a document in the text field, or a missing-field error."""
    has_response = _given(row, fields.response) or _given(row, fields.responses)
    if fields.text in row and not has_response:
        return None, _optional_text(row, fields.text), None, True
    if has_response or fields.response in row or fields.responses in row:
        raise _RowProblem(
            f"no {fields.prompt!r} field ({_row_keys(row)}); map yours with --prompt-field, "
            f"or give documents alone in a {fields.text!r} field",
        )
    raise _RowProblem(
        f"no {fields.prompt!r} and {fields.response!r} fields, nor {fields.text!r} "
        f"({_row_keys(row)}); map yours with --prompt-field/--response-field, "
        "or --text-field for documents",
    )


def _optional_text(row: dict[str, Any], field: str) -> str | None:
    value = row[field]
    if value is not None and not isinstance(value, str):
        raise _RowProblem(f"{field!r} is {_type_name(value)}, expected text")
    return value


def _responses_list(value: Any, field: str, is_csv: bool) -> list[Any]:
    if isinstance(value, str) and is_csv:
        # CSV has no lists: the cell holds a JSON array (as our CSV writer produces).
        try:
            value = json.loads(value) if value.strip() else []
        except json.JSONDecodeError as e:
            raise _RowProblem(
                f"{field!r} is not a JSON array of strings ({e.msg}); in CSV write it like "
                '["first answer", "second answer"]',
            ) from None
    if not isinstance(value, (list, tuple)):
        raise _RowProblem(f"{field!r} is {_type_name(value)}, expected a list of strings")
    return list(value)


def _row_keys(row: dict[str, Any]) -> str:
    if not row:
        return "the row is empty"
    keys = [str(k) for k in row]
    shown = ", ".join(keys[:_MAX_SHOWN_KEYS])
    more = f", ... ({len(keys)} in all)" if len(keys) > _MAX_SHOWN_KEYS else ""
    return f"the row has: {shown}{more}"


# --------------------------------------------------------------------------- writing


class RowWriter(Protocol):
    """Writes rows to one output; a context manager that aborts on an exception."""

    def write(self, row: dict[str, Any]) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...

    def __enter__(self) -> RowWriter: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def open_writer(path: str | None) -> RowWriter:
    """A writer chosen by the output's extension (see the module docstring)."""
    if path is None or path == "-":
        return _StdoutWriter()
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    writers: dict[str, type[_FileWriter]] = {
        ".jsonl": _FileWriter,
        ".ndjson": _FileWriter,
        ".json": _JsonArrayWriter,
        ".csv": _CsvWriter,
        ".parquet": _ParquetWriter,
    }
    if path.endswith(("/", os.sep)) or (suffix not in writers and os.path.isdir(path)):
        return _DatasetWriter(path.rstrip("/" + os.sep) or path)
    if not suffix:
        return _DatasetWriter(path)
    if suffix not in writers:
        raise InputError(
            f"unsupported output format {suffix!r}: use .jsonl, .ndjson, .json, .csv, .parquet, "
            "or a folder name without an extension (or ending in /) for a Hugging Face dataset",
            where=path,
        )
    return writers[suffix](path)


def write_rows(path: str | None, rows: Iterable[dict[str, Any]]) -> int:
    """Write all rows to `path` (see open_writer); return how many were written."""
    count = 0
    with open_writer(path) as writer:
        for row in rows:
            writer.write(row)
            count += 1
    return count


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
    for char, escape in _LINE_BREAKS.items():
        if char in line:
            line = line.replace(char, escape)
    return line


def _temp_name(path: str, suffix: str = ".tmp") -> str:
    """A hidden, unique name next to `path` (same file system, so os.replace is atomic)."""
    head, name = os.path.split(path)
    return os.path.join(head, f".{name}.{os.getpid()}.{secrets.token_hex(4)}{suffix}")


class _BaseWriter:
    def write(self, row: dict[str, Any]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> _BaseWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class _StdoutWriter(_BaseWriter):
    """JSON Lines on stdout, flushed per line so that a pipe sees each row as it is judged."""

    def write(self, row: dict[str, Any]) -> None:
        line = _dumps(row) + "\n"
        stream = sys.stdout
        encoding = (getattr(stream, "encoding", None) or "utf-8").lower().replace("-", "")
        buffer = getattr(stream, "buffer", None)
        if encoding != "utf8" and buffer is not None:
            stream.flush()  # we write UTF-8 whatever the locale says
            buffer.write(line.encode("utf-8"))
            buffer.flush()
        else:
            stream.write(line)
            stream.flush()

    def close(self) -> None:
        sys.stdout.flush()

    def abort(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()


class _FileWriter(_BaseWriter):
    """JSON Lines to a temporary file, moved into place at close(). Subclasses convert it."""

    _folder = False  # True for outputs that are folders (a Hugging Face dataset)

    def __init__(self, path: str) -> None:
        self.path = path
        if os.path.isdir(path) and not self._folder:
            raise InputError("is a folder; give a file name for this format", where=path)
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        self._temps: list[str] = []
        self._tmp = self._new_temp(path)
        self._file = open(self._tmp, "x", encoding="utf-8", newline="\n")  # noqa: SIM115
        self._done = False
        self.count = 0

    def _new_temp(self, path: str, suffix: str = ".tmp") -> str:
        name = _temp_name(path, suffix)
        self._temps.append(name)
        return name

    def write(self, row: dict[str, Any]) -> None:
        if self._done:
            raise ValueError(f"writing to {self.path} after it was closed")
        self._write_line(_dumps(row))
        self.count += 1

    def _write_line(self, line: str) -> None:
        self._file.write(line + "\n")

    def close(self) -> None:
        if self._done:
            return
        self._done = True
        try:
            self._file.close()
            self._finish()
        except BaseException:
            self._remove_temps()
            raise
        self._remove_temps()

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        with contextlib.suppress(OSError):
            self._file.close()
        self._remove_temps()

    def _finish(self) -> None:
        os.replace(self._tmp, self.path)

    def _remove_temps(self) -> None:
        for name in self._temps:
            if os.path.isdir(name):
                shutil.rmtree(name, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(name)


class _JsonArrayWriter(_FileWriter):
    """A JSON array, one object per line, streamed (no spool needed)."""

    def _write_line(self, line: str) -> None:
        self._file.write(("[\n" if self.count == 0 else ",\n") + line)

    def _finish(self) -> None:
        with open(self._tmp, "a", encoding="utf-8", newline="\n") as f:
            f.write("\n]\n" if self.count else "[]\n")
        os.replace(self._tmp, self.path)


def _spool_rows(spool: str) -> Iterator[dict[str, Any]]:
    with open(spool, encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


class _CsvWriter(_FileWriter):
    """CSV with the union of all keys as header; nested values are JSON text in the cell."""

    def _finish(self) -> None:
        keys: dict[str, None] = {}
        for row in _spool_rows(self._tmp):
            keys.update(dict.fromkeys(row))
        out = self._new_temp(self.path, ".csv.tmp")
        with open(out, "x", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            if keys:
                writer.writerow(keys)
            for row in _spool_rows(self._tmp):
                writer.writerow([_csv_cell(row.get(key)) for key in keys])
        os.replace(out, self.path)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


class _ParquetWriter(_FileWriter):
    def _finish(self) -> None:
        import pyarrow.parquet as pq

        out = self._new_temp(self.path, ".parquet.tmp")
        schema, text_columns = _infer_schema(self._tmp, "Parquet")
        with pq.ParquetWriter(out, schema) as writer:
            for table in _arrow_batches(self._tmp, schema, text_columns):
                writer.write_table(table)
        os.replace(out, self.path)


class _DatasetWriter(_FileWriter):
    """A Hugging Face dataset folder: the spool becomes an Arrow file, then save_to_disk."""

    _folder = True

    def __init__(self, path: str) -> None:
        if os.path.isfile(path):
            raise InputError(
                "exists and is a file; a path without an extension writes a Hugging Face "
                "dataset folder (add .jsonl, .parquet, ... to write a file)",
                where=path,
            )
        if os.path.isdir(path) and os.listdir(path) and not _is_dataset_folder(path):
            # Never replace a folder that holds something else.
            raise InputError(
                "the folder exists and is not a Hugging Face dataset; choose a new folder",
                where=path,
            )
        super().__init__(path)

    def _finish(self) -> None:
        import datasets
        import pyarrow as pa

        work = self._new_temp(self.path, ".dataset.tmp")
        os.makedirs(work)
        arrow_file = os.path.join(work, "data.arrow")
        schema, text_columns = _infer_schema(self._tmp, "a dataset folder")
        with pa.OSFile(arrow_file, "wb") as sink, pa.ipc.new_stream(sink, schema) as stream:
            for table in _arrow_batches(self._tmp, schema, text_columns):
                stream.write_table(table)
        saved = os.path.join(work, "saved")
        bars_were_on = not datasets.are_progress_bars_disabled()
        datasets.disable_progress_bars()  # the CLI owns progress output
        try:
            dataset = datasets.Dataset.from_file(arrow_file)
            dataset.save_to_disk(saved)
            del dataset
        finally:
            if bars_were_on:
                datasets.enable_progress_bars()
        if not os.path.exists(self.path):
            os.rename(saved, self.path)
            return
        # A folder cannot be replaced atomically: move the old one aside, then drop it.
        old = self._new_temp(self.path, ".old")
        os.rename(self.path, old)
        try:
            os.rename(saved, self.path)
        except OSError:
            os.rename(old, self.path)
            raise


def _is_dataset_folder(path: str) -> bool:
    return any(os.path.isfile(os.path.join(path, n)) for n in ("state.json", "dataset_dict.json"))


# Spool -> Arrow: two passes over the spool, one to agree on a schema, one to convert. -----


def _spool_batches(spool: str) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    size = 0
    with open(spool, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
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
