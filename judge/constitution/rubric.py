"""The grammar of a `### Rubric` section: `N: text` lines, one a level of the scale."""

from __future__ import annotations

import re

from judge.constitution.lines import Line
from judge.constitution.model import Scale
from judge.constitution.problems import Report

RUBRIC_LINE = re.compile(r"(?:[-*+]\s+)?(-?\d+)\s*:\s*(.*)\Z")
# Lines that look like a rubric level but are not `N: text`: a number word (`four: ...`) or a
# number with another mark (`4 - ...`, `4. ...`, `4) ...`, `4 = ...`). Merged into the level
# above as its continuation, they would silently lose a level.
_NUMBER_WORDS = "zero|one|two|three|four|five|six|seven|eight|nine|ten"
_LEVEL_LIKE = re.compile(
    r"(?:[-*+]\s+)?(?:(-?\d+)\s*(?:[-\u2013\u2014.)=](?:\s|\Z)|\Z)"
    rf"|({_NUMBER_WORDS})\s*[-\u2013\u2014:.)=](?:\s|\Z))",
    re.IGNORECASE,
)


def parse_rubric(
    report: Report, heading: Line, body: list[Line], scale: Scale | None
) -> dict[int, str]:
    """`N: text` lines; a level's text may go on over the next lines (no blank line between)."""
    texts: dict[int, list[str]] = {}
    first_line: dict[int, int] = {}
    current: int | None = None
    # After a level line with an error, the lines that continue it are part of that
    # error, not each a second one ("expected a rubric line").
    swallow = False
    for ln in body:
        if ln.blank:
            current, swallow = None, False
            continue
        m = None if ln.code else RUBRIC_LINE.match(ln.text.strip())
        if m is None and not ln.code and (like := _LEVEL_LIKE.match(ln.text.strip())):
            current = None
            word = (like.group(2) or "").lower()
            number = like.group(1) or str(_NUMBER_WORDS.split("|").index(word))
            on = f" on the scale {scale}" if scale else ""
            report.error(
                ln.no,
                f"`{ln.text.strip()}` looks like a rubric level but is not `N: text`; "
                f"start it with `{number}:` (a whole number{on} and a colon), or reword it if "
                "it goes on the level above",
            )
            swallow = True
            continue
        if m is None:
            if swallow:
                continue
            if current is None:
                hint = f" (N on the scale {scale})" if scale else ""
                report.error(ln.no, f"expected a rubric line `N: what N means`{hint}")
            else:
                texts[current].append(ln.text.strip())
            continue
        level, text = int(m.group(1)), m.group(2).strip()
        current, swallow = None, True
        if level in first_line:
            report.error(ln.no, f"rubric level {level} twice (first on line {first_line[level]})")
        elif scale is not None and not scale.low <= level <= scale.high:
            report.error(ln.no, f"rubric level {level} is outside the scale {scale}")
        elif not text:
            report.error(ln.no, f"rubric level {level} has no description")
        else:
            first_line[level], texts[level], current = ln.no, [text], level
            swallow = False
    if not any(not ln.blank for ln in body):
        report.error(heading.no, "`### Rubric` has no levels; write lines like `1: ...`")
    return {level: " ".join(parts) for level, parts in sorted(texts.items())}
