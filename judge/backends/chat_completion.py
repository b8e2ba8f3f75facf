"""Reading a chat.completion answer (OpenAI and compatible servers) into a Response.

Speed matters here: with top-5 log-probabilities an answer of ~100 tokens is ~45 KB of JSON, and
reading it was the largest piece of a verdict's CPU. The usual shape is decoded by msgspec into
typed structs that leave each token's alternatives as raw JSON, decoded only for the tokens a
request keeps (Request.logprobs_after); an unusual shape falls back to generic JSON and the same
checks, so a strange server never gets a worse answer than before, only a slower one.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from collections.abc import Callable
from typing import Any

import msgspec
import orjson

from judge.backends.base import Response, TokenLogprob


class _Token(msgspec.Struct):
    token: str
    logprob: float
    bytes: list[int] | None = None
    top_logprobs: msgspec.Raw = msgspec.Raw(b"[]")


class _Logprobs(msgspec.Struct):
    content: list[_Token] | None = None


class _Message(msgspec.Struct):
    content: str | None = None
    refusal: str | None = None


class _Choice(msgspec.Struct):
    message: _Message
    logprobs: _Logprobs | None = None
    finish_reason: str | None = None


class _Details(msgspec.Struct):
    cached_tokens: int | None = None


class _Usage(msgspec.Struct):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    prompt_tokens_details: _Details | None = None


class _Completion(msgspec.Struct):
    choices: list[_Choice]
    usage: _Usage | None = None


_DECODER = msgspec.json.Decoder(_Completion)


class Unreadable(ValueError):
    """Not a chat completion: the text says what is wrong."""


@functools.lru_cache(maxsize=64)
def keep_pattern(regex: str) -> re.Pattern[bytes]:
    """Request.logprobs_after, compiled to run over the answer's UTF-8 bytes (token spans are
    known in bytes: a token may be part of a character)."""
    return re.compile(regex.encode("utf-8"))


def read_completion(
    body: bytes, *, logprobs: bool, keep: str | None = None
) -> tuple[Response, str | None]:
    """A Response from a chat.completion body, and the model's refusal text if it sent one.
    Raises Unreadable (not JSON, or not a chat completion). `logprobs`: whether they were asked
    for; `keep`: Request.logprobs_after."""
    pattern = keep_pattern(keep) if keep else None
    try:
        done = _DECODER.decode(body)
    except msgspec.ValidationError:
        return _read_generic(body, logprobs=logprobs, keep=pattern)
    except msgspec.DecodeError as exc:
        raise Unreadable(f"not JSON: {exc}") from None
    if not done.choices:
        raise Unreadable("not a chat completion: no choices")
    choice = done.choices[0]
    text = choice.message.content or ""
    usage = done.usage or _Usage()
    details = usage.prompt_tokens_details or _Details()
    content = choice.logprobs.content if choice.logprobs is not None and logprobs else None
    response = Response(
        text=text,
        input_tokens=usage.prompt_tokens or 0,
        output_tokens=usage.completion_tokens or 0,
        cached_input_tokens=details.cached_tokens or 0,
        logprobs=None if content is None else _typed_logprobs(content, text, pattern),
        finish_reason=choice.finish_reason,
    )
    return response, choice.message.refusal


def _kept(sizes: list[int], raw: bytes, keep: re.Pattern[bytes] | None) -> list[tuple[int, int]]:
    """(token index, byte offset) of the tokens to keep: each one where a match of `keep` ends
    in the answer `raw` (all of them without `keep`)."""
    starts = list(itertools.accumulate(sizes, initial=0))
    if keep is None:
        return list(enumerate(starts[:-1]))
    out: list[tuple[int, int]] = []
    for match in keep.finditer(raw):
        # The last token starting at or before the match's end; kept if its span holds the end.
        index = bisect.bisect_right(starts, match.end()) - 1
        holds = index < len(sizes) and match.end() < starts[index] + sizes[index]
        if holds and (not out or out[-1][0] != index):
            out.append((index, starts[index]))
    return out


def _collect(
    sizes: list[int],
    text: str,
    keep: re.Pattern[bytes] | None,
    make: Callable[[int, int], TokenLogprob],
) -> list[TokenLogprob]:
    """`make(index, offset)` for each kept token, offset in characters of `text`."""
    raw = text.encode("utf-8")
    return [
        make(index, len(raw[:at].decode("utf-8", errors="ignore")))
        for index, at in _kept(sizes, raw, keep)
    ]


def _alternatives(found: Any) -> dict[str, float]:
    """A token's top alternatives from their JSON list; malformed entries are skipped."""
    out: dict[str, float] = {}
    for a in found if isinstance(found, list) else ():
        if isinstance(a, dict) and isinstance(a.get("token"), str):
            lp = a.get("logprob")
            if isinstance(lp, (int, float)) and not isinstance(lp, bool):
                out[a["token"]] = float(lp)
    return out


def _typed_logprobs(
    content: list[_Token], text: str, keep: re.Pattern[bytes] | None
) -> list[TokenLogprob]:
    sizes = [len(t.bytes) if t.bytes is not None else len(t.token.encode("utf-8")) for t in content]

    def make(index: int, offset: int) -> TokenLogprob:
        t = content[index]
        try:  # the alternatives stayed raw JSON until now: only kept tokens pay for them
            found = orjson.loads(memoryview(t.top_logprobs)) if t.top_logprobs else None
        except ValueError:
            found = None
        return TokenLogprob(t.token, t.logprob, _alternatives(found), offset)

    return _collect(sizes, text, keep, make)


def _read_generic(
    body: bytes, *, logprobs: bool, keep: re.Pattern[bytes] | None
) -> tuple[Response, str | None]:
    """The same reading on generic JSON, naming what is wrong with an unusual answer."""
    try:
        data = orjson.loads(body)
    except ValueError as exc:
        raise Unreadable(f"not JSON: {exc}") from None
    try:
        choice = data["choices"][0]
        message = choice["message"]
        text = message.get("content") or ""
        if not isinstance(text, str):
            raise TypeError(f"content is {type(text).__name__}, not text")
        finish = choice.get("finish_reason")
        refusal = message.get("refusal")
        usage = data.get("usage") or {}
        details = usage.get("prompt_tokens_details") or {}
        response = Response(
            text=text,
            input_tokens=int(usage.get("prompt_tokens") or 0),
            output_tokens=int(usage.get("completion_tokens") or 0),
            cached_input_tokens=int(details.get("cached_tokens") or 0),
            logprobs=map_logprobs(choice.get("logprobs"), text, keep) if logprobs else None,
            finish_reason=finish if isinstance(finish, str) else None,
        )
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
        raise Unreadable(f"not a chat completion: {exc!r}") from None
    return response, refusal if isinstance(refusal, str) else None


def map_logprobs(
    logprobs: Any, text: str, keep: re.Pattern[bytes] | None = None
) -> list[TokenLogprob] | None:
    """TokenLogprobs from a choice's `logprobs` object as generic JSON (None when the server sent
    none): every token's, or with `keep` only those of the tokens where a match of it ends."""
    content = logprobs.get("content") if logprobs else None
    if content is None:
        return None
    sizes = []
    for t in content:
        span = t.get("bytes")
        sizes.append(len(span) if isinstance(span, list) else len(t["token"].encode("utf-8")))

    def make(index: int, offset: int) -> TokenLogprob:
        t = content[index]
        return TokenLogprob(
            t["token"], float(t["logprob"]), _alternatives(t.get("top_logprobs")), offset
        )

    return _collect(sizes, text, keep, make)
