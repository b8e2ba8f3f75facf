"""A file's sha256, computed once per version of the file.

The local backend keys its cache entries by the model file's content (a re-exported fine-tune of
the same size is another judge), but hashing a 100 MB GGUF at every run start is too slow. So a
digest is remembered by path, size and modification time: in this process, and in a small JSON
file next to the cache (file-digests.json), so the next process does not hash again. A memo that
cannot be read or written only means hashing again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

from judge.engine.cache import default_path
from judge.io.tempfiles import _remove_stale_temps, _temp_name

MEMO_NAME = "file-digests.json"
_KEEP = 256  # files remembered in the memo file; the oldest go first
_seen: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> sha256


def memo_path() -> Path:
    return default_path().parent / MEMO_NAME


def file_sha256(path: Path) -> str:
    """The sha256 of the file's bytes, hashed only when its size or mtime changed."""
    path = path.resolve()
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    known = _seen.get(key)
    if known is not None:
        return known
    memo_file = memo_path()
    memo = _read_memo(memo_file)
    entry = memo.get(key[0])
    if (
        isinstance(entry, dict)
        and entry.get("size") == stat.st_size
        and entry.get("mtime_ns") == stat.st_mtime_ns
        and isinstance(entry.get("sha256"), str)
    ):
        digest: str = entry["sha256"]
    else:
        digest = hash_file(path)
        memo.pop(key[0], None)
        memo[key[0]] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}
        _write_memo(memo_file, dict(list(memo.items())[-_KEEP:]))
    _seen[key] = digest
    return digest


def hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _read_memo(memo_file: Path) -> dict[str, object]:
    try:
        data = json.loads(memo_file.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_memo(memo_file: Path, memo: dict[str, object]) -> None:
    # Written whole to a temporary file, then moved over: a reader never sees half a memo, and of
    # two processes writing at once the last wins (the other's entry is hashed again, no harm).
    tmp = _temp_name(str(memo_file))
    try:
        memo_file.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(str(memo_file))
        Path(tmp).write_text(json.dumps(memo), "utf-8")
        os.replace(tmp, memo_file)
    except OSError:
        with contextlib.suppress(OSError):
            os.remove(tmp)
