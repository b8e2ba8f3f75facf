"""How well a distilled classifier agrees with people: `judge distill` on XSTest's human labels.

    python benchmarks/distill_xstest.py        # seeds 0, 1, 2; reads ../shared/data/xstest.jsonl

For each seed, `judge distill xstest.jsonl --score-field human_score --min-score 1 --seed S`
(a subprocess, as a user runs it) trains fastText on the human labels of 80% of the rows and
reports its held-out precision, recall, F1 (and F1 of keeping every row), ROC AUC, from the model
directory's meta.json. Results: benchmarks/results/distill_xstest.json (docs/distill.md quotes it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "distill_xstest.json"
DATA = next(
    (d / "shared" / "data" / "xstest.jsonl" for d in (ROOT.parent, ROOT.parent.parent)
     if (d / "shared" / "data" / "xstest.jsonl").exists()),
    ROOT.parent / "shared" / "data" / "xstest.jsonl",
)  # fmt: skip
SEEDS = (0, 1, 2)


def run(seed: int, folder: Path) -> dict[str, object]:
    out = folder / f"clf-{seed}"
    cmd = [sys.executable, "-m", "judge", "distill", str(DATA), "--score-field", "human_score"]
    cmd += ["--min-score", "1", "--seed", str(seed), "-o", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        return {"seed": seed, "exit": done.returncode, "stderr": done.stderr.strip()[-2000:]}
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    return {"seed": seed, "exit": 0, "data": meta["data"], "metrics": meta["metrics"]}


def main() -> None:
    if not DATA.exists():
        print(f"skipped: {DATA} is not present (the benchmark reads ../shared/data)")
        return
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    load = list(os.getloadavg())
    with tempfile.TemporaryDirectory() as tmp:
        runs = [run(seed, Path(tmp)) for seed in SEEDS]
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line]
    result = {
        "command": "python benchmarks/distill_xstest.py",
        "commit": commit,
        "load_average": load,
        "data": DATA.name,
        "rows": len(rows),
        "share_labelled_1": sum(1 for r in rows if r.get("human_score") == 1) / len(rows),
        "runs": runs,
    }
    OUT.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
