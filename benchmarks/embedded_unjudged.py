"""How many items the embedded model (SmolLM2-135M) leaves unjudged, by rationale level: the
README's main job (examples/candidates.jsonl), calibrate on the PandaLM and XSTest samples, and
pairs on the self-instruct sample (score mode), each with a fresh cache.

`full` was the default before; `short` is the default on the embedded model now. Writes
benchmarks/results/embedded_unjudged.json (one entry per level and job, written as each ends).

    python benchmarks/embedded_unjudged.py [--rationale full short] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HHH = "constitutions/helpful-honest-harmless.md"
JOBS = {
    "score candidates": ["score", "examples/candidates.jsonl", "-c", HHH, "-o", "{tmp}/out.jsonl"],
    "calibrate pandalm": ["calibrate", "examples/pandalm-sample.jsonl", "-c", HHH, "-o", "{tmp}"],
    "calibrate xstest": ["calibrate", "examples/xstest-sample.jsonl", "-c", HHH, "-o", "{tmp}"],
    "pairs self-instruct": [
        "pairs",
        "examples/self-instruct-sample.jsonl",
        "-c",
        HHH,
        "-o",
        "{tmp}/pairs.jsonl",
    ],
}
# The counts of what each command had to judge: the first summary line, or pairs' candidates.
FIRST = re.compile(r"judge: \w+ (\d+) [\w ]+? \((\d+) judged, (\d+) not judged\)")
PAIRS = re.compile(r"(\d+) candidates: (\d+) judged, (\d+) not judged, (\d+) duplicate")
LAST = re.compile(r"most common reason: (.*)")


def commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True)
    return out.stdout.decode().strip() or "unknown"


def run(job: str, rationale: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        args = [a.format(tmp=tmp) for a in JOBS[job]]
        cmd = [sys.executable, "-m", "judge", *args, "--rationale", rationale, "-q"]
        cmd += ["-m", "local/smollm2", "--cache", str(Path(tmp) / "cache.sqlite")]
        load, started = os.getloadavg(), time.monotonic()
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        seconds = time.monotonic() - started
    err = done.stderr
    pairs = PAIRS.search(err)
    if pairs:
        total = int(pairs[1]) - int(pairs[4])  # duplicates are judged once, with their first copy
        judged, unjudged = int(pairs[2]), int(pairs[3])
    else:
        first = FIRST.search(err)
        total, judged, unjudged = (
            (int(first[1]), int(first[2]), int(first[3])) if first else (0, 0, 0)
        )
    reason = LAST.search(err)
    return {
        "job": job,
        "rationale": rationale,
        "command": "judge " + " ".join(cmd[3:]).replace(tmp, "TMP"),
        "exit_code": done.returncode,
        "to_judge": total,
        "judged": judged,
        "unjudged": unjudged,
        "most_common_reason": reason[1] if reason else None,
        "seconds": round(seconds, 1),
        "loadavg_before": load,
        "stderr_tail": err.strip().splitlines()[-2:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rationale", nargs="+", default=["full", "short"])
    parser.add_argument("--jobs", nargs="+", default=list(JOBS), choices=list(JOBS))
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/embedded_unjudged.json"))
    args = parser.parse_args()
    out = Path(args.out)
    measured = commit()  # the code that runs, not the one checked out when it ends
    for rationale in args.rationale:
        for job in args.jobs:
            entry = {**run(job, rationale), "commit": measured}
            print(json.dumps(entry), flush=True)
            # Read again before writing: two runs (one a level) may share the file.
            results = json.loads(out.read_text()) if out.exists() else {"runs": []}
            results.update(cpus=os.cpu_count(), commit=measured)
            runs = [r for r in results["runs"] if (r["job"], r["rationale"]) != (job, rationale)]
            results["runs"] = [*runs, entry]
            out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
