"""Reading chat.completion answers: the typed fast path, the generic fallback, and which tokens'
log-probabilities are kept (Request.logprobs_after)."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from judge.backends.base import Response
from judge.backends.chat_completion import Unreadable, read_completion
from judge.constitution import Principle, Scale
from judge.judging.comparison import WINNER_KEY, soft_label
from judge.judging.logprobs import SCORE_KEY, expected_scores


def token_entry(token: str, lp: float, alts: dict[str, float], with_bytes: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "token": token,
        "logprob": lp,
        "top_logprobs": [{"token": t, "logprob": v, "bytes": None} for t, v in alts.items()],
    }
    if with_bytes:
        entry["bytes"] = list(token.encode("utf-8"))
    return entry


def completion(
    tokens: list[str], *, alts: dict[int, dict[str, float]] | None = None, with_bytes: bool = True
) -> bytes:
    alts = alts or {}
    content = [
        token_entry(t, alts.get(i, {}).get(t, -0.1), alts.get(i, {t: -0.1, "x": -3.0}), with_bytes)
        for i, t in enumerate(tokens)
    ]
    return json.dumps(
        {
            "id": "c1",
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "".join(tokens)},
                    "logprobs": {"content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": 10,
                "completion_tokens": len(tokens),
                "prompt_tokens_details": {"cached_tokens": 4},
            },
        }
    ).encode()


def brute_force_kept(tokens: list[str], regex: str) -> list[int]:
    """The tokens at whose start the text before them, plus part of the token, ends a match."""
    text = "".join(tokens)
    ends = {m.end() for m in re.finditer(regex, text)}
    kept, at = [], 0
    for i, t in enumerate(tokens):
        if any(at <= e < at + len(t) for e in ends):
            kept.append(i)
        at += len(t)
    return kept


VERDICT_TOKENS = [
    "{",
    '"',
    "helpful",
    '":',
    ' {"',
    "rationale",
    '":',
    ' "',
    "Clear",
    " and",
    " right",
    " —",
    " 100",
    " °C",
    '.",',
    ' "',
    "score",
    '":',
    " ",
    "4",
    "}}",
]


def test_usage_text_and_every_tokens_offset() -> None:
    response, refusal = read_completion(completion(VERDICT_TOKENS), logprobs=True)
    assert refusal is None
    assert response.text == "".join(VERDICT_TOKENS)
    assert (response.input_tokens, response.output_tokens, response.cached_input_tokens) == (
        10,
        len(VERDICT_TOKENS),
        4,
    )
    assert response.logprobs is not None and len(response.logprobs) == len(VERDICT_TOKENS)
    for tok in response.logprobs:
        assert response.text[tok.offset or 0 :].startswith(tok.token)


def test_only_the_score_token_is_kept_past_non_ascii_text() -> None:
    alts = {19: {"4": math.log(0.5), "5": math.log(0.25), "3": math.log(0.25)}}
    response, _ = read_completion(
        completion(VERDICT_TOKENS, alts=alts), logprobs=True, keep=SCORE_KEY
    )
    assert response.logprobs is not None
    assert [t.token for t in response.logprobs] == ["4"]  # " " ends no match: 4 does
    (four,) = response.logprobs
    assert response.text[: four.offset].endswith('"score": ')
    helpful = Principle(id="helpful", statement="Be helpful.", scale=Scale(low=1, high=5))
    assert expected_scores([helpful], response) == {"helpful": pytest.approx(4.0)}


def test_the_winner_token_is_kept_and_gives_the_soft_label() -> None:
    tokens = ['{"', "rationale", '":', ' "', "A", " is", " better", '",', ' "', "winner", '":']
    tokens += [' "', "A", '"}']
    alts = {12: {"A": math.log(0.6), "B": math.log(0.2), "tie": math.log(0.2)}}
    response, _ = read_completion(completion(tokens, alts=alts), logprobs=True, keep=WINNER_KEY)
    assert response.logprobs is not None
    assert [t.offset for t in response.logprobs] == [len("".join(tokens[:12]))]
    assert soft_label(response) == pytest.approx(0.6 + 0.5 * 0.2)


def test_no_logprobs_unless_asked() -> None:
    response, _ = read_completion(completion(VERDICT_TOKENS), logprobs=False)
    assert response.logprobs is None


@settings(max_examples=200, deadline=None)
@given(
    tokens=st.lists(
        st.sampled_from(['"score"', ":", " ", "5", "é", " 3", '"', "score", '":', "x", "ü4"]),
        max_size=30,
    ),
    with_bytes=st.booleans(),
)
def test_kept_tokens_are_exactly_those_where_a_match_ends(
    tokens: list[str], with_bytes: bool
) -> None:
    """Typed path, with or without `bytes`, against a brute force over characters."""
    tokens = [t for t in tokens if t]
    response, _ = read_completion(
        completion(tokens, with_bytes=with_bytes), logprobs=True, keep=SCORE_KEY
    )
    expected = brute_force_kept(tokens, SCORE_KEY)
    assert response.logprobs is not None
    assert [t.token for t in response.logprobs] == [tokens[i] for i in expected]
    assert [t.offset for t in response.logprobs] == [len("".join(tokens[:i])) for i in expected]


def test_an_unusual_shape_takes_the_generic_path_with_the_same_result() -> None:
    body = json.loads(completion(VERDICT_TOKENS))
    body["choices"][0]["logprobs"]["content"][0]["logprob"] = "-0.1"  # a string: not typed
    typed, _ = read_completion(completion(VERDICT_TOKENS), logprobs=True, keep=SCORE_KEY)
    generic, _ = read_completion(json.dumps(body).encode(), logprobs=True, keep=SCORE_KEY)
    assert generic == typed


def test_refusal_and_content_filter_are_reported() -> None:
    body = json.loads(completion(["x"]))
    body["choices"][0]["message"] = {"role": "assistant", "content": None, "refusal": "No."}
    response, refusal = read_completion(json.dumps(body).encode(), logprobs=False)
    assert (response.text, refusal) == ("", "No.")


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"<html>502 Bad Gateway</html>", "not JSON"),
        (b'{"choices": []}', "no choices"),
        (b'{"choices": [{"message": {"content": 5}}]}', "not a chat completion"),
        (b'{"object": "list", "data": []}', "not a chat completion"),
    ],
)
def test_what_is_not_a_chat_completion_is_named(body: bytes, why: str) -> None:
    with pytest.raises(Unreadable, match=why):
        read_completion(body, logprobs=True)


def test_malformed_alternatives_are_skipped_not_fatal() -> None:
    body = json.loads(completion(VERDICT_TOKENS))
    body["choices"][0]["logprobs"]["content"][19]["top_logprobs"] = [
        {"token": "4", "logprob": -0.5},
        {"token": 5},
        "junk",
        {"token": "3", "logprob": None},
    ]
    response, _ = read_completion(json.dumps(body).encode(), logprobs=True, keep=SCORE_KEY)
    assert response.logprobs is not None and response.logprobs[0].top == {"4": -0.5}


def test_cached_rows_without_offsets_still_read() -> None:
    """Entries cached before offsets existed: three items, every token."""
    cached = {
        "text": "".join(VERDICT_TOKENS),
        "logprobs": [[t, -0.1, {}] for t in VERDICT_TOKENS],
    }
    response = Response.from_json(cached)
    assert response.logprobs is not None
    assert response.logprobs[19].offset == len("".join(VERDICT_TOKENS[:19]))
