"""`judge distill` and `judge filter --classifier` on a generated corpus scored by a fake judge
whose verdicts depend on the words (tests/word_corpus.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

from judge.cli import main
from judge.constitution import load
from judge.distill import model_dir
from judge.distill.train import auto_epochs
from judge.io import read_rows
from judge.testing import FakeBackend, use_backend
from tests.word_corpus import ARTEFACT, answer, corpus, judge_score, write_jsonl

pytest.importorskip("fasttext")

CONSTITUTION = "name: quality\nscale: 1-5\n\n## quality\nIs it educational text?\n"


def _fake(name: str, **kw: Any) -> FakeBackend:
    return FakeBackend(name, answer)


@pytest.fixture
def fake_judge() -> Iterator[None]:
    with use_backend("fake", _fake):
        yield


def cli(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input)


def score(tmp: Path, rows: list[dict[str, Any]], name: str = "scored.jsonl") -> str:
    """Score `rows` with `judge score` and the fake judge; the path of the scored rows."""
    (tmp / "c.md").write_text(CONSTITUTION)
    docs = write_jsonl(str(tmp / f"in-{name}"), rows)
    out = str(tmp / name)
    cache = str(tmp / f"cache-{name}.sqlite")
    result = cli("score", docs, "-c", str(tmp / "c.md"), "-m", "fake/j", "-q", "--cache", cache,
                 "-o", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def judge_keeps(text: str, min_score: float = 0.5) -> bool:
    """The judge's label on fresh text under --min-score (scale 1-5 mapped onto [0, 1])."""
    return (judge_score(text) - 1) / 4 >= min_score


def f1(truth: list[bool], kept: list[bool]) -> float:
    t, k = np.asarray(truth), np.asarray(kept)
    tp = float((t & k).sum())
    return 2 * tp / (t.sum() + k.sum()) if t.sum() + k.sum() else 0.0


