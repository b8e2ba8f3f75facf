"""Panels through the commands (in process, fake backends): score, filter, pairs, calibrate, a
member down with and without a quorum, and --dry-run counting every member."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from judge.backends.base import Request
from judge.cli import main
from judge.errors import BackendError
from judge.testing import FakeBackend, data_section, use_backend

ROWS = [{"id": i, "prompt": f"q{i}", "response": "x" * (10 * i + 5)} for i in range(4)]


def member(name: str) -> Any:
    """fake/hi scores 5, fake/lo 1, fake/mid 3, fake/len more for longer responses; fake/down
    cannot be reached. Comparisons:
    hi and mid prefer the longer response, lo the shorter."""

    def answer(request: Request) -> str | BaseException:
        if name == "down":
            return BackendError("HTTP 503: overloaded", transient=True)
        assert request.schema is not None
        if "winner" in request.schema["properties"]:
            text = request.messages[1].content
            a, b = data_section(text, "response_a"), data_section(text, "response_b")
            longer_a = len(a or "") > len(b or "")
            wins_a = longer_a != (name == "lo")
            return json.dumps({"rationale": name, "winner": "A" if wins_a else "B"})
        if name == "len":  # longer is better
            text = request.messages[1].content
            found = data_section(text, "candidate_response")
            score = 1 + min(4, len(found or "") // 5)
        else:
            score = {"hi": 5, "lo": 1, "mid": 3}[name]
        ids = request.schema["required"]
        return json.dumps({p: {"rationale": name, "score": score} for p in ids})

    return answer


@pytest.fixture
def fakes() -> Iterator[dict[str, FakeBackend]]:
    made: dict[str, FakeBackend] = {}

    def factory(name: str, **kw: Any) -> FakeBackend:
        made[name] = FakeBackend(name, member(name))
        return made[name]

    with use_backend("fake", factory):
        yield made


@pytest.fixture
def src(tmp_path: Path) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--max-retries", "0"])


def rows_of(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_score_panel_rows_keep_each_member(
    src: Path, constitution_file: Path, fakes: dict[str, FakeBackend]
) -> None:
    c = str(constitution_file)
    result = run("score", str(src), "-c", c, "-m", "fake/hi", "-m", "fake/lo", "-m", "fake/lo")
    assert result.exit_code == 0, result.output
    out = rows_of(result.stdout)
    assert len(out) == 4
    judge = out[0]["judge"]
    assert judge["model"] == "panel(fake/hi, fake/lo, fake/lo#2)"
    assert [(m["name"], m["score"]) for m in judge["panel"]] == [
        ("fake/hi", 0.875),  # helpful 5 of 1-5 -> 1 (weight 3), honest 5 of 0-10 -> 0.5
        ("fake/lo", 0.025),  # helpful 1 -> 0, honest 1 -> 0.1: 0.1 / 4
        ("fake/lo#2", 0.025),
    ]
    # helpful: (1 + 0 + 0) / 3 -> 1 + 4/3; honest: (0.5 + 0.1 + 0.1) / 3 = 0.7/3 -> 7/3
    assert out[0]["scores"] == pytest.approx({"helpful": 1 + 4 / 3, "honest": 7 / 3})
    assert out[0]["score"] == pytest.approx((3 / 3 + 0.7 / 3) / 4)
    assert judge["confidence"] == pytest.approx(1 - (0.875 - 0.025))
    assert set(fakes) == {"hi", "lo"} and len(fakes["hi"].requests) == 4
    assert "panel of 3 (quorum 2)" in result.stderr
    assert "member fake/lo#2 (weight 1): 4 verdicts, 0 without one" in result.stderr
    # The run's summary counts every member; the same model twice asks once (the cache).
    assert "8 calls, 4 from cache" in result.stderr


def test_member_down_verdict_from_the_rest(
    src: Path, constitution_file: Path, fakes: dict[str, FakeBackend]
) -> None:
    c = str(constitution_file)
    result = run("score", str(src), "-c", c, "-m", "fake/hi", "-m", "fake/mid", "-m", "fake/down")
    assert result.exit_code == 1  # a model could not be reached: run again to complete
    out = rows_of(result.stdout)
    assert len(out) == 4 and all(r["score"] is not None for r in out)
    down = out[0]["judge"]["panel"][2]
    assert down["name"] == "fake/down" and "503" in down["error"] and down["score"] is None
    # From hi (0.875) and mid (helpful 3 -> 0.5, honest 3 -> 0.3: 1.8 / 4 = 0.45) only
    assert out[0]["score"] == pytest.approx((0.875 + 0.45) / 2)
    assert out[0]["judge"]["confidence"] == pytest.approx(1 - (0.875 - 0.45))
    assert "4 items got the panel's verdict without every member (quorum 2)" in result.stderr
    assert "could not be reached" in result.stderr


def test_member_down_below_quorum_is_unjudged(
    src: Path, constitution_file: Path, fakes: dict[str, FakeBackend]
) -> None:
    c = str(constitution_file)
    result = run("score", str(src), "-c", c, "-m", "fake/hi", "-m", "fake/down", "--quorum", "2")
    assert result.exit_code == 1
    out = rows_of(result.stdout)
    assert len(out) == 4 and all(r["score"] is None for r in out)
    error = out[0]["judge"]["error"]
    assert error.startswith("panel: 1 of 2 members gave a verdict, below the quorum of 2")
    assert "fake/down: model call failed" in error
    assert out[0]["judge"]["panel"][0]["score"] == 0.875  # the member that answered is kept
    assert "4 not judged" in result.stderr


def test_quorum_out_of_range_and_without_a_panel(src: Path, constitution_file: Path) -> None:
    c = str(constitution_file)
    bad = CliRunner().invoke(
        main, ["score", str(src), "-c", c, "-m", "fake/a", "-m", "fake/b", "--quorum", "3"]
    )
    assert bad.exit_code == 2 and "--quorum 3 is not between 1 and the panel's 2" in bad.output
    alone = CliRunner().invoke(main, ["score", str(src), "-c", c, "--quorum", "1"])
    assert alone.exit_code == 2 and "--quorum is for a panel" in alone.output


def test_dry_run_counts_every_member(
    src: Path, constitution_file: Path, fakes: dict[str, FakeBackend]
) -> None:
    c = str(constitution_file)
    result = run("score", str(src), "-c", c, "-m", "fake/hi", "-m", "fake/lo", "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert "dry run for panel(fake/hi, fake/lo): 4 candidates -> 8 calls" in lines[0]
    assert "dry run for member fake/hi: 4 candidates -> 4 calls" in lines[1]
    assert "dry run for member fake/lo: 4 candidates -> 4 calls" in lines[2]
    assert not fakes["hi"].requests and not fakes["lo"].requests


def test_filter_with_a_panel(
    src: Path, constitution_file: Path, fakes: dict[str, FakeBackend]
) -> None:
    c = str(constitution_file)
    result = run(
        "filter", str(src), "-c", c, "-m", "fake/hi", "-m", "fake/mid", "--min-score", "0.7"
    )
    assert result.exit_code == 0, result.output
    assert rows_of(result.stdout) == []  # (0.875 + 0.45) / 2 < 0.7
    assert "panel of 2" in result.stderr and "kept 0" in result.stderr.lower()


def test_pairs_compare_majority_vote(
    tmp_path: Path, constitution_file: Path, fakes: dict[str, FakeBackend]
) -> None:
    src = tmp_path / "groups.jsonl"
    src.write_text(json.dumps({"prompt": "q", "responses": ["short", "a longer one"]}) + "\n")
    c = str(constitution_file)
    args = ["pairs", str(src), "-c", c, "--mode", "compare", "--format", "standard"]
    result = run(*args, "-m", "fake/hi", "-m", "fake/mid", "-m", "fake/lo")
    assert result.exit_code == 0, result.output
    (row,) = rows_of(result.stdout)
    assert row["chosen"] == "a longer one"  # hi and mid against lo
    winners = [m["winner"] for m in row["judge"]["panel"]]
    assert winners == ["b", "b", "a"]
    assert row["judge"]["confidence"] == pytest.approx(2 / 3)
    assert row["judge_model"] == "panel(fake/hi, fake/mid, fake/lo)"
    assert "Fleiss' kappa" in result.stderr


def test_pairs_score_mode_keeps_both_sides_members(
    tmp_path: Path, constitution_file: Path, fakes: dict[str, FakeBackend]
) -> None:
    src = tmp_path / "groups.jsonl"
    src.write_text(json.dumps({"prompt": "q", "responses": ["one", "two"]}) + "\n")
    c = str(constitution_file)
    args = ["pairs", str(src), "-c", c, "--min-margin", "0", "-m", "fake/hi", "-m", "fake/lo"]
    result = run(*args)
    assert result.exit_code == 0, result.output
    # Both responses get the same panel score: a tie makes no pair, and the run says so.
    assert rows_of(result.stdout) == []
    assert "panel of 2 (quorum 2)" in result.stderr


def test_calibrate_reports_inter_judge_agreement_and_cost_per_member(
    tmp_path: Path, constitution_file: Path, fakes: dict[str, FakeBackend]
) -> None:
    labels = tmp_path / "labels.jsonl"
    rows = [
        {"prompt": f"q{i}", "response_a": "x" * (i + 1), "response_b": "y" * 5, "preference": p}
        for i, p in enumerate(["a", "b", "a", "b", "a", "b"])
    ]
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "report"
    c = str(constitution_file)
    result = run(
        "calibrate", str(labels), "-c", c, "-o", str(out), "--mode", "compare",
        "--resamples", "20", "-m", "fake/hi", "-m", "fake/mid", "-m", "fake/lo",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    panel = report["panel"]
    assert report["model"] == "panel(fake/hi, fake/mid, fake/lo)"
    assert [m["name"] for m in panel["members"]] == ["fake/hi", "fake/mid", "fake/lo"]
    assert all(m["calls"] == 12 and m["verdicts"] == 6 for m in panel["members"])
    kappa = panel["agreement"]["fleiss_kappa"]
    assert kappa["items"] == 6 and kappa["winners"] is not None and kappa["winners"] < 0.5
    judgment = json.loads((out / "judgments.jsonl").read_text().splitlines()[0])
    assert len(judgment["panel"]) == 3 and judgment["confidence"] is not None
    assert "## Panel" in (out / "report.md").read_text()


def test_a_command_without_panels_refuses_several_models(
    src: Path, constitution_file: Path
) -> None:
    c = str(constitution_file)
    result = CliRunner().invoke(
        main, ["revise", str(src), "-c", c, "-o", "x.jsonl", "-m", "fake/a", "-m", "fake/b"]
    )
    assert result.exit_code == 2 and "this command takes one -m" in result.output


def test_members_share_the_budget_of_calls_in_flight() -> None:
    from judge.backends.base import Message
    from judge.engine.prices import Price
    from judge.engine.runner import Runner, RunnerConfig
    from judge.engine.stats import RunStats
    from judge.errors import BudgetReached

    price = Price(1_000_000.0, 0.0)  # a dollar a token: the worst case is easy to count
    request = Request(messages=(Message("user", "x" * 40),), max_tokens=1)  # ~10 tokens: $10
    first, second = (
        Runner(FakeBackend(name), config=RunnerConfig(max_cost=15.0)) for name in ("a", "b")
    )
    for r in (first, second):
        r.price = r.budget.price = price
    second.join(first)
    stats = RunStats()
    # reserve and settle are coroutines (a cluster's budget answers over the network: judge.ray)
    held = asyncio.run(first.budget.reserve(request, stats))
    assert second.budget.reserved == held == 10.0
    with pytest.raises(BudgetReached):  # together they would pass --max-cost
        asyncio.run(second.budget.reserve(request, stats))
    asyncio.run(first.budget.settle(held, 0.0))
    assert asyncio.run(second.budget.reserve(request, stats)) == 10.0


def test_python_api_panel_of_names_and_specs(
    constitution_file: Path, fakes: dict[str, FakeBackend]
) -> None:
    import judge
    from judge.engine.runner import RunnerConfig
    from judge.engine.settings import Settings

    members = ["fake/hi", judge.Judge("heavy", "fake/lo", weight=3)]
    results = judge.score(
        ROWS[:2], str(constitution_file), judges=members, settings=Settings(use_cache=False)
    )
    verdict = results[0].verdict
    assert [m["name"] for m in verdict.panel] == ["fake/hi", "heavy"]
    assert verdict.score == pytest.approx((0.875 + 3 * 0.025) / 4)
    assert results[0].row["judge"]["model"] == "panel(fake/hi, heavy)"
    with pytest.raises(judge.RunFailed) as failed:  # below the quorum of 2: exit 1's twin
        judge.score(
            ROWS[:1],
            str(constitution_file),
            judges=["fake/hi", "fake/down"],
            settings=Settings(runner=RunnerConfig(max_retries=0)),
        )
    assert failed.value.result[0].verdict.score is None


def test_calibrate_score_mode_gives_fleiss_kappa_of_the_members_preferences(
    tmp_path: Path, constitution_file: Path, fakes: dict[str, FakeBackend]
) -> None:
    labels = tmp_path / "labels.jsonl"
    lengths = [(1, 12), (12, 1), (3, 4), (20, 2)]  # len prefers b, a, tie (both score 1), a
    rows = [
        {"prompt": f"q{i}", "response_a": "x" * a, "response_b": "y" * b, "preference": "a"}
        for i, (a, b) in enumerate(lengths)
    ]
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "report"
    c = str(constitution_file)
    result = run(
        "calibrate", str(labels), "-c", c, "-o", str(out), "--resamples", "20",
        "-m", "fake/len", "-m", "fake/hi", "-m", "fake/lo",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    agreement = json.loads((out / "report.json").read_text())["panel"]["agreement"]
    # Votes per item (len, hi, lo): (b, tie, tie), (a, tie, tie), (tie, tie, tie),
    # (a, tie, tie). P_i = 1/3, 1/3, 1, 1/3 -> P = 1/2; p = (2, 1, 9)/12 -> P_e = 86/144;
    # kappa = (72 - 86) / (144 - 86) = -14/58.
    assert agreement["fleiss_kappa"] == {"winners": pytest.approx(-14 / 58), "items": 4}
    assert agreement["krippendorff_alpha"]["items"] == 8  # two responses an item


def test_dry_run_of_pairs_and_calibrate_counts_every_member(
    tmp_path: Path, constitution_file: Path, fakes: dict[str, FakeBackend]
) -> None:
    c = str(constitution_file)
    groups = tmp_path / "groups.jsonl"
    groups.write_text(json.dumps({"prompt": "q", "responses": ["a", "bb", "ccc"]}) + "\n")
    labels = tmp_path / "labels.jsonl"
    labels.write_text(
        "".join(
            json.dumps({"prompt": "q", "response_a": "a", "response_b": f"b{i}", "preference": "a"})
            + "\n"
            for i in range(2)
        )
    )
    panel = ["-m", "fake/hi", "-m", "fake/lo", "--dry-run"]
    scored = run("pairs", str(groups), "-c", c, *panel)
    compared = run("pairs", str(groups), "-c", c, "--mode", "compare", *panel)
    calibrated = run("calibrate", str(labels), "-c", c, "-o", str(tmp_path / "r"), *panel)
    assert "1 prompt -> 6 calls" in scored.stderr  # 3 responses x 2 members
    assert "1 prompt -> 12 calls" in compared.stderr  # 3 pairs x 2 orders x 2 members
    assert "2 labelled items -> 8 calls" in calibrated.stderr  # 2 x 2 responses x 2 members
    for result in (scored, compared, calibrated):
        assert result.exit_code == 0, result.output
        assert result.stderr.count("dry run for member fake/") == 2
    assert not fakes["hi"].requests and not fakes["lo"].requests
