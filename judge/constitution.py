"""Parse, validate and render constitution files (the format: README.md, "Constitution format").

A constitution is a Markdown-flavoured text file: an optional `# Title` line, a header of
`key: value` lines, a preamble, then one `## id` section per principle with optional attribute
lines, a statement and optional `### Rubric`, `### Critique` and `### Revision` sub-sections.
The parser reports every problem it finds (not only the first) as `FILE:LINE: message`.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from judge.errors import InputError


class Scale(BaseModel):
    low: int = 1
    high: int = 5

    def normalize(self, value: float) -> float:
        """Map a score on this scale to [0, 1]."""
        return (value - self.low) / (self.high - self.low)

    def __str__(self) -> str:
        return f"{self.low}-{self.high}"


class Principle(BaseModel):
    id: str
    title: str | None = None
    weight: float = 1.0
    scale: Scale = Field(default_factory=Scale)
    statement: str
    rubric: dict[int, str] = Field(default_factory=dict)  # score level -> what it means
    critique: str | None = None  # critique request (Constitutional AI)
    revision: str | None = None  # revision request
    line: int = 0  # line of the `## id` heading


class Constitution(BaseModel):
    name: str
    title: str | None = None  # from an optional `# Title` first line
    description: str | None = None
    version: str | None = None
    scale: Scale = Field(default_factory=Scale)  # the default for principles
    preamble: str = ""
    principles: list[Principle]
    path: str | None = None
    sha256: str  # of the file's bytes: travels with every verdict

    def principle(self, pid: str) -> Principle:
        for p in self.principles:
            if p.id == pid:
                return p
        raise KeyError(pid)

    def critique_principles(self) -> list[Principle]:
        """The principles that can drive a critique-and-revision step (they have both requests)."""
        return [p for p in self.principles if p.critique and p.revision]

    def overall(self, scores: dict[str, float | None]) -> float | None:
        """Weighted mean of the principles' normalized scores; None if any is missing."""
        total = 0.0
        weights = 0.0
        for p in self.principles:
            if p.id not in scores:
                continue
            s = scores[p.id]
            if s is None:
                return None
            total += p.weight * p.scale.normalize(s)
            weights += p.weight
        if weights == 0:
            return None
        return min(1.0, max(0.0, total / weights))


# ---------------------------------------------------------------------------------------------
# Problems and errors

FORMAT_DOC = 'the README, section "Constitution format"'
HEADER_KEYS = ("name", "description", "version", "scale")
ATTRIBUTE_KEYS = ("title", "weight", "scale")
SECTIONS = ("rubric", "critique", "revision")


@dataclass(frozen=True)
class Problem:
    """One problem in a constitution file. Warnings do not make the file invalid."""

    file: str
    line: int | None  # None for problems with the file as a whole (missing, unreadable)
    message: str
    level: Literal["error", "warning"] = "error"

    @property
    def where(self) -> str:
        return self.file if self.line is None else f"{self.file}:{self.line}"

    def __str__(self) -> str:
        prefix = "warning: " if self.level == "warning" else ""
        return f"{self.where}: {prefix}{self.message}"