def fresh_f1(tmp: Path, model: str, rows: list[dict[str, Any]]) -> float:
    """F1 of `judge filter --classifier` against the judge's verdicts on fresh documents."""
    path = write_jsonl(str(tmp / "fresh.jsonl"), rows)
    out = tmp / "fresh-kept.jsonl"
    result = cli("filter", path, "--classifier", model, "--min-prob", "0.5", "-o", str(out))
    assert result.exit_code == 0, result.output
    kept_ids = {row["id"] for _, row in read_rows(str(out))} if out.stat().st_size else set()
    return f1([judge_keeps(str(r["text"])) for r in rows], [r["id"] in kept_ids for r in rows])


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A classifier distilled from 800 documents scored by the fake judge."""
    tmp = tmp_path_factory.mktemp("distill")
    with use_backend("fake", _fake):
        scored = score(tmp, corpus(800, seed=1))
    model = str(tmp / "model")
    result = cli("distill", scored, "-o", model, "--min-score", "0.5")
    assert result.exit_code == 0, result.output
    return tmp, model


# -- the classifier learns the judge, and holds on fresh text ----------------------------------


def test_distilled_classifier_agrees_with_the_judge_on_held_out_rows(
    trained: tuple[Path, str],
) -> None:
    _, model = trained
    meta = model_dir.load(model).meta
    m = meta["metrics"]
    assert m["n"] > 100 and 0 < m["judge_kept"] < m["n"]
    assert m["f1"] > 0.85 and m["roc_auc"] > 0.9 and m["spearman"] > 0.6
    assert [row["min_prob"] for row in m["thresholds"]] == pytest.approx(
        [0.1 * i for i in range(1, 10)]
    )
    kept = [row["kept"] for row in m["thresholds"]]
    assert kept == sorted(kept, reverse=True)  # a higher threshold never keeps more


def test_distilled_classifier_holds_on_a_fresh_corpus(trained: tuple[Path, str]) -> None:
    tmp, model = trained
    assert fresh_f1(tmp, model, corpus(400, seed=99)) > 0.85


def test_a_classifier_that_learnt_an_artefact_fails_on_fresh_text(
    fake_judge: None, tmp_path: Path
) -> None:
    # The judge's input carried a token that marks the good documents; their words do not.
    scored = score(tmp_path, corpus(600, seed=2, informative=False, artefact=True))
    model = str(tmp_path / "artefact-model")
    # keep = a perfect 5, which only the artefact earns (the words alone hardly ever do)
    result = cli("distill", scored, "-o", model, "--min-score", "1")
    assert result.exit_code == 0, result.output
    held_out = model_dir.load(model).meta["metrics"]
    assert held_out["f1"] > 0.95  # the held-out rows carry the artefact too: it looks perfect
    fresh = corpus(400, seed=98)  # real quality in the words, no artefact
    assert not any(ARTEFACT in str(r["text"]) for r in fresh)
    assert fresh_f1(tmp_path, model, fresh) < 0.6


# -- MODEL_DIR -----------------------------------------------------------------------------------


def test_model_dir_records_the_judge_rule_metrics_settings_and_normalisation(
    trained: tuple[Path, str],
) -> None:
    tmp, model = trained
    folder = Path(model)
    assert {p.name for p in folder.iterdir()} == {"model.bin", "meta.json", "report.md"}
    meta = json.loads((folder / "meta.json").read_text())
    constitution = load(str(tmp / "c.md"))
    assert meta["constitution"] == {"name": "quality", "sha256": constitution.sha256}
    assert meta["judge_models"] == ["fake/j"]
    assert meta["label_rule"] == {"rule": "min_score", "min_score": 0.5, "score_field": "score"}
    assert meta["labels"] == {"keep": "__label__keep", "drop": "__label__drop"}
    # fastText's epochs chosen for the size: one step a row, about AUTO_STEPS steps in all
    assert meta["requested_fasttext"]["epoch"] is None and meta["fasttext"]["seed"] == 0
    assert meta["fasttext"]["epoch"] == auto_epochs(meta["data"]["train"]) == 50
    assert meta["text"]["newline_replacement"] == ""
    assert meta["text"]["normalisation"] == "text.strip().replace('\\n', newline_replacement)"
    assert meta["data"]["judged"] == 800 and meta["data"]["train"] + meta["data"]["held_out"] == 800
    report = (folder / "report.md").read_text()
    assert "F1" in report and "| 0.5 |" in report and "FastTextClassifierFilter" in report


def test_same_seed_same_model(fake_judge: None, tmp_path: Path) -> None:
    scored = score(tmp_path, corpus(200, seed=3))
    for name in ("a", "b"):
        result = cli("distill", scored, "-o", str(tmp_path / name), "--keep-top", "0.4")
        assert result.exit_code == 0, result.output
    a, b = (json.loads((tmp_path / n / "meta.json").read_text()) for n in ("a", "b"))
    assert a["metrics"] == b["metrics"]
    assert (tmp_path / "a" / "model.bin").read_bytes() == (
        tmp_path / "b" / "model.bin"
    ).read_bytes()


def test_labelled_data_makes_a_small_model_and_an_honest_report(tmp_path: Path) -> None:
    # 40 rows scored by people (no judge field): the n-gram table is sized to the data, and
    # the report does not name a constitution it never saw.
    good = ["clear", "precise", "careful", "sourced", "useful"]
    bad = ["spam", "junk", "click", "buy", "now"]
    rows = [
        {
            "text": " ".join((good if i % 2 else bad)[(i + j) % 5] for j in range(30)) + f" {i}",
            "score": 1.0 if i % 2 else 0.0,
        }
        for i in range(40)
    ]
    src = tmp_path / "labelled.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "model"
    result = cli("distill", str(src), "-o", str(out), "--min-score", "0.5")
    assert result.exit_code == 0, result.output
    size = (out / "model.bin").stat().st_size
    assert size < 2_000_000, f"{size / 1e6:.1f} MB for 40 rows"
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "None" not in report
    assert "no constitution" in report and "bucket 2000" in report
