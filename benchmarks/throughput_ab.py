"""Throughput of two checkouts of judge, interleaved in one run (issue 12: "no loss").

    git worktree add /tmp/before a7441b9     # and a venv with it installed: /tmp/venv
    python benchmarks/throughput_ab.py --before /tmp/before --before-python /tmp/venv/bin/python

A machine shared with other jobs moves verdicts per second by tens of percent between two runs
minutes apart, so a "before" file from one hour and an "after" file from another say little.
Here both checkouts run the same measurements of benchmarks/throughput.py against one loopback
server (100 ms an answer), alternating before/after/before/after for --rounds rounds, and the
medians are compared: verdicts per second at concurrency 64 (with and without log-probabilities),
the CPU each verdict costs (user + system time of the process, which the machine's load moves
much less than wall time), and the wall and CPU time of a re-run on a full cache. On a loaded
machine read the CPU rows: wall times there measure the other jobs as much as judge.

Results: a table on stdout and benchmarks/results/throughput-ab.json (or --out FILE).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import throughput as tp  # the measurements themselves live there

DEFAULT_OUT = tp.ROOT / "benchmarks" / "results" / "throughput-ab.json"
MEASURES = (("default", ()), ("no-logprobs", ("--no-logprobs",)))


def commit_of(tree: Path) -> str:
    import subprocess

    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=tree, capture_output=True, text=True
    )
    return done.stdout.strip()


def command_for(python: str, tree: Path) -> Callable[..., list[str]]:
    """`judge score` of one checkout: its own interpreter, its own code first on the path (`-m`
    puts the working directory first, so the process starts in the checkout)."""

    def judge_score(*args: str) -> list[str]:
        return [
            "env",
            f"--chdir={tree}",
            f"PYTHONPATH={tree}",
            python,
            "-m",
            "judge",
            "score",
            *args,
        ]

    return judge_score


def one_round(server: str, work: Path, n: int) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for label, extra in MEASURES:
        found[label] = tp.throughput(server, work, 64, n, extra)
    found["cached_rerun"] = tp.cached_rerun(server, found["default"])
    for label, _ in MEASURES:
        found[label].pop("_args", None)
    return found


def medians(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, _ in MEASURES:
        out[label] = {
            "verdicts_per_s": statistics.median(r[label]["verdicts_per_s"] or 0 for r in rounds),
            "cpu_ms_per_verdict": statistics.median(r[label]["cpu_ms_per_verdict"] for r in rounds),
        }
    out["cached_rerun_wall_s"] = statistics.median(r["cached_rerun"]["wall_s"] for r in rounds)
    out["cached_rerun_cpu_s"] = statistics.median(r["cached_rerun"]["run"]["cpu_s"] for r in rounds)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--before", type=Path, required=True, help="checkout of the old commit")
    parser.add_argument("--before-python", required=True, help="interpreter with its deps")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--candidates", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    options = parser.parse_args()

    sides = {
        "before": (command_for(options.before_python, options.before), options.before),
        "after": (command_for(sys.executable, tp.ROOT), tp.ROOT),
    }
    runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    started = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp, tp.loopback_server(tp.LATENCY) as server:
        for i in range(options.rounds):
            for side, (command, _) in sides.items():
                tp.judge_score = command  # throughput.py builds its commands through this
                work = Path(tmp) / f"{side}-{i}"
                work.mkdir()
                found = one_round(server, work, options.candidates)
                for label, _ in MEASURES:
                    r = found[label]
                    if r["model_calls"] != options.candidates or r["run"]["returncode"] != 0:
                        print(f"{side} round {i} {label}: {r['run']['summary']}", file=sys.stderr)
                        return 1
                runs[side].append(found)
                print(
                    f"round {i + 1} {side:>6}: "
                    + ", ".join(f"{lab} {found[lab]['verdicts_per_s']}/s" for lab, _ in MEASURES)
                    + f", cached re-run {found['cached_rerun']['wall_s']:.2f} s",
                    file=sys.stderr,
                )
    summary = {side: medians(runs[side]) for side in runs}
    results = {
        "command": "python benchmarks/throughput_ab.py",
        "candidates": options.candidates,
        "rounds": options.rounds,
        "latency_s": tp.LATENCY,
        "concurrency": 64,
        "commits": {side: commit_of(tree) for side, (_, tree) in sides.items()},
        "machine": {**tp.machine(), "load_average_at_start": started},
        "median": summary,
        "ratio_after_to_before": {
            **{
                label: {
                    "verdicts_per_s": summary["after"][label]["verdicts_per_s"]
                    / summary["before"][label]["verdicts_per_s"],
                    "cpu_ms_per_verdict": summary["after"][label]["cpu_ms_per_verdict"]
                    / summary["before"][label]["cpu_ms_per_verdict"],
                }
                for label, _ in MEASURES
            },
            **{
                key: summary["after"][key] / summary["before"][key]
                for key in ("cached_rerun_wall_s", "cached_rerun_cpu_s")
            },
        },
        "rounds_detail": runs,
    }
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(results, indent=2, default=asdict) + "\n", encoding="utf-8")
    ratio = results["ratio_after_to_before"]
    print(
        f"{'median of ' + str(options.rounds):<22}{'before':>10}{'after':>10}{'after/before':>14}"
    )
    for label, _ in MEASURES:
        for key, unit in (("verdicts_per_s", "/s"), ("cpu_ms_per_verdict", " CPU ms")):
            b, a = summary["before"][label][key], summary["after"][label][key]
            print(f"{label + unit:<22}{b:>10.2f}{a:>10.2f}{ratio[label][key]:>14.2f}")
    for key, label in (
        ("cached_rerun_wall_s", "cached re-run s"),
        ("cached_rerun_cpu_s", "  its CPU s"),
    ):
        b, a = summary["before"][key], summary["after"][key]
        print(f"{label:<22}{b:>10.2f}{a:>10.2f}{ratio[key]:>14.2f}")
    m = results["machine"]
    print(
        f"commits {results['commits']}; load average {m['load_average_at_start'][0]} at start, "
        f"{m['load_average_at_end'][0]} at end"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
