"""The cost benchmark (benchmarks/peers/cost.py) runs end to end on the shipped PandaLM sample,
judge only (the peers are pip-installed by the full run, never in the tests), with the fakes'
tokenizer (no install) and a fast server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quick_cost_benchmark(tmp_path: Path) -> None:
    out = tmp_path / "cost.json"
    mix = "judge --group --mix-prompts --group-size 16 --rationale brief"
    tools = f"judge,judge --group,judge --rationale none,{mix}"
    proc = subprocess.run(
        [sys.executable, "benchmarks/peers/cost.py", "--n", "20", "--tools", tools,
         "--data", "examples/pandalm-sample.jsonl", "--tokenizer", "words",
         "--ttft", "0.05", "--per-token", "0.0005", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    meta = data["meta"]
    assert len(meta["load_average_start"]) == 3 and meta["commit"]
    assert meta["settings"]["candidates"] == 20 and meta["settings"]["ttft_s"] == 0.05
    runs = {r["name"]: r for r in data["results"]}
    assert set(runs) == {"judge", "judge --group", "judge --rationale none", mix}
    for r in runs.values():
        assert r["judged"] == 20 and r["lost"] == 0 and r["server"]["unknown_format"] == 0
    base, group, none = runs["judge"], runs["judge --group"], runs["judge --rationale none"]
    assert base["calls_per_verdict"] == 1.0
    assert group["calls_per_verdict"] < 1.0  # the two responses of a row in one call
    assert group["input_tokens_per_verdict"] < base["input_tokens_per_verdict"]
    assert none["output_tokens_per_verdict"] < base["output_tokens_per_verdict"]
    assert (base["rationales"], runs[mix]["rationales"], none["rationales"]) == (
        "per principle",
        "one a verdict",
        "none",
    )
    # 20 candidates in calls of up to 16, whatever their prompts: 2 calls
    assert runs[mix]["calls_per_verdict"] == pytest.approx(2 / 20)
    assert runs[mix]["output_tokens_per_verdict"] < base["output_tokens_per_verdict"] / 2
    assert runs[mix]["input_tokens_per_verdict"] < group["input_tokens_per_verdict"]
    # the constitution is a cached prefix once the first calls are out (>= 1,024 tokens)
    assert 0 < base["server"]["cached_input_tokens"] < base["server"]["input_tokens"]
    usd = base["usd_per_1000"]
    assert usd["batch"] == pytest.approx(usd["list"] / 2) and usd["realtime"] < usd["list"]
    # the target names judge's cheapest mode at each level of explanation (no peers here)
    target = data["target"]
    assert target["per principle"]["realtime"]["cheapest_judge_mode"] in ("judge", "judge --group")
    assert target["one a verdict"]["realtime"]["cheapest_judge_mode"] == mix
    assert target["none"]["batch"]["cheapest_judge_mode"] == mix  # cheaper than none's calls
    assert "| judge score --group |" in proc.stdout
