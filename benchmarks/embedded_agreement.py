"""How far the embedded model (SmolLM2-135M) agrees with people: `judge calibrate` on the shipped
PandaLM sample (40 pairwise items, majority of 3 human annotators), score mode.

The figure is quoted in the note every run on the embedded model ends with, and in the docs.
Writes benchmarks/results/embedded_agreement.json with the commit and the machine's load.

    python benchmarks/embedded_agreement.py [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT / "examples" / "pandalm-sample.jsonl"
CONSTITUTION = ROOT / "constitutions" / "helpful-honest-harmless.md"
KEY = "6a75646765" * 6  # the delimiter key of the benchmark runs (see judge.judging.prompts.nonce)


def commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True)
    return out.stdout.decode().strip() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/embedded_agreement.json"))
    args = parser.parse_args()
    measured = commit()  # the code that runs, not the one checked out when it ends
    load_before = os.getloadavg()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable, "-m", "judge", "calibrate", str(LABELS), "-c", str(CONSTITUTION),
            "-m", "local/smollm2", "-o", tmp, "--cache", str(Path(tmp) / "cache.sqlite"), "-q",
        ]  # fmt: skip
        # The tags' code comes from a key made beside the cache (here a new one each run): a fixed
        # key gives the 135M model, whose verdicts move with any change of the prompt, the same
        # prompts on every run, so the figure can be reproduced.
        env = {**os.environ, "JUDGE_DELIMITER_KEY": os.environ.get("JUDGE_DELIMITER_KEY", KEY)}
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        report = json.loads((Path(tmp) / "report.json").read_text())
    keys = ("n", "agreement", "agreement_without_ties", "cohen_kappa")
    result = {
        "what": "judge calibrate on examples/pandalm-sample.jsonl with the embedded model",
        "command": " ".join(cmd[1:]),
        "exit_code": done.returncode,
        "commit": measured,
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "seconds": round(time.monotonic() - started, 1),
        **{k: report.get(k) for k in keys},
        "stderr_tail": done.stderr.strip().splitlines()[-3:],
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
