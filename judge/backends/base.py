"""The backend contract: one async `generate()` per provider, nothing else.

A backend knows its provider's API and nothing about retries, caching or concurrency (the runner
owns those). It turns a `Request` into a `Response`, and every failure into a `BackendError` whose
`transient` flag says whether retrying may help (429, 5xx, timeouts, resets) or not (bad key, bad
request). SDK-level retries must be off so that retries happen in exactly one layer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import orjson

if TYPE_CHECKING:
    from judge.backends.batch import BatchApi

# Where a server has no structured output, backends append this line and the schema to the prompt.
SCHEMA_INSTRUCTION = "Answer with only a JSON object that follows this JSON schema:"


@dataclass(frozen=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str
    # Mark a long, stable block (the constitution) as cacheable where the provider supports it.
    cache: bool = False


@dataclass(frozen=True)
class Request:
    messages: tuple[Message, ...]
    # JSON schema the answer must follow; backends use the provider's structured output when they
    # can, and otherwise append the schema to the prompt (the parser stays strict either way).
    schema: dict[str, Any] | None = None
    schema_name: str = "verdict"
    max_tokens: int = 1024
    temperature: float = 0.0
    seed: int | None = None
    # Ask for the top-k log-probabilities of output tokens where the provider offers them.
    logprobs: int | None = None
    # Keep log-probabilities only for the tokens where a match of this regex (over the answer
    # text) ends, e.g. the score after `"score":`; None keeps every token's. An answer carries
    # top-k alternatives for each of its ~100 tokens: kept whole they cost more CPU and cache
    # space than everything else in a verdict (benchmarks/throughput.py).
    logprobs_after: str | None = None
    # The most words each free-text string of the answer (a rationale) may hold, as the prompt
    # asks. The embedded model's grammar enforces it (judge.backends.local_grammar); HTTP
    # backends send nothing of it. Not in the cache key: the prompt that asks for it is.
    words: int | None = None

    def key_material(self) -> dict[str, Any]:
        """Everything in the request that changes the answer (feeds the cache key)."""
        return {
            "messages": [[m.role, m.content] for m in self.messages],
            "schema": self.schema,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "seed": self.seed,
            "logprobs": self.logprobs,
            **({"logprobs_after": self.logprobs_after} if self.logprobs_after else {}),
        }


@dataclass
class TokenLogprob:
    token: str
    logprob: float
    top: dict[str, float] = field(default_factory=dict)  # alternative token -> logprob
    # Where the token starts in Response.text (characters). None: right after the token before
    # it, as when every token is listed (Response fills it in).
    offset: int | None = None


# The fields of a Response written to the cache as they are, in the order written, with the value
# read when an entry lacks one (cache_write_input_tokens: entries cached before it existed).
_PLAIN: dict[str, Any] = {
    "input_tokens": 0,
    "output_tokens": 0,
    "cached_input_tokens": 0,
    "cache_write_input_tokens": 0,
    "finish_reason": None,
}


@dataclass
class Response:
    text: str
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0  # of input_tokens: read from the provider's prompt cache
    logprobs: list[TokenLogprob] | None = None
    finish_reason: str | None = None  # "stop", "length", ...
    # Of input_tokens: written to the prompt cache, billed above the input rate (Anthropic).
    cache_write_input_tokens: int = 0
    # How long the backend took to give it, as the runner measured (None: not measured, e.g.
    # a batch job's): kept in the cache, it is the latency --dry-run estimates time from.
    seconds: float | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        at = 0
        for t in self.logprobs or ():
            if t.offset is None:
                t.offset = at
            at = t.offset + len(t.token)

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            **{name: getattr(self, name) for name in _PLAIN},
            "logprobs": None
            if self.logprobs is None
            else [[t.token, t.logprob, t.top, t.offset] for t in self.logprobs],
            **({} if self.seconds is None else {"seconds": round(self.seconds, 3)}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Response:
        lps = data.get("logprobs")
        return cls(
            text=data["text"],
            **{name: data.get(name, default) for name, default in _PLAIN.items()},
            # [token, logprob, top, offset]; entries cached before offsets have no offset.
            logprobs=None if lps is None else [TokenLogprob(*entry) for entry in lps],
            seconds=data.get("seconds"),
        )


@runtime_checkable
class Backend(Protocol):
    """A model behind one provider's API."""

    provider: str  # "openai", "anthropic", "local", ...
    model: str  # the provider's model name
    # Writing the provider's prompt cache is billed above the input rate (Anthropic: 1.25x):
    # the runner's worst-case cost estimates count it.
    bills_cache_writes: bool

    @property
    def batch(self) -> BatchApi | None:
        """The provider's batch API (judge.backends.batch), or None where there is none:
        --batch is refused for such a backend before any call."""
        ...

    @property
    def name(self) -> str:
        """`provider/model`, as users write it."""
        ...

    def identity(self) -> dict[str, Any]:
        """What, besides the request, changes the answer (provider, model, server): cache key."""
        ...

    async def generate(self, request: Request) -> Response: ...

    async def aclose(self) -> None: ...


def request_key(backend: Backend, request: Request) -> str:
    """A stable hash of everything that changes a backend's answer to a request."""
    material = {"backend": backend.identity(), "request": request.key_material()}
    # orjson writes what json.dumps(sort_keys, ensure_ascii=False, compact separators) writes
    # (floats in exponent form aside), so keys made before it are unchanged, at a fraction of the
    # CPU: a prompt is ~10 KB. Text with a lone surrogate is not UTF-8: json, which escapes it.
    try:
        blob = orjson.dumps(material, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        blob = json.dumps(material, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()
