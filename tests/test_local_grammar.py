"""The embedded model's answer grammar (judge/backends/local_grammar.py): each rationale bounded
to the words the prompt asks for, and a token cap that fits the longest answer so bounded."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from judge.backends.base import Message, Request
from judge.backends.local_grammar import (
    WORD_CHARS,
    bounded_schema,
    grammar_cap,
    longest_answer,
    words_pattern,
)
from judge.constitution import parse
from judge.judging.comparison import COMPARE_SCHEMA
from judge.judging.scoring import verdict_schema


def matches(words: int, text: str) -> bool:
    return re.fullmatch(words_pattern(words)[1:-1], text) is not None


def test_the_pattern_counts_words() -> None:
    assert matches(10, "one")
    assert matches(10, " ".join(["word"] * 10))
    assert not matches(10, " ".join(["word"] * 11))
    assert not matches(10, "")
    assert not matches(10, "two  spaces")  # one space between words, none around them
    assert not matches(10, "a" * (WORD_CHARS + 1))
    for bad in ('say "hi"', "back\\slash", "new\nline"):  # no escapes: JSON as written
        assert not matches(10, bad)


def constitution(n: int) -> list:  # type: ignore[type-arg]
    text = "name: t\nscale: 1-5\n\n" + "".join(f"## p{k}\n\nIs it good?\n\n" for k in range(n))
    return list(parse(text).principles)


def test_only_free_text_is_bounded() -> None:
    bounded = bounded_schema(COMPARE_SCHEMA, 75)
    assert bounded["properties"]["rationale"]["pattern"] == words_pattern(75)
    assert bounded["properties"]["winner"] == COMPARE_SCHEMA["properties"]["winner"]  # an enum
    assert "pattern" not in COMPARE_SCHEMA["properties"]["rationale"]  # the request's is kept
    flat = bounded_schema(verdict_schema(constitution(3), "none"), 10)
    assert flat == verdict_schema(constitution(3), "none")  # scores only: nothing to bound


def widest(schema: dict, words: int) -> object:  # type: ignore[type-arg]
    """The longest answer the bounded schema allows (ASCII)."""
    if "enum" in schema:
        return max(schema["enum"], key=lambda v: len(json.dumps(v)))
    if schema["type"] == "string":
        return " ".join(["w" * WORD_CHARS] * words)
    if schema["type"] == "array":
        return [widest(schema["items"], words)] * schema["maxItems"]
    return {k: widest(v, words) for k, v in schema["properties"].items()}


@given(
    principles=st.integers(1, 12),
    rationale=st.sampled_from(["full", "short", "brief", "none"]),
    words=st.integers(1, 80),
)
def test_the_cap_fits_the_longest_answer(principles: int, rationale: str, words: int) -> None:
    schema = bounded_schema(verdict_schema(constitution(principles), rationale), words)
    longest = longest_answer(schema)
    assert longest is not None
    # With the grammar's one optional space after every token, a character a token at most.
    spaced = json.dumps(widest(schema, words), separators=(" , ", " : ")).replace("{", "{ ")
    assert len(spaced) <= longest
    assert grammar_cap(schema, 1) == longest and grammar_cap(schema, 10**6) == 10**6


def test_an_unbounded_schema_keeps_the_requests_cap() -> None:
    assert longest_answer(COMPARE_SCHEMA) is None  # its rationale has no bound yet
    assert grammar_cap(COMPARE_SCHEMA, 200) == 200


def test_llama_cpp_builds_the_bounded_grammar() -> None:
    grammar = pytest.importorskip("llama_cpp.llama_grammar")
    schema = bounded_schema(verdict_schema(constitution(4), "short"), 10)
    rules = grammar.json_schema_to_gbnf(json.dumps(schema))
    assert "rationale" in rules
    grammar.LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)


def test_words_are_not_in_the_cache_key() -> None:
    """The prompt that asks for the words is: HTTP caches made before stay valid."""
    ask = Request(messages=(Message("user", "Rate this."),), schema=COMPARE_SCHEMA)
    bounded = Request(messages=ask.messages, schema=COMPARE_SCHEMA, words=75)
    assert ask.key_material() == bounded.key_material()
