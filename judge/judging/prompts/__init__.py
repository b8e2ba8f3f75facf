"""The judge's prompt templates, as text files next to this module.

Templates use `{{name}}` placeholders, filled by plain replacement so that braces in a
constitution or in candidate text never break rendering.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from importlib import resources

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")

# Candidate text must not be able to close or open the tags that delimit it.
TAGS = ("candidate_prompt", "candidate_response", "candidate_document", "response_a", "response_b")
# A model may read "<" lookalikes (full-width, small form) as "<", and skip invisible characters
# inside a tag name (benchmarks/drills/injection.py found both getting through).
_OPENERS = re.compile("[<\uff1c\ufe64]")
_INVISIBLE = re.compile("[\u00ad\u034f\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]")
_TAG_START = re.compile(r"\s*/?\s*(?:" + "|".join(TAGS) + ")", re.IGNORECASE)


@cache
def template(name: str) -> str:
    return resources.files("judge.judging.prompts").joinpath(f"{name}.txt").read_text("utf-8")


def render(template_name: str, /, **values: str) -> str:
    name = template_name
    text = template(name)

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise KeyError(f"prompt template {name!r} needs a value for {key!r}")
        return values[key]

    return _PLACEHOLDER.sub(fill, text).strip()


def neutralize(text: str) -> str:
    """Defang anything in candidate text that imitates our delimiters.

    `<` becomes `‹` in a lookalike tag, so the judge still sees what the text tried to do, but no
    tag inside the data can end the data section.
    """
    pieces: list[str] = []
    last = 0
    for m in _OPENERS.finditer(text):
        # What follows the bracket, as a model would read it: compatibility forms folded
        # (full-width letters, "／"), invisible characters dropped.
        after = _INVISIBLE.sub("", text[m.end() : m.end() + 256])[:64]
        if _TAG_START.match(unicodedata.normalize("NFKC", after)):
            pieces.append(text[last : m.start()])
            pieces.append("‹")
            last = m.end()
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


def tagged(tag: str, text: str) -> str:
    return f"<{tag}>\n{neutralize(text)}\n</{tag}>"
