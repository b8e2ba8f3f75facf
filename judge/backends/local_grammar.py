"""The embedded model's answer grammar: the request's schema with each free-text string bounded
to the words the prompt asks for, and the token cap that fits the longest answer it allows.

The prompt asks for "a rationale of at most ten words"; SmolLM2-135M copied sentences of the
response into it instead, past any cap (12 of the 40 XSTest items of the README's tour unjudged,
"cut off at the token limit", each after four full-length attempts). Bounded in the grammar, the
answer always closes, and the cap is set from the grammar so it never cuts one off. A word count
is cheap for llama.cpp's grammar (nesting of at most WORD_CHARS + words rules); a `maxLength` of
characters, nested once a character, made each call ten times slower.
"""

from __future__ import annotations

import json
from typing import Any

WORD_CHARS = 20  # longest word the grammar lets through (longer ones are split by a space)
# One word: no quote, backslash, control character or space (so no escapes to count).
_WORD = r'[^"\\\x00-\x1f ]{1,' + str(WORD_CHARS) + "}"


def words_pattern(words: int) -> str:
    """A regex (of the subset llama.cpp's schema converter reads) of 1..`words` words, each
    separated by one space."""
    return f"^{_WORD}( {_WORD}){{0,{words - 1}}}$"


def bounded_schema(schema: dict[str, Any], words: int) -> dict[str, Any]:
    """`schema` with every free-text string (a string with no enum, pattern or length) bounded
    to `words` words; the rest unchanged."""

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(v) for v in node]
        if not isinstance(node, dict):
            return node
        out = {k: walk(v) for k, v in node.items()}
        free = not {"enum", "const", "pattern", "maxLength", "format"} & node.keys()
        if node.get("type") == "string" and free:
            out["pattern"] = words_pattern(words)
        return out

    return dict(walk(schema))


def longest_answer(schema: dict[str, Any]) -> int | None:
    """The most characters an answer of this (bounded) schema can have, with the one optional
    space the grammar allows after each token; None when it has no bound (an unbounded string,
    number or array). An ASCII answer has at most as many tokens as characters."""
    kind = schema.get("type")
    if "enum" in schema:
        return max(len(json.dumps(v)) for v in schema["enum"]) + 1
    if kind == "string" and "pattern" in schema:
        words = int(schema["pattern"].rsplit("{0,", 1)[1].split("}")[0]) + 1
        return words * (WORD_CHARS + 1) + 3
    if kind == "object" and schema.get("additionalProperties") is False:
        total = 4
        for key, value in schema.get("properties", {}).items():
            inner = longest_answer(value)
            if inner is None:
                return None
            total += len(json.dumps(key)) + 5 + inner
        return total
    if kind == "array" and "maxItems" in schema and isinstance(schema.get("items"), dict):
        item = longest_answer(schema["items"])
        return None if item is None else 4 + int(schema["maxItems"]) * (item + 3)
    return None


def grammar_cap(schema: dict[str, Any], max_tokens: int) -> int:
    """The token cap for an answer of `schema`: the request's, raised to the longest answer
    the grammar allows when that is known."""
    longest = longest_answer(schema)
    return max_tokens if longest is None else max(max_tokens, longest)
