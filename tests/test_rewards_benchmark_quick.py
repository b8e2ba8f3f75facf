"""benchmarks/rewards.py --quick runs end to end: every completion rewarded, the calls a step as
the set-up says (one a completion; one a prompt with group=True), and the step no faster than the
server allows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quick_rewards_benchmark(tmp_path: Path) -> None:
    out = tmp_path / "rewards.json"
    proc = subprocess.run(
        [sys.executable, "benchmarks/rewards.py", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads(out.read_text(encoding="utf-8"))
    assert results["quick"] and results["machine"]["load_average_at_start"]
    setup = results["setup"]
    n = setup["prompts_per_step"] * setup["completions_per_prompt"]
    rows = {r["name"]: r for r in results["results"]}
    assert set(rows) == {"plain OpenAI SDK loop", "judge", "judge group=True"}
    for r in rows.values():
        assert r["completions_per_step"] == n and r["unjudged"] == 0
        assert r["step_p50_s"] >= setup["time_to_first_token_s"]
        assert r["dollars_per_step"] > 0
    assert rows["judge"]["calls_per_step"] == rows["plain OpenAI SDK loop"]["calls_per_step"] == n
    assert rows["judge group=True"]["calls_per_step"] == setup["prompts_per_step"]
    assert rows["judge group=True"]["dollars_per_step"] < rows["judge"]["dollars_per_step"]
