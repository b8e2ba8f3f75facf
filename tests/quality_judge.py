"""A fake judge that knows each response's hidden quality, for pairs tests and benchmarks.

A response's quality is the number after `q=` in its text (`"answer q=7"`); responses without one
have quality 0. Comparisons prefer the better response (a tie when equal), scores map quality onto
the principle scale. `noise` makes a comparison verdict random with that probability; `first_bias`
makes the judge answer "A" (the first position) with that probability, whatever it sees.
"""

from __future__ import annotations

import json
import random
import re

from judge.backends.base import Request, Response, TokenLogprob
from judge.testing import data_section

_Q = re.compile(r"q=(-?\d+(?:\.\d+)?)")


def quality(text: str) -> float:
    m = _Q.search(text)
    return float(m.group(1)) if m else 0.0


def tag(content: str, name: str) -> str:
    found = data_section(content, name)
    assert found is not None, f"no <{name}_CODE> in the request"
    return found


def is_comparison(request: Request) -> bool:
    return request.schema is not None and "winner" in request.schema.get("properties", {})


class QualityJudge:
    """An `answer` callable for tests.fakebackend.FakeBackend."""

    def __init__(
        self,
        noise: float = 0.0,
        first_bias: float = 0.0,
        seed: int = 0,
        logprob_of_winner: float | None = None,
        score_high: int = 5,
    ) -> None:
        self.noise = noise
        self.first_bias = first_bias
        self.rng = random.Random(seed)
        self.logprob_of_winner = logprob_of_winner  # probability put on the winner token
        self.score_high = score_high
        self.comparisons = 0
        self.scores = 0

    def __call__(self, request: Request) -> str | Response:
        user = request.messages[1].content
        if is_comparison(request):
            self.comparisons += 1
            qa, qb = quality(tag(user, "response_a")), quality(tag(user, "response_b"))
            winner = "A" if qa > qb else "B" if qb > qa else "tie"
            if self.rng.random() < self.noise:
                winner = self.rng.choice(["A", "B"])
            if self.rng.random() < self.first_bias:
                winner = "A"
            text = json.dumps({"rationale": f"{qa} vs {qb}", "winner": winner})
            if self.logprob_of_winner is None:
                return text
            return with_winner_logprobs(text, winner, self.logprob_of_winner)
        self.scores += 1
        assert request.schema is not None
        q = quality(tag(user, "candidate_response"))
        score = int(min(self.score_high, max(1, round(q))))
        return json.dumps(
            {pid: {"rationale": "r", "score": score} for pid in request.schema["required"]}
        )


def with_winner_logprobs(text: str, winner: str, p: float) -> Response:
    """A response whose tokens carry log-probabilities: `p` on the winner, the rest on the other."""
    import math

    head, _, tail = text.rpartition(f'"{winner}"')
    other = "B" if winner == "A" else "A"
    tokens = [
        TokenLogprob(head + '"', 0.0),
        TokenLogprob(winner, math.log(p), {other: math.log(max(1e-9, 1 - p))}),
        TokenLogprob('"' + tail, 0.0),
    ]
    return Response(text=text, logprobs=tokens, finish_reason="stop", output_tokens=10)
