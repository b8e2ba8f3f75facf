"""The input-field options of the commands that read candidates (--prompt-field, ...,
--messages-field, --turns, --reference-field); judge.cli.flags.fields_of makes their FieldMap."""

from __future__ import annotations

from typing import Any

import click

from judge.io.conversations import TURNS

_OPTIONS = (
    click.option(
        "--prompt-field", default="prompt", show_default=True, help="Input field of the prompt."
    ),
    click.option(
        "--response-field",
        default="response",
        show_default=True,
        help="Input field of the response.",
    ),
    click.option(
        "--responses-field",
        default="responses",
        show_default=True,
        help="Input field of a list of responses (one output row each).",
    ),
    click.option(
        "--text-field",
        default="text",
        show_default=True,
        help="Input field of a document judged without a prompt.",
    ),
    click.option(
        "--messages-field",
        default="messages",
        show_default=True,
        help="Input field of a conversation (chat messages): its last assistant turn is judged "
        "in the context of the turns before it.",
    ),
    click.option(
        "--turns",
        type=click.Choice(list(TURNS)),
        default="last",
        show_default=True,
        help="Of a conversation, judge the last assistant turn, or all of them (one row each, "
        "with `turn`).",
    ),
    click.option(
        "--reference-field",
        default="reference",
        show_default=True,
        help="Input field of a reference answer (for a conversation, a list with one per "
        "assistant turn may be given), shown to the judge in its own section.",
    ),
)


def field_options(func: Any) -> Any:
    """The field options on a click command."""
    for option in reversed(_OPTIONS):
        func = option(func)
    return func
