"""The judge's prompt templates, as text files next to this module.

Templates use `{{name}}` placeholders, filled by plain replacement so that braces in a
constitution or in candidate text never break rendering.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from functools import cache, lru_cache
from importlib import resources
from itertools import accumulate

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")

# The tags that delimit data in the judge's prompts: the one list of them. `tagged` accepts no
# other, so a delimiter added later is added here, and candidate text can imitate none of them.
TAGS = (
    "candidate_prompt",
    "candidate_response",
    "candidate_document",
    "response_a",
    "response_b",
    # a conversation before the judged turn, a turn a tag (judge.judging.sections), and the
    # reference answer
    "context_system",
    "context_user",
    "context_assistant",
    "reference",
)

# What a model may still read as a tag is defined on `reading(text)`: text with compatibility
# forms folded (NFKD: full-width letters, "＜", "﹤", "／"), case folded, and every character a
# model may skip dropped: format characters (Cf: zero-width, bidi, tag characters U+E00xx),
# combining and enclosing marks (Mn, Me: variation selectors are Mn), unassigned and control
# code points (Cn, and lone surrogates Cs). Unicode's Default_Ignorable_Code_Point is Cf,
# variation selectors and Other_Default_Ignorable_Code_Point; of the last, only the Hangul
# fillers are letters (Lo), so they are named here; the rest are Mn or Cn. NFKD rather than NFKC:
# a mark is dropped before it can compose with the letter it sits on ("e" + U+0301 is "e").
_SKIPPED = frozenset({"Cf", "Mn", "Me", "Cn", "Cs"})
_FILLERS = frozenset("\u115f\u1160\u3164\uffa0")
_TAG_READ = re.compile(r"<\s*(?:/\s*)?(?:" + "|".join(TAGS) + ")")
_ASCII_TAG = re.compile(_TAG_READ.pattern, re.IGNORECASE)


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


def _fold(text: str) -> str:
    return "".join(
        c
        for c in unicodedata.normalize("NFKD", text.casefold())
        if unicodedata.category(c) not in _SKIPPED and c not in _FILLERS
    )


@lru_cache(maxsize=65536)
def _read_char(char: str) -> str:
    # Twice: case folding may leave a mark ("İ" -> "i" + U+0307) and NFKD an upper-case letter.
    return _fold(_fold(char))


def reading(text: str) -> str:
    """`text` as a model may read it when looking for tags (see _SKIPPED above)."""
    if text.isascii():
        return text.lower()
    return "".join(map(_read_char, text))


def neutralize(text: str) -> str:
    """Defang anything in candidate text that reads as one of our delimiters.

    The `<` (or lookalike) that starts such a tag becomes `‹`, so the judge still sees what the
    text tried to do, but nothing inside the data reads as the opening or closing tag of any
    delimiter in TAGS. Linear in the length of the text: no look-ahead window to slip past.
    """
    if text.isascii():
        # Nothing to fold or skip in ASCII: the common case, at regex speed.
        starts = [m.start() for m in _ASCII_TAG.finditer(text)]
    else:
        reads = list(map(_read_char, text))
        # Where each character's reading starts in the whole reading.
        offsets = list(accumulate((len(r) for r in reads), initial=0))
        starts = [bisect_right(offsets, m.start()) - 1 for m in _TAG_READ.finditer("".join(reads))]
    if not starts:
        return text
    pieces: list[str] = []
    last = 0
    for at in starts:
        pieces.append(text[last:at])
        pieces.append("‹")
        last = at + 1
    pieces.append(text[last:])
    return "".join(pieces)


def tagged(tag: str, text: str, number: int | None = None) -> str:
    """`text` between the tags; `number` names one of several (`<candidate_response id="2">`)."""
    if tag not in TAGS:
        raise ValueError(f"{tag!r} is not a delimiter: add it to TAGS so that data cannot fake it")
    opening = tag if number is None else f'{tag} id="{number}"'
    return f"<{opening}>\n{neutralize(text)}\n</{tag}>"
