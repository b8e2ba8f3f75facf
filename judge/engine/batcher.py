"""Batch mode of the runner (--batch): the calls of a round go to the provider's batch API as
one job (split to its limits), at half price, answered within hours.

A round is everything the task asks for at once: the runner starts every unit of the input (up
to a job's size), each unit's calls queue here, and once no new call has come for `settle`
seconds the queue is submitted. Calls that depend on earlier answers (adaptive comparisons,
revision rounds, re-asks of unparseable answers) arrive after those answers and make the next
job: one job per round.

What makes it safe to kill and re-run (the reliability contract):
- each job is recorded in the cache file (judge.engine.batch_jobs) as soon as the provider
  accepts it, with the cache key of every request in it, before any wait; a run started again
  with the same command finds its requests' keys there and re-attaches to the job instead of
  submitting them again;
- answers go to the cache line by line as they are read, so a finished job costs nothing again.
Lines that failed for a passing reason, or that an expired job never ran, are resubmitted (at
most `resubmits` times), then sent in real time with `fallback="realtime"`, else left unjudged
(the run exits 1 after writing every row). Lines of a job cancelled while the run watched it are
left unjudged, with the reason; a job cancelled before (judge batches cancel) is resubmitted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from judge.backends.base import Request, Response
from judge.backends.batch import (
    CANCELLED,
    CANCELLING,
    DEGRADED,
    FINAL,
    BatchApi,
    JobStatus,
    LineResult,
)
from judge.engine.batch_jobs import BatchJobs
from judge.engine.cache import Cache
from judge.engine.stats import RunStats

if TYPE_CHECKING:
    from judge.engine.runner import Runner
from judge.errors import BackendError, ConfigError

FALLBACKS = ("none", "realtime")
T = TypeVar("T")


@dataclass
class BatchConfig:
    enabled: bool = False
    fallback: str = "none"  # "realtime": lines that keep failing are sent in real time
    poll: float = 1.0  # seconds before the first status check; it grows 1.5x a check ...
    poll_max: float = 60.0  # ... up to this
    max_requests: int | None = None  # a job's size; None: the provider's limit
    max_bytes: int | None = None
    resubmits: int = 2  # times a line that got no answer is submitted again
    settle: float = 0.05  # seconds without a new call that end a round
    max_errors: int = 8  # failed submissions or status checks in a row before giving up


class RealtimeFallback(Exception):
    """A line failed past its resubmissions and --batch-fallback realtime is on."""


@dataclass
class _Entry:
    request: Request
    futures: list[asyncio.Future[Response]] = field(default_factory=list)
    attempts: int = 0  # submissions that gave no answer


class Batcher:
    """The batch jobs of one runner."""

    def __init__(
        self,
        api: BatchApi,
        config: BatchConfig,
        *,
        cache: Cache | None,
        model: str,
        server: str | None,
        stats: Callable[[], RunStats],
        notify: Callable[[], None],
    ) -> None:
        self.api = api
        self.config = config
        self.cache = cache
        self.jobs = None if cache is None else BatchJobs(cache)
        self.model = model
        self.server = server
        self._stats = stats
        self._notify = notify
        limits = api.limits
        self.max_requests = min(config.max_requests or limits.max_requests, limits.max_requests)
        self.max_bytes = min(config.max_bytes or limits.max_bytes, limits.max_bytes)
        self._entries: dict[str, _Entry] = {}  # unanswered, by cache key (= custom_id)
        self._queue: list[str] = []  # keys waiting for the next job
        self._tasks: set[asyncio.Task[None]] = set()
        self._flusher: asyncio.Task[None] | None = None
        self._read: set[str] = set()  # jobs whose results this run has read

    async def call(self, key: str, request: Request) -> Response:
        """The answer to `request` (whose cache key is `key`), from a batch job; raises the
        line's BackendError, or RealtimeFallback."""
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        entry = self._entries.get(key)
        if entry is None:  # the same request asked twice at once is sent once
            entry = self._entries[key] = _Entry(request)
            self._queue.append(key)
            self._start_flusher()
        entry.futures.append(future)
        return await future

    def close(self) -> None:
        for task in [*self._tasks, *([self._flusher] if self._flusher else [])]:
            task.cancel()

    # -- rounds ----------------------------------------------------------------------------------

    def _start_flusher(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._flush())

    async def _flush(self) -> None:
        while self._queue:
            seen = -1
            while len(self._queue) != seen and len(self._queue) < self.max_requests:
                seen = len(self._queue)
                await asyncio.sleep(self.config.settle)
            keys, self._queue = self._queue, []
            task = asyncio.ensure_future(self._round(keys))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _round(self, keys: list[str]) -> None:
        keys = [k for k in keys if k in self._entries]  # not settled meanwhile
        try:
            found = {} if self.jobs is None else self.jobs.pending_job(keys)
            # A job read once by this run is not waited for again (its lines left are resent).
            attached = {k: job for k, job in found.items() if job.id not in self._read}
            watches = []
            by_job: dict[str, list[str]] = {}
            for key, record in attached.items():
                by_job.setdefault(record.id, []).append(key)
            for job_id, job_keys in by_job.items():
                watches.append(self._watch(job_id, job_keys, earlier=attached[job_keys[0]].state))
            for chunk in self._chunks([k for k in keys if k not in attached]):
                status = await self._submit(chunk)
                watches.append(self._watch(status.id, [k for k, _ in chunk], first=status))
            await asyncio.gather(*watches)
        except asyncio.CancelledError:
            for key in keys:
                self._settle(key, error=asyncio.CancelledError())
            raise
        except BaseException as exc:
            for key in keys:
                self._settle(key, error=exc)

    def _chunks(self, keys: list[str]) -> Iterator[list[tuple[str, bytes]]]:
        """The keys' lines, in jobs within the size limits."""
        chunk: list[tuple[str, bytes]] = []
        size = 0
        for key in keys:
            line = self.api.line(key, self._entries[key].request)
            if chunk and (len(chunk) >= self.max_requests or size + len(line) + 1 > self.max_bytes):
                yield chunk
                chunk, size = [], 0
            chunk.append((key, line))
            size += len(line) + 1
        if chunk:
            yield chunk

    async def _submit(self, chunk: list[tuple[str, bytes]]) -> JobStatus:
        """Submit one job and record it before anything else."""
        lines = [line for _, line in chunk]
        status = await self._patiently(lambda: self.api.submit(lines))
        if self.jobs is not None:
            self.jobs.record(status, self.model, self.server, [key for key, _ in chunk])
        self._stats().batch_submitted += 1
        self._show(status, record=False)
        return status

    async def _watch(
        self,
        job_id: str,
        keys: list[str],
        *,
        first: JobStatus | None = None,
        earlier: str | None = None,
    ) -> None:
        """Wait for a job to end, polling with backoff; then read its answers. `earlier`: the
        job's state as recorded by an earlier run (a re-attached job)."""
        status = first
        delay = self.config.poll
        while status is None or status.state not in FINAL:
            if status is not None:
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, max(self.config.poll, self.config.poll_max))
            try:
                status = await self._patiently(lambda: self.api.status(job_id))
            except BackendError as exc:
                if earlier is None or exc.transient:
                    raise
                # The provider no longer knows the recorded job: submit its lines anew.
                self._forget(job_id)
                self._again(keys, exc, count=False)
                return
            self._show(status)
        await self._collect(
            job_id, keys, status, cancelled_before=earlier in (CANCELLING, CANCELLED)
        )

    async def _collect(
        self, job_id: str, keys: list[str], status: JobStatus, *, cancelled_before: bool
    ) -> None:
        requests = {k: self._entries[k].request for k in keys if k in self._entries}
        answered: set[str] = set()

        async def read() -> list[tuple[str, LineResult]]:
            return [line async for line in self.api.results(job_id, requests)]

        for key, result in await self._patiently(read):
            if key in answered:
                continue
            answered.add(key)
            if isinstance(result, Response):
                if self.cache is not None:
                    self.cache.put(key, self.model, result)  # line by line
                self._settle(key, result)
            elif result.transient:
                self._again([key], result, count=result.kind != DEGRADED)
            else:
                self._settle(key, error=result)
        self._read.add(job_id)
        # Collected once every line is read; a job holding requests this run did not ask for
        # (yet) stays open for the run, or round, that asks for them.
        if self.jobs is not None and set(self.jobs.keys(job_id)) <= set(requests):
            self.jobs.collected(job_id)
        missing = [k for k in requests if k not in answered]
        if status.state == CANCELLED and not cancelled_before:
            self._stats().batch_cancelled.add(job_id)
            for key in missing:
                self._settle(
                    key,
                    error=BackendError(
                        f"{self.model}: batch job {job_id} was cancelled before it answered",
                        transient=True,
                        kind=CANCELLED,
                    ),
                )
            return
        why = BackendError(
            f"{self.model}: batch job {job_id} ended ({status.state}) without answering",
            transient=True,
        )
        self._again(missing, why, count=not cancelled_before)

    # -- lines ---------------------------------------------------------------------------------

    def _again(self, keys: list[str], why: BackendError, *, count: bool = True) -> None:
        """Submit these lines again with the next round, if they have resubmissions left."""
        requeued = False
        for key in keys:
            entry = self._entries.get(key)
            if entry is None:
                continue
            entry.attempts += count
            if entry.attempts <= self.config.resubmits:
                self._stats().batch_resubmitted += 1
                self._queue.append(key)
                requeued = True
            elif self.config.fallback == "realtime":
                self._settle(key, error=RealtimeFallback())
            else:
                message = f"{why} (submitted {entry.attempts} times)"
                self._settle(key, error=BackendError(message, transient=True, kind=why.kind))
        if requeued:
            self._start_flusher()

    def _settle(
        self, key: str, response: Response | None = None, *, error: BaseException | None = None
    ) -> None:
        entry = self._entries.pop(key, None)
        for future in entry.futures if entry is not None else ():
            if future.done():
                continue
            if error is not None:
                future.set_exception(error)
            elif response is not None:
                future.set_result(response)

    def _forget(self, job_id: str) -> None:
        if self.jobs is not None:
            self.jobs.collected(job_id)

    def _show(self, status: JobStatus, *, record: bool = True) -> None:
        if record and self.jobs is not None:
            self.jobs.update(status)
        self._stats().batches[status.id] = status
        self._notify()

    async def _patiently(self, action: Callable[[], Awaitable[T]]) -> T:
        """`action()`, tried again after a transient error (at most `max_errors` times)."""
        errors = 0
        while True:
            try:
                return await action()
            except BackendError as exc:
                errors += 1
                if not exc.transient or errors > self.config.max_errors:
                    raise
                await asyncio.sleep(self._wait(errors, exc))

    def _wait(self, errors: int, exc: BackendError) -> float:
        if exc.retry_after is not None:
            return min(exc.retry_after, self.config.poll_max)
        return min(self.config.poll * 2**errors, self.config.poll_max)


def for_runner(runner: Runner) -> Batcher:
    """The batcher of a runner with --batch; ConfigError for a backend without a batch API."""
    backend = runner.backend
    api = backend.batch
    if api is None:
        from judge.backends.presets import providers

        with_batch = ", ".join(f"{p.name}/" for p in providers() if p.features.batch)
        raise ConfigError(
            f"{{opt:batch}}: {backend.name} has no batch API that judge can use; pick a model "
            f"of a provider with one ({with_batch}; also openai/NAME with {{opt:base_url}} for "
            "a server that implements /v1/batches), or drop {opt:batch} (judge models lists "
            "them)"
        )
    server = backend.identity().get("base_url")
    return Batcher(
        api,
        runner.config.batch,
        cache=runner.cache,
        model=backend.name,
        server=None if server is None else str(server),
        stats=lambda: runner.stats,
        notify=lambda: runner.on_progress(runner.stats) if runner.on_progress else None,
    )
