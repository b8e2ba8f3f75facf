"""`judge batches`: the batch jobs recorded in a cache file (--batch), and cancelling them at the
provider. A job is cancelled through the backend it was made with (its model and server, as
recorded); the state the provider answers is recorded, so that the run watching the job reports
its lines as cancelled and a later run submits them anew.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from judge.backends.batch import FINAL
from judge.backends.registry import get_backend
from judge.engine.batch_jobs import BatchJobs, JobRecord
from judge.engine.cache import Cache
from judge.errors import ConfigError


@dataclass(frozen=True)
class Cancelled:
    job: JobRecord
    state: str  # as the provider answered the cancel


def list_jobs(cache_path: str | Path | None) -> list[JobRecord]:
    """Every job recorded in the cache, newest first."""
    cache = Cache(cache_path)
    try:
        return BatchJobs(cache).jobs()
    finally:
        cache.close()


async def cancel_jobs(
    cache_path: str | Path | None, job_id: str | None, base_url: str | None = None
) -> list[Cancelled]:
    """Cancel `job_id`, or every unfinished job when None; `base_url` overrides the recorded
    server (a URL shown with its secrets redacted cannot be called)."""
    cache = Cache(cache_path)
    try:
        jobs = BatchJobs(cache)
        if job_id is not None:
            record = jobs.get(job_id)
            if record is None:
                raise ConfigError(
                    f"no batch job {job_id!r} in the cache {cache.path}; `judge batches list` "
                    "shows the jobs recorded there (give the same --cache as the run)"
                )
            targets = [record]
        else:
            targets = [j for j in jobs.jobs() if j.state not in FINAL and not j.collected]
        done = []
        for record in targets:
            backend = get_backend(record.model, base_url=base_url or record.server)
            try:
                api = backend.batch
                if api is None:
                    raise ConfigError(f"{record.model} has no batch API to cancel {record.id} at")
                status = await api.cancel(record.id)
            finally:
                await backend.aclose()
            jobs.update(status)
            done.append(Cancelled(record, status.state))
        return done
    finally:
        cache.close()
