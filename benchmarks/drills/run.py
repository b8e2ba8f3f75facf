"""Fault drills for `judge score`: kill -9 and resume, injected faults, a shared cache, bad
inputs, peak memory, prompt injection. Results in benchmarks/drills/results.json and on stdout.

    python benchmarks/drills/run.py                 # the full drills (figures in BENCHMARKS.md)
    python benchmarks/drills/run.py --quick         # the CI-sized version (seconds)
    python benchmarks/drills/run.py --only kill9,faults

Every drill runs judge as a user would (a subprocess, `python -m judge score`) against the loopback
fake OpenAI server of tests/fakes.py; nothing reads ../shared.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.drills import (  # noqa: E402
    bad_inputs,
    faults,
    injection,
    kill9,
    memory,
    shared_cache,
)
from benchmarks.peers.run import machine  # noqa: E402

FULL: dict[str, Callable[[], Any]] = {
    "kill9": lambda: kill9.drill(n=300, kills=10),
    "faults": lambda: faults.drill(n=300, rates=(0.0, 0.1, 0.3)),
    "rate_limit": lambda: faults.rate_limit_drill(n=300, rpm=600, concurrency=16),
    "shared_cache": lambda: shared_cache.drill(n=300),
    "bad_inputs": lambda: bad_inputs.drill(),
    "memory": lambda: memory.drill(sizes=(10_000, 100_000, 1_000_000)),
    "injection": lambda: injection.drill(),
}
QUICK: dict[str, Callable[[], Any]] = {
    "kill9": lambda: kill9.drill(n=60, kills=2, latency=0.03),
    "faults": lambda: faults.drill(n=50, rates=(0.1,)),
    "rate_limit": lambda: faults.rate_limit_drill(n=120, rpm=3000, max_retries=2),
    "shared_cache": lambda: shared_cache.drill(n=40),
    "bad_inputs": lambda: bad_inputs.drill(),
    "memory": lambda: memory.drill(sizes=(2_000,)),
    "injection": lambda: injection.drill(),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="CI-sized drills")
    ap.add_argument("--only", help="comma-separated drills: " + ", ".join(FULL))
    ap.add_argument("--out", default=str(Path(__file__).with_name("results.json")))
    args = ap.parse_args()
    plan = QUICK if args.quick else FULL
    names = args.only.split(",") if args.only else list(plan)
    out_path = Path(args.out)
    results: dict[str, Any] = json.loads(out_path.read_text()) if out_path.exists() else {}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    results["meta"] = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "machine": machine(),
                       "quick": args.quick, "commit": commit.stdout.strip(),
                       "loadavg": os.getloadavg()}  # fmt: skip
    for name in names:
        print(f"drill {name} ...", file=sys.stderr, flush=True)
        started = time.monotonic()
        results[name] = plan[name]()
        # When each drill last ran (`meta` is the latest run's, and --only re-runs some).
        results.setdefault("ran", {})[name] = results["meta"]
        print(f"drill {name}: {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
        print(json.dumps({name: results[name]}, indent=1))
        out_path.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
