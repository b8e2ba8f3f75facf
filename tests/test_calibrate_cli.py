"""`judge calibrate` end to end with a fake judge, and its calibration applied by score/filter."""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from judge.backends.base import Request
from judge.calibration.agreement import REQUIRED_KEYS
from judge.cli import main
from judge.cli.calibrate_cmd import calibrate
from judge.cli.filter_cmd import filter_
from judge.cli.score_cmd import score
from judge.testing import FakeBackend, use_backend

main.add_command(calibrate)  # the lead registers these in judge/cli/__init__.py
main.add_command(filter_)
main.add_command(score)

CONSTITUTION = (
    "name: tiny\nscale: 1-5\n\nJudge the reply.\n\n"
    "## helpful\nIs it helpful?\n\n## honest\nweight: 2\n\nIs it honest?\n"
)
PNG = b"\x89PNG\r\n\x1a\n"


def _text(pattern: str, request: Request) -> str | None:
    m = re.search(pattern, request.messages[1].content, re.S)
    return None if m is None else m.group(1)


def length_judge(request: Request) -> str:
    """Prefers longer text: a score grows with the length; a comparison picks the longer."""
    assert request.schema is not None
    single = _text(r"<candidate_(?:response|document)_\w+>\n(.*?)\n</candidate_", request)
    if single is not None:
        if "FAIL" in single:
            return "no idea"
        s = 1 + min(4, len(single) // 20)
        return json.dumps(
            {p: {"rationale": "long", "score": s} for p in request.schema["required"]}
        )
    a = _text(r"<response_a_\w+>\n(.*?)\n</response_a_", request) or ""
    b = _text(r"<response_b_\w+>\n(.*?)\n</response_b_", request) or ""
    winner = "A" if len(a) > len(b) else "B" if len(b) > len(a) else "tie"
    return json.dumps({"rationale": "longer", "winner": winner})


@pytest.fixture
def backends(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[FakeBackend]]:
    made: list[FakeBackend] = []

    def factory(name: str, **kw: Any) -> FakeBackend:
        made.append(FakeBackend(name, length_judge))
        return made[-1]

    with use_backend("fake", factory):
        yield made


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "c.md").write_text(CONSTITUTION)
    return tmp_path


def invoke(folder: Path, *args: str) -> Result:
    common = ["-c", str(folder / "c.md"), "-m", "fake/j", "--cache", str(folder / "cache.sqlite")]
    if args[0] == "calibrate" and "--resamples" not in args:
        common += ["--resamples", "20"]  # the intervals' width is not what these tests check
    return CliRunner().invoke(main, [*args, *common])


