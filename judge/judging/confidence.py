"""How sure a judge is of one verdict: a confidence in [0, 1], from what the backend gives.

- Scores: where the backend gives token log-probabilities, the probability the judge put on the
  score it wrote, among the scores of the scale (the distribution that also makes the expected
  score); with several principles, the least sure of them (a verdict is as sure as its weakest
  score). Without log-probabilities there is nothing to read: None (a cascade escalates it).
- Comparisons (judged in both orders): the probability, under the judge's own token
  probabilities in each order, that both orders give the reported winner: P(A shown first wins)
  x P(B wins when shown second), or the tie's probability in both orders for a tie. A verdict
  that flips with the order is reported as a tie, whose probability is low: a flip is low
  confidence. Without log-probabilities: 1.0 when both orders agree, 0.0 when the verdict flips.
- Pairwise labels judged by two scores (calibrate --mode score, pairs --mode score): the less
  sure of the two verdicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

_AS_SHOWN = {"a": ("A", "B"), "b": ("B", "A"), "tie": ("tie", "tie")}


def score_confidence(
    principles: Iterable[Any], dists: Mapping[str, tuple[int, Mapping[int, float]]]
) -> float | None:
    """The least probability the judge put on a score it wrote; None unless every principle
    of the call has a distribution (a principle without one says nothing about its score)."""
    ids = [p.id for p in principles]
    if not ids or any(pid not in dists for pid in ids):
        return None
    return min(dists[pid][1].get(dists[pid][0], 0.0) for pid in ids)


def least(confidences: Iterable[float | None]) -> float | None:
    """The confidence of a verdict made of several calls: the least sure call, None if any is
    unknown."""
    values = list(confidences)
    if not values or any(c is None for c in values):
        return None
    return min(c for c in values if c is not None)


def comparison_confidence(
    winner: str,
    first: Mapping[str, float] | None,
    second: Mapping[str, float] | None,
    labels: tuple[str, str],
) -> float:
    """Confidence in `winner` ("a", "b" or "tie") from the two orders' label distributions
    (`first`: a shown first; `second`: b shown first; None without log-probabilities) and the
    labels the judge wrote in each order (as shown: "A", "B" or "tie")."""
    want_first, want_second = _AS_SHOWN[winner]  # b is shown first in the second order
    p = 1.0
    for dist, written, want in ((first, labels[0], want_first), (second, labels[1], want_second)):
        if dist is None:
            p *= 1.0 if written == want else 0.0
        else:
            p *= dist.get(want, 0.0)
    return p
