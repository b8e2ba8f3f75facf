"""Errors the CLI turns into clear messages and exit codes (2: bad input or usage, 1: other).

An option in a message is written `{opt:max_cost}`: the error knows which options it is about
(`options`), and each caller names them its own way. `str(error)` says `max_cost=` (the
keyword of judge.Session and judge.score); the CLI says `--max-cost` (judge.cli).
"""

from __future__ import annotations

import re
from collections.abc import Callable

OPTION = re.compile(r"\{opt:(\w+)\}")

# Keywords whose flag is not `--` + the keyword with dashes.
FLAGS = {"model": "-m/--model", "constitution": "-c/--constitution", "output": "-o/--output"}


def as_keyword(name: str) -> str:
    return f"{name}="


def as_flag(name: str) -> str:
    return FLAGS.get(name, "--" + name.replace("_", "-"))


def spelled(text: str, spell: Callable[[str], str] = as_keyword) -> str:
    """`text` with each `{opt:NAME}` written as `spell(NAME)`."""
    return OPTION.sub(lambda m: spell(m.group(1)), text)


class JudgeError(Exception):
    """Base class: the message names the problem and, where possible, the fix."""

    exit_code = 1

    @property
    def options(self) -> list[str]:
        """The options (keyword names) the message is about."""
        return OPTION.findall(self.template)

    @property
    def template(self) -> str:
        return str(self.args[0]) if self.args else ""

    def render(self, spell: Callable[[str], str]) -> str:
        return spelled(self.template, spell)

    def __str__(self) -> str:
        return self.render(as_keyword)


class InputError(JudgeError):
    """Bad input data or usage: exit 2. `where` is `FILE:LINE` or `FILE` when known."""

    exit_code = 2

    def __init__(self, message: str, where: str | None = None) -> None:
        self.where = where
        self._message = message
        super().__init__(f"{where}: {message}" if where else message)

    @property
    def message(self) -> str:
        """The problem without where it is, its options as keywords (`render` for flags)."""
        return spelled(self._message)


class ConfigError(JudgeError):
    """Bad configuration (missing key, unknown model, bad option): exit 2."""

    exit_code = 2


class BackendError(JudgeError):
    """A model call failed. `transient` errors may pass on retry; `per_item` ones make that item
    unjudged; the others (bad key, bad request, unknown model) stop the run at once."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        transient: bool = False,
        retry_after: float | None = None,
        per_item: bool = False,
        kind: str | None = None,
        billed: bool = False,
    ) -> None:
        super().__init__(message)
        self.transient = transient
        # The request may have reached the provider, which bills it, though no usable answer
        # came back (a timeout, a connection broken after sending, a malformed 200): --max-cost
        # counts such a call as spent at its worst case.
        self.billed = billed
        self.retry_after = retry_after
        # The item itself cannot be judged (too long for the context window, refused by a
        # content filter): that item is reported unjudged and the run goes on.
        self.per_item = per_item
        # For per-item errors: "too_long" (the context window) or None (refused, filtered).
        self.kind = kind


class OutputError(JudgeError):
    """An output could not be written part way (a full disk, a lost mount): the run stops, the
    old output is left as it was, and the cache keeps every verdict paid for."""

    exit_code = 1


class BudgetReached(JudgeError):
    """A call would pass --max-cost: the runner does not make it, and its item is unjudged."""

    exit_code = 1


class RunFailed(JudgeError):
    """A Python API run that the CLI would end with exit 1 (model unreachable, budget reached):
    `result` is what the function would have returned, `lines` the run's summary."""

    exit_code = 1

    def __init__(self, lines: list[str], result: object = None) -> None:
        self.lines = lines
        self.result = result
        reasons = [line for line in lines if "error" in line or "budget" in line]
        super().__init__("; ".join(reasons or lines))


class ParseError(ValueError):
    """The model's answer does not follow the requested format; the runner re-asks."""
