"""Batch jobs recorded in the cache file, so that a run killed while its jobs run re-attaches to
them when started again, instead of submitting (and paying for) the same requests twice.

A job is written here the moment the provider accepts it, before any wait, with the cache key of
every request in it (each request's `custom_id` is its cache key). Its answers go to the
`answers` table line by line as they are read; `collected` is set once all of them are in, after
which the job is history (`judge batches list` still shows it).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from judge.backends.batch import JobStatus
from judge.engine.cache import Cache

SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS batch_jobs (
    id TEXT PRIMARY KEY,                  -- the provider's job id
    model TEXT NOT NULL,                  -- provider/model
    server TEXT,                          -- the server's URL as shown (null: the official API)
    state TEXT NOT NULL,                  -- judge.backends.batch: running, ended, cancelled, ...
    total INTEGER NOT NULL DEFAULT 0,     -- lines, as the provider counts them
    succeeded INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,    -- errored, expired or cancelled lines
    created REAL NOT NULL,                -- Unix time
    updated REAL NOT NULL,
    collected INTEGER NOT NULL DEFAULT 0  -- 1: every answer is in the answers table
)
""",
    """
CREATE TABLE IF NOT EXISTS batch_lines (
    key TEXT NOT NULL,                    -- the request's cache key (its custom_id)
    job TEXT NOT NULL,                    -- batch_jobs.id
    PRIMARY KEY (key, job)
) WITHOUT ROWID
""",
)


@dataclass(frozen=True)
class JobRecord:
    """A job as the cache file knows it."""

    id: str
    model: str
    server: str | None
    state: str
    total: int
    succeeded: int
    failed: int
    created: float
    collected: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)  # every field, in order (judge batches list --json)


_COLUMNS = "id, model, server, state, total, succeeded, failed, created, collected"


class BatchJobs:
    """The batch tables of one cache file."""

    def __init__(self, cache: Cache) -> None:
        self._db = cache.connection
        for statement in SCHEMA:
            self._db.execute(statement)

    def record(
        self, status: JobStatus, model: str, server: str | None, keys: Sequence[str]
    ) -> None:
        """A job the provider has just accepted, with its requests' keys (one transaction)."""
        now = time.time()
        with _transaction(self._db):
            self._db.execute(
                "INSERT OR REPLACE INTO batch_jobs (id, model, server, state, total, succeeded, "
                "failed, created, updated, collected) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                (
                    status.id,
                    model,
                    server,
                    status.state,
                    status.total or len(keys),
                    status.succeeded,
                    status.failed,
                    status.created or now,
                    now,
                ),
            )
            self._db.executemany(
                "INSERT OR IGNORE INTO batch_lines (key, job) VALUES (?, ?)",
                [(key, status.id) for key in keys],
            )

    def update(self, status: JobStatus) -> None:
        self._db.execute(
            "UPDATE batch_jobs SET state = ?, total = max(total, ?), succeeded = ?, failed = ?, "
            "updated = ? WHERE id = ?",
            (status.state, status.total, status.succeeded, status.failed, time.time(), status.id),
        )

    def collected(self, job_id: str) -> None:
        self._db.execute(
            "UPDATE batch_jobs SET collected = 1, updated = ? WHERE id = ?", (time.time(), job_id)
        )

    def pending_job(self, keys: Iterable[str]) -> dict[str, JobRecord]:
        """key -> the uncollected job holding it (the newest, if several), for the keys that
        have one."""
        found: dict[str, JobRecord] = {}
        for key in keys:
            row = self._db.execute(
                f"SELECT {', '.join('j.' + c for c in _COLUMNS.split(', '))} FROM batch_lines l "
                "JOIN batch_jobs j ON j.id = l.job WHERE l.key = ? AND j.collected = 0 "
                "ORDER BY j.created DESC LIMIT 1",
                (key,),
            ).fetchone()
            if row is not None:
                found[key] = _job(row)
        return found

    def keys(self, job_id: str) -> list[str]:
        rows = self._db.execute("SELECT key FROM batch_lines WHERE job = ?", (job_id,))
        return [str(r[0]) for r in rows]

    def jobs(self) -> list[JobRecord]:
        """Every recorded job, newest first."""
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM batch_jobs ORDER BY created DESC")
        return [_job(r) for r in rows]

    def get(self, job_id: str) -> JobRecord | None:
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM batch_jobs WHERE id = ?", (job_id,)
        ).fetchone()
        return None if row is None else _job(row)


def _job(row: Any) -> JobRecord:
    return JobRecord(
        id=str(row[0]),
        model=str(row[1]),
        server=None if row[2] is None else str(row[2]),
        state=str(row[3]),
        total=int(row[4]),
        succeeded=int(row[5]),
        failed=int(row[6]),
        created=float(row[7]),
        collected=bool(row[8]),
    )


class _transaction:
    """BEGIN ... COMMIT on an autocommit connection (ROLLBACK on an error)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *rest: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")


def dumps(records: Sequence[JobRecord]) -> str:
    """The records as JSON Lines (`judge batches list --json`)."""
    return "".join(json.dumps(r.to_json()) + "\n" for r in records)
