"""The cascade (Trust or Escalate): its guarantee's arithmetic, confidences, escalation and
abstention through real HTTP, no threshold -> exit 1, and resume after kill -9 without paying a
judge twice."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmarks.cascade_sim import SimJudge, Simulation
from judge.cascade.model import (
    ABSTAINED,
    Cascade,
    CascadeJudge,
    JudgeRecord,
    Stage,
    fit,
    load,
    save,
)
from judge.cli import main
from judge.cli.calibrate_cmd import calibrate
from judge.cli.score_cmd import score
from judge.errors import InputError
from judge.judging.confidence import comparison_confidence, least, score_confidence
from tests.fakes import FakeOpenAIServer, Fault

main.add_command(calibrate)  # the lead registers these in judge/cli/__init__.py
main.add_command(score)

CONSTITUTION = "name: tiny\nscale: 1-5\n\nJudge the reply.\n\n## helpful\nIs it helpful?\n"
ROOT = Path(__file__).resolve().parent.parent


def _judge(name: str) -> CascadeJudge:
    return CascadeJudge(name, name)


# -- the guarantee's arithmetic -----------------------------------------------------------------


def test_thresholds_per_judge_with_the_delta_split_by_a_union_bound() -> None:
    """Judge 1: 20 items at 0.9, all right (p = 0.8^20), 20 at 0.1, half right (30/40 overall
    fails). Judge 2 sees the 20 escalated, at 0.95, 19 right: p = 20 * 0.8^19 * 0.2 + 0.8^20
    = 0.069. With delta 0.1 each judge is tested at 0.05: judge 2 is not trusted; with delta 0.2
    (0.1 each) it is."""
    conf1 = [0.9] * 20 + [0.1] * 20
    agree1 = [True] * 20 + [True, False] * 10
    conf2 = [0.5] * 20 + [0.95] * 20
    agree2 = [True] * 20 + [True] * 19 + [False]
    records = [
        JudgeRecord(_judge("cheap"), conf1, agree1, 0.001),
        JudgeRecord(_judge("strong"), conf2, agree2, 0.01),
    ]
    c = fit(records, target=0.8, delta=0.1, mode="compare", kind="pairwise")
    first, second = c.stages
    assert first.threshold == 0.9 and (first.n, first.agreed) == (20, 20)
    assert first.p_value == pytest.approx(0.8**20) and first.delta == pytest.approx(0.05)
    assert second.reach == pytest.approx(0.5) and second.threshold is None
    assert c.coverage == pytest.approx(0.5) and c.agreement == 1.0
    assert c.cost_per_item == pytest.approx(0.001)  # judge 2 is never trusted: never called

    c = fit(records, target=0.8, delta=0.2, mode="compare", kind="pairwise")
    second = c.stages[1]
    assert second.threshold == 0.95 and (second.n, second.agreed) == (20, 19)
    assert second.p_value == pytest.approx(20 * 0.8**19 * 0.2 + 0.8**20)
    assert c.coverage == 1.0 and c.agreement == pytest.approx(39 / 40)
    assert c.cost_per_item == pytest.approx(0.001 + 0.5 * 0.01)


def test_unjudged_items_escalate_and_no_judge_trusted_is_no_cascade(tmp_path: Path) -> None:
    conf: list[float | None] = [None] * 10 + [0.9] * 10
    agree: list[bool | None] = [None] * 10 + [False] * 10
    c = fit([JudgeRecord(_judge("x"), conf, agree, None)], target=0.8, delta=0.1, mode="score",
            kind="absolute")  # fmt: skip
    assert c.stages[0].threshold is None and not c.trusted and c.coverage == 0
    save(c, tmp_path / "cascade.json")
    with pytest.raises(InputError, match="no judge of this cascade has a threshold"):
        load(tmp_path / "cascade.json")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(InputError, match=r"not a cascade\.json"):
        load(tmp_path / "bad.json")


def test_cascade_json_round_trips(tmp_path: Path) -> None:
    stage = Stage(_judge("a"), 0.7, 1.0, 0.6, 60, 55, 0.01, 0.05, 0.002)
    c = Cascade((stage,), 0.8, 0.1, "score", "absolute", {"sha256": "x"}, 100)
    save(c, tmp_path / "c.json")
    assert load(tmp_path / "c.json") == c
    data = json.loads((tmp_path / "c.json").read_text())
    assert data["judges"][0] == {
        "name": "a", "model": "a", "base_url": None, "api_key_env": None, "prices": None
    }  # fmt: skip
    assert data["coverage"] == 0.6 and data["delta_split"].startswith("union bound")


# -- confidence ---------------------------------------------------------------------------------


def test_comparison_confidence_multiplies_both_orders_and_a_flip_is_low() -> None:
    first = {"A": 0.9, "B": 0.08, "tie": 0.02}  # a shown first: A is a
    second = {"A": 0.2, "B": 0.7, "tie": 0.1}  # b shown first: B is a
    assert comparison_confidence("a", first, second, ("A", "B")) == pytest.approx(0.9 * 0.7)
    # A flip (A in both orders) is reported as a tie: as sure as a tie in both orders.
    assert comparison_confidence("tie", first, second, ("A", "A")) == pytest.approx(0.02 * 0.1)
    # Without log-probabilities: agreement across the orders only.
    assert comparison_confidence("b", None, None, ("B", "A")) == 1.0
    assert comparison_confidence("tie", None, None, ("A", "A")) == 0.0


def test_score_confidence_is_the_least_sure_principle() -> None:
    class P:
        def __init__(self, pid: str) -> None:
            self.id = pid

    dists = {"x": (4, {4: 0.8, 3: 0.2}), "y": (2, {2: 0.6, 1: 0.4})}
    assert score_confidence([P("x"), P("y")], dists) == pytest.approx(0.6)
    assert score_confidence([P("x"), P("z")], dists) is None  # z's score has no distribution
    assert least([0.7, 0.4]) == 0.4 and least([0.7, None]) is None


# -- escalation and abstention through real HTTP ------------------------------------------------


def _setup(tmp_path: Path, n: int, seed: int = 1) -> tuple[Simulation, Path, Path]:
    sim = Simulation({"cheap": SimJudge(0.5, 1.0), "strong": SimJudge(0.7, 1.0)}, salt="t")
    rows = sim.absolute_rows(n, "i", random.Random(seed))
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    constitution = tmp_path / "c.md"
    constitution.write_text(CONSTITUTION)
    return sim, src, constitution


def _hand_cascade(path: Path, cheap: float, strong: float) -> None:
    stages = tuple(
        Stage(CascadeJudge(f"openai/{m}", f"openai/{m}"), t, 1.0, 0.5, 10, 9, 0.01, 0.05, None)
        for m, t in (("cheap", cheap), ("strong", strong))
    )
    save(Cascade(stages, 0.8, 0.1, "score", "absolute"), path)


def test_score_escalates_below_the_threshold_and_abstains_after_the_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    sim, src, constitution = _setup(tmp_path, 40)
    _hand_cascade(tmp_path / "cascade.json", 0.9, 0.8)
    out = tmp_path / "out.jsonl"
    with FakeOpenAIServer(handler=sim.handler) as server:
        args = ["score", str(src), "-c", str(constitution), "--cascade",
                str(tmp_path / "cascade.json"), "--base-url", server.base_url,
                "--cache", str(tmp_path / "cache.sqlite"), "-o", str(out), "-q"]  # fmt: skip
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output  # abstained items are not an error
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    expected = {"openai/cheap": 0, "openai/strong": 0, None: 0}
    for r in rows:
        tag = r["response"].removeprefix("Answer ")
        p_cheap = 0.5 + 0.49 * sim.belief("cheap", tag)[1]
        p_strong = 0.5 + 0.49 * sim.belief("strong", tag)[1]
        who = "openai/cheap" if p_cheap >= 0.9 else "openai/strong" if p_strong >= 0.8 else None
        expected[who] += 1
        assert r["judge"].get("decided_by") == who
        if who is None:
            assert r["score"] is None and r["judge"]["error"] == ABSTAINED
            assert r["judge"]["confidence"] == pytest.approx(p_strong)
        else:
            assert r["judge"]["model"] == who and r["score"] is not None
            assert r["judge"]["confidence"] == pytest.approx(
                p_cheap if "cheap" in who else p_strong
            )
    assert all(expected.values())  # every path was taken
    # The cheap judge is asked about every item, the strong one only about the escalated ones.
    assert sim.requests["cheap"] == 40
    assert sim.requests["strong"] == 40 - expected["openai/cheap"]
    assert f"abstained {expected[None]}" in result.output


def test_calibrate_fits_a_cascade_and_runs_it_on_labels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    sim, src, constitution = _setup(tmp_path, 120)
    with FakeOpenAIServer(handler=sim.handler) as server:
        common = ["-c", str(constitution), "--base-url", server.base_url, "-q",
                  "--cache", str(tmp_path / "cache.sqlite")]  # fmt: skip
        fit_args = ["calibrate", str(src), *common, "-m", "openai/cheap", "--escalate-to",
                    "openai/strong", "--delta", "0.1", "-o", str(tmp_path / "fit")]  # fmt: skip
        result = CliRunner().invoke(main, [*fit_args, "--target-agreement", "0.8"])
        assert result.exit_code == 0, result.output
        assert (tmp_path / "fit" / "cascade.png").read_bytes().startswith(b"\x89PNG")
        report = json.loads((tmp_path / "fit" / "report.json").read_text())
        assert [j["name"] for j in report["judges"]] == ["openai/cheap", "openai/strong"]
        assert report["met"] and report["coverage"] > 0 and len(report["curve"]) == 10
        run = ["calibrate", str(src), *common, "--cascade", str(tmp_path / "fit/cascade.json"),
               "-o", str(tmp_path / "run")]  # fmt: skip
        result = CliRunner().invoke(main, run)
        assert result.exit_code == 0, result.output
        rep = json.loads((tmp_path / "run" / "report.json").read_text())
        assert rep["coverage"] == pytest.approx(report["coverage"])  # same items, same verdicts
        assert set(rep["calls_by_judge"]) <= {"openai/cheap", "openai/strong"}
        assert rep["agreement"]["value"] == pytest.approx(report["expected_agreement"], abs=1e-6)

        # An agreement no threshold can promise: said, exit 1, no cascade.json.
        result = CliRunner().invoke(main, [*fit_args, "--target-agreement", "0.995"])
        assert result.exit_code == 1
        assert "no judge's threshold can guarantee an agreement of 0.995" in result.output
        assert not (tmp_path / "fit" / "cascade.json").exists()


def test_a_cascade_in_the_wrong_mode_is_refused(tmp_path: Path) -> None:
    _, src, constitution = _setup(tmp_path, 4)
    stage = Stage(_judge("openai/x"), 0.5, 1.0, 1.0, 10, 10, 0.01, 0.1, None)
    save(Cascade((stage,), 0.8, 0.1, "compare", "pairwise"), tmp_path / "c.json")
    args = ["score", str(src), "-c", str(constitution), "--cascade", str(tmp_path / "c.json")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "compare-mode confidences" in result.output


# -- resume after kill -9 -----------------------------------------------------------------------


def test_kill_9_mid_cascade_then_resume_pays_no_judge_twice(tmp_path: Path) -> None:
    sim, src, constitution = _setup(tmp_path, 60, seed=3)
    _hand_cascade(tmp_path / "cascade.json", 0.9, 0.6)
    out, cache = tmp_path / "out.jsonl", tmp_path / "cache.sqlite"
    concurrency = 2
    with FakeOpenAIServer(handler=sim.handler, latency=0.03) as server:
        cmd = [sys.executable, "-m", "judge", "score", str(src), "-c", str(constitution),
               "--cascade", str(tmp_path / "cascade.json"), "--base-url", server.base_url,
               "--cache", str(cache), "-o", str(out), "-q",
               "--concurrency", str(concurrency)]  # fmt: skip
        env = dict(os.environ, OPENAI_API_KEY="sk-test")
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while sim.requests["strong"] < 5 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        asked_at_kill = server.count
        done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        bodies = [json.dumps([b["model"], b["messages"]], sort_keys=True) for b in server.bodies]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["label"] for r in rows) == sorted(  # every item once
        json.loads(line)["label"] for line in src.read_text().splitlines()
    )
    assert len({r["response"] for r in rows}) == 60
    # A call answered before the kill comes from the cache: the only repeats are calls that
    # were in flight at the kill (at most `concurrency` per judge).
    repeats = len(bodies) - len(set(bodies))
    assert asked_at_kill > 5 and repeats <= 2 * concurrency
    decided = [r for r in rows if r["judge"].get("decided_by")]
    assert decided and all(r["judge"]["confidence"] is not None for r in decided)


def test_pairs_in_compare_mode_through_a_cascade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    sim = Simulation({"cheap": SimJudge(0.5, 1.0), "strong": SimJudge(0.7, 1.0)}, salt="p")
    rows = sim.pair_rows(30, "p", random.Random(2))
    src = tmp_path / "in.jsonl"
    lines = [{"prompt": r["prompt"], "responses": [r["response_a"], r["response_b"]]} for r in rows]
    src.write_text("".join(json.dumps(r) + "\n" for r in lines))
    (tmp_path / "c.md").write_text(CONSTITUTION)
    stages = tuple(
        Stage(CascadeJudge(f"openai/{m}", f"openai/{m}"), t, 1.0, 0.5, 10, 9, 0.01, 0.05, None)
        for m, t in (("cheap", 0.8), ("strong", 0.6))
    )
    save(Cascade(stages, 0.8, 0.1, "compare", "pairwise"), tmp_path / "cascade.json")
    out = tmp_path / "pairs.jsonl"
    with FakeOpenAIServer(handler=sim.handler) as server:
        args = ["pairs", str(src), "-c", str(tmp_path / "c.md"), "--mode", "compare",
                "--cascade", str(tmp_path / "cascade.json"), "--base-url", server.base_url,
                "--min-margin", "0", "--cache", str(tmp_path / "cache.sqlite"),
                "-o", str(out), "-q"]  # fmt: skip
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    pairs = [json.loads(line) for line in out.read_text().splitlines()]
    judged = [p["judge"] for p in pairs]
    assert judged and all(j["decided_by"] in ("openai/cheap", "openai/strong") for j in judged)
    assert all(j["confidence"] >= (0.8 if "cheap" in j["decided_by"] else 0.6) for j in judged)
    assert all(p["judge_model"] == "cascade: openai/cheap > openai/strong" for p in pairs)
    assert sim.requests["cheap"] == 60  # two orders per prompt
    assert "abstained" in result.output


def test_the_dry_run_counts_each_judges_calls_at_the_expected_reach(tmp_path: Path) -> None:
    _, src, constitution = _setup(tmp_path, 20)
    stages = tuple(
        Stage(CascadeJudge(f"openai/{m}", f"openai/{m}"), 0.9, reach, 0.5, 10, 9, 0.01, 0.05, None)
        for m, reach in (("cheap", 1.0), ("strong", 0.4))
    )
    save(Cascade(stages, 0.8, 0.1, "score", "absolute"), tmp_path / "c.json")
    args = ["score", str(src), "-c", str(constitution), "--cascade", str(tmp_path / "c.json"),
            "--dry-run"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "openai/cheap: 100% of them expected to reach it (threshold 0.900) -> 20 calls" in (
        result.output
    )
    assert "openai/strong: 40% of them expected to reach it (threshold 0.900) -> 8 calls" in (
        result.output
    )


def test_an_unreachable_judge_fails_the_run_with_every_row_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    sim, src, constitution = _setup(tmp_path, 20)
    _hand_cascade(tmp_path / "cascade.json", 0.9, 0.8)

    def handler(body: dict[str, object]) -> object:
        return Fault.status(503) if body.get("model") == "strong" else sim.handler(body)

    out = tmp_path / "out.jsonl"
    with FakeOpenAIServer(handler=handler) as server:  # type: ignore[arg-type]
        args = ["score", str(src), "-c", str(constitution), "--cascade",
                str(tmp_path / "cascade.json"), "--base-url", server.base_url,
                "--max-retries", "0", "--no-cache", "-o", str(out), "-q"]  # fmt: skip
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "could not be reached" in result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 20
    assert any(r["judge"].get("decided_by") == "openai/cheap" for r in rows)
    failed = [r for r in rows if r["score"] is None]
    assert failed and all("the last judge failed: model call failed" in r["judge"]["error"]
                          for r in failed)  # fmt: skip


def test_a_cascade_fitted_from_a_judges_file_keeps_each_judges_own_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--judges FILE with --target-agreement: the members in order are the cascade's judges, each
    with its own server and key variable, recorded in cascade.json and used by --cascade."""
    monkeypatch.setenv("CHEAP_KEY", "sk-cheap")
    monkeypatch.setenv("STRONG_KEY", "sk-strong")
    sim, src, constitution = _setup(tmp_path, 120)
    with (
        FakeOpenAIServer(handler=sim.handler) as cheap,
        FakeOpenAIServer(handler=sim.handler) as strong,
    ):
        judges = tmp_path / "judges.json"
        judges.write_text(json.dumps([
            {"name": "cheap", "model": "openai/cheap", "base_url": cheap.base_url,
             "api_key_env": "CHEAP_KEY"},
            {"name": "strong", "model": "openai/strong", "base_url": strong.base_url,
             "api_key_env": "STRONG_KEY"},
        ]))  # fmt: skip
        common = ["-c", str(constitution), "-q", "--cache", str(tmp_path / "cache.sqlite")]
        fit = ["calibrate", str(src), *common, "--judges", str(judges), "--target-agreement",
               "0.8", "--delta", "0.1", "-o", str(tmp_path / "fit")]  # fmt: skip
        result = CliRunner().invoke(main, fit)
        assert result.exit_code == 0, result.output
        saved = json.loads((tmp_path / "fit" / "cascade.json").read_text())
        recorded = {j["name"]: j for j in saved["judges"]}
        assert [s["judge"] for s in saved["stages"]] == ["cheap", "strong"]
        assert recorded["cheap"]["base_url"] == cheap.base_url
        assert recorded["strong"]["api_key_env"] == "STRONG_KEY"
        assert {b["model"] for b in cheap.bodies} == {"cheap"}
        assert {b["model"] for b in strong.bodies} == {"strong"}

        # --cascade: each judge at its own server, no --base-url given.
        sent = (cheap.count, strong.count)
        run = ["score", str(src), *common, "--cascade", str(tmp_path / "fit/cascade.json"),
               "-o", str(tmp_path / "out.jsonl"), "--no-cache"]  # fmt: skip
        result = CliRunner().invoke(main, run)
        assert result.exit_code == 0, result.output
        assert cheap.count > sent[0] and strong.count > sent[1]

        both = ["calibrate", str(src), *common, "--judges", str(judges), "--escalate-to", "x",
                "--target-agreement", "0.8", "-o", str(tmp_path / "no")]  # fmt: skip
        refused = CliRunner().invoke(main, both)
        assert refused.exit_code == 2 and "not both" in refused.output
