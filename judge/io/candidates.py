"""Turning input rows into Candidate records (prompt + response, prompt + responses, a
conversation in `messages`, or a document in `text`), with the field names remappable."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from judge.errors import InputError
from judge.io import conversations as convo
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
    messages: str = "messages"  # a conversation (judge.io.conversations)
    reference: str = "reference"  # a reference answer the judge sees in its own section
    turns: str = "last"  # of a conversation: judge the last assistant turn, or "all" of them

    def __post_init__(self) -> None:
        if self.turns not in convo.TURNS:
            raise ValueError(f"turns must be one of {convo.TURNS}, got {self.turns!r}")


@dataclass(frozen=True)
class _Part:
    """One candidate of a row, before it is a Candidate."""

    prompt: str | None
    response: str | None
    response_index: int | None = None
    is_document: bool = False
    context: list[dict[str, str]] | None = None
    turn: int | None = None
    reference: str | None = None
    problem: str | None = None


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
        for part in parts:
            text, note = _clean_response(part.response)
            yield Candidate(
                index=index,
                row_index=row_index,
                prompt=part.prompt,
                response=text,
                response_index=part.response_index,
                is_document=part.is_document,
                row=row,
                note=part.problem or note,
                context=part.context,
                turn=part.turn,
                reference=part.reference,
            )
            index += 1


def input_row(candidate: Candidate, fields: FieldMap) -> dict[str, Any]:
    """The candidate's input row as an output row starts: every field kept (`messages` as they
    came), a `responses` list made this row's response and its `response_index`, and a
    conversation's judged `turn` (its position in `messages`)."""
    if candidate.response_index is None and candidate.turn is None:
        return dict(candidate.row)
    row = dict(candidate.row)
    if candidate.response_index is not None:
        row.pop(fields.responses, None)
        row[fields.response] = candidate.response
        row["response_index"] = candidate.response_index
    if candidate.turn is not None:
        row["turn"] = candidate.turn
    return row


def _clean_response(value: str | None) -> tuple[str, str | None]:
    if value is None or not value.strip():
        return "", "empty response"
    return value, None


def _row_candidates(row: Any, fields: FieldMap, is_csv: bool) -> Iterator[_Part]:
    """Each candidate in one row."""
    if not isinstance(row, dict):
        raise _RowProblem(f"expected an object with named fields, got {_type_name(row)}")
    # Columnar formats (CSV, Parquet, datasets) give every row every column, so a null or empty
    # cell counts as absent when deciding what kind of row this is.
    answered = _given(row, fields.response) or _given(row, fields.responses)
    # A row with messages is a conversation, unless it is a prompt with its response(s) that
    # also carries messages (UltraChat's rows have a prompt and the messages without answers).
    if _given(row, fields.messages) and not (_given(row, fields.prompt) and answered):
        try:
            yield from _conversation(row, fields, is_csv, answered)
        except convo.ConversationError as e:
            raise _RowProblem(str(e)) from None
        return
    reference = _reference(row, fields)
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
        yield _Part(prompt, _optional_text(row, fields.response), reference=reference)
        return
    if fields.responses not in row:
        raise _RowProblem(
            f"no {fields.response!r} or {fields.responses!r} field ({_row_keys(row)}); "
            "map yours with {opt:response_field}/{opt:responses_field}/{opt:prompt_field}",
        )
    items = _responses_list(row[fields.responses], fields.responses, is_csv)
    if not items:
        yield _Part(prompt, None, reference=reference)
        return
    for i, item in enumerate(items):
        if item is not None and not isinstance(item, str):
            raise _RowProblem(f"{fields.responses!r}[{i}] is {_type_name(item)}, expected text")
        yield _Part(prompt, item, i, reference=reference)


def _reference(row: dict[str, Any], fields: FieldMap) -> str | None:
    value = row.get(fields.reference)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)  # a numeric answer (math data sets)
    if value is not None and not isinstance(value, str):
        raise _RowProblem(f"{fields.reference!r} is {_type_name(value)}, expected text")
    return value or None