class ConstitutionError(InputError):
    """A constitution that cannot be used. `.problems` holds every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors = [p for p in problems if p.level == "error"] or problems
        if len(problems) == 1:
            message = str(problems[0])
        else:
            n = len(errors)
            message = f"{errors[0].file}: {n} error{'s' if n != 1 else ''}\n" + "\n".join(
                str(p) for p in problems
            )
        super().__init__(message)
        self.where = errors[0].where


# ---------------------------------------------------------------------------------------------
# Lines: HTML comments removed, fenced code blocks marked (they are never grammar)

_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")
# `key: value`; `(?!//)` keeps a URL such as `https://...` from looking like a key.
_KEY_VALUE = re.compile(r"([A-Za-z][A-Za-z0-9_-]*)\s*:(?!//)\s*(.*)\Z")
_SCALE = re.compile(r"(\d+)\s*-\s*(\d+)\Z")
_RUBRIC_LINE = re.compile(r"(?:[-*+]\s+)?(-?\d+)\s*:\s*(.*)\Z")
_HEADING = re.compile(r" {0,3}(#{1,6})(.*)\Z")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")


@dataclass(frozen=True)
class _Line:
    no: int  # 1-based line number in the file
    text: str  # trailing whitespace removed
    code: bool = False  # inside a fenced code block (fence lines included)

    @property
    def blank(self) -> bool:
        return not self.text.strip()


def _split_lines(text: str, report: _Report) -> list[_Line]:
    lines: list[_Line] = []
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
            lines.append(_Line(no, raw, code=True))
            continue
        if comment_start is None:
            m = _FENCE.match(raw)
            if m:
                fence, fence_start = m.group(1), no
                lines.append(_Line(no, raw, code=True))
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
        lines.append(_Line(no, kept.rstrip()))
    if comment_start is not None:
        report.error(comment_start, "this `<!--` comment is never closed; end it with `-->`")
    if fence is not None:
        report.error(fence_start, f"this code fence is never closed; end it with a line of {fence}")
    return lines


class _Report:
    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def error(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.path, line, message))

    def warn(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.path, line, message, "warning"))

    def has_errors(self) -> bool:
        return any(p.level == "error" for p in self.problems)


# ---------------------------------------------------------------------------------------------
# The parser


def _text(lines: list[_Line]) -> str:
    """A body's text: leading and trailing blank lines dropped, inner lines kept as written."""
    texts = [ln.text for ln in lines]
    while texts and not texts[0].strip():
        texts.pop(0)
    while texts and not texts[-1].strip():
        texts.pop()
    return "\n".join(texts)


MAX_LEVELS = 101  # 0-100 at most: judges answer with one of the levels, listed in the schema


def _parse_scale(value: str) -> Scale | None:
    m = _SCALE.match(value.strip())
    if not m or not int(m.group(1)) < int(m.group(2)) < int(m.group(1)) + MAX_LEVELS:
        return None
    return Scale(low=int(m.group(1)), high=int(m.group(2)))


def _bad_scale(value: str) -> str:
    return (
        f"bad scale `{value}`: write LOW-HIGH with whole numbers, LOW < HIGH and at most "
        f"{MAX_LEVELS} levels, e.g. `1-5`"
    )


def _parse_weight(value: str) -> float | None:
    try:
        w = float(value)
    except ValueError:
        return None
    return w if math.isfinite(w) and w > 0 else None


