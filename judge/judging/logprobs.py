"""Expected scores from token log-probabilities (as in G-Eval): where the answer writes a
score, the digits among the token's top alternatives give the judge's distribution over the
principle's scale."""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable

from judge.backends.base import Response
from judge.constitution import Principle

# brief and none answer with the scores as one list in the principles' order: the principles'
# keys and a JSON object each were most of such an answer's tokens (a grouped verdict's part
# took 36 tokens with keys, 22 with the list, with brief; gpt-4o-mini's tokenizer).
FLAT = ("brief", "none")
SCORES_KEY = "scores"  # FLAT: the answer's list of scores

# The text before a score token; its log-probabilities are the only ones kept (Request).
SCORE_KEY = r'"score"\s*:\s*'
_AFTER_SCORE_KEY = re.compile(SCORE_KEY + "$")
_SCORE_KEY_SPAN = 64  # `"score":` and the spaces around it: how far back a score token looks
_PRINCIPLE_KEY = re.compile(r'"([a-z0-9][a-z0-9_-]*)"\s*:\s*\{')
# FLAT: the scores listed so far, right before a score token (the count of commas is its place)
_LISTED = re.compile(r'"' + SCORES_KEY + r'"\s*:\s*\[([-\d\s,]*)$')


def score_key(principles: Iterable[Principle], rationale: str) -> str:
    """Request.logprobs_after: the text before a score token, in the answer the mode asks for
    (FLAT: the list's opening bracket, or a score and its comma)."""
    if rationale not in FLAT:
        return SCORE_KEY
    return r'(?:"' + SCORES_KEY + r'"\s*:\s*\[|\d\s*,)\s*'


def score_distributions(
    principles: list[Principle], response: Response, start: int = 0, end: int | None = None
) -> dict[str, tuple[int, dict[int, float]]]:
    """Per principle, (the score written, the judge's distribution over the scale) from the
    log-probabilities of the score tokens whose offset in the answer is in [start, end) (one
    candidate's part of a grouped answer).

    Where a token is the score right after `"score":`, the digits among its top alternatives give
    a distribution over the scale (as in G-Eval); the principle is the last one named before it.
    In a list of scores (--rationale brief and none), a score's place gives its principle.
    Principles whose score token is not a single in-scale digit are left out.
    """
    if not response.logprobs:
        return {}
    out: dict[str, tuple[int, dict[int, float]]] = {}
    ids = {p.id: p for p in principles}
    text = response.text
    # Where each principle is named (the end of its `"id": {`), found once: looking back from
    # every digit token instead made reading a cached run's answers quadratic in their length.
    named = [(m.end(), m.group(1)) for m in _PRINCIPLE_KEY.finditer(text) if m.group(1) in ids]
    ends = [end_ for end_, _ in named]
    listing = _SCORE_KEY_SPAN + 8 * len(principles)  # `"scores": [` and the scores before
    for tok in response.logprobs:
        at = tok.offset or 0
        if not tok.token.strip().isdigit() or at < start or (end is not None and at >= end):
            continue
        if _AFTER_SCORE_KEY.search(text, max(0, at - _SCORE_KEY_SPAN), at):
            k = bisect.bisect_right(ends, at)
            pid = named[k - 1][1] if k else None
            if pid is None and len(principles) == 1:
                pid = principles[0].id
        else:  # a score in the list of scores (--rationale brief and none): by its place
            listed = _LISTED.search(text, max(0, at - listing), at)
            place = listed.group(1).count(",") if listed is not None else len(principles)
            pid = principles[place].id if place < len(principles) else None
        if pid is None or pid in out:
            continue
        p = ids[pid]
        weights: dict[int, float] = {}
        for alt, lp in {tok.token: tok.logprob, **tok.top}.items():
            a = alt.strip()
            if a.isdigit() and p.scale.low <= int(a) <= p.scale.high:
                weights[int(a)] = max(weights.get(int(a), 0.0), math.exp(lp))
        total = sum(weights.values())
        if total > 0:
            out[pid] = (int(tok.token.strip()), {v: w / total for v, w in weights.items()})
    return out


def expected_scores(
    principles: list[Principle], response: Response, start: int = 0, end: int | None = None
) -> dict[str, float]:
    """Expected score per principle from the log-probabilities of the score tokens."""
    return expected(score_distributions(principles, response, start, end))


def expected(dists: dict[str, tuple[int, dict[int, float]]]) -> dict[str, float]:
    return {pid: sum(v * w for v, w in dist.items()) for pid, (_, dist) in dists.items()}
