"""Chat-template special tokens in data, defanged so that no tokenizer makes control tokens of them.

A server that renders a chat template and tokenizes the result with special tokens on (vLLM,
llama.cpp's server, TGI) turns `<|im_end|>` in a candidate into a real end of turn. The strings of
the common templates are data (judge/data/special_tokens.json); a backend adds its own model's
(judge/backends/local_chat.py reads them from the vocabulary). A defanged token keeps its text
but its first character: "<" (or anything else) becomes "[", and "[" becomes "(", so
`<|im_end|>` reads `[|im_end|>` and `[INST]` reads `(INST]`: the judge still sees what the text
tried to do, and the exact string a tokenizer matches is gone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cache, lru_cache
from importlib import resources


@cache
def table() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(literal strings, regular expressions) of the common templates' special tokens."""
    path = resources.files("judge").joinpath("data/special_tokens.json")
    data = json.loads(path.read_text("utf-8"))
    literals = sorted({s for family in data["literals"].values() for s in family})
    return tuple(literals), tuple(data["patterns"])


@lru_cache(maxsize=16)
def _compiled(extra: frozenset[str]) -> tuple[re.Pattern[str], ...]:
    """One regex per first character: a regex that starts with a literal is searched for at C
    speed, one alternation of many first characters is tried at every position."""
    literals, patterns = table()
    by_first: dict[str, list[str]] = {}
    for p in patterns:  # each starts with a literal character, escaped or not
        first, rest = (p[1], p[2:]) if p.startswith("\\") else (p[0], p[1:])
        by_first.setdefault(first, []).append(rest)
    # Longest first, so that `<</SYS>>` is taken whole rather than as `<s>`...
    for word in sorted({*literals, *(e for e in extra if e)}, key=lambda s: (-len(s), s)):
        by_first.setdefault(word[0], []).append(re.escape(word[1:]))
    return tuple(
        re.compile(re.escape(first) + "(?:" + "|".join(rests) + ")")
        for first, rests in by_first.items()
    )


def _defang(match: re.Match[str]) -> str:
    token = match.group()
    return ("(" if token[0] == "[" else "[") + token[1:]


def defang_specials(text: str, extra: Iterable[str] = ()) -> str:
    """`text` with every special-token string (the table's and `extra`) defanged."""
    compiled = _compiled(frozenset(extra))
    # Again while something is left: a token may hide inside another's tail.
    while True:
        found = [p for p in compiled if p.search(text)]
        if not found:
            return text
        for p in found:
            text = p.sub(_defang, text)


def has_specials(text: str, extra: Iterable[str] = ()) -> bool:
    return any(p.search(text) for p in _compiled(frozenset(extra)))
