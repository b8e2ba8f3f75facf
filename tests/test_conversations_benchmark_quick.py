"""benchmarks/conversations.py on the shipped example conversations, with the fakes' word count:
it runs, and its two answers point the right way (context costs more, grouping less)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_conversation_benchmark_runs_on_the_examples(tmp_path: Path) -> None:
    out = tmp_path / "c.json"
    cmd = [sys.executable, "benchmarks/conversations.py", "--tokenizer", "words",
           "--data", "examples/conversations.jsonl", "--out", str(out)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(out.read_text())
    results = got["results"]
    assert [results[k]["judged"] for k in results] == [5, 5, 10, 10]
    assert results["turns-all-group"]["calls"] == 5 and results["turns-all"]["calls"] == 10
    assert got["ratios"]["in-context / alone"]["input_tokens"] > 1
    assert got["ratios"]["turns-all-group / turns-all"]["input_tokens"] < 1
    assert got["commit"] and got["load_average"]["before"]