class _Parser:
    def __init__(self, lines: list[_Line], report: _Report) -> None:
        self.lines = lines
        self.report = report
        self.i = 0

    # -- line kinds --------------------------------------------------------------------------

    def _kind(self, ln: _Line) -> tuple[str, str] | None:
        """("principle", id), ("section", name) or ("bad", message) for grammar lines."""
        if ln.code:
            return None
        m = _HEADING.match(ln.text)
        if not m or len(m.group(1)) not in (2, 3):
            return None
        marks, rest = m.group(1), m.group(2)
        if rest and not rest[0].isspace():
            return ("bad", f"write `{marks} {rest}` with a space after `{marks}`")
        rest = re.sub(r"\s+#+\s*\Z", "", " " + rest).strip()  # optional closing `##`
        if not rest:
            what = "principle id" if marks == "##" else "sub-section name (Rubric, Critique, ...)"
            return ("bad", f"`{marks}` heading without a {what}")
        return ("principle" if marks == "##" else "section", rest)

    def _peek(self) -> _Line | None:
        return self.lines[self.i] if self.i < len(self.lines) else None

    def _skip_blank(self) -> None:
        while (ln := self._peek()) is not None and ln.blank:
            self.i += 1

    def _body(self) -> list[_Line]:
        """Lines up to the next `##` or `###` heading; malformed headings are reported."""
        body: list[_Line] = []
        while (ln := self._peek()) is not None:
            kind = self._kind(ln)
            if kind and kind[0] != "bad":
                break
            if kind:
                self.report.error(ln.no, kind[1])
            else:
                body.append(ln)
            self.i += 1
        return body

    def _key_values(self, known: tuple[str, ...], what: str) -> list[tuple[int, str, str]]:
        """A `key: value` block: lines up to the first blank line, if the first is `key: value`.

        Returns (line, key, value) for the lines with a known key; reports the others.
        """
        out: list[tuple[int, str, str]] = []
        first = self._peek()
        if first is None or first.code or first.blank or not _KEY_VALUE.match(first.text.strip()):
            return out
        seen: dict[str, int] = {}
        while (ln := self._peek()) is not None and not (ln.blank or ln.code or self._kind(ln)):
            self.i += 1
            m = _KEY_VALUE.match(ln.text.strip())
            if not m:
                self.report.error(
                    ln.no,
                    f"expected `key: value`: {what} lines run up to the first blank line; "
                    "leave one before other text",
                )
                continue
            key, value = m.group(1).lower(), m.group(2).strip()
            if key not in known:
                self.report.error(
                    ln.no, f"unknown {what} `{m.group(1)}`; known {what}s: {', '.join(known)}"
                )
            elif key in seen:
                self.report.error(ln.no, f"duplicate {what} `{key}` (first on line {seen[key]})")
            elif not value:
                self.report.error(ln.no, f"`{key}:` has no value")
            else:
                seen[key] = ln.no
                out.append((ln.no, key, value))
        return out

    def _warn_misplaced(self, body: list[_Line], known: tuple[str, ...], where: str) -> None:
        first = next((ln for ln in body if not ln.blank), None)
        if first is None or first.code:
            return
        m = _KEY_VALUE.match(first.text.strip())
        if m and m.group(1).lower() in known:
            self.report.warn(
                first.no,
                f"`{first.text.strip()}` is read as text of the {where}; "
                "key lines must come before the first blank line",
            )

    # -- the file ----------------------------------------------------------------------------

    def parse(self, sha256: str, path: str | None) -> Constitution | None:
        report = self.report
        self._skip_blank()
        title = None
        ln = self._peek()
        if ln is not None and not ln.code and (m := re.match(r" {0,3}#\s+(.*)\Z", ln.text)):
            title = re.sub(r"\s+#+\s*\Z", "", " " + m.group(1)).strip() or None
            self.i += 1
            self._skip_blank()
        header_line = ln.no if (ln := self._peek()) is not None else 1
        header: dict[str, str] = {}
        scale: Scale | None = Scale()
        for no, key, value in self._key_values(HEADER_KEYS, "header key"):
            header[key] = value
            if key == "name" and not _SLUG.match(value):
                report.error(no, f"name `{value}` must be a slug: lowercase letters, digits, -, _")
            if key == "scale" and (scale := _parse_scale(value)) is None:
                report.error(no, _bad_scale(value))
        if "name" not in header:
            report.error(
                header_line,
                "missing `name:` in the header; start the file with a line such as "
                "`name: my-constitution`",
            )

        preamble = self._body()
        self._warn_misplaced(preamble, HEADER_KEYS, "preamble")
        while (
            (ln := self._peek()) is not None and (kind := self._kind(ln)) and kind[0] == "section"
        ):
            report.error(
                ln.no, f"`### {kind[1]}` outside a principle; put it under a `## id` heading"
            )
            self.i += 1
            self._body()

        principles: list[Principle] = []
        seen: dict[str, int] = {}
        headings = 0
        while (ln := self._peek()) is not None:
            headings += 1
            principle = self._principle(ln, scale, seen)
            if principle is not None:
                principles.append(principle)
        if headings == 0:
            report.error(1, "no principles: add at least one `## id` section with a statement")
        if report.has_errors() or scale is None:
            return None
        return Constitution(
            name=header["name"],
            title=title,
            description=header.get("description"),
            version=header.get("version"),
            scale=scale,
            preamble=_text(preamble),
            principles=principles,
            path=path,
            sha256=sha256,
        )

    def _principle(
        self, heading: _Line, default: Scale | None, seen: dict[str, int]
    ) -> Principle | None:
        report = self.report
        kind = self._kind(heading)
        assert kind is not None and kind[0] == "principle"  # the caller stops at headings only
        pid = kind[1]
        self.i += 1
        ok = True
        if not _SLUG.match(pid):
            report.error(
                heading.no,
                f"principle id `{pid}` must be a slug: lowercase letters, digits, - and _, "
                "starting with a letter or digit (put a display name in `title:`)",
            )
            ok = False
        elif pid in seen:
            report.error(heading.no, f"duplicate principle id `{pid}` (first on line {seen[pid]})")
            ok = False
        else:
            seen[pid] = heading.no

        title, weight, scale = None, 1.0, default
        for no, key, value in self._key_values(ATTRIBUTE_KEYS, "attribute"):
            if key == "title":
                title = value
            elif key == "weight":
                w = _parse_weight(value)
                if w is None:
                    report.error(no, f"bad weight `{value}`: write a number > 0, e.g. `2` or `0.5`")
                else:
                    weight = w
            elif (scale := _parse_scale(value)) is None:
                report.error(no, _bad_scale(value))

        body = self._body()
        self._warn_misplaced(body, ATTRIBUTE_KEYS, f"statement of `{pid}`")
        statement = _text(body)
        if not statement:
            report.error(
                heading.no,
                f"principle `{pid}` has no statement; write under the heading what the judge "
                "should look for",
            )
        sections: dict[str, str] = {}
        section_lines: dict[str, int] = {}
        rubric: dict[int, str] = {}
        while (ln := self._peek()) is not None and (kind := self._kind(ln)) is not None:
            if kind[0] != "section":
                break
            self.i += 1
            name = kind[1].lower()
            body = self._body()
            if name not in SECTIONS:
                report.error(
                    ln.no,
                    f"unknown sub-section `### {kind[1]}`; known: Rubric, Critique, Revision",
                )
                continue
            if name in section_lines:
                report.error(
                    ln.no, f"duplicate `### {kind[1]}` (first on line {section_lines[name]})"
                )
                continue
            section_lines[name] = ln.no
            if name == "rubric":
                rubric = self._rubric(ln, body, scale)
            elif text := _text(body):
                sections[name] = text
            else:
                report.error(ln.no, f"`### {kind[1]}` is empty; write the request or remove it")

        critique, revision = sections.get("critique"), sections.get("revision")
        if ok and ("critique" in section_lines) != ("revision" in section_lines):
            has, lacks = ("Critique", "Revision")
            if "revision" in section_lines:
                has, lacks = lacks, has
            report.warn(
                heading.no,
                f"principle `{pid}` has a `### {has}` but no `### {lacks}`; "
                "critique and revision use only principles that have both",
            )
        if not ok or not statement or scale is None:
            return None
        return Principle(
            id=pid,
            title=title,
            weight=weight,
            scale=scale,
            statement=statement,
            rubric=rubric,
            critique=critique,
            revision=revision,
            line=heading.no,
        )

    def _rubric(self, heading: _Line, body: list[_Line], scale: Scale | None) -> dict[int, str]:
        """`N: text` lines; a level's text may go on over the next lines (no blank line between)."""
        report = self.report
        texts: dict[int, list[str]] = {}
        first_line: dict[int, int] = {}
        current: int | None = None
        for ln in body:
            if ln.blank:
                current = None
                continue
            m = None if ln.code else _RUBRIC_LINE.match(ln.text.strip())
            if m is None:
                if current is None:
                    hint = f" (N on the scale {scale})" if scale else ""
                    report.error(ln.no, f"expected a rubric line `N: what N means`{hint}")
                else:
                    texts[current].append(ln.text.strip())
                continue
            level, text = int(m.group(1)), m.group(2).strip()
            current = None
            if level in first_line:
                report.error(
                    ln.no, f"rubric level {level} twice (first on line {first_line[level]})"
                )
            elif scale is not None and not scale.low <= level <= scale.high:
                report.error(ln.no, f"rubric level {level} is outside the scale {scale}")
            elif not text:
                report.error(ln.no, f"rubric level {level} has no description")
            else:
                first_line[level], texts[level], current = ln.no, [text], level
        if not any(not ln.blank for ln in body):
            report.error(heading.no, "`### Rubric` has no levels; write lines like `1: ...`")
        return {level: " ".join(parts) for level, parts in sorted(texts.items())}


