"""Problems found in a constitution file, and the error that lists them as FILE:LINE: message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from judge.errors import InputError

FORMAT_DOC = 'the README, section "Constitution format"'
HEADER_KEYS = ("name", "description", "version", "scale")
ATTRIBUTE_KEYS = ("title", "weight", "scale", "verify", "requires")
REQUIREMENTS = ("reference",)  # what a principle may require of a row (`requires:`)
SECTIONS = ("rubric", "critique", "revision", "schema")


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


class Report:
    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def error(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.path, line, message))

    def warn(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.path, line, message, "warning"))

    def has_errors(self) -> bool:
        return any(p.level == "error" for p in self.problems)
