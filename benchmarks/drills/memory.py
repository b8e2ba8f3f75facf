"""Drill: peak memory (max RSS) of `judge score` over large inputs.

Runs memory_child.py (the real CLI with an instant in-process backend) on generated JSON Lines
inputs of increasing size; flat peak RSS means the pipeline streams. Also measured: --dry-run,
which reads every row and builds every request but calls nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.drills.common import CONSTITUTION, ROOT, env


def make_input(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps({"id": i, "prompt": f"Question {i}?", "response": f"Answer {i}."}))
            f.write("\n")


def peak_rss_mb(cmd: list[str]) -> tuple[float, float, int]:
    """Peak RSS in MB of one child run (measured alone: a fresh interpreter wraps it)."""
    wrapper = (
        "import resource, subprocess, sys, json;"
        "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE);"
        "print(json.dumps([resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.returncode,"
        " p.stderr.decode()[-500:]]))"
    )
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, env=env(), cwd=ROOT
    )
    wall = time.monotonic() - started
    rss_kb, code, err = json.loads(out.stdout)
    if code != 0:
        raise RuntimeError(f"memory run failed ({code}): {err}")
    return rss_kb / 1024, wall, code


def drill(sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)) -> list[dict[str, Any]]:
    results = []
    child = str(Path(__file__).with_name("memory_child.py"))
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            src = Path(tmp) / f"in{n}.jsonl"
            make_input(src, n)
            out = Path(tmp) / "out.jsonl"
            base = [sys.executable, child, "score", str(src), "-c", str(CONSTITUTION),
                    "-m", "mem/judge", "-q"]  # fmt: skip
            rss, wall, _ = peak_rss_mb([*base, "--no-cache", "--concurrency", "64", "-o", str(out)])
            dry_rss, dry_wall, _ = peak_rss_mb([*base, "--no-cache", "--dry-run"])
            results.append(
                {
                    "rows": n,
                    "input_mb": round(src.stat().st_size / 1e6, 1),
                    "peak_rss_mb": round(rss, 1),
                    "wall_s": round(wall, 1),
                    "rows_per_s": round(n / wall),
                    "dry_run_peak_rss_mb": round(dry_rss, 1),
                    "dry_run_wall_s": round(dry_wall, 1),
                }
            )
            out.unlink(missing_ok=True)
    return results
