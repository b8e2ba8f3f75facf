"""`judge label` without a browser: items, selection, the labels file, the session, bad input."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from judge.calibration.labels import load_labels
from judge.calibration.metrics import cohen_kappa
from judge.cli import main
from judge.errors import InputError
from judge.label.items import content_key, load_items
from judge.label.select import select
from judge.label.session import Session
from judge.label.store import LabelStore
from tests.labelserver import pair_rows, read_jsonl, write_jsonl


def session_for(tmp_path: Path, rows: list[dict[str, Any]], kind: Any = "pairwise", **kw: Any):
    data = write_jsonl(tmp_path / "in.jsonl", rows)
    store = LabelStore(str(tmp_path / kw.pop("out", "labels.jsonl")))
    _, items = load_items(str(data), kind)
    return Session(items, store, kw.pop("annotator", "ann"), kind, **kw)


# ------------------------------------------------------------------------------------ items


def test_items_from_every_pairwise_shape(tmp_path: Path) -> None:
    rows = [
        {"id": 7, "prompt": "p", "response_a": "x", "response_b": "y"},
        {"prompt": "q", "chosen": "good", "rejected": "bad"},
        {"id": "r", "prompt": "r", "responses": ["1", "2", "3"]},
    ]
    _, items = load_items(str(write_jsonl(tmp_path / "in.jsonl", rows)), "pairwise")
    assert items[0].id == "7" and items[1].id.startswith("h")
    assert [i.id for i in items][2:] == ["r/0-1", "r/0-2", "r/1-2"]
    assert (items[1].response_a, items[1].response_b) == ("good", "bad")
    assert items[0].key == content_key("p", "y", "x")  # either order finds the pair
    public = items[0].public()
    assert {public["left"], public["right"]} == {"x", "y"}
    assert (public["left"] == "y") == items[0].swapped


def test_items_absolute_and_repeated_ids(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "prompt": "p", "response": "x"},
        {"id": "a", "prompt": "p", "response": "y"},
        {"text": "a document"},
        {"id": "b", "prompt": "q", "responses": ["1", "2"]},
    ]
    _, items = load_items(str(write_jsonl(tmp_path / "in.jsonl", rows)), "absolute")
    assert [i.id for i in items][:2] == ["a", "a#2"]
    assert items[2].is_document and items[2].prompt is None
    assert [i.id for i in items][3:] == ["b/0", "b/1"]


def test_items_from_stdin_are_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "".join(json.dumps(r) + "\n" for r in pair_rows(3))
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    kind, items = load_items("-")
    assert kind == "pairwise" and [i.id for i in items] == ["p0", "p1", "p2"]
    assert items[1].where == "<stdin>:2"


# ------------------------------------------------------------------------------------ bad input


def run(*args: str) -> Any:
    return CliRunner().invoke(main, ["label", *args, "--no-browser"])


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ('{"prompt": "p", "response_a": "x", "response_b": "y"}\n{"prompt": "p", "res', ":2"),
        ('{"prompt": "p", "response_a": "x", "response_b": "y"}\n{"prompt": "p"}\n', ":2"),
        ('{"prompt": "p", "response_a": "x", "response_b": 3}\n', ":1"),
        ("[1, 2]\n", ":1"),
    ],
)
def test_bad_input_rows_exit_2_with_file_and_line(tmp_path: Path, content: str, where: str) -> None:
    data = tmp_path / "in.jsonl"
    data.write_text(content)
    result = run(str(data), "-o", str(tmp_path / "l.jsonl"), "--kind", "pairwise")
    assert result.exit_code == 2, result.output
    assert f"{data}{where}" in result.output and "Traceback" not in result.output


def test_bad_files_and_options_exit_2(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "in.jsonl", pair_rows(3))
    out = str(tmp_path / "l.jsonl")
    bad_labels = tmp_path / "old.jsonl"
    bad_labels.write_text('{"id": "p0"}\nnot json\n')
    bad_judgments = tmp_path / "j.jsonl"
    bad_judgments.write_text('{"prompt": "x"}\n{oops\n')
    (tmp_path / "empty.csv").write_text("")
    cases = {
        "missing file": [str(tmp_path / "nope.jsonl"), "-o", out],
        "empty": [str(tmp_path / "empty.csv"), "-o", out],
        "labels not jsonl": [str(data), "-o", str(tmp_path / "l.csv")],
        "bad labels file": [str(data), "-o", str(bad_labels)],
        "bad judgments": [str(data), "-o", out, "--judgments", str(bad_judgments)],
        "uncertain without judgments": [str(data), "-o", out, "--select", "uncertain"],
        "remote host": [str(data), "-o", out, "--host", "0.0.0.0"],
        "bad scale": [str(data), "-o", out, "--scale", "5-1"],
        "bad other": [str(data), "-o", out, "--other", str(bad_labels)],
    }
    for name, args in cases.items():
        result = run(*args)
        assert result.exit_code == 2, (name, result.output)
        assert "judge: error:" in result.output and "Traceback" not in result.output, name
    assert f"{bad_labels}:2" in run(str(data), "-o", str(bad_labels)).output
    assert f"{bad_judgments}:2" in run(*cases["bad judgments"]).output
    assert not Path(out).exists()


def test_disagree_without_panel_says_so(tmp_path: Path) -> None:
    rows = pair_rows(3)
    data = write_jsonl(tmp_path / "in.jsonl", rows)
    judged = [{**r, "p_a": 0.5} for r in rows]
    j = write_jsonl(tmp_path / "j.jsonl", judged)
    result = run(
        str(data), "-o", str(tmp_path / "l.jsonl"), "--select", "disagree", "--judgments", str(j)
    )
    assert result.exit_code == 2 and "judge.panel" in result.output
    result = run(str(data), "-o", str(tmp_path / "l.jsonl"), "--select", "disagree")
    assert result.exit_code == 2 and "--judgments" in result.output


# ------------------------------------------------------------------------------------ selection


def test_uncertain_puts_flips_then_close_calls_first(tmp_path: Path) -> None:
    rows = pair_rows(5)
    _, items = load_items(str(write_jsonl(tmp_path / "in.jsonl", rows)), "pairwise")
    judged = [  # calibrate's judgments.jsonl: response_a/b may be in the other order
        {"prompt": r["prompt"], "response_a": r["response_b"], "response_b": r["response_a"]}
        for r in rows
    ]
    for row, p, flipped in zip(judged, [0.95, 0.55, 0.1, 0.8, 0.99], [0, 0, 0, 0, 1], strict=True):
        row.update(p_a=p, flipped=bool(flipped))
    j = write_jsonl(tmp_path / "j.jsonl", judged)
    chosen = select(items, "uncertain", str(j))
    assert [i.id for i in chosen.items] == ["p4", "p1", "p3", "p2", "p0"]
    assert chosen.matched == 5 and select(items, "uncertain", str(j), sample=2).items[1].id == "p1"


def test_uncertain_from_score_and_pairs_outputs(tmp_path: Path) -> None:
    rows = [{"id": f"r{i}", "prompt": "p", "response": f"text {i}"} for i in range(4)]
    _, items = load_items(str(write_jsonl(tmp_path / "in.jsonl", rows)), "absolute")
    scored = [
        {**r, "score": s, "judge": {}} for r, s in zip(rows, [0.0, 0.9, 0.45, 0.7], strict=True)
    ]
    scored[0]["judge"] = {"confidence": 0.0}  # sure of nothing, whatever the score says
    j = write_jsonl(tmp_path / "score.jsonl", scored)
    assert [i.id for i in select(items, "uncertain", str(j)).items] == ["r0", "r2", "r3", "r1"]
    scored[3]["judge"] = {"expected_scores": {"helpful": 3.5, "honest": 2.45}}  # torn
    j2 = write_jsonl(tmp_path / "score2.jsonl", scored)
    assert [i.id for i in select(items, "uncertain", str(j2)).items] == ["r0", "r3", "r2", "r1"]
    # pairs made of those responses: the margin of the two scores
    pair_input = [{"id": "q", "prompt": "p", "responses": [r["response"] for r in rows]}]
    _, pairs = load_items(str(write_jsonl(tmp_path / "pairs.jsonl", pair_input)), "pairwise")
    order = [i.id for i in select(pairs, "uncertain", str(j)).items]
    assert order[0] == "q/1-3"  # 0.9 vs 0.7: the closest
    dpo = [{"prompt": "p", "chosen": "text 1", "rejected": "text 2", "p_chosen": 0.52}]
    jp = write_jsonl(tmp_path / "dpo.jsonl", dpo)
    assert select(pairs, "uncertain", str(jp)).items[0].id == "q/1-2"


def test_stratified_spreads_and_random_is_seeded(tmp_path: Path) -> None:
    rows = [{"id": f"r{i}", "text": f"t{i}"} for i in range(50)]
    _, items = load_items(str(write_jsonl(tmp_path / "in.jsonl", rows)), "absolute")
    scores = [0.02 * i if i < 45 else 0.99 for i in range(50)]  # few high scores
    j = write_jsonl(
        tmp_path / "j.jsonl", [{**r, "score": s} for r, s in zip(rows, scores, strict=True)]
    )
    first = select(items, "stratified", str(j), sample=5).items
    bins = sorted(min(4, int(scores[int(i.id[1:])] / 0.2)) for i in first)
    assert bins == [0, 1, 2, 3, 4]
    a = [i.id for i in select(items, "random", None, seed=1).items]
    assert a == [i.id for i in select(items, "random", None, seed=1).items]
    assert a != [i.id for i in items] and sorted(a) == sorted(i.id for i in items)


def test_disagree_reads_a_panel(tmp_path: Path) -> None:
    rows = pair_rows(3)
    _, items = load_items(str(write_jsonl(tmp_path / "in.jsonl", rows)), "pairwise")
    panels = [["a", "a", "a"], ["a", "b", "tie"], [{"p_a": 1.0}, {"p_a": 0.0}]]
    judged = [{**r, "judge": {"panel": p}} for r, p in zip(rows, panels, strict=True)]
    j = write_jsonl(tmp_path / "j.jsonl", judged)
    assert [i.id for i in select(items, "disagree", str(j)).items] == ["p2", "p1", "p0"]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.one_of(st.none(), st.floats(0, 1)), min_size=1, max_size=12))
def test_selection_is_a_permutation(tmp_path_factory: Any, scores: list[float | None]) -> None:
    tmp = tmp_path_factory.mktemp("sel")
    rows = [{"id": f"r{i}", "text": f"t{i}"} for i in range(len(scores))]
    _, items = load_items(str(write_jsonl(tmp / "in.jsonl", rows)), "absolute")
    judged = [{**r, "score": s} for r, s in zip(rows, scores, strict=True)]
    j = write_jsonl(tmp / "j.jsonl", judged)
    for method in ("uncertain", "stratified", "random"):
        try:
            got = select(items, method, str(j)).items
        except InputError:
            assert all(s is None for s in scores)
            continue
        assert sorted(i.id for i in got) == sorted(r["id"] for r in rows)


# ------------------------------------------------------------------------------------ session


def test_decisions_follow_the_display_order_and_calibrate_reads_them(tmp_path: Path) -> None:
    s = session_for(tmp_path, pair_rows(6))
    for item in s.items:
        state = s.state("p")
        assert state["item"]["id"] == item.id
        # "left" is whatever was shown on the left
        assert s.decide("p", item.id, "left", 2.5)
    rows = read_jsonl(tmp_path / "labels.jsonl")
    for row, item in zip(rows, s.items, strict=True):
        assert row["preference"] == ("b" if item.swapped else "a")
        assert row["swapped"] is item.swapped and row["seconds"] == 2.5
    labels = load_labels(str(tmp_path / "labels.jsonl"))
    assert [p.preference for p in labels.pairs()] == [r["preference"] for r in rows]
    assert s.state("p")["item"] is None and s.state("p")["progress"]["left"] == 0


def test_undo_skip_resume_and_two_pages(tmp_path: Path) -> None:
    s = session_for(tmp_path, pair_rows(4))
    assert s.state("one")["item"]["id"] == "p0"
    assert s.state("two")["item"]["id"] == "p1"  # a page holds its item
    assert s.decide("one", "p0", "tie", 1)
    assert not s.decide("two", "p0", "left", 1)  # already decided: nothing written
    assert len(read_jsonl(tmp_path / "labels.jsonl")) == 1
    s.skip("two", "p1")
    assert s.state("two")["item"]["id"] == "p2"
    s.undo("two")  # the skip
    assert s.state("two")["item"]["id"] == "p1"
    assert s.undo("two") is None  # page two decided nothing: page one's decision stays
    assert len(read_jsonl(tmp_path / "labels.jsonl")) == 1
    assert s.state("two")["can_undo"] is False and s.state("one")["can_undo"] is True
    assert s.undo("one") == "p0"  # page one undoes its own
    assert read_jsonl(tmp_path / "labels.jsonl") == []
    assert s.state("one")["item"]["id"] == "p0"
    assert s.decide("one", "p0", "right", 1)
    again = session_for(tmp_path, pair_rows(4))  # a restart
    assert again.state("x")["item"]["id"] == "p1" and again.state("x")["progress"]["done"] == 1


def test_agreement_in_one_shared_file(tmp_path: Path) -> None:
    rows = pair_rows(8)
    ann = session_for(tmp_path, rows, annotator="ann")
    bob = session_for(tmp_path, rows, annotator="bob")
    for item, x, y in zip(ann.items, "lrlrtlrl", "llrrtlrr", strict=True):
        names = {"l": "left", "r": "right", "t": "tie"}
        assert ann.decide("a", item.id, names[x], 1)
        assert bob.decide("b", item.id, names[y], 1)
    rows_out = read_jsonl(tmp_path / "labels.jsonl")
    assert len(rows_out) == 16
    mine = {r["id"]: r["preference"] for r in rows_out if r["annotator"] == "bob"}
    theirs = {r["id"]: r["preference"] for r in rows_out if r["annotator"] == "ann"}
    (shown,) = bob.state("b")["agreement"]
    want = cohen_kappa(list(mine.values()), [theirs[i] for i in mine], labels=("a", "tie", "b"))
    assert shown["annotator"] == "ann" and shown["n"] == 8 and shown["kappa"] == pytest.approx(want)


def test_absolute_ratings_and_documents(tmp_path: Path) -> None:
    rows = [{"prompt": "p", "response": "x"}, {"text": "a document"}]
    s = session_for(tmp_path, rows, kind="absolute", scale=(1, 5))
    with pytest.raises(InputError):
        s.decide("p", s.items[0].id, "7", 1)
    assert s.decide("p", s.items[0].id, "4", 1) and s.decide("p", s.items[1].id, "2", 1)
    out = read_jsonl(tmp_path / "labels.jsonl")
    assert out[0]["response"] == "x" and out[0]["label"] == 4
    assert out[1]["text"] == "a document" and "prompt" not in out[1]
    labels = load_labels(str(tmp_path / "labels.jsonl"))
    assert [a.label for a in labels.absolutes()] == [4.0, 2.0]


def test_store_keeps_foreign_rows_and_writes_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "l.jsonl"
    path.write_text(json.dumps({"id": "x", "annotator": "zoe", "preference": "a"}) + "\n")
    store = LabelStore(str(path))
    assert store.add({"id": "x", "annotator": "ann", "preference": "b"})
    assert not store.add({"id": "x", "annotator": "ann", "preference": "a"})
    assert store.remove("x", "ann") is not None and store.remove("x", "ann") is None
    assert read_jsonl(path) == [{"id": "x", "annotator": "zoe", "preference": "a"}]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_store_appends_and_reads_only_what_is_new(tmp_path: Path) -> None:
    """A decision is one appended line (the file is not rewritten: the same inode), rows are
    read back incrementally, a line cut short by a power cut is ignored and then cut off."""
    path = tmp_path / "l.jsonl"
    store = LabelStore(str(path))
    assert store.add({"id": "a", "annotator": "ann", "preference": "a"})
    inode = path.stat().st_ino
    assert store.add({"id": "b", "annotator": "ann", "preference": "b"})
    assert path.stat().st_ino == inode and len(read_jsonl(path)) == 2
    other = LabelStore(str(path))  # a second server on the same file
    assert other.add({"id": "c", "annotator": "bob", "preference": "tie"})
    assert [r["id"] for r in store.rows()] == ["a", "b", "c"]
    with path.open("ab") as f:
        f.write(b'{"id": "d", "annot')  # a power cut in the middle of a line
    assert [r["id"] for r in LabelStore(str(path)).rows()] == ["a", "b", "c"]
    assert store.add({"id": "e", "annotator": "ann", "preference": "a"})
    assert [r["id"] for r in read_jsonl(path)] == ["a", "b", "c", "e"]
    assert store.remove("b", "ann") is not None  # undo rewrites; both stores see it
    assert [r["id"] for r in other.rows()] == ["a", "c", "e"]