# ---------------------------------------------------------------------------------------------
# Public API


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check(text: str, path: str, sha256: str) -> tuple[Constitution | None, list[Problem]]:
    report = _Report(path)
    if "\x00" in text:
        report.error(1, "not a text file (contains NUL bytes); a constitution is UTF-8 text")
        return None, report.problems
    text = text.removeprefix("\ufeff")
    if not text.strip():
        report.error(
            1,
            "empty file; a constitution needs a header with `name:` and at least one "
            f"`## id` principle (see {FORMAT_DOC})",
        )
        return None, report.problems
    lines = _split_lines(text, report)
    c = _Parser(lines, report).parse(sha256, None if path == "<string>" else path)
    problems = sorted(report.problems, key=lambda p: p.line or 0)
    return (None if report.has_errors() else c), problems


def check_text(text: str, *, path: str = "<string>") -> list[Problem]:
    """Every problem in a constitution's text (warnings included); [] when it is clean."""
    return _check(text, path, _sha256_text(text))[1]


def parse(text: str, *, path: str = "<string>", sha256: str | None = None) -> Constitution:
    """Parse a constitution's text; raises ConstitutionError listing every problem."""
    c, problems = _check(text, path, sha256 or _sha256_text(text))
    if c is None:
        raise ConstitutionError(problems)
    return c


