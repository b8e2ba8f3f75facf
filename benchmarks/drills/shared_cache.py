"""Drill: two `judge score` processes at once on one cache file, then a third run on it.

Both processes judge the same items (the worst case: every key is contended). Reported: exit codes,
errors such as "database is locked", items out, calls each made, cache entries, and the calls the
third run needs (0: everything either process paid for is there).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.drills.common import env, read_jsonl, rows, run, score_cmd, write_jsonl
from judge.engine.cache import Cache
from tests.fakes import FakeOpenAIServer


def drill(n: int = 300, concurrency: int = 8, latency: float = 0.02) -> dict[str, Any]:
    with FakeOpenAIServer(latency=latency) as server, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src = write_jsonl(work / "in.jsonl", rows(n, tag=" shared"))
        cache = work / "cache.sqlite"
        procs = []
        for name in ("a", "b"):
            cmd = score_cmd(
                src, server.base_url, "--concurrency", str(concurrency),
                "--cache", str(cache), "-o", str(work / f"{name}.jsonl"),
            )  # fmt: skip
            procs.append(
                subprocess.Popen(
                    cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(), text=True
                )
            )
        outs = [p.communicate(timeout=600) for p in procs]
        calls_both = server.answered
        third = run(
            score_cmd(src, server.base_url, "--cache", str(cache), "-o", str(work / "c.jsonl"))
        )
        results = {}
        for name, p, (_, err) in zip("ab", procs, outs, strict=True):
            got = read_jsonl(work / f"{name}.jsonl")
            made = re.search(r"(\d+) calls, (\d+) from cache", err)
            results[name] = {
                "exit": p.returncode,
                "traceback": "Traceback" in err,
                "locked_errors": err.count("locked"),
                "items_out": len(got),
                "judged": sum(1 for r in got if r["score"] is not None),
                "calls": int(made.group(1)) if made else None,
                "from_cache": int(made.group(2)) if made else None,
            }
        entries = len(Cache(cache))
        return {
            "n": n,
            "processes": results,
            "calls_both": calls_both,
            "cache_entries": entries,
            "third_run_calls": server.answered - calls_both,
            "third_run_exit": third.code,
        }
