"""The loopback OpenAI-compatible server every tool in the side-by-side talks to.

It is tests/fakes.py's FakeOpenAIServer (real HTTP/1.1 on 127.0.0.1, a fixed latency per request,
an optional requests-per-minute token bucket that answers 429 with Retry-After and
retry-after-ms) with a handler that answers each tool in the format that tool parses. The format
is detected from the request itself:

- judge: the request carries a JSON schema (response_format json_schema, or the schema written
  into the prompt): the answer is a valid instance, one {"rationale", "score"} per principle.
- distilabel UltraFeedback: the prompt contains "#### Output for Text"; the answer has one
  "#### Output for Text N / Rating: R / Rationale: ..." section per `<text N>` in the annotation.
- distilabel PrometheusEval: the prompt asks for "[RESULT]"; the answer is
  "Feedback: ... [RESULT] R".
- AlpacaEval (weighted annotators): the prompt lists "model_identifier"s m and M; the answer is the
  one token "m" or "M" with top-5 log-probabilities over both, as the logprob parser expects.
- anything else: "OK" (counted as `unknown_format`, so a silent mismatch shows in the results).

Scores are a deterministic function of the text being judged, and every rationale is the same
sentence, so no tool gets a longer or shorter answer than another for reasons of content.

Usage is counted by the server for every 200 answer with the fake's tokenizer (words and
punctuation marks, a rough stand-in for BPE tokens, the same for every tool), so calls and tokens
per item are measured at the wire, not taken from each tool's own accounting. The fake also counts
a repeated leading system message as a prompt-cache hit; `cacheable_input_tokens` keeps those of at
least 1,024 tokens (OpenAI's threshold), for the "with prompt caching" price.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fakes import (  # noqa: E402
    FakeOpenAIServer,
    Reply,
    last_user_text,
    requested_schema,
    text_of,
)

RATIONALE = "The response addresses the request with relevant, mostly accurate content."
CACHE_MIN_TOKENS = 1024
_TEXT_N = re.compile(r"^<text (\d+)> ", re.MULTILINE)


def _pick(key: str, options: list[Any]) -> Any:
    digest = hashlib.sha256(key.encode("utf-8", errors="replace")).digest()
    return options[digest[0] % len(options)]


def judge_answer(schema: dict[str, Any], key: str) -> str:
    out: dict[str, Any] = {}
    for pid, sub in (schema.get("properties") or {}).items():
        levels = (sub.get("properties") or {}).get("score", {}).get("enum") or [1, 2, 3, 4, 5]
        out[pid] = {"rationale": RATIONALE, "score": _pick(key + pid, levels)}
    return json.dumps(out)


def ultrafeedback_answer(prompt: str) -> str:
    annotation = prompt.split("## Annotation", 1)[-1]
    texts = annotation.split("\n<text ")
    n = max((int(m) for m in _TEXT_N.findall(annotation)), default=1)
    sections = []
    for i in range(1, n + 1):
        rating = _pick(texts[i] if i < len(texts) else str(i), [1, 2, 3, 4, 5])
        sections.append(f"#### Output for Text {i}\nRating: {rating}\nRationale: {RATIONALE}")
    return "\n\n".join(sections)


def prometheus_answer(prompt: str) -> str:
    return f"Feedback: {RATIONALE} [RESULT] {_pick(prompt, [1, 2, 3, 4, 5])}"


def alpaca_reply(prompt: str) -> Reply:
    p = _pick(prompt, [0.2, 0.35, 0.5, 0.65, 0.8])
    token = "m" if p >= 0.5 else "M"
    top = {"m": math.log(p), "M": math.log(1 - p)}
    return Reply(text=token, logprobs=[(token, top[token], top)])


class BenchServer(FakeOpenAIServer):
    """FakeOpenAIServer that answers each tool's format and totals usage and formats."""

    def __init__(self, **kwargs: Any) -> None:
        self.totals: dict[str, int] = {
            "answered": 0,
            "input_tokens": 0,
            "output_tokens": 0,
            "cacheable_input_tokens": 0,
            "unknown_format": 0,
        }
        self._totals_lock = threading.Lock()
        super().__init__(handler=self.reply, **kwargs)

    def reply(self, body: dict[str, Any]) -> Reply | str:
        schema = requested_schema(body)
        prompt = "\n".join(text_of(m.get("content")) for m in body.get("messages") or [])
        if schema is not None:
            return judge_answer(schema, last_user_text(body))
        if "#### Output for Text" in prompt:
            return ultrafeedback_answer(prompt)
        if "[RESULT]" in prompt:
            return prometheus_answer(prompt)
        if '"model_identifier": "M"' in prompt:
            return alpaca_reply(prompt)
        with self._totals_lock:
            self.totals["unknown_format"] += 1
        return "OK"

    def answer(self, body: dict[str, Any], reply: Reply, serial: int) -> dict[str, Any]:
        payload = super().answer(body, reply, serial)
        usage = payload["usage"]
        with self._totals_lock:
            self.totals["answered"] += 1
            self.totals["input_tokens"] += int(usage["prompt_tokens"])
            self.totals["output_tokens"] += int(usage["completion_tokens"])
            cached = int(usage["prompt_tokens_details"]["cached_tokens"])
            # OpenAI caches a repeated prompt prefix only from 1,024 tokens on.
            self.totals["cacheable_input_tokens"] += cached if cached >= CACHE_MIN_TOKENS else 0
        return payload

    def report(self) -> dict[str, int]:
        with self._totals_lock:
            totals = dict(self.totals)
        totals["requests"] = self.count
        # Counted where they are sent: a batch's answers arrive in few HTTP requests.
        totals["rejected_429"] = self.rate_limited
        return totals
