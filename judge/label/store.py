"""The labels file: JSON Lines that `judge calibrate` reads as it is, one row per decision.

A decision is appended as one whole line in a single write, flushed to disk (fsync) before it is
acknowledged, so the file always holds every acknowledged decision and a kill -9 never leaves
half a row (a power cut could: a last line without its newline is ignored when read, and cut
off before the next append). Appending costs the same at 10,000 rows as at 10; rows are read
once and then only what was appended since (by this server or another). Undo, which is rare,
rewrites the file to a temporary name and moves it into place. Changes take a lock on a hidden
`.NAME.lock` file next to it and read what is new first, so that several servers (annotators)
may share one file.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from typing import Any

from judge.errors import InputError
from judge.io import check_writable
from judge.io.tempfiles import _remove_stale_temps, _temp_name
from judge.io.values import _dumps

try:  # POSIX; elsewhere one server per file
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

SUFFIXES = (".jsonl", ".ndjson")


class LabelStore:
    def __init__(self, path: str) -> None:
        if os.path.splitext(path)[1].lower() not in SUFFIXES:
            raise InputError(
                "the labels file is JSON Lines: give a name ending in .jsonl (judge calibrate "
                "reads it as it is)",
                where=path,
            )
        if os.path.isdir(path):
            raise InputError("is a folder; give a file name ending in .jsonl", where=path)
        check_writable(path)  # refuse to start rather than lose the first decision
        self.path = path
        head, name = os.path.split(path)
        self._lock_path = os.path.join(head, f".{name}.lock")
        if head:
            os.makedirs(head, exist_ok=True)
        # What was read: the file's identity, the bytes read (whole lines), the rows.
        self._seen: tuple[int, int] | None = None
        self._offset = 0
        self._lines = 0
        self._rows: list[dict[str, Any]] = []
        self._keys: set[tuple[str, str]] = set()  # (id, annotator) of every row
        self.generation = 0  # + 1 each time the rows are read again from the start
        self._last = b""  # the last whole line read, to tell the same file from a new one
        self.rows()  # a bad existing file stops here, with FILE:LINE

    def rows(self) -> list[dict[str, Any]]:
        """Every row of the file (none when it does not exist yet); do not change the list."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if self._seen is not None or self._rows:
                self._reset(None)
            return self._rows
        if (
            self._seen != (st.st_dev, st.st_ino)
            or st.st_size < self._offset
            or not self._still_there()
        ):
            # Another file now (an undo moved a new one into place): read it from the start.
            self._reset((st.st_dev, st.st_ino))
        if st.st_size > self._offset:
            self._read_new()
        return self._rows

    def _reset(self, seen: tuple[int, int] | None) -> None:
        self._seen, self._offset, self._lines, self._last = seen, 0, 0, b""
        self._rows, self._keys = [], set()
        self.generation += 1

    def _still_there(self) -> bool:
        """Whether the last line read is still where it was (a file moved into place by
        another server's undo may reuse the old one's inode)."""
        if not self._last:
            return True
        with open(self.path, "rb") as f:
            f.seek(self._offset - len(self._last))
            return f.read(len(self._last)) == self._last

    def _read_new(self) -> None:
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            data = f.read()
        whole = data[: data.rfind(b"\n") + 1]  # a last line without its newline: not yet
        for raw in whole.splitlines():
            self._lines += 1
            text = raw.decode("utf-8", "replace").strip()
            if self._lines == 1:
                text = text.removeprefix("\ufeff")
            if not text:
                continue
            where = f"{self.path}:{self._lines}"
            try:
                row = json.loads(text)
            except (ValueError, RecursionError) as exc:
                raise InputError(f"not valid JSON: {exc}", where) from None
            if not isinstance(row, dict):
                raise InputError("expected an object with named fields", where)
            self._rows.append(row)
            self._keys.add(_key(row))
        self._offset += len(whole)
        if whole:
            self._last = whole[whole.rfind(b"\n", 0, len(whole) - 1) + 1 :]

    def add(self, row: dict[str, Any]) -> bool:
        """Add a decision; False (and nothing written) when the file already has one for the
        same id and annotator (another page or server was first)."""
        with self._locked():
            self.rows()
            if _key(row) in self._keys:
                return False
            self._append((_dumps(row) + "\n").encode("utf-8"))
            self.rows()  # reads back the line just written
        return True

    def remove(self, item_id: str, annotator: str) -> dict[str, Any] | None:
        """Remove this annotator's decision on the item; the removed row, or None."""
        with self._locked():
            rows = list(self.rows())
            for i in range(len(rows) - 1, -1, -1):
                if _same(rows[i], {"id": item_id, "annotator": annotator}):
                    removed = rows.pop(i)
                    self._write(rows)
                    return removed
        return None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self._lock_path, "a+b") as lock:
            if fcntl is not None:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _append(self, line: bytes) -> None:
        """One whole line at the end, on disk before this returns."""
        created = not os.path.exists(self.path)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                # A line cut short by a power cut (never acknowledged): cut it off.
                with open(self.path, "rb") as f:
                    data = f.read()
                os.ftruncate(fd, data.rfind(b"\n") + 1)
            written = 0
            while written < len(line):  # one write() for a regular file, in practice
                written += os.write(fd, line[written:])
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            _fsync_folder(os.path.dirname(self.path) or ".")

    def _write(self, rows: list[dict[str, Any]]) -> None:
        _remove_stale_temps(self.path)
        tmp = _temp_name(self.path)
        try:
            with open(tmp, "x", encoding="utf-8", newline="\n") as f:
                f.writelines(_dumps(r) + "\n" for r in rows)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise
        _fsync_folder(os.path.dirname(self.path) or ".")


def _key(row: dict[str, Any]) -> tuple[str, str]:
    return str(row.get("id")), str(row.get("annotator") or "")


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return str(a.get("id")) == str(b.get("id")) and str(a.get("annotator") or "") == str(
        b.get("annotator") or ""
    )


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable (a power cut right after it could undo it otherwise)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
