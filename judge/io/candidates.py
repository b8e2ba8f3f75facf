"""Turning input rows into Candidate records (prompt + response, prompt + responses, or a
document in `text`), with the field names remappable."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from judge.errors import InputError
from judge.io.readers import describe, read_rows
from judge.io.text_input import _type_name
from judge.records import Candidate

_MAX_SHOWN_KEYS = 12


@dataclass(frozen=True)
class FieldMap:
    """The names of the input fields that hold the candidate's parts (remappable from the CLI)."""

    prompt: str = "prompt"
    response: str = "response"
    responses: str = "responses"
    text: str = "text"


class _RowProblem(Exception):
    """A problem with one row; iter_candidates adds where the row is (computed only then)."""


def iter_candidates(
    path: str,
    fields: FieldMap = FieldMap(),
    *,
    rows: Iterable[tuple[int, dict[str, Any]]] | None = None,
) -> Iterator[Candidate]:
    """Turn rows into Candidates, streaming (see FieldMap for the field names).

    prompt + response gives one candidate; prompt + responses (a list of strings; in CSV a JSON
    array string) one per item, with response_index; text alone a document. As columnar formats
    give every row every column, a null or empty cell counts as absent when choosing among these
    (so `responses` expands when `response` is empty, and `text` is a document when `prompt` is
    empty and there is no response). An empty response is not an error: it gives response=""
    and note="empty response", so the row is kept. An empty responses list gives one such
    candidate (response_index None), so its row is not lost either.
    `rows` replaces reading `path` (which is then only used to name places in messages).
    """
    path = os.fspath(path)
    source = read_rows(path) if rows is None else rows
    is_csv = path != "-" and os.path.splitext(path)[1].lower() == ".csv"
    index = 0
    for row_index, row in source:
        try:
            parts = list(_row_candidates(row, fields, is_csv))
        except _RowProblem as e:
            raise InputError(str(e), where=describe(path, row_index)) from None
        for prompt, response, response_index, is_document in parts:
            text, note = _clean_response(response)
            yield Candidate(
                index=index,
                row_index=row_index,
                prompt=prompt,
                response=text,
                response_index=response_index,
                is_document=is_document,
                row=row,
                note=note,
            )
            index += 1


def _clean_response(value: str | None) -> tuple[str, str | None]:
    if value is None or not value.strip():
        return "", "empty response"
    return value, None


def _row_candidates(
    row: Any, fields: FieldMap, is_csv: bool
) -> Iterator[tuple[str | None, str | None, int | None, bool]]:
    """(prompt, response, response_index, is_document) for each candidate in one row."""
    if not isinstance(row, dict):
        raise _RowProblem(f"expected an object with named fields, got {_type_name(row)}")
    # Columnar formats (CSV, Parquet, datasets) give every row every column, so a null or empty
    # cell counts as absent when deciding what kind of row this is.
    answered = _given(row, fields.response) or _given(row, fields.responses)
    if fields.prompt not in row or (
        not _given(row, fields.prompt) and _given(row, fields.text) and not answered
    ):
        yield _document(row, fields)
        return
    prompt = row[fields.prompt]
    if not isinstance(prompt, str):
        raise _RowProblem(f"{fields.prompt!r} is {_type_name(prompt)}, expected text")
    expand = _given(row, fields.responses) and not _given(row, fields.response)
    if fields.response in row and not expand:
        yield prompt, _optional_text(row, fields.response), None, False
        return
    if fields.responses not in row:
        raise _RowProblem(
            f"no {fields.response!r} or {fields.responses!r} field ({_row_keys(row)}); "
            "map yours with {opt:response_field}/{opt:responses_field}/{opt:prompt_field}",
        )
    items = _responses_list(row[fields.responses], fields.responses, is_csv)
    if not items:
        yield prompt, None, None, False
        return
    for i, item in enumerate(items):
        if item is not None and not isinstance(item, str):
            raise _RowProblem(f"{fields.responses!r}[{i}] is {_type_name(item)}, expected text")
        yield prompt, item, i, False


def _given(row: dict[str, Any], field: str) -> bool:
    return row.get(field) not in (None, "")


def _document(
    row: dict[str, Any], fields: FieldMap
) -> tuple[str | None, str | None, int | None, bool]:
    """A row without a prompt: a document in the text field, or a missing-field error."""
    has_response = _given(row, fields.response) or _given(row, fields.responses)
    if fields.text in row and not has_response:
        return None, _optional_text(row, fields.text), None, True
    if has_response or fields.response in row or fields.responses in row:
        raise _RowProblem(
            f"no {fields.prompt!r} field ({_row_keys(row)}); map yours with {{opt:prompt_field}}, "
            f"or give documents alone in a {fields.text!r} field",
        )
    raise _RowProblem(
        f"no {fields.prompt!r} and {fields.response!r} fields, nor {fields.text!r} "
        f"({_row_keys(row)}); map yours with {{opt:prompt_field}}/{{opt:response_field}}, "
        "or {opt:text_field} for documents",
    )


def _optional_text(row: dict[str, Any], field: str) -> str | None:
    value = row[field]
    if value is not None and not isinstance(value, str):
        raise _RowProblem(f"{field!r} is {_type_name(value)}, expected text")
    return value


def _responses_list(value: Any, field: str, is_csv: bool) -> list[Any]:
    if isinstance(value, str) and is_csv:
        # CSV has no lists: the cell holds a JSON array (as our CSV writer produces).
        try:
            value = json.loads(value) if value.strip() else []
        except json.JSONDecodeError as e:
            raise _RowProblem(
                f"{field!r} is not a JSON array of strings ({e.msg}); in CSV write it like "
                '["first answer", "second answer"]',
            ) from None
    if not isinstance(value, (list, tuple)):
        raise _RowProblem(f"{field!r} is {_type_name(value)}, expected a list of strings")
    return list(value)


def _row_keys(row: dict[str, Any]) -> str:
    if not row:
        return "the row is empty"
    keys = [str(k) for k in row]
    shown = ", ".join(keys[:_MAX_SHOWN_KEYS])
    more = f", ... ({len(keys)} in all)" if len(keys) > _MAX_SHOWN_KEYS else ""
    return f"the row has: {shown}{more}"
