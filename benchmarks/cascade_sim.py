"""Simulated judges with known accuracy and confidence, for cascade tests and benchmarks.

A simulated judge answers `judge`'s own requests (pairwise comparisons, or scores) behind a fake
OpenAI-compatible server (tests/fakes.py), one server for several judges told apart by the model
name. Items carry a tag in their text ("Answer T-a"); the judge looks up the human label of the tag
and, per (judge, item), draws a latent confidence u ~ U(0, 1) from a hash: it is right with
probability low + (high - low) * u, and puts probability 0.5 + 0.49 * u on the label it writes
(log-probabilities at the winner / score token). So its confidence is informative, and how much
it agrees with people is known: (low + high) / 2 on average.

    sim = Simulation({"weak": SimJudge(0.45, 0.95), "strong": SimJudge(0.7, 0.95)})
    sim.add_pairs(...) / sim.add_absolute(...)
    with FakeOpenAIServer(handler=sim.handler) as server: ... -m openai/weak --base-url ...
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.fakes import Reply, last_user_text, requested_schema

_TAG = re.compile(r"Answer ([\w.-]+)-([ab])\b")
_DOC = re.compile(r"Answer ([\w.-]+)\b")


@dataclass(frozen=True)
class SimJudge:
    low: float  # P(right) at confidence 0
    high: float  # P(right) at confidence 1
    flip: float = 0.0  # P(position bias: "A" in both orders) at confidence 0, falling to 0 at 1

    @property
    def accuracy(self) -> float:
        return (self.low + self.high) / 2


def _words(text: str) -> str:
    """The text's words alone: how a real response is found in a prompt whatever judge did to
    its punctuation, markup or invisible characters (delimiters defanged, tags renamed)."""
    return " ".join(re.findall(r"\w+", text))


def _draw(*parts: object) -> random.Random:
    digest = hashlib.sha256("\0".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass
class Simulation:
    judges: dict[str, SimJudge]
    salt: str = ""
    labels: dict[str, str] = field(default_factory=dict)  # tag -> "a"/"b" or "good"/"bad"
    texts: dict[str, str] = field(default_factory=dict)  # a response's text -> its tag (real data)
    requests: Counter[str] = field(default_factory=Counter)  # model -> requests answered
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- items ----------------------------------------------------------------------------------

    def pair_rows(self, n: int, prefix: str, rng: random.Random) -> list[dict[str, Any]]:
        """`n` labelled pairs, half preferring a; their tags start with `prefix`."""
        rows = []
        for i in range(n):
            tag = f"{prefix}{i}"
            pref = rng.choice("ab")
            self.labels[tag] = pref
            rows.append(
                {
                    "prompt": f"Question {tag}?",
                    "response_a": f"Answer {tag}-a",
                    "response_b": f"Answer {tag}-b",
                    "preference": pref,
                }
            )
        return rows

    def absolute_rows(self, n: int, prefix: str, rng: random.Random) -> list[dict[str, Any]]:
        rows = []
        for i in range(n):
            tag = f"{prefix}{i}"
            good = rng.random() < 0.5
            self.labels[tag] = "good" if good else "bad"
            rows.append(
                {"prompt": f"Question {tag}?", "response": f"Answer {tag}", "label": int(good)}
            )
        return rows

    def know(self, text: str, good: bool) -> str:
        """A real response whose human label the judges know (for real labelled data)."""
        tag = f"real{len(self.texts)}"
        self.texts[_words(text)[:200]] = tag
        self.labels[tag] = "good" if good else "bad"
        return tag

    # -- what a judge says ----------------------------------------------------------------------

    def belief(self, model: str, tag: str) -> tuple[bool, float, bool]:
        """(right?, latent confidence u, position-biased?) of `model` on item `tag`."""
        j = self.judges[model]
        rng = _draw(self.salt, model, tag)
        u = rng.random()
        right = rng.random() < j.low + (j.high - j.low) * u
        biased = rng.random() < j.flip * (1 - u)
        return right, u, biased

    def handler(self, body: dict[str, Any]) -> Reply:
        model = str(body.get("model"))
        with self._lock:
            self.requests[model] += 1
        schema = requested_schema(body) or {}
        text = last_user_text(body)
        if "winner" in schema.get("properties", {}):
            return self._compare(model, text)
        scores = (schema.get("properties") or {}).get("scores") or {}
        if scores.get("type") == "array":  # --rationale brief / none: a list of scores
            return self._score(model, text, [], listed=int(scores.get("minItems", 1)))
        return self._score(model, text, list(schema.get("required", [])))

    def _compare(self, model: str, text: str) -> Reply:
        shown = _TAG.findall(text)
        tag, first = shown[0]
        right, u, biased = self.belief(model, tag)
        human = self.labels[tag]
        believed = human if right else ("b" if human == "a" else "a")
        label = "A" if biased or believed == first else "B"
        p = 0.5 + 0.49 * u
        other = "B" if label == "A" else "A"
        top = {label: math.log(p), other: math.log((1 - p) * 0.8), "tie": math.log((1 - p) * 0.2)}
        head = '{"rationale": "simulated", "winner": "'
        return Reply(
            text=f"{head}{label}" + '"}',
            logprobs=[(head, 0.0, {}), (label, math.log(p), top), ('"}', 0.0, {})],
        )

    def _score(self, model: str, text: str, ids: list[str], listed: int = 0) -> Reply:
        tag = self._tag_of(text)
        right, u, _ = self.belief(model, tag)
        good = (self.labels[tag] == "good") == right
        score = 5 if good else 1
        p = 0.5 + 0.49 * u
        top = {str(score): math.log(p), str(6 - score): math.log((1 - p) * 0.7)}
        top["3"] = math.log((1 - p) * 0.3)
        parts: list[tuple[str, float, dict[str, float]]] = [("{", 0.0, {})]
        if listed:  # {"scores": [s, s, ...]}, a score token per principle
            parts[0] = ('{"scores": [', 0.0, {})
            for k in range(listed):
                parts.append((str(score), math.log(p), top))
                parts.append((", " if k < listed - 1 else "]}", 0.0, {}))
            return Reply(text="".join(t for t, _, _ in parts), logprobs=parts)
        for k, pid in enumerate(ids):
            parts.append((("" if k == 0 else ", ") + f'"{pid}": {{"score": ', 0.0, {}))
            parts.append((str(score), math.log(p), top))
            parts.append(("}", 0.0, {}))
        parts.append(("}", 0.0, {}))
        return Reply(text="".join(t for t, _, _ in parts), logprobs=parts)

    def _tag_of(self, text: str) -> str:
        words = _words(text) if self.texts else ""
        for snippet, tag in self.texts.items():
            if snippet and snippet in words:
                return tag
        m = _DOC.search(text)
        if m is None:
            raise ValueError("the simulated judge found no item it knows in the request")
        return m.group(1)
