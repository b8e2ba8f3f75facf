"""The options that choose the form of preference rows (`judge pairs`, `judge revise --pairs`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import click

from judge.tasks.pairs.rows import FORMATS

F = TypeVar("F", bound=Callable[..., Any])
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


def pair_format_options(what: str) -> Callable[[F], F]:
    """--format, --separator and the deprecated --conversational, for the rows of `what`."""

    def apply(func: F) -> F:
        func = click.option(
            "--conversational",
            is_flag=True,
            hidden=True,
            help="Deprecated: the same as --format conversational (the default).",
        )(func)
        func = click.option(
            "--separator",
            metavar="TEXT",
            help="--format standard: text that ends each prompt, so that TRL's prompt + chosen "
            "reads as a turn boundary (a prompt already ending in white space is not doubled); "
            r"\n and \t are read as a newline and a tab. Default: a blank line (\n\n).",
        )(func)
        func = click.option(
            "--format",
            "pair_format",
            type=click.Choice(FORMATS),
            help=f"Form of {what}: conversational (prompt, chosen and rejected as messages; "
            "TRL applies the chat template) or standard (strings; TRL joins prompt + chosen). "
            "Default: conversational.",
        )(func)
        return func

    return apply


def unescape(separator: str) -> str:
    r"""--separator's \n, \t, \r and \\ as the characters they name."""
    return re.sub(r"\\([ntr\\])", lambda m: _ESCAPES[m.group(1)], separator)
