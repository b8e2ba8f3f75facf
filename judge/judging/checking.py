"""Verifier checks run in worker processes, never on the event loop that makes the model calls.

A final answer's math parse can take seconds (math-verify gives up after 5 s a step, by SIGALRM,
which works only in a process's main thread): in a worker process it holds up neither the other
calls of a run nor the other requests of `judge serve`, and its time limits hold whichever thread
asked. A candidate whose checks take longer than LIMIT in all is left unchecked (a verdict
without a score, saying why), never waited on for good.

The workers are forked on Linux (the checks need nothing of the parent's state but imports, and
a training script need not guard its `__main__`); elsewhere Python's default start method is
used. They live as long as the process; concurrent.futures stops them at exit.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from judge.constitution.model import Verifier
from judge.judging.verifiers import Check, check

LIMIT = 20.0  # seconds for one candidate's checks: math-verify's own limits are 5 s a step
WORKERS = 2

_pool: ProcessPoolExecutor | None = None
_owner = 0  # the pid that made _pool: a forked child makes its own


def _worker_start(parent: int) -> None:
    """Ctrl-C and SIGTERM are the parent's to handle: it stops the workers itself. A parent
    killed outright (kill -9) cannot: the worker then exits by itself, within a second, not
    holding on to what it inherited (a server's listening socket)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.set_wakeup_fd(-1)  # an asyncio parent's wake-up socket is not the worker's

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="judge-check-parent", daemon=True).start()


def _workers() -> ProcessPoolExecutor:
    global _pool, _owner
    if _pool is None or _owner != os.getpid():
        context = multiprocessing.get_context("fork") if sys.platform == "linux" else None
        _owner = os.getpid()
        _pool = ProcessPoolExecutor(
            WORKERS, mp_context=context, initializer=_worker_start, initargs=(_owner,)
        )
    return _pool


def check_all(verifiers: Sequence[Verifier], text: str, reference: str | None) -> list[Check]:
    return [check(v, text, reference) for v in verifiers]


async def checks(verifiers: Sequence[Verifier], text: str, reference: str | None) -> list[Check]:
    """Each verifier's check of `text`, run in a worker process within LIMIT seconds."""
    global _pool
    for _ in range(2):
        try:
            future = _workers().submit(check_all, list(verifiers), text, reference)
            return await asyncio.wait_for(asyncio.wrap_future(future), LIMIT)
        except TimeoutError:
            why = f"not checked: the check took over {LIMIT:g} s"
            break
        except BrokenProcessPool:
            _pool = None  # a worker died (killed, out of memory): new workers, once
            why = "not checked: the checking process died"
    return [Check(None, why) for _ in verifiers]
