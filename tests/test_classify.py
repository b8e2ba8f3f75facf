"""`judge filter --classifier`: the same P(keep) and the same kept rows as datatrove's and NeMo
Curator's fastText filters on raw text; streaming; the CLI's rules and errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from judge.cli import main
from judge.distill import DistillOptions, choose_rule, classify, distill, model_dir
from judge.distill.classify import ClassifierFilter, keep_rows
from judge.io import read_rows
from tests.word_corpus import corpus, write_jsonl

pytest.importorskip("fasttext")

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input)


def make_model(folder: Path, newline_replacement: str = "") -> model_dir.ModelDir:
    """A classifier distilled from documents labelled by their hidden quality."""
    rows = [{"text": r["text"], "score": r["quality"]} for r in corpus(400, seed=5)]
    scored = write_jsonl(str(folder / "scored.jsonl"), rows)
    options = DistillOptions(
        rule=choose_rule(min_score=0.5), newline_replacement=newline_replacement
    )
    return distill(scored, str(folder / f"model{newline_replacement!r}"), options)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> model_dir.ModelDir:
    return make_model(tmp_path_factory.mktemp("classify"))


ODD_TEXTS = [
    "  leading and trailing spaces, tabs\tinside  ",
    "line one\nline two\n\nparagraph three\n",
    "\n\nbecause evidence proof\r\nclick buy free\n",
    "unicode: café naïve 東京 — “quotes” \u2028 separator",
    "__label__keep is a word here, and __label__drop too",
    "",
    "   \n\t  ",
]


def documents(tmp: Path) -> tuple[str, list[dict[str, Any]]]:
    rows = corpus(120, seed=7) + [{"id": f"odd-{i}", "text": t} for i, t in enumerate(ODD_TEXTS)]
    return write_jsonl(str(tmp / "docs.jsonl"), rows), rows


def datatrove_keep(model_path: str, text: str, min_prob: float, nl: str = "") -> tuple[bool, float]:
    """datatrove's FastTextClassifierFilter(path, keep_labels=[("keep", P)]).filter, as its
    source does it (document mode): the model loaded with fasttext.FastText._FastText,
    predict(unit.strip().replace("\\n", newline_replacement), k=-1), and an empty text dropped."""
    from fasttext.FastText import _FastText

    labels, scores = _FastText(model_path).predict(text.strip().replace("\n", nl), k=-1)
    unit_scores = dict(zip(labels, scores, strict=True))
    p = float(unit_scores.get("__label__keep", -9e9))
    return p >= min_prob and bool(text.strip()), p


def kept_rows(path: Path) -> list[dict[str, Any]]:
    return [row for _, row in read_rows(str(path))] if path.stat().st_size else []


# -- the same decisions as datatrove and NeMo Curator --------------------------------------------


def test_filter_keeps_what_datatrove_keeps_with_the_same_probability(
    model: model_dir.ModelDir, tmp_path: Path
) -> None:
    docs, rows = documents(tmp_path)
    out = tmp_path / "kept.jsonl"
    result = cli("filter", docs, "--classifier", model.path, "--min-prob", "0.5", "-o", str(out))
    assert result.exit_code == 0, result.output
    kept = {row["id"]: row["classifier_prob"] for row in kept_rows(out)}
    expected = {}
    for row in rows:
        keep, p = datatrove_keep(model.model_path, str(row["text"]), 0.5)
        if keep:
            expected[row["id"]] = p
    assert 0 < len(expected) < len(rows)
    assert kept == expected  # the same rows, and exactly the same P(keep)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_any_text_gets_datatrove_s_probability(model: model_dir.ModelDir, text: str) -> None:
    got = list(keep_rows([{"text": text}], model, 0.0))
    keep, p = datatrove_keep(model.model_path, text, 0.0)
    assert [row["classifier_prob"] for row in got] == ([p] if keep else [])


def test_nemo_curator_scores_a_space_newline_model_the_same(tmp_path: Path) -> None:
    """NeMo Curator's FastTextQualityFilter(model_path, label="__label__keep") scores
    text.replace("\\n", " ").replace("__label__", " ") with the top label's probability (or one
    minus it): with a model distilled with --newline-replacement " " that is our P(keep)."""
    made = make_model(tmp_path, newline_replacement=" ")
    import fasttext

    ft = fasttext.load_model(made.model_path)
    _, rows = documents(tmp_path)
    # (not the text holding "__label__" words: NeMo rewrites those, datatrove does not)
    for row in rows[:60] + rows[-len(ODD_TEXTS) : -3]:
        text = str(row["text"])
        labels, probs = ft.predict(text.replace("\n", " ").replace("__label__", " "))
        nemo = probs[0] if labels[0] == "__label__keep" else 1 - probs[0]
        ours = next(keep_rows([{"text": text}], made, 0.0))["classifier_prob"]
        assert ours == pytest.approx(nemo, abs=1e-4)  # fastText's +1e-5 smoothing apart


@pytest.mark.slow
def test_datatrove_itself_keeps_what_judge_keeps(model: model_dir.ModelDir, tmp_path: Path) -> None:
    """datatrove in its own venv (JUDGE_DATATROVE_PYTHON: a python with datatrove and its
    fastText wheel installed); skipped without one."""
    python = os.environ.get("JUDGE_DATATROVE_PYTHON")
    if not python or not os.path.exists(python):
        pytest.skip(
            "set JUDGE_DATATROVE_PYTHON to a python with datatrove installed (.ci/run builds one)"
        )
    docs, _ = documents(tmp_path)
    script = """
