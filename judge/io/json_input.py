"""`.json` input: a top-level array of objects, streamed, or JSON Lines content."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import IO, Any

from judge.errors import InputError
from judge.io.text_input import _check_text_file, _parse_json_lines, _type_name

_JSON_CHUNK = 1 << 16  # characters read at a time from a JSON array
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
