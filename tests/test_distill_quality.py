"""`judge distill` refuses a classifier that does not mimic the judge, and a mixed fastText
install (issue 21, section 6)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from judge.cli import main
from judge.distill import quality


def scored(path: Path, informative: bool) -> Path:
    """200 judged documents: the text tells keep from drop, or every text is the same (then
    no classifier can beat a coin toss)."""
    rows = []
    for i in range(200):
        keep = i % 2 == 0
        if informative:
            text = ("clear careful answer " if keep else "spam junk noise ") * 4 + str(i)
        else:
            text = "the very same text for every row"
        rows.append({"text": text, "score": 1.0 if keep else 0.0})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def distill(*args: str) -> Result:
    return CliRunner().invoke(main, ["distill", *args, "--min-score", "0.5", "--epoch", "5"])


def test_a_classifier_at_chance_is_an_error_and_force_keeps_it(tmp_path: Path) -> None:
    src = scored(tmp_path / "s.jsonl", informative=False)
    result = distill(str(src), "-o", str(tmp_path / "m"))
    assert result.exit_code == 1, result.output
    assert "does not mimic the judge" in result.stderr
    assert "--force" in result.stderr and not (tmp_path / "m" / "model.bin").exists()
    forced = distill(str(src), "-o", str(tmp_path / "m"), "--force")
    assert forced.exit_code == 0, forced.output
    assert "warning: kept with --force" in forced.stderr
    meta = json.loads((tmp_path / "m" / "meta.json").read_text())
    assert meta["warnings"] and (tmp_path / "m" / "model.bin").exists()


def test_a_good_classifier_passes(tmp_path: Path) -> None:
    src = scored(tmp_path / "s.jsonl", informative=True)
    result = distill(str(src), "-o", str(tmp_path / "m"))
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr


def test_a_mixed_fasttext_install_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        quality, "fasttext_builds", lambda: ["fasttext-community", "fasttext-wheel"]
    )
    src = scored(tmp_path / "s.jsonl", informative=True)
    result = distill(str(src), "-o", str(tmp_path / "m"))
    assert result.exit_code == 2, result.output
    assert "two fastText builds" in result.stderr and "fasttext-wheel" in result.stderr
    forced = distill(str(src), "-o", str(tmp_path / "m"), "--force")
    assert forced.exit_code == 0 and "two fastText builds" in forced.stderr


@pytest.mark.parametrize(
    ("metrics", "says"),
    [
        ({"roc_auc": 0.33, "f1": 0.2, "keep_all_f1": 0.6}, "inverted"),
        ({"roc_auc": 0.55, "f1": 0.7, "keep_all_f1": 0.6}, "near chance"),
        ({"roc_auc": 0.8, "f1": 0.6, "keep_all_f1": 0.66, "min_prob": 0.5}, "keeping every row"),
        ({"roc_auc": 0.9, "f1": 0.8, "keep_all_f1": 0.66}, None),
    ],
)
def test_quality_problem(metrics: dict[str, float], says: str | None) -> None:
    problem = quality.quality_problem(metrics)
    assert (problem is None) if says is None else (says in (problem or ""))


def test_build_problem() -> None:
    assert quality.build_problem(["fasttext-community"]) == (None, False)
    assert quality.build_problem(["a-fork"])[1] is False
    assert "a-fork" in (quality.build_problem(["a-fork"])[0] or "")
    assert quality.build_problem(["fasttext", "fasttext-wheel"])[1] is True
