"""The judge's prompt templates, as text files next to this module.

Templates use `{{name}}` placeholders, filled by plain replacement so that braces in a
constitution or in candidate text never break rendering.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")

# Candidate text must not be able to close or open the tags that delimit it.
TAGS = ("candidate_prompt", "candidate_response", "candidate_document", "response_a", "response_b")
_TAG_LOOKALIKE = re.compile(r"<(\s*/?\s*)(" + "|".join(TAGS) + r")", re.IGNORECASE)


@cache
def template(name: str) -> str:
    return resources.files("judge.prompts").joinpath(f"{name}.txt").read_text("utf-8")


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
    return _TAG_LOOKALIKE.sub(lambda m: "‹" + m.group(1) + m.group(2), text)


def tagged(tag: str, text: str) -> str:
    return f"<{tag}>\n{neutralize(text)}\n</{tag}>"
