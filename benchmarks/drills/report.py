"""Markdown tables from benchmarks/drills/results.json (pasted into BENCHMARKS.md).

python benchmarks/drills/report.py [results.json]
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def report(data: dict[str, Any]) -> str:
    out: list[str] = []
    if "kill9" in data:
        k = data["kill9"]
        out.append(f"kill -9 ({k['n']} items, concurrency {k['concurrency']}):\n")
        out.append(
            table(
                [
                    "kill after answers",
                    "kill at s",
                    "mid-run",
                    "answered before",
                    "resume exit",
                    "items out",
                    "lost",
                    "doubled",
                    "in order",
                    "calls",
                    "calls repeated",
                    "stray temp files",
                ],
                [
                    [
                        t.get("kill_after_answers", "-"),
                        t["kill_at_s"],
                        t["killed_mid_run"],
                        t["answered_before_kill"],
                        t["resume_exit"],
                        t["items_out"],
                        t["items_lost"],
                        t["items_duplicated"],
                        t["in_order"],
                        t["calls_total"],
                        t["calls_repeated"],
                        t["stray_temp_files"],
                    ]
                    for t in k["trials"]
                ],
            )
        )
    if "faults" in data:
        out.append("\nInjected faults:\n")
        out.append(
            table(
                [
                    "fault rate",
                    "items",
                    "judged",
                    "unjudged (reason)",
                    "requests",
                    "retries",
                    "re-asks",
                    "exit",
                    "traceback",
                    "wall s",
                ],
                [
                    [
                        f["fault_rate"],
                        f["items"],
                        f["judged"],
                        "; ".join(f"{v} × {k}" for k, v in f["unjudged"].items()) or "0",
                        f["requests"],
                        f["retries"],
                        f["reasks"],
                        f["exit"],
                        f["traceback"],
                        f["wall_s"],
                    ]
                    for f in data["faults"]
                ],
            )
        )
    if "rate_limit" in data:
        r = data["rate_limit"]
        out.append(
            f"\nSteady rate limit ({r['rpm']:g} rpm, {r['items']} items): exit {r['exit']}, "
            f"{r['judged']} judged, {r['requests']} requests of which {r['rejected_429']} got "
            f"429, {r['wall_s']} s."
        )
    if "shared_cache" in data:
        s = data["shared_cache"]
        out.append(f"\nTwo processes, one cache ({s['n']} items each):\n")
        out.append(
            table(
                [
                    "process",
                    "exit",
                    "traceback",
                    "'locked' errors",
                    "items out",
                    "judged",
                    "calls made",
                    "from cache",
                ],
                [
                    [
                        name,
                        p["exit"],
                        p["traceback"],
                        p["locked_errors"],
                        p["items_out"],
                        p["judged"],
                        p["calls"],
                        p["from_cache"],
                    ]
                    for name, p in s["processes"].items()
                ],
            )
        )
        out.append(
            f"\nCalls by both: {s['calls_both']}; cache entries: {s['cache_entries']}; a third "
            f"run made {s['third_run_calls']} calls (exit {s['third_run_exit']})."
        )
    if "bad_inputs" in data:
        b = data["bad_inputs"]
        tracebacks = sum(1 for r in b if r["traceback"])
        out.append(f"\nBad inputs: {len(b)} cases, {tracebacks} tracebacks.\n")
        out.append(
            table(
                ["case", "expected", "exit", "message (last stderr line) / per-item note"],
                [
                    [
                        r["case"],
                        r["expect"],
                        r["exit"],
                        re.sub(r"/tmp/tmp\w+/", "", r["message"])
                        + (f" — note: {r['notes'][0]}" if r["notes"] else "").replace("|", "\\|"),
                    ]
                    for r in b
                ],
            )
        )
    if "memory" in data:
        out.append("\nPeak memory:\n")
        out.append(
            table(
                ["rows", "input MB", "peak RSS MB", "wall s", "rows/s", "--dry-run peak RSS MB"],
                [
                    [
                        m["rows"],
                        m["input_mb"],
                        m["peak_rss_mb"],
                        m["wall_s"],
                        m["rows_per_s"],
                        m["dry_run_peak_rss_mb"],
                    ]
                    for m in data["memory"]
                ],
            )
        )
    if "injection" in data:
        out.append("\nPrompt injection:\n")
        out.append(
            table(
                [
                    "attack",
                    "messages",
                    "tags intact",
                    "inside the data",
                    "in system prompt",
                    "judged",
                ],
                [
                    [
                        r["attack"],
                        "/".join(r["roles"]),
                        r["tags_intact"],
                        r["attack_inside_data"],
                        r["leaked_into_system"],
                        r["judged"],
                    ]
                    for r in data["injection"]
                ],
            )
        )
    return "\n".join(out)


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("results.json"))
    print(report(json.loads(path.read_text())))
