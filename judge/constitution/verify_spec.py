"""The `verify:` attribute of a verifier principle and its `### Schema` section: read and linted.

A verifier principle is checked by code, not judged by a model (judge.judging.verifiers):

    verify: answer                    the final answer equals the row's `reference` (as math)
    verify: regex PATTERN             PATTERN (Python syntax) is found in the response
    verify: json                      the response is valid JSON; with a schema (inline after
    verify: json {"type": "object"}   `json`, or in a `### Schema` section), valid against it
    verify: length 20-300 words       the length is in the range (characters by default; one
                                      bound may be left out: `length 50-`, `length -2000`)
"""

from __future__ import annotations

import json
import re
from typing import Any

from judge.constitution.lines import Line
from judge.constitution.model import VERIFIERS, Verifier

KNOWN = (
    "answer, regex PATTERN, json [SCHEMA], length MIN-MAX [characters|words] "
    "(see docs/constitution.md, Verifier principles)"
)
_LENGTH = re.compile(r"(\d*)\s*-\s*(\d*)(?:\s+(characters|chars|words))?\Z", re.IGNORECASE)
_FENCE = re.compile(r"\s*(`{3,}|~{3,})")


def parse_verify(value: str) -> tuple[Verifier | None, str | None]:
    """(the verifier, None) or (None, what is wrong with the value and how to write it)."""
    kind, _, rest = value.strip().partition(" ")
    kind, rest = kind.lower(), rest.strip()
    if kind not in VERIFIERS:
        return None, f"unknown verifier `{kind}`; known: {KNOWN}"
    if kind == "answer":
        if rest:
            return None, (
                "`verify: answer` takes nothing after it: the expected answer comes from each "
                "row's `reference` field"
            )
        return Verifier(kind="answer"), None
    if kind == "regex":
        if not rest:
            return None, "`verify: regex` needs a pattern, e.g. `verify: regex ^Answer: \\d+$`"
        try:
            re.compile(rest)
        except re.error as exc:
            return None, f"bad regular expression `{rest}`: {exc.msg} at position {exc.pos}"
        return Verifier(kind="regex", pattern=rest), None
    if kind == "json":
        if not rest:
            return Verifier(kind="json"), None
        schema, problem = read_schema(rest)
        return (None, problem) if problem else (Verifier(kind="json", json_schema=schema), None)
    m = _LENGTH.match(rest)
    if not m or not (m.group(1) or m.group(2)):
        return None, (
            f"bad length range `{rest}`: write MIN-MAX and optionally `characters` or `words`, "
            "e.g. `length 20-300 words` (`50-`: at least 50; `-2000`: at most 2000)"
        )
    low = int(m.group(1)) if m.group(1) else None
    high = int(m.group(2)) if m.group(2) else None
    if low is not None and high is not None and low > high:
        return None, f"bad length range `{rest}`: MIN ({low}) is above MAX ({high})"
    words = (m.group(3) or "").lower() == "words"
    return Verifier(
        kind="length", low=low, high=high, unit="words" if words else "characters"
    ), None


def read_schema(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """A JSON schema from its text: (schema, None), or (None, what is wrong)."""
    try:
        schema = json.loads(text)
    except ValueError as exc:
        return None, f"the JSON schema is not valid JSON: {exc}"
    if not isinstance(schema, dict):
        return None, 'the JSON schema must be a JSON object, e.g. {"type": "object"}'
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import validator_for

    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "the top level"
        return None, f"bad JSON schema at {where}: {exc.message}"
    return schema, None


def schema_text(body: list[Line]) -> str:
    """A `### Schema` section's JSON: its lines, code fences left out."""
    return "\n".join(ln.text for ln in body if not (ln.code and _FENCE.match(ln.text)))
