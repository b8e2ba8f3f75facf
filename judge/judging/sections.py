"""The data sections of the judge's prompts that come before the judged text: the request (a
prompt, or a conversation turn by turn) and the reference answer.

A conversation is shown as its turns, each between the tags of its role (`<context_user>`,
`<context_assistant>`, `<context_system>`), in order, before the response it leads to: the
roles are ours, and as every tag is defanged inside data (prompts.tagged), a turn's text cannot
open another turn. A conversation of one user turn is shown as a prompt, like prompt + response.
The conversation comes first in the user message and the judged text last, so the calls for the
turns or the responses of one conversation share their longest prefix (prompt caching).

The functions here give Parts, (tag, text, number) each; `render` makes one request's data of
them, the one place where a request's sections are put between their tags.
"""

from __future__ import annotations

from judge.judging import prompts
from judge.records import Candidate

PROMPT, CONVERSATION = "prompt", "conversation"
Part = tuple[str, str, int | None]  # a data section: its tag, its text, its number (or None)
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


def render(parts: list[Part]) -> str:
    """One request's data sections, each between its tags (whose names carry the request's
    code, prompts.sections), separated by blank lines."""
    return prompts.sections(parts)


def turns(context: list[dict[str, str]], max_chars: int, start: int = 0) -> tuple[list[Part], bool]:
    """Each turn of `context[start:]`, in the section of its role (each cut at max_chars)."""
    out: list[Part] = []
    was_cut = False
    for m in context[start:]:
        text, c = cut(m["content"], max_chars)
        was_cut = was_cut or c
        out.append((f"context_{m['role']}", text, None))
    return out, was_cut


def request(
    candidate: Candidate, max_chars: int, layout: str | None = None
) -> tuple[list[Part], bool]:
    """The request's sections: the prompt, or the conversation before the judged turn (as
    `layout` says, else as the candidate's own layout)."""
    if (layout or request_layout(candidate)) == PROMPT or candidate.context is None:
        text, was_cut = cut(candidate.prompt or "", max_chars)
        return [("candidate_prompt", text, None)], was_cut
    return turns(candidate.context, max_chars)


def reference(candidate: Candidate, max_chars: int) -> list[Part]:
    """The reference's section, for a candidate that has one."""
    if not candidate.reference:
        return []
    return [("reference", cut(candidate.reference, max_chars)[0], None)]


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


def material(candidate: Candidate, max_chars: int) -> tuple[str, str, bool]:
    """The delimited text the judge sees, the kind of item, and whether it was cut: the request
    (a prompt or a conversation) and the reference first, the judged text last (sections)."""
    text, truncated = cut_response(candidate.response, max_chars)
    if kind_of(candidate) == "document":
        return render([("candidate_document", text, None)]), "document", truncated
    parts, prompt_cut = request(candidate, max_chars)
    parts += reference(candidate, max_chars)
    parts.append(("candidate_response", text, None))
    return render(parts), "response", truncated or prompt_cut


def kind_of(candidate: Candidate) -> str:
    """ "document" (judged alone) or "response" (judged as the answer to its prompt)."""
    return "document" if candidate.is_document or candidate.prompt is None else "response"


def cut_response(text: str, max_chars: int) -> tuple[str, bool]:
    if len(text) <= max_chars:
        return text, False
    return text[:max_chars] + "\n[... cut: the text is longer than the judge is shown]", True