def write_rows(path: Path, rows: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def pairwise_labels(folder: Path, n: int = 60) -> str:
    """Humans who care little for length (they lean to the longer one, but the judge's length
    bias is far stronger), three annotators each (PandaLM's 0/1/2 votes: tie, a, b)."""
    rng = random.Random(0)
    rows = []
    for i in range(n):
        a, b = "a" * rng.randint(1, 100), "b" * rng.randint(1, 100)
        longer, shorter = (1, 2) if len(a) >= len(b) else (2, 1)
        votes = [rng.choice([longer, longer, longer, shorter, shorter, 0]) for _ in range(3)]
        rows.append({"prompt": f"q{i}", "response_a": a, "response_b": b, "meta": {"votes": votes}})
    return write_rows(folder / "pairs.jsonl", rows)


def absolute_labels(folder: Path, n: int = 80) -> str:
    """Humans who like longer replies too, but not always."""
    rng = random.Random(1)
    rows = []
    for i in range(n):
        text = "x" * rng.randint(1, 100)
        label = int(rng.random() < 0.1 + 0.8 * len(text) / 100)
        rows.append({"prompt": f"q{i}", "response": text, "label": label})
    return write_rows(folder / "abs.jsonl", rows)


def is_figure(value: Any) -> bool:
    if value is None or isinstance(value, (int, float)):
        return True
    return isinstance(value, dict) and {"value", "low", "high"} <= set(value)


def test_pairwise_report_end_to_end(folder: Path, backends: list[FakeBackend]) -> None:
    labels = pairwise_labels(folder)
    out = folder / "report"
    result = invoke(folder, "calibrate", labels, "-o", str(out), "--resamples", "100")
    assert result.exit_code == 0, result.output
    for name in ("report.md", "report.json", "judgments.jsonl", "calibration.json"):
        assert (out / name).is_file(), name
    for name in ("reliability.png", "scores.png"):
        assert (out / name).read_bytes().startswith(PNG)
    report = json.loads((out / "report.json").read_text())
    assert all(key in report and is_figure(report[key]) for key in REQUIRED_KEYS)
    assert report["n"] == 60 and report["mode"] == "score"
    # The judge always prefers the longer response; the humans do not care.
    assert report["length_bias"]["value"] == 1.0
    assert report["length_bias_human"]["value"] < 0.75
    assert report["position_consistency"] is None
    assert report["human_agreement"]["annotators"] == 3
    assert report["labels"]["fields"]["annotators"] == "meta.votes"
    assert set(report["per_principle"]) == {"helpful", "honest"}
    md = (out / "report.md").read_text()
    assert "## Verdict" in md and "![reliability diagram](reliability.png)" in md
    assert "never sees an order" in md  # why position figures are missing
    assert "## The human ceiling" in md
    assert len((out / "judgments.jsonl").read_text().splitlines()) == 60
    cal = json.loads((out / "calibration.json").read_text())
    assert cal["kind"] == "pairwise" and cal["input"] == "margin" and cal["model"] == "fake/j"
    assert len(cal["constitution"]["sha256"]) == 64
    assert "judge: n 60; agreement" in result.stderr
    assert len(backends[0].requests) == 120  # both responses of each pair, scored alone


def test_compare_mode_measures_position_bias(folder: Path, backends: list[FakeBackend]) -> None:
    labels = pairwise_labels(folder, 30)
    out = folder / "compare"
    result = invoke(
        folder, "calibrate", labels, "-o", str(out), "--mode", "compare", "--resamples", "50"
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["position_consistency"]["value"] == 1.0  # the fake judge ignores the order
    assert report["first_position_rate"]["value"] == pytest.approx(0.5)
    assert report["per_principle"] is None
    assert json.loads((out / "calibration.json").read_text())["input"] == "p_a"
    row = json.loads((out / "judgments.jsonl").read_text().splitlines()[0])
    assert {"p_a", "flipped", "verdicts", "first_position_wins"} <= set(row)
    assert "margin" not in row


def test_dpo_labels(folder: Path, backends: list[FakeBackend]) -> None:
    rows = [{"prompt": f"q{i}", "chosen": "c" * (50 + i), "rejected": "r" * i} for i in range(20)]
    labels = write_rows(folder / "dpo.jsonl", rows)
    out = folder / "dpo"
    result = invoke(folder, "calibrate", labels, "-o", str(out), "--resamples", "20")
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["shape"] == "dpo"
    assert report["agreement"]["value"] == 1.0  # chosen is always the longer here
    shown = [json.loads(line) for line in (out / "judgments.jsonl").read_text().splitlines()]
    assert {r.get("chosen_shown_as", "a") for r in shown} == {"a", "b"}


def test_absolute_calibration_applied_by_score_and_filter(
    folder: Path, backends: list[FakeBackend]
) -> None:
    labels = absolute_labels(folder)
    out = folder / "abs"
    result = invoke(folder, "calibrate", labels, "-o", str(out), "--resamples", "50")
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["kind"] == "absolute" and report["kappa_weights"] == "none"
    assert report["spearman"]["value"] > 0.3 and report["agreement_without_ties"] is None
    cal_path = out / "calibration.json"
    cal = json.loads(cal_path.read_text())
    assert cal["kind"] == "absolute" and cal["thresholds"] and cal["positive_label"] == 1.0

    docs = write_rows(
        folder / "docs.jsonl", [{"id": i, "text": "y" * (i * 20 + 5)} for i in range(5)]
    )
    scored = invoke(folder, "score", docs, "--calibration", str(cal_path))
    assert scored.exit_code == 0, scored.output
    rows = [json.loads(line) for line in scored.stdout.splitlines()]
    probabilities = [r["calibrated_score"] for r in rows]
    assert all(0 < p < 1 for p in probabilities)
    assert probabilities == sorted(probabilities)  # monotone in the score
    assert "warning" not in scored.stderr

    kept = folder / "kept.jsonl"
    filtered = invoke(
        folder, "filter", docs, "--target-precision", "0.6", "--calibration", str(cal_path),
        "-o", str(kept),
    )  # fmt: skip
    assert filtered.exit_code == 0, filtered.output
    threshold = float(re.search(r"keeping scores >= ([0-9.]+)", filtered.stderr).group(1))  # type: ignore[union-attr]
    kept_rows = [json.loads(line) for line in kept.read_text().splitlines()]
    assert kept_rows and all(r["score"] >= threshold for r in kept_rows)
    assert all("calibrated_score" in r for r in kept_rows)


def test_calibration_for_another_constitution_is_refused_unless_forced(
    folder: Path, backends: list[FakeBackend]
) -> None:
    out = folder / "abs"
    assert invoke(folder, "calibrate", absolute_labels(folder), "-o", str(out)).exit_code == 0
    fitted = json.loads((out / "calibration.json").read_text())["constitution"]["sha256"]
    (folder / "c.md").write_text(CONSTITUTION + "\n## brief\nIs it brief?\n")
    now = hashlib.sha256((folder / "c.md").read_bytes()).hexdigest()
    docs = write_rows(folder / "docs.jsonl", [{"text": "hello"}])
    cal = ["--calibration", str(out / "calibration.json")]
    pairs_in = write_rows(folder / "p.jsonl", [{"prompt": "q", "responses": ["a", "bb" * 30]}])
    for command in (
        ["score", docs],
        ["filter", docs, "--min-score", "0.5"],
        ["pairs", pairs_in],
    ):
        calls = sum(len(b.requests) for b in backends)
        result = invoke(folder, *command, *cal)
        assert result.exit_code == 2, (command, result.output)
        assert fitted in result.stderr and now in result.stderr and "--force" in result.stderr
        assert sum(len(b.requests) for b in backends) == calls  # refused before any call
        if command[0] == "pairs":
            continue  # an absolute calibration is no use to score-mode pairs anyway
        forced = invoke(folder, *command, *cal, "--force")
        assert forced.exit_code == 0, forced.output
        assert "warning: the calibration" in forced.stderr and "another version" in forced.stderr


def test_an_inverted_judge_gets_a_report_and_no_calibration(
    folder: Path, backends: list[FakeBackend]
) -> None:
    rng = random.Random(2)
    rows = []
    for i in range(60):  # the humans like short replies; the judge, long ones
        text = "x" * rng.randint(1, 100)
        rows.append({"prompt": f"q{i}", "response": text, "label": int(len(text) < 50)})
    out = folder / "inverted"
    out.mkdir()
    (out / "calibration.json").write_text("{}")  # left by an earlier run: must not survive
    result = invoke(folder, "calibrate", write_rows(folder / "inv.jsonl", rows), "-o", str(out))
    assert result.exit_code == 0, result.output  # as for any run that fits no calibration
    assert not (out / "calibration.json").exists()
    report = json.loads((out / "report.json").read_text())
    assert report["calibration"]["fitted"] is False
    assert report["calibration"]["refused"] == "inverted"
    assert "run against the humans" in report["calibration"]["reason"]
    assert "the judge's numbers run against the humans" in (out / "report.md").read_text()
    assert "no calibration fitted: the judge's numbers run against the humans" in result.stderr


def test_pairwise_calibration_is_refused_by_score(
    folder: Path, backends: list[FakeBackend]
) -> None:
    out = folder / "pairs"
    assert invoke(folder, "calibrate", pairwise_labels(folder, 20), "-o", str(out)).exit_code == 0
    docs = write_rows(folder / "docs.jsonl", [{"text": "hello"}])
    result = invoke(folder, "score", docs, "--calibration", str(out / "calibration.json"))
    assert result.exit_code == 2 and "fitted on pairwise labels" in result.stderr


def test_unjudged_items_are_counted_and_few_items_give_no_calibration(
    folder: Path, backends: list[FakeBackend]
) -> None:
    rows = [{"response": "x" * (10 * i), "label": i % 2} for i in range(1, 6)]
    rows.append({"response": "FAIL", "label": 1})
    out = folder / "few"
    out.mkdir()
    (out / "calibration.json").write_text("{}")  # left by an earlier run: must not survive
    result = invoke(folder, "calibrate", write_rows(folder / "few.jsonl", rows), "-o", str(out))
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert (report["n"], report["items"], report["failed"]) == (5, 6, 1)
    assert not (out / "calibration.json").exists()
    assert report["calibration"]["fitted"] is False
    assert "too few judged items" in (out / "report.md").read_text()
    assert "no calibration fitted" in result.stderr
    bad = [json.loads(line) for line in (out / "judgments.jsonl").read_text().splitlines()]
    assert bad[-1]["error"] and bad[-1]["score"] is None


def test_bad_label_file_is_a_clear_error(folder: Path, backends: list[FakeBackend]) -> None:
    rows = [{"prompt": "p", "response_a": "x", "response_b": "y", "preference": "maybe"}]
    path = write_rows(folder / "bad.jsonl", rows)
    result = invoke(folder, "calibrate", path, "-o", str(folder / "out"))
    assert result.exit_code == 2
    assert f"{path}:1" in result.stderr and "'maybe'" in result.stderr
    assert not backends


def test_usage_errors_and_dry_run(folder: Path, backends: list[FakeBackend]) -> None:
    labels = absolute_labels(folder, 10)
    result = invoke(folder, "calibrate", labels, "--mode", "compare")
    assert result.exit_code == 2 and "--mode compare needs pairwise labels" in result.output
    result = invoke(folder, "calibrate", labels, "-o", labels)
    assert result.exit_code == 2 and "a folder for the report" in result.stderr
    out = folder / "dry"
    result = invoke(folder, "calibrate", labels, "-o", str(out), "--dry-run")
    assert result.exit_code == 0
    assert "10 labelled items -> 10 calls" in result.stderr
    assert not out.exists() and not any(b.requests for b in backends)


def test_sample_and_field_options(folder: Path, backends: list[FakeBackend]) -> None:
    # The longer response (90 characters against 10) is the humans' choice here too.
    rows = [
        {"q": f"q{i}", "left": "l" * long, "right": "r" * (100 - long), "who": who}
        for i in range(30)
        for long, who in [(90, "left") if i % 2 else (10, "right")]
    ]
    path = write_rows(folder / "mapped.jsonl", rows)
    out = folder / "mapped"
    result = invoke(
        folder, "calibrate", path, "-o", str(out), "--sample", "12", "--resamples", "20",
        "--prompt-field", "q", "--response-a-field", "left", "--response-b-field", "right",
        "--label-field", "who", "--label-map", "left=a,right=b",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["n"] == 12 and report["labels"]["fields"]["label"] == "who"
    assert report["agreement"]["value"] == 1.0  # the humans here also prefer the longer one


def test_nothing_judged_is_a_failure_with_the_report_still_written(
    folder: Path, backends: list[FakeBackend]
) -> None:
    rows = [{"response": "FAIL", "label": i % 2} for i in range(3)]
    out = folder / "none"
    result = invoke(folder, "calibrate", write_rows(folder / "f.jsonl", rows), "-o", str(out))
    assert result.exit_code == 1
    assert "could not judge any item" in result.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["n"] == 0 and all(report[k] is None for k in REQUIRED_KEYS if k != "n")
    assert "could not judge any item" in (out / "report.md").read_text()


def test_budget_reached_writes_the_report_and_fails(
    folder: Path, backends: list[FakeBackend]
) -> None:
    prices = folder / "prices.json"
    prices.write_text(json.dumps({"fake/j": {"input": 1e6, "output": 1e6}}))  # $1 a token
    labels = absolute_labels(folder, 12)
    out = folder / "budget"
    result = invoke(
        folder, "calibrate", labels, "-o", str(out), "--prices", str(prices), "--max-cost", "0"
    )
    assert result.exit_code == 1
    assert "--max-cost budget was reached; 12 items are not judged" in result.stderr
    report = json.loads((out / "report.json").read_text())
    assert (report["n"], report["failed"]) == (0, 12)
    assert not any(b.requests for b in backends)


def test_verdict_sentences() -> None:
    from judge.calibration.report import verdict

    def ci(value: float, low: float, high: float) -> dict[str, float]:
        return {"value": value, "low": low, "high": high}

    weak = {
        "n": 24,
        "kind": "pairwise",
        "agreement_without_ties": ci(0.31, 0.18, 0.43),
        "baseline_longer": ci(0.83, 0.66, 0.98),
        "spearman": ci(-0.56, -0.82, -0.13),
        "cohen_kappa": ci(-0.13, -0.3, 0.06),
        "human_agreement": {
            "mean_pairwise_agreement": ci(0.94, 0.86, 1.0),
            "judge_vs_annotators": ci(0.18, 0.04, 0.35),
        },
        "position_consistency": ci(0.6, 0.5, 0.7),
    }
    text = " ".join(verdict(weak))
    for phrase in (
        "Only 24 items",
        "Not distinguishable from a coin flip",
        "no better than always preferring the longer response",
        "run **against** the humans'",
        "kappa -0.13",
        "below that",
        "swap places in 40% of pairs",
    ):
        assert phrase in text, phrase
    strong = {
        "n": 400,
        "kind": "pairwise",
        "agreement_without_ties": ci(0.8, 0.76, 0.84),
        "baseline_longer": ci(0.6, 0.55, 0.65),
        "cohen_kappa": ci(0.65, 0.6, 0.7),
    }
    text = " ".join(verdict(strong))
    assert "coin flip" not in text and "longer response" not in text
    assert "agreement is substantial" in text
    absolute = {
        "n": 100,
        "kind": "absolute",
        "agreement": ci(0.59, 0.5, 0.68),
        "positive_rate": ci(0.73, 0.65, 0.8),
        "label_scale": {"measure": "binary"},
        "cohen_kappa": ci(-0.22, -0.39, 0.0),
    }
    text = " ".join(verdict(absolute))
    assert text.count("kappa") == 1 and "Not distinguishable from chance" in text
    assert "than always giving the most common label would (0.73)" in text
