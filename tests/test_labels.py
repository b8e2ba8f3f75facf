"""Label files: the three shapes, annotators, field mapping, and clear errors for bad rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from judge.calibration.labels import (
    LabelFields,
    dpo_swapped,
    get_field,
    load_labels,
    parse_label_map,
)
from judge.calibration.votes import majority, number_majority, pair_majority
from judge.errors import InputError


def write(tmp_path: Path, rows: list[dict[str, Any]], name: str = "labels.jsonl") -> str:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def pair(pref: Any, **extra: Any) -> dict[str, Any]:
    return {
        "prompt": "p",
        "response_a": "first",
        "response_b": "second",
        "preference": pref,
        **extra,
    }


def test_pairwise_preferences_in_every_accepted_spelling(tmp_path: Path) -> None:
    codes = ["a", "B", "Tie", "TIE", 1, 2, 0, "2", "model_a", "tie (bothbad)", "response_b", 1.0]
    labels = load_labels(write(tmp_path, [pair(c) for c in codes]))
    assert labels.kind == "pairwise" and labels.shape == "preference"
    got = [i.preference for i in labels.pairs()]
    assert got == ["a", "b", "tie", "tie", "a", "b", "tie", "b", "a", "tie", "b", "a"]
    assert labels.fields["label"] == "preference"
    first = labels.pairs()[0]
    assert (first.prompt, first.response_a, first.response_b) == ("p", "first", "second")
    assert first.where.endswith("labels.jsonl:1") and first.annotators is None


def test_pairwise_label_field_is_detected_by_its_usual_names(tmp_path: Path) -> None:
    row = {"prompt": "p", "response_a": "x", "response_b": "y", "human_preference": "A"}
    labels = load_labels(write(tmp_path, [row]))
    assert labels.fields["label"] == "human_preference"
    assert labels.pairs()[0].preference == "a"


def test_bad_preference_names_the_line_the_value_and_the_fix(tmp_path: Path) -> None:
    path = write(tmp_path, [pair("a"), pair("maybe")])
    with pytest.raises(InputError) as info:
        load_labels(path)
    assert info.value.where == f"{path}:2"
    assert "'maybe'" in info.value.message and "label_map=" in info.value.message


def test_missing_field_lists_the_fields_present(tmp_path: Path) -> None:
    path = write(tmp_path, [pair("a"), {"prompt": "p", "response_a": "x", "answer": "y"}])
    with pytest.raises(InputError) as info:
        load_labels(path)
    assert info.value.where == f"{path}:2"
    assert "'response_b'" in info.value.message
    assert "the row has: prompt, response_a, answer" in info.value.message


def test_rows_of_no_known_shape_are_refused_with_the_options_to_map_them(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="response_a_field="):
        load_labels(write(tmp_path, [{"question": "q", "answer": "a", "grade": 1}]))


def test_numbers_zero_and_one_only_are_ambiguous_until_mapped(tmp_path: Path) -> None:
    path = write(tmp_path, [pair(0), pair(1), pair(1)])
    with pytest.raises(InputError, match='label_map= "0=a,1=b"'):
        load_labels(path)
    labels = load_labels(path, label_map=parse_label_map("0=a, 1=b"))
    assert [i.preference for i in labels.pairs()] == ["a", "b", "b"]


def test_label_map_syntax_errors_say_how_to_write_it() -> None:
    assert parse_label_map("first=A,same=tie") == {"first": "a", "same": "tie"}
    with pytest.raises(InputError, match="VALUE=a"):
        parse_label_map("first")
    with pytest.raises(InputError, match="VALUE=a"):
        parse_label_map("first=c")


def test_dpo_rows_are_shown_in_a_seeded_order_that_does_not_depend_on_row_order(
    tmp_path: Path,
) -> None:
    rows = [{"prompt": f"q{i}", "chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(40)]
    labels = load_labels(write(tmp_path, rows), seed=3)
    assert labels.shape == "dpo" and labels.kind == "pairwise"
    items = labels.pairs()
    swapped = [i.swapped for i in items]
    assert 8 < sum(swapped) < 32  # a coin flip per row, not all one way
    for item, row in zip(items, rows, strict=True):
        chosen_side = "b" if item.swapped else "a"
        assert item.preference == chosen_side
        assert getattr(item, f"response_{chosen_side}") == row["chosen"]
        assert item.swapped == dpo_swapped(3, row["prompt"], row["chosen"], row["rejected"])
    reordered = load_labels(write(tmp_path, rows[::-1], "rev.jsonl"), seed=3)
    assert [i.swapped for i in reordered.pairs()] == swapped[::-1]
    other_seed = load_labels(write(tmp_path, rows), seed=4)
    assert [i.swapped for i in other_seed.pairs()] != swapped


def test_absolute_labels_with_response_or_text(tmp_path: Path) -> None:
    rows: list[dict[str, Any]] = [
        {"prompt": "p", "response": "r", "label": 4},
        {"prompt": "p", "response": "r", "label": "2.5"},
        {"prompt": "p", "response": "r", "label": True},
    ]
    labels = load_labels(write(tmp_path, rows))
    assert labels.kind == "absolute"
    assert [i.label for i in labels.absolutes()] == [4.0, 2.5, 1.0]
    docs = load_labels(write(tmp_path, [{"text": "doc", "human_score": 0}], "docs.jsonl"))
    item = docs.absolutes()[0]
    assert (item.prompt, item.response, item.is_document, item.label) == (None, "doc", True, 0.0)
    assert docs.fields["label"] == "human_score" and docs.fields["response"] == "text"


def test_non_numeric_absolute_label_is_an_error_on_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, [{"response": "r", "label": 1}, {"response": "r", "label": "good"}])
    with pytest.raises(InputError) as info:
        load_labels(path)
    assert info.value.where == f"{path}:2" and "expected a number" in info.value.message


def test_annotators_in_a_dotted_field_next_to_the_main_label(tmp_path: Path) -> None:
    rows = [
        pair("b", meta={"votes": [2, 2, 1]}),
        pair("tie", meta={"votes": [0, 1, 2]}),
    ]
    labels = load_labels(write(tmp_path, rows))
    assert labels.fields["annotators"] == "meta.votes" and labels.fields["label"] == "preference"
    first, second = labels.pairs()
    assert first.annotators == ["b", "b", "a"] and first.preference == "b"
    assert second.annotators == ["tie", "a", "b"] and second.preference == "tie"
    assert labels.has_annotators


def test_a_list_in_the_label_field_is_the_annotators_and_its_majority_the_label(
    tmp_path: Path,
) -> None:
    rows = [pair(["a", "a", "b"]), pair(["a", "b"]), pair(["A"]), pair("b")]
    labels = load_labels(write(tmp_path, rows))
    assert [i.preference for i in labels.pairs()] == ["a", "tie", "a", "b"]
    assert labels.pairs()[3].annotators == ["b"]  # a single label among lists is one vote
    assert labels.pairs()[0].annotators == ["a", "a", "b"]
    assert labels.fields == {
        "prompt": "prompt",
        "response_a": "response_a",
        "response_b": "response_b",
        "annotators": "preference",
    }
    scores = [{"response": "r", "rating": [1, 3, 3]}, {"response": "r", "rating": [1, 2, 4, 5]}]
    absolute = load_labels(write(tmp_path, scores, "abs.jsonl"))
    assert [i.label for i in absolute.absolutes()] == [3.0, 2.0]  # majority; else lower median


def test_annotators_only_with_an_explicit_field(tmp_path: Path) -> None:
    rows = [{"prompt": "p", "response_a": "x", "response_b": "y", "raters": {"v": ["b", "b"]}}]
    labels = load_labels(write(tmp_path, rows), LabelFields(annotators="raters.v"))
    assert labels.pairs()[0].preference == "b"
    assert labels.pairs()[0].annotators == ["b", "b"]


def test_a_votes_count_is_not_mistaken_for_annotators(tmp_path: Path) -> None:
    labels = load_labels(write(tmp_path, [pair("a", votes=12)]))
    assert labels.pairs()[0].annotators is None and "annotators" not in labels.fields


def test_remapped_fields(tmp_path: Path) -> None:
    rows = [{"q": "p", "left": "x", "right": "y", "judgement": "right", "raters": ["b", "a"]}]
    fields = LabelFields(
        prompt="q", response_a="left", response_b="right", label="judgement", annotators="raters"
    )
    labels = load_labels(write(tmp_path, rows), fields, label_map={"right": "b", "left": "a"})
    item = labels.pairs()[0]
    assert (item.prompt, item.response_a, item.response_b) == ("p", "x", "y")
    assert item.preference == "b" and item.annotators == ["b", "a"]


def test_forced_kind_that_the_rows_cannot_be(tmp_path: Path) -> None:
    path = write(tmp_path, [pair("a")])
    with pytest.raises(InputError, match="kind= absolute needs"):
        load_labels(path, kind="absolute")


def test_forced_kind_errors_name_the_fields_that_kind_needs(tmp_path: Path) -> None:
    with pytest.raises(InputError) as absolute:
        load_labels(write(tmp_path, [pair("a")]), kind="absolute")
    assert absolute.value.message == (
        "kind= absolute needs a 'response' or 'text' field "
        "(the row has: prompt, response_a, response_b, preference)"
    )
    with pytest.raises(InputError) as pairwise:
        load_labels(write(tmp_path, [{"text": "t", "label": 1}]), kind="pairwise")
    assert pairwise.value.message == (
        "kind= pairwise needs 'response_a' and 'response_b', or 'chosen' and 'rejected' "
        "(the row has: text, label)"
    )
    assert pairwise.value.where is not None and pairwise.value.where.endswith(":1")


def test_csv_labels_with_annotators_as_json_text(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text('prompt,response_a,response_b,votes\np,x,y,"[1, 1, 2]"\n', encoding="utf-8")
    labels = load_labels(str(path))
    item = labels.pairs()[0]
    assert item.annotators == ["a", "a", "b"] and item.preference == "a"
    assert item.where == f"{path}:2"


def test_helpers() -> None:
    assert get_field({"meta": {"votes": [1]}}, "meta.votes") == [1]
    assert get_field({"meta.votes": 5, "meta": {"votes": 1}}, "meta.votes") == 5
    assert majority(["a", "b", "a"]) == "a" and majority(["a", "b"]) is None
    assert majority([]) is None
    assert pair_majority(["a", "b", "tie"]) == "tie"
    assert number_majority([1.0, 5.0]) == 1.0 and number_majority([2.0, 2.0, 5.0]) == 2.0
