"""A constitution's lines: HTML comments removed, fenced code blocks marked (never grammar)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from judge.constitution.problems import Report

_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")


@dataclass(frozen=True)
class Line:
    no: int  # 1-based line number in the file
    text: str  # trailing whitespace removed
    code: bool = False  # inside a fenced code block (fence lines included)

    @property
    def blank(self) -> bool:
        return not self.text.strip()


def split_lines(text: str, report: Report) -> list[Line]:
    lines: list[Line] = []
    comment_start: int | None = None  # line where an open `<!--` began
    fence: str | None = None  # the open fence's marker, e.g. "```"
    fence_start = 0
    for no, raw in enumerate(text.split("\n"), start=1):
        raw = raw.rstrip()
        if fence is not None:
            m = _FENCE.match(raw)
            closes = m is not None and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence)
            if m is not None and closes and not raw[m.end() :].strip():
                fence = None
            lines.append(Line(no, raw, code=True))
            continue
        if comment_start is None:
            m = _FENCE.match(raw)
            if m:
                fence, fence_start = m.group(1), no
                lines.append(Line(no, raw, code=True))
                continue
        touched = comment_start is not None or "<!--" in raw
        kept, rest = "", raw
        while rest:
            if comment_start is not None:
                end = rest.find("-->")
                if end < 0:
                    rest = ""
                else:
                    comment_start, rest = None, rest[end + 3 :]
            else:
                start = rest.find("<!--")
                if start < 0:
                    kept, rest = kept + rest, ""
                else:
                    kept, rest, comment_start = kept + rest[:start], rest[start + 4 :], no
        if touched and not kept.strip():
            continue  # a line that held only a comment is no line at all (not a blank line)
        lines.append(Line(no, kept.rstrip()))
    if comment_start is not None:
        report.error(comment_start, "this `<!--` comment is never closed; end it with `-->`")
    if fence is not None:
        report.error(fence_start, f"this code fence is never closed; end it with a line of {fence}")
    return lines