import json, sys
from datatrove.data import Document
from datatrove.pipeline.filters import FastTextClassifierFilter
f = FastTextClassifierFilter(sys.argv[1], keep_labels=[("keep", 0.5)])
for line in open(sys.argv[2], encoding="utf-8"):
    row = json.loads(line)
    doc = Document(text=row["text"], id=str(row["id"]))
    if f.filter(doc):
        print(json.dumps([row["id"], doc.metadata["__label__keep"]]))
"""
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf")}
    done = subprocess.run(
        [python, "-c", script, model.model_path, docs],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    theirs = dict(json.loads(line) for line in done.stdout.splitlines())
    out = tmp_path / "kept.jsonl"
    result = cli("filter", docs, "--classifier", model.path, "--min-prob", "0.5", "-o", str(out))
    assert result.exit_code == 0, result.output
    ours = {row["id"]: row["classifier_prob"] for row in kept_rows(out)}
    assert ours.keys() == theirs.keys() and len(ours) > 0
    for key, p in ours.items():
        assert p == pytest.approx(theirs[key], abs=1e-7)


# -- the filter ----------------------------------------------------------------------------------


def test_processes_give_the_same_output_in_input_order(
    model: model_dir.ModelDir, tmp_path: Path
) -> None:
    docs, rows = documents(tmp_path)
    outs = []
    for n in ("1", "3"):
        out = tmp_path / f"kept{n}.jsonl"
        rejected = tmp_path / f"rejected{n}.jsonl"
        result = cli(
            "filter", docs, "--classifier", model.path, "--min-prob", "0.5",
            "--processes", n, "-o", str(out), "--rejected", str(rejected),
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        outs.append((out.read_bytes(), rejected.read_bytes()))
        kept, dropped = kept_rows(out), kept_rows(rejected)
        assert len(kept) + len(dropped) == len(rows)
        assert all(r["classifier_prob"] >= 0.5 for r in kept)
        # empty texts are never kept, and have no probability
        assert [r["classifier_prob"] for r in dropped if not str(r["text"]).strip()] == [None] * 2
        ids = [r["id"] for r in kept]
        assert ids == [r["id"] for r in rows if r["id"] in set(ids)]  # input order
    assert outs[0] == outs[1]
    assert "kept" in result.output and "empty 2" in result.output


def test_keep_top_keeps_the_highest_probabilities(
    model: model_dir.ModelDir, tmp_path: Path
) -> None:
    docs, rows = documents(tmp_path)
    everything = tmp_path / "all.jsonl"
    assert cli("filter", docs, "--classifier", model.path, "--min-prob", "0", "-o",
               str(everything)).exit_code == 0  # fmt: skip
    probs = sorted((r["classifier_prob"] for r in kept_rows(everything)), reverse=True)
    out = tmp_path / "top.jsonl"
    result = cli("filter", docs, "--classifier", model.path, "--keep-top", "0.25", "-o", str(out))
    assert result.exit_code == 0, result.output
    kept = kept_rows(out)
    assert len(kept) == int(0.25 * (len(rows) - 2))  # the two empty texts do not count
    assert sorted((r["classifier_prob"] for r in kept), reverse=True) == probs[: len(kept)]


def test_stdin_parquet_and_responses(model: model_dir.ModelDir, tmp_path: Path) -> None:
    rows = [
        {"prompt": "Explain it", "responses": ["because evidence proof", "click buy free now"]},
        {"prompt": "Why?", "response": "therefore the theorem and its proof"},
    ]
    stdin = "".join(json.dumps(r) + "\n" for r in rows)
    out = tmp_path / "kept.parquet"
    result = cli("filter", "-", "--classifier", model.path, "--keep-top", "1", "-o", str(out),
                 input=stdin)  # fmt: skip
    assert result.exit_code == 0, result.output
    kept = kept_rows(out)
    assert [(r["prompt"], r["response"], r["response_index"]) for r in kept] == [
        ("Explain it", "because evidence proof", 0),
        ("Explain it", "click buy free now", 1),
        ("Why?", "therefore the theorem and its proof", None),
    ]
    direct = list(keep_rows(rows, model, 0.0))
    assert [r["classifier_prob"] for r in direct] == [r["classifier_prob"] for r in kept]


def test_reading_stays_a_few_batches_ahead(model: model_dir.ModelDir) -> None:
    """Flat memory: the reader is never more than IN_FLIGHT batches a process ahead."""
    read = 0

    def work() -> Any:
        nonlocal read
        for _ in range(200):
            read += 1
            yield [{}] * 4, ["because evidence"] * 4

    job = ClassifierFilter(model, min_prob=0.5, processes=2)
    ahead = []
    for done, (_, probs) in enumerate(job._predicted(work()), 1):
        ahead.append(read - done)
        assert len(probs) == 4
    assert max(ahead) <= classify.IN_FLIGHT * 2


# -- usage ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--min-prob", "0.5", "-c", "c.md"], "exclude each other"),
        (["--min-prob", "0.5", "--min-score", "0.5"], "--min-score"),
        ([], "exactly one of --min-prob"),
        (["--min-prob", "0.5", "--keep-top", "0.5"], "exactly one of --min-prob"),
        # Who judges means nothing to a classifier: refused, not silently ignored.
        (["--min-prob", "0.5", "-m", "openai/a", "-m", "openai/b"], "-m judge with a model"),
        (["--min-prob", "0.5", "--judges", "j.yaml"], "--judges judge with a model"),
        (["--min-prob", "0.5", "--cascade", "c.json"], "--cascade judge with a model"),
    ],
)
def test_classifier_usage_errors(
    model: model_dir.ModelDir, tmp_path: Path, args: list[str], message: str
) -> None:
    docs, _ = documents(tmp_path)
    result = cli("filter", docs, "--classifier", model.path, *args)
    assert result.exit_code == 2 and message in result.output


def test_filter_needs_a_constitution_or_a_classifier(tmp_path: Path) -> None:
    docs, _ = documents(tmp_path)
    result = cli("filter", docs, "--min-score", "0.5")
    assert result.exit_code == 2 and "--classifier MODEL_DIR" in result.output
    result = cli("filter", docs, "--min-prob", "0.5", "-c", "x.md")
    assert result.exit_code == 2 and "go with --classifier" in result.output


def test_a_folder_that_is_not_a_model_dir_is_refused(tmp_path: Path) -> None:
    docs, _ = documents(tmp_path)
    result = cli("filter", docs, "--classifier", str(tmp_path), "--min-prob", "0.5")
    assert result.exit_code == 2 and "no meta.json" in result.output


def test_the_cli_runs_as_a_process(model: model_dir.ModelDir, tmp_path: Path) -> None:
    docs, _ = documents(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "judge", "filter", docs, "--classifier", model.path,
         "--min-prob", "0.5"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert all(json.loads(line)["classifier_prob"] >= 0.5 for line in done.stdout.splitlines())
    assert "no model calls" in done.stderr


def test_field_names_default_to_the_distilled_ones(tmp_path: Path) -> None:
    rows = [{"body": r["text"], "score": r["quality"]} for r in corpus(300, seed=6)]
    scored = write_jsonl(str(tmp_path / "scored.jsonl"), rows)
    result = cli("distill", scored, "-o", str(tmp_path / "m"), "--min-score", "0.5",
                 "--text-field", "body")  # fmt: skip
    assert result.exit_code == 0, result.output
    out = tmp_path / "kept.jsonl"
    result = cli("filter", scored, "--classifier", str(tmp_path / "m"), "--min-prob", "0.5",
                 "-o", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert 0 < len(kept_rows(out)) < len(rows)
