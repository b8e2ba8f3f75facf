"""The grammar of a constitution file (the format: docs, "Constitution format").

A constitution is a Markdown-flavoured text file: an optional `# Title` line, a header of
`key: value` lines, a preamble, then one `## id` section per principle with optional attribute
lines, a statement and optional `### Rubric`, `### Critique` and `### Revision` sub-sections.
The parser reports every problem it finds (not only the first)."""

from __future__ import annotations

import math
import re

from judge.constitution.lines import Line
from judge.constitution.model import Constitution, Principle, Scale, Verifier
from judge.constitution.problems import (
    ATTRIBUTE_KEYS,
    HEADER_KEYS,
    REQUIREMENTS,
    SECTIONS,
    Report,
)
from judge.constitution.rubric import RUBRIC_LINE, parse_rubric
from judge.constitution.verify_spec import parse_verify, read_schema, schema_text

UNSAID = "requires a reference but its statement does not say how to use the reference answer"
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")
# `key: value`; `(?!//)` keeps a URL such as `https://...` from looking like a key.
_KEY_VALUE = re.compile(r"([A-Za-z][A-Za-z0-9_-]*)\s*:(?!//)\s*(.*)\Z")
_SCALE = re.compile(r"(\d+)\s*-\s*(\d+)\Z")
_HEADING = re.compile(r" {0,3}(#{1,6})(.*)\Z")


def _text(lines: list[Line]) -> str:
    """A body's text: leading and trailing blank lines dropped, inner lines kept as written."""
    texts = [ln.text for ln in lines]
    while texts and not texts[0].strip():
        texts.pop(0)
    while texts and not texts[-1].strip():
        texts.pop()
    return "\n".join(texts)


MAX_LEVELS = 101  # 0-100 at most: judges answer with one of the levels, listed in the schema


def _key_line(ln: Line, keys: tuple[str, ...]) -> bool:
    """Whether a line (of text, not code) reads `key: value` with one of `keys`."""
    m = None if ln.code else _KEY_VALUE.match(ln.text.strip())
    return m is not None and m.group(1).lower() in keys


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


class Parser:
    def __init__(self, lines: list[Line], report: Report) -> None:
        self.lines = lines
        self.report = report
        self.i = 0

    # -- line kinds --------------------------------------------------------------------------

    def _kind(self, ln: Line) -> tuple[str, str] | None:
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

    def _peek(self) -> Line | None:
        return self.lines[self.i] if self.i < len(self.lines) else None

    def _skip_blank(self) -> None:
        while (ln := self._peek()) is not None and ln.blank:
            self.i += 1

    def _body(self) -> list[Line]:
        """Lines up to the next `##` or `###` heading; malformed headings are reported."""
        body: list[Line] = []
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

    def _warn_misplaced(self, body: list[Line], known: tuple[str, ...], where: str) -> None:
        first = next((ln for ln in body if not ln.blank), None)
        if first is not None and _key_line(first, known):
            self.report.warn(
                first.no,
                f"`{first.text.strip()}` is read as text of the {where}; "
                "key lines must come before the first blank line",
            )

    def _rubric_in_text(self, body: list[Line], pid: str) -> None:
        """Rubric levels (`N: text`) inside a statement: most often a rubric whose `### Rubric`
        heading was deleted, its levels now silently part of the principle's text."""
        for ln in body:
            if not ln.blank and not ln.code and RUBRIC_LINE.match(ln.text.strip()):
                self.report.warn(
                    ln.no,
                    f"`{ln.text.strip()[:60]}` looks like a rubric level inside the statement "
                    f"of `{pid}`; is its `### Rubric` heading missing? Put `### Rubric` above "
                    "the levels (or reword the line)",
                )
                return

    def _attributes_in_text(
        self, body: list[Line], where: str, *, skip_first: bool = False
    ) -> None:
        """An attribute line (`title:`, `weight:`, `scale:`) inside a text: most often the
        attributes of a principle whose `## id` heading was deleted, now merged into this text."""
        lines = [ln for ln in body if not ln.blank]
        for ln in lines[1:] if skip_first else lines:
            if _key_line(ln, ATTRIBUTE_KEYS):
                self.report.error(
                    ln.no,
                    f"`{ln.text.strip()}` is inside the {where}; attribute lines go right under a "
                    "`## id` heading: if a principle starts here, add its `## id` heading above, "
                    "else reword the line",
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
        self, heading: Line, default: Scale | None, seen: dict[str, int]
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
        verify: Verifier | None = None
        verify_line = 0
        requires: list[str] = []
        for no, key, value in self._key_values(ATTRIBUTE_KEYS, "attribute"):
            if key == "title":
                title = value
            elif key == "verify":
                verify, problem = parse_verify(value)
                verify_line = no
                if problem:
                    report.error(no, problem)
                    ok = False
            elif key == "requires":
                requires = self._requires(no, value)
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
        self._attributes_in_text(body, f"statement of `{pid}`", skip_first=True)
        self._rubric_in_text(body, pid)
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
                    f"unknown sub-section `### {kind[1]}`; known: Rubric, Critique, Revision, "
                    "Schema",
                )
                continue
            if name in section_lines:
                report.error(
                    ln.no, f"duplicate `### {kind[1]}` (first on line {section_lines[name]})"
                )
                continue
            section_lines[name] = ln.no
            if name == "rubric":
                rubric = parse_rubric(report, ln, body, scale)
            elif name == "schema":
                verify = self._schema(ln, body, verify, verify_line) if ok else verify
            elif text := _text(body):
                sections[name] = text
                self._attributes_in_text(body, f"`### {kind[1]}` of `{pid}`")
            else:
                report.error(ln.no, f"`### {kind[1]}` is empty; write the request or remove it")

        if "reference" in requires and "reference" not in statement.lower():
            report.warn(heading.no, f"principle `{pid}` {UNSAID}")
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
        if verify is not None and rubric:
            report.warn(
                section_lines["rubric"],
                f"principle `{pid}` is checked by `verify: {verify.kind}`: it scores "
                f"{scale.high if scale else 'the top'} when the check passes and "
                f"{scale.low if scale else 'the bottom'} when it fails; the rubric is not used",
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
            verify=verify,
            requires=requires,
        )

    def _requires(self, no: int, value: str) -> list[str]:
        """`requires: reference`: what a row must have for the principle to judge it."""
        out: list[str] = []
        for need in (v.strip() for v in value.split(",")):
            if need not in REQUIREMENTS:
                self.report.error(no, f"unknown requirement `{need}`: write `requires: reference`")
            elif need not in out:
                out.append(need)
        return out

    def _schema(
        self, heading: Line, body: list[Line], verify: Verifier | None, verify_line: int
    ) -> Verifier | None:
        """A `### Schema` section: the JSON schema of a `verify: json` principle."""
        if verify is None or verify.kind != "json":
            self.report.error(
                heading.no, "`### Schema` goes with `verify: json`; add that attribute or remove it"
            )
            return verify
        if verify.json_schema is not None:
            self.report.error(
                heading.no,
                f"two JSON schemas: one after `verify: json` on line {verify_line} and this "
                "section; keep one",
            )
            return verify
        schema, problem = read_schema(schema_text(body))
        if problem:
            self.report.error(heading.no, problem)
            return None
        return verify.model_copy(update={"json_schema": schema})
