"""Conversations in the Hugging Face chat format (`messages`: a list of {role, content}).

A message's content is a string or a list of parts ({"type": "text", "text": ...}); only text can
be judged, so a part of another type (an image) makes the turns from it on unjudged, with the
reason, instead of stopping the run. What cannot be read as a conversation at all (not a list, a
message without a role or content, a role we do not know) is bad input: ConversationError, which
the reader turns into FILE:LINE and the field.

The judge reads a conversation as data, turn by turn, each turn in a tag named after its role
(judge.judging.prompts): the roles are ours, so text inside a turn cannot make another turn.
Plain-text consumers (the `prompt` of a Candidate, distill's classifier, DPO rows in the standard
form) read `transcript(...)`: "Role: content" paragraphs joined by SEPARATOR.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

ROLES = ("system", "user", "assistant")
SEPARATOR = "\n\n"  # between the turns of a transcript (documented in docs/formats.md)
TURNS = ("last", "all")  # --turns: the last assistant turn, or every one


class ConversationError(ValueError):
    """A messages value that is not a conversation; the message names the field's part."""


@dataclass(frozen=True)
class Turn:
    role: str
    content: str  # the text parts, joined by a blank line
    problem: str | None = None  # a part that is not text: why this turn cannot be judged


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def parse_messages(value: Any, field: str, *, is_csv: bool = False) -> list[Turn]:
    """The turns of a messages value; ConversationError names what is wrong and where."""
    if isinstance(value, str) and is_csv:  # CSV has no lists: the cell holds a JSON array
        try:
            value = json.loads(value)
        except json.JSONDecodeError as e:
            raise ConversationError(
                f"{field!r} is not a JSON array of messages ({e.msg})"
            ) from None
    if not isinstance(value, (list, tuple)):
        raise ConversationError(
            f"{field!r} is {_type_name(value)}, expected a list of messages like "
            '{"role": "user", "content": "..."}'
        )
    if not value:
        raise ConversationError(f"{field!r} is an empty list: no turn to judge")
    return [_turn(m, f"{field}[{i}]") for i, m in enumerate(value)]


def _turn(message: Any, where: str) -> Turn:
    if not isinstance(message, dict):
        raise ConversationError(f"{where} is {_type_name(message)}, expected an object")
    role = message.get("role")
    if not isinstance(role, str) or not role:
        raise ConversationError(f'{where} has no "role" (one of {", ".join(ROLES)})')
    if role not in ROLES:
        raise ConversationError(
            f"{where} has role {role!r}; the roles judge reads are {', '.join(ROLES)}"
        )
    content = message.get("content")
    if content is None and message.get("tool_calls"):
        return Turn(role, "", f"{where} is a tool call: only text can be judged")
    if isinstance(content, str):
        return Turn(role, content)
    if not isinstance(content, (list, tuple)):
        raise ConversationError(
            f'{where} has no text "content" ({_type_name(content)}): give a string or a list '
            'of parts like {"type": "text", "text": "..."}'
        )
    texts: list[str] = []
    problem = None
    for k, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if not isinstance(kind, str):
            raise ConversationError(
                f'{where}.content[{k}] is not a part like {{"type": "text", "text": "..."}}'
            )
        if kind != "text":
            problem = problem or f"{where} has a {kind!r} part: only text can be judged"
            continue
        text = part.get("text")
        if not isinstance(text, str):
            raise ConversationError(f'{where}.content[{k}] is a text part without a "text" string')
        texts.append(text)
    return Turn(role, "\n\n".join(texts), problem)


def judged_turns(turns: list[Turn], which: str, field: str) -> list[int]:
    """The positions of the assistant turns to judge: the last one, or all (`which`)."""
    found = [i for i, t in enumerate(turns) if t.role == "assistant"]
    if not found:
        raise ConversationError(
            f"{field!r} has no assistant turn to judge; to judge responses to it, end it with "
            "the user's turn and give them in a response or responses field"
        )
    return found if which == "all" else found[-1:]


def context_of(turns: list[Turn], at: int) -> list[dict[str, str]]:
    """The messages before position `at` (what the judge reads the turn at `at` in)."""
    return [{"role": t.role, "content": t.content} for t in turns[:at]]


def problem_before(turns: list[Turn], at: int) -> str | None:
    """The first reason why the turn at `at` cannot be judged: a non-text part in it or before."""
    return next((t.problem for t in turns[: at + 1] if t.problem), None)


def transcript(messages: list[dict[str, str]]) -> str:
    """The plain-text form of a conversation: "Role: content" paragraphs joined by SEPARATOR; a
    lone user turn is its content (so a one-turn chat reads as a prompt)."""
    if len(messages) == 1 and messages[0]["role"] == "user":
        return messages[0]["content"]
    return SEPARATOR.join(f"{m['role'].capitalize()}: {m['content']}" for m in messages)


def references(value: Any, field: str, assistant_turns: list[int]) -> dict[int, str]:
    """Position of an assistant turn -> its reference. A string goes with the last assistant
    turn; a list is aligned with the assistant turns (null where a turn has none)."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        return {assistant_turns[-1]: value}
    if not isinstance(value, (list, tuple)):
        raise ConversationError(
            f"{field!r} is {_type_name(value)}, expected a string or a list with one reference "
            "(or null) for each assistant turn"
        )
    if len(value) != len(assistant_turns):
        raise ConversationError(
            f"{field!r} has {len(value)} references for {len(assistant_turns)} assistant turns: "
            "give one for each (null where a turn has none)"
        )
    out: dict[int, str] = {}
    for at, ref in zip(assistant_turns, value, strict=True):
        if ref is not None and not isinstance(ref, str):
            raise ConversationError(f"{field!r} holds {_type_name(ref)}, expected strings or null")
        if ref:
            out[at] = ref
    return out


def prompt_value(value: Any, field: str) -> tuple[str, list[dict[str, str]] | None]:
    """A prompt given as text, or as messages ending with the user's turn that the responses
    answer: (its text, its messages or None). ConversationError when it is neither."""
    if isinstance(value, str):
        return value, None
    turns = parse_messages(value, field)
    if turns[-1].role != "user":
        raise ConversationError(
            f"{field!r} ends with a {turns[-1].role} turn: end it with the user's turn that the "
            "responses answer"
        )
    problem = next((t.problem for t in turns if t.problem), None)
    if problem:
        raise ConversationError(problem)
    context = context_of(turns, len(turns))
    return transcript(context), context


def answer_value(value: Any, field: str) -> str:
    """A response given as text, as an assistant message, or as a list holding one (TRL's
    conversational chosen/rejected)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    if isinstance(value, dict):
        turn = parse_messages([value], field)[0]
        if turn.role != "assistant" or turn.problem:
            raise ConversationError(turn.problem or f"{field!r} is a {turn.role} message")
        return turn.content
    raise ConversationError(f"{field!r} is {_type_name(value)}, expected text or a message")
