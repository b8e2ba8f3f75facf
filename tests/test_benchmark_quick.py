"""The throughput benchmark's quick mode runs end to end and gives sane numbers (not the targets:
machines differ, and CI's may be busy)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quick_benchmark(tmp_path: Path) -> None:
    out = tmp_path / "throughput.json"
    proc = subprocess.run(
        [sys.executable, "benchmarks/throughput.py", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads(out.read_text(encoding="utf-8"))
    assert results["quick"] and results["command"] == "python benchmarks/throughput.py --quick"

    runs = {r["concurrency"]: r for r in results["throughput"]}
    assert set(runs) == {1, 8, 64}
    for c, r in runs.items():
        # Every candidate judged once: one model call and one output row each.
        assert r["model_calls"] == r["candidates"] == r["rows_out"] > 0
        assert r["ideal_per_s"] == pytest.approx(c / results["latency_s"])
        # Never faster than the server allows (small slack for timer granularity).
        assert 0 < r["ratio"] <= 1.1
        # the whole process's wall time includes start-up: a lower rate, reported beside it
        assert 0 < r["ratio_with_startup"] < r["ratio"]
        assert r["verdicts_per_s_with_startup"] == pytest.approx(
            r["candidates"] / r["run"]["wall_s"]
        )
        assert r["cpu_ms_per_verdict"] > 0
    # Concurrency helps: 64 calls in flight beat one at a time.
    assert runs[64]["verdicts_per_s"] > 2 * runs[1]["verdicts_per_s"]

    cached = results["cached_rerun"]
    assert cached["model_calls"] == 0 and cached["candidates"] == runs[64]["candidates"]
    assert 0 < cached["wall_s"] < 120

    small, large = results["memory"]
    assert large["rows"] == 10 * small["rows"]
    assert 20 < small["peak_rss_mb"] < 2000
    assert large["peak_rss_mb"] < 1.5 * small["peak_rss_mb"]  # streaming: flat in the input

    assert "ratio" in proc.stdout and "peak RSS" in proc.stdout  # the printed table
