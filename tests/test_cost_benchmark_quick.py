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


def _judge_body(ten_words: bool) -> dict[str, object]:
    limit = " Write a rationale of at most ten words." if ten_words else ""
    schema = {
        "type": "object",
        "properties": {
            "helpful": {
                "type": "object",
                "properties": {"rationale": {"type": "string"}, "score": {"enum": [1, 2, 3]}},
            }
        },
        "required": ["helpful"],
    }
    return {
        "model": "m",
        "messages": [
            {"role": "system", "content": "Judge the response." + limit},
            {"role": "user", "content": "<candidate>x</candidate>"},
        ],
        "response_format": {"type": "json_schema", "json_schema": {"name": "v", "schema": schema}},
    }


@pytest.mark.parametrize("ten_words", [True, False])
def test_equal_sentences_give_judge_the_peers_rationale(ten_words: bool) -> None:
    """With --sentences equal (the default) judge's rationales are the sentence every peer gets,
    even where its prompt asks for at most ten words; judge-short gives that prompt the 5-token
    sentence (the set-up of the old cost.json, which favoured judge)."""
    from benchmarks.peers.cost_server import SHORT_RATIONALE, CostServer, load_tokenizer
    from benchmarks.peers.server import RATIONALE, prometheus_answer

    count = load_tokenizer("words", install=False)
    body = _judge_body(ten_words)
    equal = CostServer(count, ttft=0.0, per_token=0.0).reply(body)
    short = CostServer(count, ttft=0.0, per_token=0.0, sentences="judge-short").reply(body)
    assert json.loads(equal.text)["helpful"]["rationale"] == RATIONALE  # type: ignore[union-attr]
    assert RATIONALE in prometheus_answer("prompt")
    expected = SHORT_RATIONALE if ten_words else RATIONALE
    assert json.loads(short.text)["helpful"]["rationale"] == expected  # type: ignore[union-attr]
    with pytest.raises(ValueError):
        CostServer(count, ttft=0.0, per_token=0.0, sentences="longer")
