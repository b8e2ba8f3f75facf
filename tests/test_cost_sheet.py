"""benchmarks/cost_sheet.py reprices the verdicts of benchmarks/results/cost.json per system."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.cost_sheet import LEVELS, system_plans, systems
from judge.engine.prices import Price

ROOT = Path(__file__).resolve().parents[1]
COST = ROOT / "benchmarks" / "results" / "cost.json"


def test_gpt_4o_mini_prices_reproduce_the_cost_benchmark() -> None:
    """At the prices cost.json was measured with, the repricing gives its own figures."""
    data = json.loads(COST.read_text(encoding="utf-8"))
    mean = data["meta"]["settings"]["mean_candidate_tokens"]
    modes = [{**r, "mean_candidate_tokens": mean} for r in data["results"]]
    modes = [m for m in modes if m["name"].startswith("judge")]
    p = data["meta"]["settings"]["price_per_million"]
    plans = system_plans(modes, Price(p["input"], p["output"], p["cached_input"]), 0.5, 1.0)
    for level in LEVELS:
        for kind in ("realtime", "batch"):
            want = data["target"][level][kind]
            got = plans["llm_everything"][level][kind]
            assert got["cheapest_judge_mode"] == want["cheapest_judge_mode"]
            assert got["llm_usd_1e12_tokens"] == pytest.approx(
                want["usd_1T_tokens_as_2e9_candidates_of_500"]
            )


def test_the_seed_systems_are_priced_or_say_why_not() -> None:
    table = systems(COST, core_hours=1.0)
    assert table["openai/gpt-4-turbo"]["generate_1e12_tokens_usd"] == pytest.approx(30e6)
    assert table["anthropic/claude-3-opus"]["generate_1e12_tokens_usd"] == pytest.approx(75e6)
    assert table["groq/llama3-70b-8192"]["generate_1e12_tokens_usd"] == pytest.approx(0.79e6)
    # The seed's $21 is the tier of prompts over 128k tokens; a verdict's prompt is billed at
    # the tier up to 128k ($3.50 / $10.50).
    gemini = table["gemini/gemini-1.5-pro"]
    assert gemini["generate_1e12_tokens_usd"] == pytest.approx(21e6)
    assert gemini["price_per_million"]["output"] == 10.5 and gemini["plans"] is not None
    # No batch API judge can use for Gemini: no batch figure rather than a made-up one.
    flash = table["gemini/gemini-2.5-flash-lite"]["plans"]["llm_everything"]["none"]
    assert flash["batch"] is None and flash["realtime"]["llm_usd_1e12_tokens"] > 0
