"""Reading a judge's answer: the JSON object it was asked for, or a ParseError saying why not."""

from __future__ import annotations

import json
import re
from typing import Any

from judge.backends.base import Response
from judge.errors import ParseError

_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def json_object(response: Response) -> dict[str, Any]:
    """The answer's JSON object. Some servers wrap it in prose or code fences: the outermost
    object is taken then. An answer cut off at the token limit is no answer."""
    if response.finish_reason == "length":
        raise ParseError("the answer was cut off at the token limit")
    text = response.text.strip()
    try:
        data = json.loads(text)
    except ValueError:
        match = _JSON_OBJECT.search(text)
        if match is None:
            raise ParseError(f"not JSON: {text[:120]!r}") from None
        try:
            data = json.loads(match.group(0))
        except json.JSONDecodeError as exc:
            raise ParseError(f"not valid JSON ({exc.msg}): {text[:120]!r}") from None
    if not isinstance(data, dict):
        raise ParseError("the answer is not a JSON object")
    return data


def text_field(value: object) -> str:
    """A rationale as text, whatever JSON the judge put there."""
    return value if isinstance(value, str) else json.dumps(value)
