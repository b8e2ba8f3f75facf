"""Prompts with their candidate responses, read from the input: the units `judge pairs` judges.

A group is one prompt with its candidates: a row with a `responses` list, or consecutive rows with
the same prompt and one `response` each (as `judge score` writes them). A prompt may be a list of
chat messages ending with the user's turn (in the prompt field, or in `messages` with the
responses beside it), or a group may be consecutive conversations (`messages`) that share every
turn before their last assistant turn: the judge then reads the conversation turn by turn, and the
dataset's prompt is those messages (judge.io.conversations).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from judge.errors import InputError
from judge.io import FieldMap, describe, iter_candidates, read_rows
from judge.records import Candidate
from judge.tasks.pairs.rows import Messages


@dataclass
class Group:
    number: int  # 1-based, in input order
    where: str  # FILE:LINE of its first row
    prompt: str  # the text the judge reads
    prompt_value: str | Messages  # what the dataset gets
    prompt_id: str | None
    candidates: list[Candidate]

    @property
    def asked(self) -> str | Candidate:
        """What the comparisons show before the responses: the prompt's text, or the first
        candidate, whose conversation and reference the judge then reads in their sections."""
        first = self.candidates[0]
        return first if first.context is not None or first.reference else self.prompt


def as_messages(value: Any, where: str, field_name: str) -> Messages:
    """A prompt given as a chat: a list of {role, content} ending with the user's turn."""
    problem = None
    if not value:
        problem = "is an empty list"
    elif not all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
        for m in value
    ):
        problem = 'must hold messages like {"role": "user", "content": "..."}'
    elif value[-1]["role"] != "user":
        problem = "must end with the user's turn (the one the responses answer)"
    if problem:
        raise InputError(f"{field_name!r} is a list of messages but {problem}", where)
    return [{"role": m["role"], "content": m["content"]} for m in value]


def iter_groups(
    path: str,
    fields: FieldMap,
    id_field: str | None = "id",
    *,
    rows: Iterable[tuple[int, dict[str, Any]]] | None = None,
) -> Iterator[Group]:
    """The input's prompts with their candidates, streaming, in input order.

    `rows` replaces reading `path` (which then only names places in messages).
    """
    source = read_rows(path) if rows is None else rows

    def prepared() -> Iterator[tuple[int, dict[str, Any]]]:
        for index, row in source:
            value = row.get(fields.prompt)
            if isinstance(value, list):
                # read as a conversation with its responses (judge.io.conversations)
                messages = as_messages(value, describe(path, index), fields.prompt)
                row = {k: v for k, v in row.items() if k != fields.prompt}
                row[fields.messages] = messages
            yield index, row

    group: Group | None = None
    group_listed = False  # the current group is one row's `responses` list
    seen: dict[str, str] = {}  # prompts of closed one-response groups -> where they began
    number = 0
    for cand in iter_candidates(path, fields, rows=prepared()):
        where = describe(path, cand.row_index)
        if cand.is_document or cand.prompt is None:
            raise InputError(
                f"pairs needs a prompt and its responses; this row has only {fields.text!r} "
                f"(map yours with {{opt:prompt_field}} and {{opt:responses_field}})",
                where,
            )
        # a conversation's own last turn: rows of one context are a group, as rows of one prompt
        listed = cand.turn is None and (
            cand.response_index is not None or fields.response not in cand.row
        )
        if group is not None:
            if listed and group_listed and group.candidates[0].row_index == cand.row_index:
                group.candidates.append(cand)  # the next response of the same row
                continue
            same = group.prompt == cand.prompt and group.candidates[0].context == cand.context
            if not listed and not group_listed and same:
                group.candidates.append(cand)  # the next row of the same prompt
                continue
            if not group_listed:
                seen[prompt_key(group.prompt)] = group.where
            yield group
        if not listed and (earlier := seen.get(prompt_key(cand.prompt))):
            raise InputError(
                f"this prompt already had rows at {earlier}; rows of one prompt "
                f"must be next to each other: sort the input by {fields.prompt!r}, or give the "
                f"responses as one {fields.responses!r} list",
                where,
            )
        number += 1
        raw_id = cand.row.get(id_field) if id_field else None
        group = Group(
            number=number,
            where=where,
            prompt=cand.prompt,
            prompt_value=cand.context or cand.prompt,
            prompt_id=None if raw_id is None else str(raw_id),
            candidates=[cand],
        )
        group_listed = listed
    if group is not None:
        yield group


def prompt_key(prompt: str) -> str:
    """A short stable key for a prompt's text."""
    return hashlib.sha256(prompt.encode("utf-8", "surrogatepass")).hexdigest()


def response_index(cand: Candidate, position: int) -> int:
    """The candidate's index among its prompt's responses."""
    if cand.response_index is not None:
        return cand.response_index
    value = cand.row.get("response_index")
    return value if isinstance(value, int) and not isinstance(value, bool) else position
