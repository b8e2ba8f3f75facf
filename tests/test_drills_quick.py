"""The fault drills of benchmarks/drills in a short form (the full figures are in BENCHMARKS.md).

Each drill runs `judge score` as a user would, against the loopback fake server, and checks the
reliability contract: no item lost or doubled, no traceback, exit 2 for bad input, candidate text
kept inside the data section of the prompt.
"""

from __future__ import annotations

import pytest

from benchmarks.drills import bad_inputs, faults, injection, kill9, memory, shared_cache

pytestmark = pytest.mark.timeout(180)


def test_kill_9_then_resume_loses_nothing() -> None:
    result = kill9.drill(n=60, kills=2, concurrency=4, latency=0.03, seed=1)
    for trial in result["trials"]:
        assert trial["resume_exit"] == 0 and not trial["resume_traceback"], trial
        assert trial["items_lost"] == 0 and trial["items_duplicated"] == 0, trial
        assert trial["in_order"] and trial["unjudged"] == 0, trial
        # Only answers on the wire at the kill may be asked again.
        assert trial["calls_repeated"] <= 4, trial


def test_ten_percent_faults_lose_no_item() -> None:
    [result] = faults.drill(n=50, rates=(0.1,), concurrency=8)
    assert result["exit"] == 0 and not result["traceback"], result
    assert result["items_out"] == 50
    assert result["judged"] + sum(result["unjudged"].values()) == 50
    # Transient faults are retried: at 10% nearly everything gets judged.
    assert result["judged"] >= 48, result
    assert result["requests"] > 50  # faults really were injected


def test_two_processes_share_one_cache() -> None:
    result = shared_cache.drill(n=40)
    for proc in result["processes"].values():
        assert proc["exit"] == 0 and not proc["traceback"] and proc["locked_errors"] == 0, proc
        assert proc["items_out"] == 40 and proc["judged"] == 40, proc
    assert result["cache_entries"] == 40
    assert result["third_run_calls"] == 0 and result["third_run_exit"] == 0


def test_bad_inputs_exit_as_the_contract_says_without_tracebacks() -> None:
    results = bad_inputs.drill(in_process=True)
    assert len(results) >= 20
    assert [r["case"] for r in results if r["traceback"]] == []
    assert [(r["case"], r["exit"]) for r in results if not r["ok"]] == []
    for r in results:
        if r["expect"] == 2:
            assert r["message"].startswith("judge: error: "), r
    empty = next(r for r in results if r["case"] == "empty response")
    assert empty["notes"] == ["not judged: empty response"]


def test_injection_stays_inside_the_data_section() -> None:
    results = injection.drill()
    assert len(results) == len(injection.ATTACKS)
    for r in results:
        assert r["roles"] == ["system", "user"], r
        assert r["tags_intact"] and r["attack_inside_data"] and not r["leaked_into_system"], r
        assert r["judged"], r


def test_memory_drill_runs() -> None:
    [result] = memory.drill(sizes=(2_000,))
    assert result["rows"] == 2_000
    assert 0 < result["peak_rss_mb"] < 1_000


def test_a_steady_rate_limit_loses_no_item() -> None:
    # Demand far above 3,000 requests a minute, and only 2 ordinary retries: 429s with
    # Retry-After must not use those up (they did before; see BENCHMARKS.md).
    result = faults.rate_limit_drill(n=120, rpm=3000, concurrency=16, max_retries=2)
    assert result["exit"] == 0 and not result["traceback"], result
    assert result["rejected_429"] > 0, result
    assert result["judged"] == 120, result
    assert result["requests"] == result["judged"] + result["rejected_429"], result  # no other
