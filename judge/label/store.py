"""The labels file: JSON Lines that `judge calibrate` reads as it is, one row per decision.

Every change rewrites the whole file to a temporary name next to it, flushed to disk, and moves
it into place (os.replace), so the file always holds every acknowledged decision and never half
a row, whatever kills the process. Changes take a lock on a hidden `.NAME.lock` file next to it
and re-read the file first, so that several servers (annotators) may share one file. A label
set is a few hundred rows: rewriting it costs a millisecond.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from judge.errors import InputError
from judge.io import read_rows
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
        self.path = path
        head, name = os.path.split(path)
        self._lock_path = os.path.join(head, f".{name}.lock")
        if head:
            os.makedirs(head, exist_ok=True)
        self.rows()  # a bad existing file stops here, with FILE:LINE

    def rows(self) -> list[dict[str, Any]]:
        """Every row of the file (none when it does not exist yet)."""
        if not os.path.exists(self.path) or os.path.getsize(self.path) == 0:
            return []
        out: list[dict[str, Any]] = []
        for line, row in read_rows(self.path):
            if not isinstance(row, dict):
                raise InputError("expected an object with named fields", f"{self.path}:{line}")
            out.append(row)
        return out

    def add(self, row: dict[str, Any]) -> bool:
        """Add a decision; False (and nothing written) when the file already has one for the
        same id and annotator (another page or server was first)."""
        with self._locked():
            rows = self.rows()
            if any(_same(r, row) for r in rows):
                return False
            rows.append(row)
            self._write(rows)
        return True

    def remove(self, item_id: str, annotator: str) -> dict[str, Any] | None:
        """Remove this annotator's decision on the item; the removed row, or None."""
        with self._locked():
            rows = self.rows()
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
