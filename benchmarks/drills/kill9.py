"""Drill: kill -9 a `judge score` run at random moments, then resume it with the same command.

A moment is drawn as a number of answers already sent by the server (0: during start-up).

Per kill: whether the output after the resume holds every input item exactly once, how many model
calls were asked twice (the answers in flight at the kill are lost; anything answered before is in
the cache), and the hidden temporary files left next to the output by the killed writer.
"""

from __future__ import annotations

import random
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.drills.common import env, read_jsonl, rows, run, score_cmd, write_jsonl
from tests.fakes import FakeOpenAIServer


def drill(
    n: int = 300, kills: int = 10, concurrency: int = 8, latency: float = 0.05, seed: int = 6
) -> dict[str, Any]:
    rng = random.Random(seed)
    trials = []
    with FakeOpenAIServer(latency=latency) as server, tempfile.TemporaryDirectory() as tmp:
        for k in range(kills):
            server.clear()
            work = Path(tmp) / f"kill{k}"
            work.mkdir()
            src = write_jsonl(work / "in.jsonl", rows(n, tag=f" run {k}"))
            out, cache = work / "out.jsonl", work / "cache.sqlite"
            cmd = score_cmd(
                src, server.base_url, "--concurrency", str(concurrency),
                "--cache", str(cache), "-o", str(out),
            )  # fmt: skip
            # A random moment of the run, by progress rather than by clock (start-up time
            # varies with the machine's load): when `target` answers have been sent; target 0
            # kills during start-up.
            target = rng.randrange(0, n)
            started = time.monotonic()
            proc = subprocess.Popen(
                cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env()
            )
            if target == 0:
                time.sleep(rng.uniform(0.05, 0.5))
            while server.answered < target and proc.poll() is None:
                time.sleep(0.002)
            at = time.monotonic() - started
            alive = proc.poll() is None
            proc.kill()
            proc.wait()
            answered_at_kill = server.answered
            resumed = run(cmd)
            got = read_jsonl(out)
            ids = [r["id"] for r in got]
            asked = [
                b["messages"][-1]["content"]
                for b in server.bodies
                if isinstance(b, dict) and "messages" in b  # a kill mid-send leaves {}
            ]
            strays = [p.name for p in work.iterdir() if p.name.startswith(".out.jsonl")]
            trials.append(
                {
                    "kill_at_s": round(at, 2),
                    "kill_after_answers": target,
                    "killed_mid_run": alive,
                    "answered_before_kill": answered_at_kill,
                    "resume_exit": resumed.code,
                    "resume_traceback": resumed.traceback,
                    "items_out": len(ids),
                    "items_lost": n - len(set(ids)),
                    "items_duplicated": len(ids) - len(set(ids)),
                    "in_order": ids == sorted(ids),
                    "unjudged": sum(1 for r in got if r["score"] is None),
                    "calls_total": len(asked),
                    "calls_repeated": len(asked) - len(set(asked)),
                    "stray_temp_files": len(strays),
                }
            )
    return {"n": n, "concurrency": concurrency, "latency_s": latency, "trials": trials}