def _conversation(
    row: dict[str, Any], fields: FieldMap, is_csv: bool, answered: bool
) -> Iterator[_Part]:
    """A conversation's candidates: its assistant turns (the last, or all), each in the context
    of the turns before it; or, when the row also has responses, those responses to it."""
    turns = convo.parse_messages(row[fields.messages], fields.messages, is_csv=is_csv)
    if answered:  # the messages are the context, the responses answer its last (user) turn
        if turns[-1].role != "user":
            raise convo.ConversationError(
                f"{fields.messages!r} ends with a {turns[-1].role} turn, but the row has "
                f"responses to it: end it with the user's turn they answer"
            )
        context = convo.context_of(turns, len(turns))
        problem = convo.problem_before(turns, len(turns) - 1)
        prompt = convo.transcript(context)
        reference = _reference(row, fields)
        for answer, index in _answers(row, fields, is_csv):
            yield _Part(prompt, answer, index, False, context, None, reference, problem)
        return
    assistant = convo.judged_turns(turns, "all", fields.messages)
    given = row.get(fields.reference)
    if is_csv and isinstance(given, str) and given.startswith("["):
        given = _responses_list(given, fields.reference, is_csv)  # a list as JSON text
    refs = convo.references(given, fields.reference, assistant)
    for at in _judged(row, turns, fields, is_csv):
        context = convo.context_of(turns, at)
        problem = convo.problem_before(turns, at)
        before = convo.transcript(context) if context else None
        if before is None:  # an assistant turn first: nothing to read it in
            problem = problem or f"{fields.messages}[{at}] has no turn before it to answer"
        yield _Part(before, turns[at].content, None, False, context, at, refs.get(at), problem)


def _judged(
    row: dict[str, Any], turns: list[convo.Turn], fields: FieldMap, is_csv: bool
) -> list[int]:
    """The turns to judge; a row written by judge (one a turn) names its own in `turn`."""
    at = row.get("turn")
    if is_csv and isinstance(at, str):
        at = int(at) if at.strip().isdigit() else None if not at.strip() else at
    if at is None:
        return convo.judged_turns(turns, fields.turns, fields.messages)
    if isinstance(at, bool) or not isinstance(at, int) or not 0 <= at < len(turns):
        raise _RowProblem(f"'turn' is {at!r}: expected the position of an assistant turn")
    if turns[at].role != "assistant":
        raise _RowProblem(f"'turn' is {at}, but {fields.messages}[{at}] is a {turns[at].role} turn")
    return [at]


def _answers(
    row: dict[str, Any], fields: FieldMap, is_csv: bool
) -> Iterator[tuple[str | None, int | None]]:
    """The responses to a conversation: strings or assistant messages."""
    if _given(row, fields.response) or not _given(row, fields.responses):
        yield _answer_text(row.get(fields.response), fields.response), None
        return
    items = _responses_list(row[fields.responses], fields.responses, is_csv)
    for i, item in enumerate(items):
        yield _answer_text(item, f"{fields.responses}[{i}]"), i


def _answer_text(value: Any, where: str) -> str | None:
    """A response given as a string or as an assistant message."""
    return None if value is None else convo.answer_value(value, where)


def _given(row: dict[str, Any], field: str) -> bool:
    return row.get(field) not in (None, "")


def _document(row: dict[str, Any], fields: FieldMap) -> _Part:
    """A row without a prompt: a document in the text field, or a missing-field error."""
    has_response = _given(row, fields.response) or _given(row, fields.responses)
    if fields.text in row and not has_response:
        return _Part(None, _optional_text(row, fields.text), None, True)
    if has_response or fields.response in row or fields.responses in row:
        raise _RowProblem(
            f"no {fields.prompt!r} field ({_row_keys(row)}); map yours with {{opt:prompt_field}}, "
            f"or give documents alone in a {fields.text!r} field",
        )
    raise _RowProblem(
        f"no {fields.prompt!r} and {fields.response!r} fields, nor {fields.messages!r} or "
        f"{fields.text!r} ({_row_keys(row)}); map yours with {{opt:prompt_field}}/"
        "{opt:response_field}, {opt:messages_field} for conversations, or {opt:text_field} for "
        "documents",
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
