"""A trainer's samples as candidates: TRL's standard and conversational forms, and the columns
that come with them (a `reference` feeds `verify: answer` and reference-graded principles)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from judge.errors import InputError
from judge.io.conversations import ROLES
from judge.records import Candidate

# What TRL passes beside the dataset's columns: never a column of a row.
TRAINER_KEYS = frozenset(
    {"prompts", "completions", "completion_ids", "trainer_state", "log_extra", "log_metric",
     "environments"}
)  # fmt: skip
REFERENCE = "reference"


def content_text(content: Any) -> str:
    """A message's content as text: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        ]
        return "\n".join(t for t in texts if isinstance(t, str))
    return "" if content is None else json.dumps(content)


def is_conversation(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(m, dict) and "role" in m for m in value)


def prompt_text(prompt: Any, where: str) -> str:
    """A prompt as the judge reads it: the text, or a conversation's turns (one user turn alone
    is its text; several are labelled with their roles)."""
    if isinstance(prompt, str):
        return prompt
    if is_conversation(prompt):
        turns = [(m["role"], content_text(m.get("content"))) for m in prompt]
        if len(turns) == 1:
            return turns[0][1]
        return "\n\n".join(f"[{role}]\n{text}" for role, text in turns)
    raise InputError(
        f"a prompt must be a string or a list of messages ({{'role', 'content'}}), got "
        f"{type(prompt).__name__}",
        where=where,
    )


def context_of(prompt: Any) -> list[dict[str, str]] | None:
    """A conversational prompt as the turns the judge reads one tagged section each (the roles
    ours, judge.judging.sections); None for a string, or for roles the judge does not read
    (their turns are then labelled in the prompt's text)."""
    if not is_conversation(prompt) or any(m["role"] not in ROLES for m in prompt):
        return None
    return [{"role": m["role"], "content": content_text(m.get("content"))} for m in prompt]


def reference_text(value: Any) -> str | None:
    """The reference answer that reference-graded principles are shown (a number as text)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) and value.strip() else None


def completion_text(completion: Any, where: str) -> str:
    """A completion's text: the string, or the assistant messages' content (TRL's
    conversational form: a list with one assistant message)."""
    if isinstance(completion, str):
        return completion
    if is_conversation(completion):
        said = [content_text(m.get("content")) for m in completion if m["role"] == "assistant"]
        return "\n\n".join(said)
    raise InputError(
        f"a completion must be a string or a list of messages, got {type(completion).__name__}",
        where=where,
    )


def columns_at(columns: Mapping[str, Any], i: int, n: int) -> dict[str, Any]:
    """Row i's columns: each column a list of n values (TRL repeats a prompt's columns for
    each of its completions); trainer objects and values of other shapes are left out."""
    row: dict[str, Any] = {}
    for key, values in columns.items():
        if key in TRAINER_KEYS or not isinstance(values, (list, tuple)) or len(values) != n:
            continue
        row[key] = values[i]
    return row


def candidates(
    prompts: Sequence[Any],
    completions: Sequence[Any],
    columns: Mapping[str, Any],
    *,
    reference: str = REFERENCE,
) -> list[Candidate]:
    """One candidate a completion, in order; `reference` names the column of reference answers."""
    if len(prompts) != len(completions):
        raise InputError(
            f"{len(prompts)} prompts for {len(completions)} completions: give one prompt a "
            "completion (repeat a prompt for each of its completions)",
            where="prompts",
        )
    out = []
    n = len(completions)
    for i, (prompt, completion) in enumerate(zip(prompts, completions, strict=True)):
        row = columns_at(columns, i, n)
        if reference != REFERENCE and reference in row:
            row[REFERENCE] = row[reference]
        text = completion_text(completion, f"completions[{i}]")
        out.append(
            Candidate(
                index=i,
                row_index=i,
                prompt=prompt_text(prompt, f"prompts[{i}]"),
                response=text,
                row=row,
                note=None if text.strip() else "empty response",
                context=context_of(prompt),
                reference=reference_text(row.get(REFERENCE)),
            )
        )
    return out