def _read(path: str | Path) -> tuple[str | None, str, list[Problem]]:
    """(text, sha256 of the bytes, problems) for a file; text is None when it cannot be used."""
    name = str(path)
    p = Path(path)
    try:
        if p.is_dir():
            return None, "", [Problem(name, None, "is a directory, not a constitution file")]
        data = p.read_bytes()
    except FileNotFoundError:
        return None, "", [Problem(name, None, "no such file")]
    except OSError as exc:
        return None, "", [Problem(name, None, f"cannot read: {exc.strerror or exc}")]
    sha = hashlib.sha256(data).hexdigest()
    if b"\x00" in data:
        return None, sha, [Problem(name, 1, "not a text file (contains NUL bytes)")]
    try:
        return data.decode("utf-8"), sha, []
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        why = f"invalid UTF-8 on line {line}, byte {exc.start}; save the file as UTF-8"
        return None, sha, [Problem(name, 1, f"not a text file ({why})")]


def load_checked(path: str | Path) -> tuple[Constitution | None, list[Problem]]:
    """The constitution in a file (None when it has errors) and every problem, warnings included."""
    text, sha, problems = _read(path)
    if text is None:
        return None, problems
    return _check(text, str(path), sha)


def load(path: str | Path) -> Constitution:
    """Read and parse a constitution file; raises ConstitutionError listing every problem."""
    c, problems = load_checked(path)
    if c is None:
        raise ConstitutionError(problems)
    return c


def check_file(path: str | Path) -> list[Problem]:
    """Every problem in a constitution file (warnings included); [] when it is clean."""
    return load_checked(path)[1]


def _number(x: float) -> str:
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


def render(c: Constitution) -> str:
    """The canonical text of a constitution; parsing it gives back an equal one (but for
    path, sha256 and line numbers)."""
    out: list[str] = []
    if c.title:
        out += [f"# {c.title}", ""]
    out.append(f"name: {c.name}")
    if c.description:
        out.append(f"description: {c.description}")
    if c.version:
        out.append(f"version: {c.version}")
    out += [f"scale: {c.scale}", ""]
    if c.preamble:
        out += [c.preamble, ""]
    for p in c.principles:
        out.append(f"## {p.id}")
        if p.title:
            out.append(f"title: {p.title}")
        if p.weight != 1.0:
            out.append(f"weight: {_number(p.weight)}")
        if p.scale != c.scale:
            out.append(f"scale: {p.scale}")
        out += ["", p.statement, ""]
        if p.rubric:
            out.append("### Rubric")
            out += [
                f"{level}: {' '.join(p.rubric[level].splitlines())}" for level in sorted(p.rubric)
            ]
            out.append("")
        for heading, text in (("Critique", p.critique), ("Revision", p.revision)):
            if text:
                out += [f"### {heading}", "", text, ""]
    return "\n".join(out).rstrip("\n") + "\n"
