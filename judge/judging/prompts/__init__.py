"""The judge's prompt templates, as text files next to this module.

Templates use `{{name}}` placeholders, filled by plain replacement so that braces in a
constitution or in candidate text never break rendering.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from functools import cache
from importlib import resources
from itertools import accumulate

from judge.judging.prompts.nonce import request_nonce
from judge.judging.prompts.reader import (
    ENCODED,
    READINGS,
    ascii_tag_pattern,
    decoded,
    has_bracket,
    may_encode,
    read_unit,
    tag_pattern,
)
from judge.judging.prompts.reader import (
    reading as reading,
)
from judge.judging.prompts.specials import defang_specials

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

# What reads as one of our tags (see reader.py): in a reading, and in ASCII text with no encoded
# character, where the reading need not be computed (the common case, at regex speed).
TAG_READ = re.compile(tag_pattern(TAGS))
_ASCII_TAG = re.compile(ascii_tag_pattern(TAGS), re.IGNORECASE)
_UNITS = re.compile(ENCODED.pattern + "|.", re.DOTALL)
# Unicode tag characters (U+E0000..U+E007F) are invisible, and several models read them as the
# ASCII they shadow: a run of them is shown as that ASCII ("the judge sees what was tried"),
# except an emoji flag's tag sequence (🏴 + lower-case letters or digits + cancel tag).
_TAG_RUN = re.compile("[\U000e0000-\U000e007f]+")
_FLAG = re.compile("[\U000e0030-\U000e0039\U000e0061-\U000e007a]{1,6}\U000e007f")
# What replaces the "<" (or lookalike, or entity) that starts a forged tag: not a bracket to any
# reader, and visible.
DEFANGED = "["


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


def _show_tag_run(match: re.Match[str]) -> str:
    run = match.group()
    start = match.start()
    if start and match.string[start - 1] == "\U0001f3f4" and _FLAG.fullmatch(run):
        return run
    shown = "".join(chr(ord(c) - 0xE0000) for c in run if 0xE0020 <= ord(c) <= 0xE007E)
    return f"[tag characters: {shown}]"


def _forged(text: str) -> list[tuple[int, int]]:
    """Where each forged tag starts in `text`: the span of its "<" or what reads as one."""
    if text.isascii() and not (may_encode(text) and ENCODED.search(text)):
        return [(m.start(), m.start() + 1) for m in _ASCII_TAG.finditer(text)]
    # Is there any? At C speed where possible; the exact places are found below.
    plain = decoded(text)
    if plain.isascii():
        if not _ASCII_TAG.search(plain):
            return []
    elif not has_bracket(plain) or not TAG_READ.search(plain.translate(READINGS)):
        return []
    units = _UNITS.findall(text)  # encoded characters and single characters
    reads = [read_unit(u) if len(u) > 1 else READINGS[ord(u)] for u in units]
    # Where each unit's reading starts in the whole reading, and each unit in the text.
    offsets = list(accumulate((len(r) for r in reads), initial=0))
    places = list(accumulate((len(u) for u in units), initial=0))
    spans = []
    for m in TAG_READ.finditer("".join(reads)):
        k = bisect_right(offsets, m.start()) - 1
        spans.append((places[k], places[k + 1]))
    return spans


def neutralize(text: str) -> str:
    """Defang anything in data that reads as one of our delimiters or as a special token.

    Tag characters are shown as the ASCII they hide; special-token strings of chat templates
    lose their first character (see specials.py); the "<" (or lookalike, or entity) that starts
    anything that reads as one of our tags (see reader.py) becomes "[". The judge still sees
    what the text tried to do. Linear in the length of the text.
    """
    if not text.isascii() and _TAG_RUN.search(text):
        text = _TAG_RUN.sub(_show_tag_run, text)
    text = defang_specials(text)
    spans = _forged(text)
    if not spans:
        return text
    pieces: list[str] = []
    last = 0
    for start, end in spans:
        pieces.append(text[last:start])
        pieces.append(DEFANGED)
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


# One section of data in a prompt: its tag, its text and, for one of several, its number.
Section = tuple[str, str, int | None]


def sections(parts: Sequence[Section]) -> str:
    """The data sections of one request, each between its tags, separated by blank lines.

    Every tag name carries the request's code (`<candidate_response_3f9a61c2>`, see nonce.py),
    the same in all of them, so no data can predict the real closing tag; `number` names one of
    several (`<candidate_response_3f9a61c2 id="2">`).
    """
    for tag, _, _ in parts:
        if tag not in TAGS:
            raise ValueError(
                f"{tag!r} is not a delimiter: add it to TAGS so that data cannot fake it"
            )
    code = request_nonce(
        (tag if number is None else f"{tag}#{number}", text) for tag, text, number in parts
    )
    out = []
    for tag, text, number in parts:
        name = f"{tag}_{code}"
        opening = name if number is None else f'{name} id="{number}"'
        out.append(f"<{opening}>\n{neutralize(text)}\n</{name}>")
    return "\n\n".join(out)


def tagged(tag: str, text: str, number: int | None = None) -> str:
    """One data section alone (`sections` with one part)."""
    return sections([(tag, text, number)])
