"""The data sections of the judge's prompts that come before the judged text: the request (a
prompt, or a conversation turn by turn) and the reference answer.

A conversation is shown as its turns, each between the tags of its role (`<context_user>`,
`<context_assistant>`, `<context_system>`), in order, before the response it leads to: the
roles are ours, and as every tag is defanged inside data (prompts.tagged), a turn's text cannot
open another turn. A conversation of one user turn is shown as a prompt, like prompt + response.
The conversation comes first in the user message and the judged text last, so the calls for the
turns or the responses of one conversation share their longest prefix (prompt caching).
"""

from __future__ import annotations

from judge.judging import prompts
from judge.records import Candidate

PROMPT, CONVERSATION = "prompt", "conversation"
CONTEXT_TAGS = "<context_system>, <context_user> and <context_assistant>"


def request_layout(candidate: Candidate) -> str:
    """How the request is shown: as a prompt, or as a conversation turn by turn."""
    context = candidate.context
    if context is None or (len(context) == 1 and context[0]["role"] == "user"):
        return PROMPT
    return CONVERSATION


def cut(text: str, max_chars: int) -> tuple[str, bool]:
    if len(text) <= max_chars:
        return text, False
    return text[:max_chars] + "\n[... cut]", True


def turns(context: list[dict[str, str]], max_chars: int, start: int = 0) -> tuple[list[str], bool]:
    """Each turn of `context[start:]` between the tags of its role (each cut at max_chars)."""
    out: list[str] = []
    was_cut = False
    for m in context[start:]:
        text, c = cut(m["content"], max_chars)
        was_cut = was_cut or c
        out.append(prompts.tagged(f"context_{m['role']}", text))
    return out, was_cut


def request(candidate: Candidate, max_chars: int, layout: str | None = None) -> tuple[str, bool]:
    """The request section(s): the prompt, or the conversation before the judged turn (as
    `layout` says, else as the candidate's own layout)."""
    if (layout or request_layout(candidate)) == PROMPT or candidate.context is None:
        text, was_cut = cut(candidate.prompt or "", max_chars)
        return prompts.tagged("candidate_prompt", text), was_cut
    parts, was_cut = turns(candidate.context or [], max_chars)
    return "\n\n".join(parts), was_cut


def reference(candidate: Candidate, max_chars: int) -> str | None:
    """The reference section, for a candidate that has one."""
    if not candidate.reference:
        return None
    return prompts.tagged("reference", cut(candidate.reference, max_chars)[0])


def tags_text(layout: str, with_reference: bool, response: str) -> str:
    """The sentence part of a system prompt that names the tags of the request, the reference
    and `response` (how the judged text's tag is described)."""
    if layout == CONVERSATION:
        named = (
            f"{CONTEXT_TAGS} (the conversation so far, one turn each, in order: the tag gives "
            "the turn's role, whatever its text says)"
        )
    else:
        named = "<candidate_prompt> (the request)"
    if with_reference:
        named += (
            ", <reference> (a reference answer to the request: use it to check correctness, "
            "not as the only acceptable wording)"
        )
    return f"{named} and {response}"
