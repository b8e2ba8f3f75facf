"""Read, check and parse constitution files and texts; every problem is reported, not the first."""

from __future__ import annotations

import hashlib
from pathlib import Path

from judge.constitution.lines import split_lines
from judge.constitution.model import Constitution
from judge.constitution.parser import Parser
from judge.constitution.problems import FORMAT_DOC, ConstitutionError, Problem, Report


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check(text: str, path: str, sha256: str) -> tuple[Constitution | None, list[Problem]]:
    report = Report(path)
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
    lines = split_lines(text, report)
    c = Parser(lines, report).parse(sha256, None if path == "<string>" else path)
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
