"""Persistent cache of model answers: SQLite in WAL mode, one row per request key.

Every answer is written the moment it arrives, so a run killed at any point loses nothing it paid
for. Keys hash everything that changes the answer (see `backends.base.request_key`). WAL mode and a
busy timeout let two processes share one cache file safely.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

from judge.backends.base import Response
from judge.errors import ConfigError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    response TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def default_path() -> Path:
    """`$JUDGE_CACHE`, else `$XDG_CACHE_HOME/judge/cache.sqlite`, else `~/.cache/judge/...`."""
    env = os.environ.get("JUDGE_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "judge" / "cache.sqlite"


class Cache:
    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: autocommit, so each put is durable on its own.
            self._db = sqlite3.connect(
                str(self.path), timeout=30.0, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=30000")
            self._db.execute(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise ConfigError(
                f"cannot open the cache at {self.path}: {exc}; "
                "choose another file with --cache PATH, or run with --no-cache"
            ) from exc

    def get(self, key: str) -> Response | None:
        row = self._db.execute("SELECT response FROM answers WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            return Response.from_json(json.loads(row[0]))
        except (ValueError, KeyError, TypeError):
            return None  # a damaged entry is a miss, not a crash

    def put(self, key: str, model: str, response: Response) -> None:
        # Compact separators: with log-probabilities an answer is ~20 KB of JSON, a tenth of
        # it the spaces after separators.
        blob = json.dumps(response.to_json(), ensure_ascii=False, separators=(",", ":"))
        self._db.execute(
            "INSERT OR REPLACE INTO answers (key, model, response, created) VALUES (?, ?, ?, ?)",
            (key, model, blob, time.time()),
        )

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def close(self) -> None:
        self._db.close()
