"""Line-based text inputs: JSON Lines (files and stdin) and CSV, with the checks that every
text format shares (binary files, UTF-8, the JSON name of a value's type for messages)."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

import orjson

from judge.errors import InputError

STDIN_NAME = "<stdin>"


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
            value = _loads(text)
        except json.JSONDecodeError as e:
            hint = _json_lines_hint(text, first=first, json_suffix=json_suffix)
            raise InputError(f"not valid JSON: {e.msg} (column {e.colno}){hint}", where) from None
        except RecursionError:
            raise InputError("not valid JSON: nested too deeply", where) from None
        first = False
        if not isinstance(value, dict):
            raise InputError(f"expected a JSON object on each line, got {_type_name(value)}", where)
        yield lineno, value


def _loads(text: str) -> Any:
    """A JSON Lines row: orjson (several times faster, `judge filter --classifier` reads at
    thousands of rows a second), and the standard library for what orjson refuses (NaN,
    Infinity, integers past 64 bits, lone surrogates) and for its precise error messages."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


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


# CSV -------------------------------------------------------------------------------


def _csv_reader(lines: Iterable[str]) -> Any:
    csv.field_size_limit(2**31 - 1)  # documents can be longer than the default 128 KiB
    return csv.reader(lines)


def _next_record(reader: Any, path: str) -> list[str] | None:
    """The next CSV record, None at the end; a malformed one names its line."""
    try:
        return next(reader)
    except StopIteration:
        return None
    except csv.Error as e:
        raise InputError(f"not valid CSV: {e}", f"{path}:{reader.line_num}") from None


def _read_csv(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    _check_text_file(path, "CSV")
    with open(path, "rb") as f:
        reader = _csv_reader(_decoded_lines(f, path))
        header: list[str] | None = []
        while not header:
            header = _next_record(reader, path)
            if header is None:
                return
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
            values = _next_record(reader, path)
            if values is None:
                return
            if not values:
                continue  # a blank line
            if len(values) != len(header):
                raise InputError(
                    f"the row has {len(values)} values but the header has {len(header)} "
                    "columns (quote values that contain commas)",
                    f"{path}:{start}",
                )
            yield start, dict(zip(header, values, strict=True))
