"""`judge distill`: label rules, robust training (NaN retry, missing classes), input errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st

from judge.calibration import Calibration, ProbabilityMap, save
from judge.calibration.metrics import precision_curve
from judge.cli import main
from judge.distill import choose_rule
from judge.distill.labels import keep_labels
from judge.distill.text import model_input
from judge.distill.train import (
    NAN_RETRIES,
    FastTextSettings,
    TrainingError,
    auto_epochs,
    train,
)
from judge.errors import ConfigError
from judge.tasks.filter import top_count
from tests.word_corpus import corpus, write_jsonl

pytest.importorskip("fasttext")


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def scored_rows(n: int = 200, seed: int = 4) -> list[dict[str, Any]]:
    """Rows as judge score writes them (a `judge` block), scored by the hidden quality."""
    judge = {"model": "fake/j", "constitution": {"name": "q", "sha256": "ab" * 32}}
    return [
        {"id": r["id"], "text": r["text"], "score": round(float(r["quality"]), 2), "judge": judge}  # type: ignore[arg-type]
        for r in corpus(n, seed=seed)
    ]


# -- label rules ---------------------------------------------------------------------------------


def test_min_score_keeps_a_score_equal_to_the_threshold() -> None:
    rule = choose_rule(min_score=0.5)
    assert keep_labels([0.4, 0.5, 0.5 - 1e-12, 0.9], rule).tolist() == [False, True, True, True]


@given(st.lists(st.floats(0, 1), min_size=1, max_size=60), st.floats(0.01, 1))
def test_keep_top_labels_exactly_the_top_fraction(scores: list[float], fraction: float) -> None:
    keep = keep_labels(scores, choose_rule(keep_top=fraction))
    k = top_count(fraction, len(scores))  # judge filter's count: the fraction as written
    assert keep.sum() == k
    if 0 < k < len(scores):
        assert min(np.asarray(scores)[keep]) >= max(np.asarray(scores)[~keep])


def test_target_precision_takes_the_calibration_s_threshold(tmp_path: Path) -> None:
    rows = scored_rows()
    scored = write_jsonl(str(tmp_path / "scored.jsonl"), rows)
    # human labels: good when the score is >= 0.6; precision 1.0 is first reached at 0.6
    scores = [float(r["score"]) for r in rows]
    curve = precision_curve(scores, [s >= 0.6 for s in scores])
    cal = Calibration(
        kind="absolute",
        input="score",
        map=ProbabilityMap("isotonic", x=(0.0, 1.0), y=(0.1, 0.9)),
        n=len(rows),
        model="fake/j",
        constitution={"name": "q", "sha256": "ab" * 32},
        thresholds=curve,
    )
    save(cal, tmp_path / "cal.json")
    out = tmp_path / "model"
    result = cli("distill", scored, "-o", str(out), "--target-precision", "1",
                 "--calibration", str(tmp_path / "cal.json"))  # fmt: skip
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "meta.json").read_text())
    assert meta["label_rule"]["min_score"] == pytest.approx(min(s for s in scores if s >= 0.6))
    assert meta["data"]["keep"] == sum(s >= 0.6 for s in scores)


def test_one_rule_exactly() -> None:
    with pytest.raises(ConfigError, match="exactly one"):
        choose_rule()
    with pytest.raises(ConfigError, match="exactly one"):
        choose_rule(min_score=0.5, keep_top=0.5)
    with pytest.raises(ConfigError, match="calibration="):
        choose_rule(target_precision=0.9)


# -- the text: what datatrove feeds, nothing more --------------------------------------------------


@given(st.text(), st.sampled_from(["", " "]))
def test_model_input_is_datatrove_s_expression(text: str, replacement: str) -> None:
    line = model_input(text, replacement)
    assert line == text.strip().replace("\n", replacement) and "\n" not in line


# -- robust training -----------------------------------------------------------------------------


def test_nan_is_retried_with_half_the_learning_rate(tmp_path: Path) -> None:
    import fasttext

    lrs: list[float] = []

    def flaky(**kw: Any) -> Any:
        lrs.append(kw["lr"])
        if len(lrs) < 3:
            raise RuntimeError("Encountered NaN.")
        return fasttext.train_supervised(**kw)

    path = tmp_path / "train.txt"
    path.write_text("__label__keep good words\n__label__drop bad words\n" * 20)
    settings = FastTextSettings(lr=0.8, epoch=5, bucket=2_000)
    model, used, attempts = train(str(path), settings, train_fn=flaky)
    assert lrs == [0.8, 0.4, 0.2] and used.lr == 0.2 and attempts == 3
    assert model.predict("good words")[0] == ("__label__keep",)


def test_nan_every_time_is_a_clear_error(tmp_path: Path) -> None:
    def always(**kw: Any) -> Any:
        raise RuntimeError("Encountered NaN.")

    with pytest.raises(TrainingError, match="lower lr=") as info:
        train(str(tmp_path / "x.txt"), FastTextSettings(epoch=5, bucket=2_000), train_fn=always)
    assert f"{NAN_RETRIES + 1} times" in str(info.value)


def test_distill_records_a_nan_retry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fasttext

    real = fasttext.train_supervised
    calls: list[float] = []

    def flaky(**kw: Any) -> Any:
        calls.append(kw["lr"])
        if len(calls) == 1:
            raise RuntimeError("Encountered NaN.")
        return real(**kw)

    monkeypatch.setattr(fasttext, "train_supervised", flaky)
    scored = write_jsonl(str(tmp_path / "s.jsonl"), scored_rows())
    result = cli("distill", scored, "-o", str(tmp_path / "m"), "--min-score", "0.5")
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "m" / "meta.json").read_text())
    assert meta["training"]["attempts"] == 2 and meta["fasttext"]["lr"] == 0.25
    assert meta["requested_fasttext"]["lr"] == 0.5
    assert "diverged (NaN)" in result.output


# -- input errors --------------------------------------------------------------------------------


def test_a_missing_class_is_a_clear_error(tmp_path: Path) -> None:
    scored = write_jsonl(str(tmp_path / "s.jsonl"), scored_rows())
    result = cli("distill", scored, "-o", str(tmp_path / "m"), "--min-score", "0")
    assert result.exit_code == 2
    assert "drop rows to train on; each needs at least 5" in result.output
    assert not (tmp_path / "m").exists()


def test_a_small_class_is_a_clear_error(tmp_path: Path) -> None:
    rows = scored_rows(100)
    for i, row in enumerate(rows):
        row["score"] = 1.0 if i < 3 else 0.0
    scored = write_jsonl(str(tmp_path / "s.jsonl"), rows)
    result = cli("distill", scored, "-o", str(tmp_path / "m"), "--min-score", "0.5")
    assert result.exit_code == 2 and "keep and" in result.output


def test_rows_without_a_score_field_are_refused(tmp_path: Path) -> None:
    path = write_jsonl(str(tmp_path / "raw.jsonl"), [{"text": "a document"}])
    result = cli("distill", path, "-o", str(tmp_path / "m"), "--min-score", "0.5")
    assert result.exit_code == 2
    assert "raw.jsonl:1: no 'score' field: give the output of judge score" in result.output


def test_unjudged_and_empty_rows_are_skipped_and_counted(tmp_path: Path) -> None:
    rows = scored_rows()
    rows[0]["score"] = None
    rows[1]["text"] = "  \n "
    scored = write_jsonl(str(tmp_path / "s.jsonl"), rows)
    result = cli("distill", scored, "-o", str(tmp_path / "m"), "--keep-top", "0.5",
                 "--held-out", "0.25", "--seed", "3")  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "m" / "meta.json").read_text())["data"]
    assert (data["judged"], data["unjudged"], data["empty"]) == (198, 1, 1)
    assert data["keep"] == 99 and data["held_out"] + data["train"] == 198
    assert 30 < data["held_out"] < 70


def test_score_field_trains_on_another_verdict(tmp_path: Path) -> None:
    rows = [{"prompt": "Q?", "response": r["text"], "human": int(float(r["score"]) >= 0.5)}
            for r in scored_rows()]  # fmt: skip
    rows[2]["human"] = "yes"
    path = write_jsonl(str(tmp_path / "labels.jsonl"), rows)
    result = cli("distill", path, "-o", str(tmp_path / "m"), "--min-score", "1",
                 "--score-field", "human")  # fmt: skip
    assert result.exit_code == 2 and "labels.jsonl:3: 'human' is 'yes', expected a number" in (
        result.output
    )
    rows[2]["human"] = 1
    write_jsonl(path, rows)
    result = cli("distill", path, "-o", str(tmp_path / "m"), "--min-score", "1",
                 "--score-field", "human")  # fmt: skip
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "m" / "meta.json").read_text())
    assert meta["label_rule"]["score_field"] == "human" and meta["constitution"]["name"] is None
    assert meta["metrics"]["keep_all_f1"] is not None


def test_auto_epochs_give_small_data_enough_steps() -> None:
    assert [auto_epochs(n) for n in (0, 500, 3_200, 10_000, 450_000)] == [50, 50, 16, 5, 5]
