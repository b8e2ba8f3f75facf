"""Persistent cache of model answers: SQLite in WAL mode, one row per request key.

Every answer is written the moment it arrives, so a run killed at any point loses nothing it paid
for. Keys hash everything that changes the answer (see `backends.base.request_key`). WAL mode and a
busy timeout let two processes share one cache file safely.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import sqlite3
import time
from pathlib import Path

import orjson

from judge.backends.base import Backend, Response
from judge.errors import ConfigError, OutputError
from judge.io.tempfiles import pid_alive

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    response TEXT NOT NULL,
    created REAL NOT NULL
)
"""

# Which process is calling the model for a key right now, so that two runs over the same items
# pay once: the first to claim a key calls, the other waits for its answer (see Runner).
# `expires` is a Unix time; a claim also ends when its owner's process is gone.
_CLAIMS_SCHEMA = """
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires REAL NOT NULL
) WITHOUT ROWID
"""

# One statement: insert, or take over our own or an expired claim; rowcount 0 if someone else's
# live claim holds the key.
_CLAIM = """
INSERT INTO claims (key, owner, expires) VALUES (?, ?, ?)
ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires = excluded.expires
WHERE claims.owner = excluded.owner OR claims.expires < ?
"""

_TOKEN = secrets.token_hex(6)  # this process, as opposed to an earlier one with the same pid


def claim_owner() -> str:
    """This process, as a claim's owner: `pid@host:token`."""
    return f"{os.getpid()}@{socket.gethostname()}:{_TOKEN}"


def claim_owner_alive(owner: str) -> bool:
    """Whether a claim's owner may still be at work. Only a process on this host can be known
    to be gone; one elsewhere counts as alive until its claim expires."""
    pid_text, _, rest = owner.partition("@")
    host, _, token = rest.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    pid = int(pid_text)
    if pid == os.getpid():
        return token == _TOKEN  # our pid with another token: a killed run before this one
    return pid_alive(pid)


def default_path() -> Path:
    """`$JUDGE_CACHE`, else `$XDG_CACHE_HOME/judge/cache.sqlite`, else `~/.cache/judge/...`."""
    env = os.environ.get("JUDGE_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "judge" / "cache.sqlite"


def timing_name(backend: Backend) -> str:
    """Whose answer times a dry run may estimate from: the model, on the server named (the same
    model on another server, or on the official API, answers at another speed)."""
    server = backend.identity().get("base_url")
    return f"{backend.name} at {server}" if server else backend.name


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
            self._db.execute(_CLAIMS_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise ConfigError(
                f"cannot open the cache at {self.path}: {exc}; "
                "choose another file with {opt:cache}, or run with {opt:no_cache}"
            ) from exc

    @property
    def connection(self) -> sqlite3.Connection:
        """The database, for tables beside the answers (judge.engine.batch_jobs)."""
        return self._db

    def get(self, key: str) -> Response | None:
        row = self._db.execute("SELECT response FROM answers WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            return Response.from_json(orjson.loads(row[0]))
        except (ValueError, KeyError, TypeError, IndexError):
            return None  # a damaged entry is a miss, not a crash

    def put(self, key: str, model: str, response: Response) -> None:
        """`model`: timing_name(backend), for call_seconds."""
        try:
            blob = orjson.dumps(response.to_json()).decode("utf-8")
        except orjson.JSONEncodeError:  # a lone surrogate is not UTF-8; json escapes it
            blob = json.dumps(response.to_json())
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO answers (key, model, response, created) "
                "VALUES (?, ?, ?, ?)",
                (key, model, blob, time.time()),
            )
        except sqlite3.OperationalError as exc:  # a full disk, a lost mount
            raise OutputError(
                f"cannot write to the cache at {self.path}: {exc}; free space (or choose "
                "another file with --cache PATH) and run the same command again"
            ) from None

    def call_seconds(self, model: str, last: int = 200) -> list[float]:
        """How long the latest `last` answers of `model` (a timing_name) took, as the
        runner measured them: answers cached before it did, and batch answers, have no time."""
        seconds = "json_extract(response, '$.seconds')"
        try:
            rows = self._db.execute(
                f"SELECT {seconds} FROM answers WHERE model = ? AND {seconds} IS NOT NULL "
                "ORDER BY created DESC LIMIT ?",
                (model, last),
            ).fetchall()
        except sqlite3.Error:  # a damaged entry: no measurement rather than no dry run
            return []
        return [float(r[0]) for r in rows if isinstance(r[0], int | float)]

    # -- claims (best effort: they only save money, so a failure to record one is no error) --

    def claim(self, key: str, owner: str, ttl: float) -> str | None:
        """Claim `key` for `owner` for `ttl` seconds, unless another owner's unexpired claim
        holds it. None when the claim is `owner`'s now, else the holder's owner."""
        for _ in range(3):
            now = time.time()
            try:
                if self._db.execute(_CLAIM, (key, owner, now + ttl, now)).rowcount > 0:
                    return None
                row = self._db.execute("SELECT owner FROM claims WHERE key = ?", (key,)).fetchone()
            except sqlite3.Error:
                return None
            if row is not None:
                return str(row[0])
            # Released between the two statements: try again.
        return None

    def claim_holder(self, key: str) -> tuple[str, float] | None:
        """The owner of `key`'s claim and when it expires (Unix time), or None."""
        try:
            row = self._db.execute(
                "SELECT owner, expires FROM claims WHERE key = ?", (key,)
            ).fetchone()
        except sqlite3.Error:
            return None
        return None if row is None else (str(row[0]), float(row[1]))

    def take_over_claim(self, key: str, owner: str, ttl: float, previous: str) -> bool:
        """Take `key`'s claim from `previous` (expired, or its process is gone); False if the
        claim changed hands meanwhile."""
        try:
            cursor = self._db.execute(
                "UPDATE claims SET owner = ?, expires = ? WHERE key = ? AND owner = ?",
                (owner, time.time() + ttl, key, previous),
            )
        except sqlite3.Error:
            return True
        return cursor.rowcount > 0

    def renew_claims(self, keys: list[str], owner: str, ttl: float) -> None:
        """Push back the expiry of `owner`'s claims on `keys` (calls still pending)."""
        expires = time.time() + ttl
        with contextlib.suppress(sqlite3.Error):
            self._db.executemany(
                "UPDATE claims SET expires = ? WHERE key = ? AND owner = ?",
                [(expires, key, owner) for key in keys],
            )

    def release_claim(self, key: str, owner: str) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("DELETE FROM claims WHERE key = ? AND owner = ?", (key, owner))

    def release_claims(self, owner: str) -> None:
        """Every claim of `owner`, and every expired one (left by killed runs)."""
        with contextlib.suppress(sqlite3.Error):
            self._db.execute(
                "DELETE FROM claims WHERE owner = ? OR expires < ?", (owner, time.time())
            )

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def close(self) -> None:
        """Close the database (idempotent)."""
        self._db.close()
