"""The classifier throughput benchmark's quick mode runs end to end and gives sane numbers (not
the 0.6 target: a quick run is dominated by process start-up, and CI's machine may be busy)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("fasttext")


@pytest.mark.slow
def test_quick_classifier_benchmark(tmp_path: Path) -> None:
    out = tmp_path / "classifier_throughput.json"
    proc = subprocess.run(
        [sys.executable, "benchmarks/classifier_throughput.py", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    r = json.loads(out.read_text(encoding="utf-8"))
    assert r["command"] == "python benchmarks/classifier_throughput.py --quick"
    assert set(r["docs_per_second"]) == {"raw_1", "judge_1", "raw_all", "judge_all"}
    assert all(v > 0 for v in r["docs_per_second"].values())
    assert r["ratio_1_core"] == pytest.approx(
        r["docs_per_second"]["judge_1"] / r["docs_per_second"]["raw_1"], rel=1e-2
    )
    assert len(r["loadavg_before"]) == 3 and r["held_out_f1"] > 0.9
    # the raw baseline predicts batches as large as judge filter's (it used to predict one text
    # a call while judge batched 64)
    assert r["raw_batch"] == r["judge_batch"] == 64


def test_the_raw_baseline_batches_its_predict_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    import benchmarks.classifier_throughput as bench

    calls: list[int] = []

    class Model:
        def predict(self, texts: object, k: int) -> None:
            assert isinstance(texts, list) and k == -1
            calls.append(len(texts))

    monkeypatch.setattr(bench, "_texts", [f"text {i}\n" for i in range(150)])
    monkeypatch.setattr(bench, "_model", Model())
    bench._raw_share((0, 150))
    assert calls == [64, 64, 22]
