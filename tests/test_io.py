"""judge.io: every format read and written, candidates, bad input, streaming."""

from __future__ import annotations

import datetime
import io
import itertools
import json
import logging
import math
import os
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from judge import io as jio
from judge.errors import InputError, as_flag
from judge.io import (
    FieldMap,
    count_rows,
    describe,
    iter_candidates,
    json_input,  # the module that reads _JSON_CHUNK
    open_writer,
    read_rows,
    write_rows,
)

# Rows every format must carry: nested objects, nulls next to values, unicode, lists.
ROWS: list[dict[str, Any]] = [
    {
        "id": "a1",
        "prompt": "héllo ✓ 日本語",
        "response": '🎉 line\nbreak \u2028 "quoted", comma',
        "score": None,
        "scores": {"helpful": 4, "harmless": None},
        "judge": {"model": "local/x", "error": "timed out", "usage": {"input_tokens": 12}},
        "tags": ["x", "ÿ"],
    },
    {
        "id": "a2",
        "prompt": "p",
        "response": "r",
        "score": 0.75,
        "scores": {"helpful": 2, "harmless": 5},
        "judge": {"model": "local/x", "error": None, "usage": {"input_tokens": 3}},
        "tags": [],
    },
]


def write_text(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def rows_of(path: str | Path) -> list[dict[str, Any]]:
    return [row for _, row in read_rows(str(path))]


def error_of(func: Any, *args: Any, **kwargs: Any) -> InputError:
    """Run func to exhaustion and return the InputError it raised."""
    with pytest.raises(InputError) as info:
        result = func(*args, **kwargs)
        if hasattr(result, "__next__"):
            list(result)
    return info.value


def jsonl(*rows: Any) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("name", ["out.jsonl", "out.ndjson", "out.json"])
def test_json_formats_round_trip_exactly(tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    assert write_rows(str(out), ROWS) == len(ROWS)
    assert rows_of(out) == ROWS


def test_jsonl_is_utf8_one_object_per_line(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    write_rows(str(out), ROWS)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    assert "日本語" in lines[0]  # ensure_ascii=False
    assert [json.loads(line) for line in lines] == ROWS


def test_json_output_is_a_json_array(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    write_rows(str(out), ROWS)
    assert json.loads(out.read_text(encoding="utf-8")) == ROWS
    write_rows(str(out), [])
    assert json.loads(out.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("name", ["out.parquet", "dataset", "dataset_slash/"])
def test_columnar_formats_round_trip(tmp_path: Path, name: str) -> None:
    out = str(tmp_path / name)
    write_rows(out, ROWS)
    back = rows_of(out.rstrip("/"))
    assert back == ROWS
    assert count_rows(out.rstrip("/")) == len(ROWS)


def test_columnar_formats_fill_missing_keys_with_null(tmp_path: Path) -> None:
    rows = [
        {"id": 1, "scores": {"helpful": 4}},
        {"id": 2, "scores": {"honest": 1.5}, "late": "x"},
    ]
    expected = [
        {"id": 1, "scores": {"helpful": 4, "honest": None}, "late": None},
        {"id": 2, "scores": {"helpful": None, "honest": 1.5}, "late": "x"},
    ]
    for out in (str(tmp_path / "o.parquet"), str(tmp_path / "ds")):
        write_rows(out, rows)
        assert rows_of(out) == expected


def test_columnar_null_then_value_across_batches(tmp_path: Path) -> None:
    # More rows than one conversion batch: the first batches only ever see null scores.
    n = jio._BATCH_ROWS * 2 + 5
    rows: list[dict[str, Any]] = [{"i": i, "score": None if i < n - 3 else i / 2} for i in range(n)]
    rows[7]["only_here"] = {"nested": [1, 2]}
    out = str(tmp_path / "o.parquet")
    write_rows(out, rows)
    back = rows_of(out)
    assert [r["score"] for r in back] == [r["score"] for r in rows]
    assert back[7]["only_here"] == {"nested": [1, 2]}
    assert back[8]["only_here"] is None


def test_columnar_int_and_float_merge_to_float(tmp_path: Path) -> None:
    out = str(tmp_path / "o.parquet")
    write_rows(out, [{"score": 1}, {"score": 0.5}])
    assert rows_of(out) == [{"score": 1.0}, {"score": 0.5}]


def test_columnar_empty_object_becomes_null(tmp_path: Path) -> None:
    out = str(tmp_path / "o.parquet")
    write_rows(out, [{"scores": {}, "x": 1}])
    assert rows_of(out) == [{"scores": None, "x": 1}]


def test_columnar_conflicting_types_are_stored_as_text(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = str(tmp_path / "o.parquet")
    with caplog.at_level(logging.WARNING, logger="judge.io"):
        write_rows(out, [{"id": 1, "v": 1}, {"id": "b", "v": 2}, {"id": {"k": 1}, "v": 3}])
    assert rows_of(out) == [{"id": "1", "v": 1}, {"id": "b", "v": 2}, {"id": '{"k": 1}', "v": 3}]
    assert "'id'" in caplog.text


def test_csv_round_trip_gives_strings_and_json_text(tmp_path: Path) -> None:
    out = str(tmp_path / "out.csv")
    write_rows(out, [*ROWS, {"id": "a3", "late_key": True}])
    back = rows_of(out)
    assert list(back[0]) == [*ROWS[0], "late_key"]  # header: union of keys, first seen order
    assert back[0]["prompt"] == ROWS[0]["prompt"]
    assert back[0]["response"] == ROWS[0]["response"]  # newline, quotes, commas survive
    assert back[0]["score"] == ""  # null is an empty cell
    assert back[1]["score"] == "0.75"
    assert json.loads(back[0]["scores"]) == ROWS[0]["scores"]
    assert json.loads(back[0]["judge"]) == ROWS[0]["judge"]
    assert json.loads(back[1]["tags"]) == []
    assert back[2]["late_key"] == "true"
    assert back[2]["prompt"] == ""


def test_csv_multiline_records_report_their_first_line(tmp_path: Path) -> None:
    out = str(tmp_path / "out.csv")
    write_rows(out, ROWS)
    # The header is line 1; the first record spans lines 2-3 (its response holds a newline).
    assert [index for index, _ in read_rows(out)] == [2, 4]


def test_non_json_values_are_converted_when_written(tmp_path: Path) -> None:
    row: dict[Any, Any] = {
        "np_float": np.float32(0.5),
        "np_int": np.int64(3),
        "np_array": np.array([1, 2]),
        "np_bool": np.bool_(True),
        "when": datetime.datetime(2024, 5, 1, 12, 30),
        "day": datetime.date(2024, 5, 1),
        "text_bytes": "é".encode(),
        "raw_bytes": b"\xff\x00",
        "nan": float("nan"),
        "inf": math.inf,
        "path": Path("a/b"),
        "tuple": (1, "x"),
        7: "int key",
    }
    expected = {
        "np_float": 0.5,
        "np_int": 3,
        "np_array": [1, 2],
        "np_bool": True,
        "when": "2024-05-01T12:30:00",
        "day": "2024-05-01",
        "text_bytes": "é",
        "raw_bytes": "/wA=",
        "nan": None,
        "inf": None,
        "path": "a/b",
        "tuple": [1, "x"],
        "7": "int key",
    }
    for name in ("o.jsonl", "o.json"):
        out = str(tmp_path / name)
        write_rows(out, [row])
        assert rows_of(out) == [expected]
    # Parquet: the list mixing a number and a string has no Arrow type, so it is stored as text.
    out = str(tmp_path / "o.parquet")
    write_rows(out, [row])
    assert rows_of(out) == [{**expected, "tuple": '[1, "x"]'}]


# --------------------------------------------------------------------------- stdout / stdin


@pytest.mark.parametrize("target", [None, "-"])
def test_stdout_writer_writes_json_lines(
    target: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert write_rows(target, ROWS) == 2
    out = capsys.readouterr().out
    assert [json.loads(line) for line in out.splitlines()] == ROWS


def test_stdout_writer_flushes_each_row(monkeypatch: pytest.MonkeyPatch) -> None:
    class Recorder(io.StringIO):
        flushes = 0

        def flush(self) -> None:
            self.flushes += 1

    stream = Recorder()
    monkeypatch.setattr(sys, "stdout", stream)
    writer = open_writer(None)
    writer.write({"a": 1})
    assert stream.getvalue() == '{"a": 1}\n' and stream.flushes >= 1
    writer.write({"a": 2})
    assert stream.flushes >= 2


def test_stdin_text_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(jsonl(*ROWS)))
    assert [(i, r) for i, r in read_rows("-")] == [(1, ROWS[0]), (2, ROWS[1])]
    assert count_rows("-") is None
    assert describe("-", 4) == "<stdin>:4"


def test_stdin_bytes_invalid_utf8_names_the_line(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b'{"text": "ok"}\n{"text": "bad \xff"}\n'
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    err = error_of(read_rows, "-")
    assert err.where == "<stdin>:2"
    assert "UTF-8" in err.message


def test_stdin_candidates_and_bad_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"text": "doc"}\n\n{oops\n'))
    candidates = iter_candidates("-")
    first = next(candidates)
    assert first.is_document and first.response == "doc" and first.row_index == 1
    err = error_of(lambda: candidates)
    assert err.where == "<stdin>:3"
    assert err.message.startswith("not valid JSON:")


def test_empty_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    err = error_of(read_rows, "-")
    assert (err.where, err.message) == ("<stdin>", "empty input: no rows")


# --------------------------------------------------------------------------- candidates


def test_prompt_and_response(tmp_path: Path) -> None:
    row = {"id": 9, "prompt": "Q?", "response": "A.", "meta": {"k": [1]}}
    path = write_text(tmp_path / "in.jsonl", "\n" + jsonl(row))  # a blank first line
    [cand] = iter_candidates(path)
    assert (cand.index, cand.row_index, cand.prompt, cand.response) == (0, 2, "Q?", "A.")
    assert cand.response_index is None and not cand.is_document and cand.note is None
    assert cand.row == row


def test_responses_expand_with_response_index(tmp_path: Path) -> None:
    rows = [
        {"prompt": "p1", "responses": ["a", "b", "c"], "id": 1},
        {"prompt": "p2", "response": "single"},
        {"prompt": "p3", "responses": ["d", "e"]},
    ]
    path = write_text(tmp_path / "in.jsonl", jsonl(*rows))
    cands = list(iter_candidates(path))
    assert [c.index for c in cands] == list(range(6))
    assert [c.response for c in cands] == ["a", "b", "c", "single", "d", "e"]
    assert [c.response_index for c in cands] == [0, 1, 2, None, 0, 1]
    assert [c.row_index for c in cands] == [1, 1, 1, 2, 3, 3]
    assert [c.prompt for c in cands] == ["p1"] * 3 + ["p2", "p3", "p3"]
    assert cands[0].row == rows[0]


def test_response_wins_over_responses(tmp_path: Path) -> None:
    # A scored output of an expanded input has both: the specific `response` is the candidate.
    path = write_text(
        tmp_path / "in.jsonl", jsonl({"prompt": "p", "response": "b", "responses": ["a", "b"]})
    )
    [cand] = iter_candidates(path)
    assert cand.response == "b" and cand.response_index is None


def test_empty_responses_list_keeps_the_row(tmp_path: Path) -> None:
    path = write_text(tmp_path / "in.jsonl", jsonl({"prompt": "p", "responses": []}))
    [cand] = iter_candidates(path)
    assert (cand.response, cand.note, cand.response_index) == ("", "empty response", None)


def test_text_documents(tmp_path: Path) -> None:
    path = write_text(tmp_path / "in.jsonl", jsonl({"text": "A page.", "url": "u"}, {"text": " "}))
    docs = list(iter_candidates(path))
    assert [(d.prompt, d.response, d.is_document, d.note) for d in docs] == [
        (None, "A page.", True, None),
        (None, "", True, "empty response"),
    ]
    assert docs[0].row == {"text": "A page.", "url": "u"}


def test_field_remapping(tmp_path: Path) -> None:
    fields = FieldMap(prompt="question", response="answer", responses="answers", text="body")
    rows = [
        {"question": "q1", "answer": "a1"},
        {"question": "q2", "answers": ["x", "y"]},
        {"body": "doc"},
    ]
    path = write_text(tmp_path / "in.jsonl", jsonl(*rows))
    cands = list(iter_candidates(path, fields))
    assert [(c.prompt, c.response, c.is_document) for c in cands] == [
        ("q1", "a1", False),
        ("q2", "x", False),
        ("q2", "y", False),
        (None, "doc", True),
    ]


@pytest.mark.parametrize("value", ["", "   \n\t", None])
def test_empty_response_is_a_note_not_an_error(tmp_path: Path, value: str | None) -> None:
    path = write_text(tmp_path / "in.jsonl", jsonl({"prompt": "p", "response": value}))
    [cand] = iter_candidates(path)
    assert (cand.response, cand.note) == ("", "empty response")


def test_empty_item_in_responses_is_a_note(tmp_path: Path) -> None:
    path = write_text(tmp_path / "in.jsonl", jsonl({"prompt": "p", "responses": ["ok", ""]}))
    cands = list(iter_candidates(path))
    assert [(c.response, c.note) for c in cands] == [("ok", None), ("", "empty response")]


def test_csv_candidates_decode_responses_json(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "in.csv",
        'prompt,responses,id\nQ,"[""one"", ""two, with comma""]",7\nR,"[]",8\n',
    )
    cands = list(iter_candidates(path))
    assert [(c.prompt, c.response, c.response_index, c.row_index) for c in cands] == [
        ("Q", "one", 0, 2),
        ("Q", "two, with comma", 1, 2),
        ("R", "", None, 3),
    ]
    assert cands[0].row == {"prompt": "Q", "responses": '["one", "two, with comma"]', "id": "7"}


def test_csv_we_write_reads_back_as_candidates(tmp_path: Path) -> None:
    out = str(tmp_path / "o.csv")
    write_rows(out, [{"prompt": "p", "responses": ["a", "b"]}])
    assert [c.response for c in iter_candidates(out)] == ["a", "b"]


def test_rows_argument_replaces_reading(tmp_path: Path) -> None:
    rows = [(5, {"prompt": "p", "response": "r"}), (9, {"text": "t"})]
    cands = list(iter_candidates("data.jsonl", rows=rows))
    assert [(c.index, c.row_index) for c in cands] == [(0, 5), (1, 9)]
    err = error_of(iter_candidates, "data.jsonl", rows=[(3, {"x": 1})])
    assert err.where == "data.jsonl:3"


def test_candidates_from_every_format(tmp_path: Path) -> None:
    # Mixed kinds of rows: columnar formats fill the other kinds' columns with null or "".
    rows: list[dict[str, Any]] = [
        {"prompt": "p", "responses": ["a", "b"], "k": 1},
        {"prompt": "q", "response": "c"},
        {"text": "doc"},
        {"prompt": "", "response": "empty prompt is fine"},
    ]
    for name in ("i.jsonl", "i.json", "i.csv", "i.parquet", "ids"):
        out = str(tmp_path / name)
        write_rows(out, rows)
        cands = list(iter_candidates(out))
        got = [(c.prompt, c.response, c.response_index, c.is_document) for c in cands]
        assert got == [
            ("p", "a", 0, False),
            ("p", "b", 1, False),
            ("q", "c", None, False),
            (None, "doc", None, True),
            ("", "empty prompt is fine", None, False),
        ], name


# --------------------------------------------------------------------------- bad input


def test_invalid_json_line_names_file_and_line(tmp_path: Path) -> None:
    path = write_text(tmp_path / "in.jsonl", jsonl({"text": "a"}, {"text": "b"}) + '{"text": \n')
    err = error_of(iter_candidates, path)
    assert err.where == f"{path}:3"
    assert err.message.startswith("not valid JSON: ")
    assert str(err).startswith(f"{path}:3: not valid JSON")


def test_row_that_is_not_an_object(tmp_path: Path) -> None:
    path = write_text(tmp_path / "in.jsonl", jsonl({"text": "a"}, ["text", "b"]))
    err = error_of(iter_candidates, path)
    assert err.where == f"{path}:2"
    assert "object" in err.message and "list" in err.message
    err = error_of(iter_candidates, "x.jsonl", rows=[(1, "just a string")])
    assert "object" in err.message


def test_missing_response_names_fields_present_and_options(tmp_path: Path) -> None:
    path = write_text(tmp_path / "in.jsonl", jsonl({"id": 1, "prompt": "q", "answer": "a"}))
    err = error_of(iter_candidates, path)
    assert err.where == f"{path}:1"
    assert "no 'response' or 'responses' field" in err.message
    assert "the row has: id, prompt, answer" in err.message
    assert "response_field=" in err.message and "--response-field" in err.render(as_flag)


def test_missing_prompt(tmp_path: Path) -> None:
    path = write_text(tmp_path / "in.jsonl", jsonl({"id": 1, "question": "q", "response": "a"}))
    err = error_of(iter_candidates, path)
    assert "no 'prompt' field (the row has: id, question, response)" in err.message
    assert "prompt_field=" in err.message


def test_no_known_fields_at_all(tmp_path: Path) -> None:
    path = write_text(tmp_path / "in.jsonl", jsonl({"id": 1, "question": "q", "answer": "a"}))
    err = error_of(iter_candidates, path)
    assert "the row has: id, question, answer" in err.message
    assert "prompt_field=" in err.message and "text_field=" in err.message
    path = write_text(tmp_path / "empty_row.jsonl", jsonl({}))
    assert "the row is empty" in error_of(iter_candidates, path).message


def test_remapped_names_appear_in_messages(tmp_path: Path) -> None:
    path = write_text(tmp_path / "in.jsonl", jsonl({"question": "q"}))
    err = error_of(iter_candidates, path, FieldMap(prompt="question", response="answer"))
    assert "'answer'" in err.message and "the row has: question" in err.message


@pytest.mark.parametrize(
    ("row", "needle"),
    [
        ({"prompt": "p", "response": 5}, "'response' is a number"),
        ({"prompt": "p", "response": {"a": 1}}, "'response' is an object"),
        ({"prompt": 3, "response": "r"}, "'prompt' is a number"),
        ({"prompt": "p", "responses": "not a list"}, "'responses' is a string"),
        ({"prompt": "p", "responses": ["a", 2]}, "'responses'[1] is a number"),
        ({"text": True}, "'text' is a boolean"),
    ],
)
def test_wrong_types_name_the_field(tmp_path: Path, row: dict[str, Any], needle: str) -> None:
    path = write_text(tmp_path / "in.jsonl", jsonl({"text": "fine"}, row))
    err = error_of(iter_candidates, path)
    assert err.where == f"{path}:2"
    assert needle in err.message


def test_csv_bad_responses_json(tmp_path: Path) -> None:
    path = write_text(tmp_path / "in.csv", 'prompt,responses\np,"[""a"", oops]"\n')
    err = error_of(iter_candidates, path)
    assert err.where == f"{path}:2"
    assert "'responses' is not a JSON array" in err.message


@pytest.mark.parametrize("name", ["in.jsonl", "in.json", "in.csv", "in.parquet"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    path = write_text(tmp_path / name, "")
    err = error_of(iter_candidates, path)
    assert (err.where, err.message) == (path, "empty input: no rows")


@pytest.mark.parametrize(
    ("name", "text"),
    [("blank.jsonl", "\n  \n"), ("header.csv", "prompt,response\n"), ("arr.json", " [ ] ")],
)
def test_inputs_without_rows(tmp_path: Path, name: str, text: str) -> None:
    path = write_text(tmp_path / name, text)
    assert error_of(read_rows, path).message == "empty input: no rows"


def test_empty_columnar_outputs_read_as_empty(tmp_path: Path) -> None:
    for name in ("o.parquet", "ds"):
        out = str(tmp_path / name)
        assert write_rows(out, []) == 0
        assert error_of(read_rows, out).message == "empty input: no rows"


@pytest.mark.parametrize("name", ["in.jsonl", "in.json", "in.csv"])
def test_invalid_utf8_names_the_line(tmp_path: Path, name: str) -> None:
    header = b"prompt,response\n" if name.endswith(".csv") else b""
    line = b'"p","caf\xe9"\n' if name.endswith(".csv") else b'{"text": "caf\xe9"}\n'
    good = b'"p","ok"\n' if name.endswith(".csv") else b'{"text": "ok"}\n'
    if name == "in.json":
        body = b"[\n" + good.strip() + b",\n" + line.strip() + b"\n]\n"
    else:
        body = header + good + line
    path = tmp_path / name
    path.write_bytes(body)
    err = error_of(iter_candidates, str(path))
    assert err.where == f"{path}:{3 if header or name == 'in.json' else 2}"
    assert "invalid UTF-8" in err.message


@pytest.mark.parametrize("name", ["in.jsonl", "in.json", "in.csv"])
def test_binary_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(bytes(range(256)) * 4)
    err = error_of(read_rows, str(path))
    assert err.where == str(path)
    assert "binary" in err.message and "not " in err.message


def test_misnamed_parquet_and_gzip_get_a_hint(tmp_path: Path) -> None:
    write_rows(str(tmp_path / "real.parquet"), ROWS)
    misnamed = tmp_path / "data.jsonl"
    misnamed.write_bytes((tmp_path / "real.parquet").read_bytes())
    assert ".parquet" in error_of(read_rows, str(misnamed)).message
    gz = tmp_path / "data.csv"
    gz.write_bytes(b"\x1f\x8b\x08\x00" + b"\x00" * 20)
    assert "gunzip" in error_of(read_rows, str(gz)).message


def test_utf16_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes('{"text": "x"}\n'.encode("utf-16"))
    assert "UTF-16" in error_of(read_rows, str(path)).message


def test_not_a_parquet_file(tmp_path: Path) -> None:
    path = write_text(tmp_path / "in.parquet", "prompt,response\n")
    err = error_of(read_rows, path)
    assert err.where == path and "not a valid Parquet file" in err.message


def test_missing_path() -> None:
    err = error_of(read_rows, "/nonexistent/in.jsonl")
    assert (err.where, err.message) == ("/nonexistent/in.jsonl", "no such file")
    err = error_of(iter_candidates, "/nonexistent/in.jsonl")
    assert err.message == "no such file"


def test_unknown_extension_lists_supported(tmp_path: Path) -> None:
    path = write_text(tmp_path / "in.txt", "hello")
    err = error_of(read_rows, path)
    assert "'.txt'" in err.message
    for ext in (".jsonl", ".json", ".csv", ".parquet", "dataset folder", "stdin"):
        assert ext in err.message


def test_folder_that_is_not_a_dataset(tmp_path: Path) -> None:
    err = error_of(read_rows, str(tmp_path))
    assert "not a Hugging Face dataset" in err.message


def test_pretty_printed_json_in_jsonl_gets_a_hint(tmp_path: Path) -> None:
    path = write_text(tmp_path / "in.jsonl", '[\n{"text": "a"}\n]\n')
    err = error_of(read_rows, path)
    assert err.where == f"{path}:1" and "name the file .json" in err.message
    path = write_text(tmp_path / "obj.json", '{\n  "text": "a"\n}\n')
    err = error_of(read_rows, path)
    assert err.where == f"{path}:1" and "array of objects" in err.message


def test_csv_wrong_number_of_values(tmp_path: Path) -> None:
    path = write_text(tmp_path / "in.csv", "prompt,response\np,r\n\nq,r,extra\n")
    err = error_of(read_rows, path)
    assert err.where == f"{path}:4"
    assert "3 values" in err.message and "2 columns" in err.message


def test_csv_duplicate_header(tmp_path: Path) -> None:
    path = write_text(tmp_path / "in.csv", "prompt,prompt\np,q\n")
    err = error_of(read_rows, path)
    assert err.where == f"{path}:1" and "twice" in err.message


def test_csv_bom_and_long_field(tmp_path: Path) -> None:
    long_text = "x" * 300_000  # above the csv module's default field limit
    path = tmp_path / "in.csv"
    path.write_bytes(b"\xef\xbb\xbfprompt,response\np," + long_text.encode() + b"\n")
    [(index, row)] = list(read_rows(str(path)))
    assert index == 2 and row == {"prompt": "p", "response": long_text}


# --------------------------------------------------------------------------- JSON arrays


def test_json_array_streams_across_small_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(json_input, "_JSON_CHUNK", 7)
    rows = [{"n": 12345678901234, "s": "é" * 40, "nested": {"x": [1.5, None, True]}}] * 5
    path = write_text(tmp_path / "in.json", " \n" + json.dumps(rows, indent=2) + "\n")
    assert list(read_rows(path)) == [(i + 1, row) for i, row in enumerate(rows)]
    assert describe(path, 3) == f"{path}:row 3"


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ('[\n{"a": 1},\n{"a": 2,}\n]', 3, "not valid JSON"),
        ('[\n{"a": 1},\n]', 3, "trailing comma"),
        ('[\n{"a": 1}\n{"a": 2}\n]', 3, "expected ',' or ']'"),
        ('[\n{"a": 1}\n]\n{"b": 2}', 4, "after the array"),
        ('[\n{"a": 1},\n7\n]', 3, "item 2 is a number"),
        ('[\n{"a": "unterminated\n', 2, "not valid JSON"),
    ],
)
def test_json_array_errors_name_the_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, line: int, needle: str
) -> None:
    monkeypatch.setattr(json_input, "_JSON_CHUNK", 3)
    path = write_text(tmp_path / "in.json", text)
    err = error_of(read_rows, path)
    assert err.where == f"{path}:{line}"
    assert needle in err.message


def test_json_file_with_json_lines_content(tmp_path: Path) -> None:
    path = write_text(tmp_path / "in.json", jsonl(*ROWS))
    assert list(read_rows(path)) == [(1, ROWS[0]), (2, ROWS[1])]
    assert describe(path, 2) == f"{path}:2"
    assert count_rows(path) == 2


# --------------------------------------------------------------------------- helpers


def test_describe_and_count_rows(tmp_path: Path) -> None:
    for name in ("a.jsonl", "a.csv", "a.parquet", "a.json", "ds"):
        out = str(tmp_path / name)
        write_rows(out, ROWS)
        assert count_rows(out) == (None if name == "a.json" else 2), name
    assert describe(str(tmp_path / "a.jsonl"), 3) == f"{tmp_path}/a.jsonl:3"
    assert describe(str(tmp_path / "a.csv"), 3) == f"{tmp_path}/a.csv:3"
    assert describe(str(tmp_path / "a.parquet"), 3) == f"{tmp_path}/a.parquet:row 3"
    assert describe(str(tmp_path / "ds"), 3) == f"{tmp_path}/ds:row 3"
    no_newline = write_text(tmp_path / "b.jsonl", '{"a": 1}\n{"a": 2}')
    assert count_rows(no_newline) == 2


def test_dataset_dict_folder(tmp_path: Path) -> None:
    import datasets

    one = datasets.DatasetDict({"train": datasets.Dataset.from_list(ROWS)})
    one.save_to_disk(str(tmp_path / "one"))
    assert rows_of(tmp_path / "one") == ROWS
    two = datasets.DatasetDict({"train": one["train"], "test": one["train"]})
    two.save_to_disk(str(tmp_path / "two"))
    err = error_of(read_rows, str(tmp_path / "two"))
    assert "splits train, test" in err.message and "two/train" in err.message
    assert rows_of(tmp_path / "two" / "train") == ROWS


# --------------------------------------------------------------------------- writers


def test_abort_leaves_nothing(tmp_path: Path) -> None:
    for name in ("o.jsonl", "o.json", "o.csv", "o.parquet", "ds"):
        with pytest.raises(RuntimeError), open_writer(str(tmp_path / name)) as writer:
            writer.write(ROWS[0])
            raise RuntimeError("crash mid-run")
    assert os.listdir(tmp_path) == []


def test_abort_keeps_the_previous_output(tmp_path: Path) -> None:
    for name in ("o.jsonl", "o.parquet", "ds"):
        out = str(tmp_path / name)
        write_rows(out, ROWS)
        writer = open_writer(out)
        writer.write({"other": 1})
        assert rows_of(out) == ROWS  # nothing visible before close()
        writer.abort()
        writer.abort()
        assert rows_of(out) == ROWS
    assert sorted(os.listdir(tmp_path)) == ["ds", "o.jsonl", "o.parquet"]


def test_close_is_idempotent_and_replaces(tmp_path: Path) -> None:
    for name in ("o.jsonl", "o.csv", "o.parquet", "ds"):
        out = str(tmp_path / name)
        write_rows(out, ROWS)
        writer = open_writer(out)
        writer.write({"id": "new"})
        writer.close()
        writer.close()
        assert rows_of(out) == [{"id": "new"}]
        with pytest.raises(ValueError, match="closed"):
            writer.write({"id": "late"})
    assert sorted(os.listdir(tmp_path)) == ["ds", "o.csv", "o.jsonl", "o.parquet"]


def test_output_may_be_the_input(tmp_path: Path) -> None:
    path = str(tmp_path / "data.jsonl")
    write_rows(path, ROWS)
    write_rows(path, ({**row, "seen": True} for _, row in read_rows(path)))
    assert rows_of(path) == [{**row, "seen": True} for row in ROWS]


def test_output_parent_folders_are_created(tmp_path: Path) -> None:
    out = str(tmp_path / "a" / "b" / "o.jsonl")
    write_rows(out, ROWS)
    assert rows_of(out) == ROWS


def test_dataset_output_refuses_other_folders_and_files(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    err = error_of(open_writer, str(tmp_path / "mine"))
    assert "not a Hugging Face dataset" in err.message
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    (tmp_path / "plain").write_text("x")
    assert "is a file" in error_of(open_writer, str(tmp_path / "plain")).message
    # A folder that exists is a folder output whatever its name: never a file's extension.
    (tmp_path / "dir.jsonl").mkdir()
    (tmp_path / "dir.jsonl" / "notes.txt").write_text("keep me")
    assert (
        "not a Hugging Face dataset" in error_of(open_writer, str(tmp_path / "dir.jsonl")).message
    )


def test_an_existing_folder_with_a_dot_in_its_name_is_a_dataset_folder(tmp_path: Path) -> None:
    from judge.io.writers import is_folder_output

    run = tmp_path / "run.v2"
    write_rows(str(run) + "/", ROWS)  # made as a folder once
    assert is_folder_output(str(run)) and not is_folder_output(str(tmp_path / "new.v2"))
    write_rows(str(run), ROWS[:1])  # then named without the slash: still the folder
    assert run.is_dir() and rows_of(run) == ROWS[:1]
    (tmp_path / "empty.jsonl").mkdir()
    write_rows(str(tmp_path / "empty.jsonl"), ROWS)
    assert rows_of(tmp_path / "empty.jsonl") == ROWS
    assert not is_folder_output(None) and not is_folder_output("-")


def test_unknown_output_extension(tmp_path: Path) -> None:
    err = error_of(open_writer, str(tmp_path / "out.txt"))
    assert "'.txt'" in err.message and ".parquet" in err.message and "folder" in err.message


# --------------------------------------------------------------------------- properties

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
PROPERTY_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
json_rows = st.lists(st.dictionaries(st.text(max_size=8), json_values, max_size=5), max_size=8)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=json_rows)
def test_property_jsonl_round_trip(tmp_path: Path, rows: list[dict[str, Any]]) -> None:
    out = str(tmp_path / "prop.jsonl")
    write_rows(out, rows)
    if rows:
        assert rows_of(out) == rows
    else:
        assert error_of(read_rows, out).message == "empty input: no rows"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {"prompt": st.text(), "responses": st.lists(st.text(), min_size=1, max_size=5)},
            optional={"extra": json_values},
        ),
        min_size=1,
        max_size=8,
    )
)
def test_property_responses_expand_in_order(tmp_path: Path, rows: list[dict[str, Any]]) -> None:
    out = str(tmp_path / "prop.jsonl")
    write_rows(out, rows)
    cands = list(iter_candidates(out))
    expected = [(r["prompt"], item, i) for r in rows for i, item in enumerate(r["responses"])]
    assert len(cands) == sum(len(r["responses"]) for r in rows)
    assert [c.index for c in cands] == list(range(len(cands)))
    assert [
        (c.prompt, c.response if c.note is None else item, c.response_index)
        for c, (_, item, _) in zip(cands, expected, strict=True)
    ] == expected
    assert all(
        c.note is None or not c.row["responses"][c.response_index or 0].strip() for c in cands
    )
    assert [c.row for c in cands] == [r for r in rows for _ in r["responses"]]


@PROPERTY_SETTINGS
@given(rows=json_rows.filter(lambda rows: any(rows)))
def test_property_parquet_keeps_every_row(tmp_path: Path, rows: list[dict[str, Any]]) -> None:
    # Columnar output never fails on mixed rows (missing keys, null vs value, type conflicts).
    out = str(tmp_path / "prop.parquet")
    write_rows(out, rows)
    back = rows_of(out)
    assert len(back) == len(rows)
    assert set(back[0]) == {key for row in rows for key in row}


@PROPERTY_SETTINGS
@given(
    rows=st.lists(
        st.dictionaries(st.sampled_from(["a", "b", "c"]), st.none() | st.text(), min_size=1),
        min_size=1,
    )
)
def test_property_parquet_round_trip_of_text(tmp_path: Path, rows: list[dict[str, Any]]) -> None:
    out = str(tmp_path / "prop.parquet")
    write_rows(out, rows)
    keys = list(dict.fromkeys(key for row in rows for key in row))
    assert rows_of(out) == [{key: row.get(key) for key in keys} for row in rows]


# --------------------------------------------------------------------------- streaming


def test_reading_the_first_row_does_not_read_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    line = json.dumps({"prompt": "a question " * 4, "response": "an answer " * 8}) + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(line for _ in range(200_000))
    assert path.stat().st_size > 20_000_000
    assert count_rows(str(path)) == 200_000

    tracemalloc.start()
    try:
        candidates = iter_candidates(str(path))
        first = next(candidates)
        _, first_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        # Memory stays flat while rows stream past (a sample keeps the test fast).
        seen = sum(1 for _ in itertools.islice(candidates, 20_000))
        _, stream_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert first.row_index == 1 and seen == 20_000
    assert first_peak < 1_000_000, first_peak  # the file is > 20 MB
    assert stream_peak < 1_000_000, stream_peak
