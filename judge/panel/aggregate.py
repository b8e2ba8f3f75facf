"""The panel verdict from its members' verdicts: plain arithmetic, no model call.

- Scores: per principle, the weighted mean of the members' normalised scores (each principle's
  scale mapped to [0, 1]), put back on the principle's scale; the overall score is the
  constitution's weighted mean of those, as for one judge.
- Comparisons: a weighted majority vote over "a", "b" and "tie"; labels sharing the top weight
  make a tie. P(a better) is the weighted mean of the members' p_a.
- Confidence (in [0, 1]): for scores, 1 - the spread (max - min) of the members' overall scores;
  for comparisons, the weight of the members that voted for the panel's winner over the weight of
  the members that voted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from judge.constitution import Constitution

LABELS = ("a", "b", "tie")


def default_quorum(members: int) -> int:
    """A majority of the members."""
    return members // 2 + 1


def weighted_mean(pairs: Sequence[tuple[float, float]]) -> float | None:
    """Mean of values weighted by weights, from (value, weight) pairs; None without any."""
    total = sum(w for _, w in pairs)
    if not pairs or total <= 0:
        return None
    return sum(v * w for v, w in pairs) / total


def mean_scores(
    constitution: Constitution, members: Sequence[tuple[dict[str, float | None], float]]
) -> tuple[dict[str, float | None], float | None]:
    """(per-principle scores on their own scales, overall in [0, 1]) from the (scores, weight)
    of the members that gave a verdict."""
    scores: dict[str, float | None] = {}
    for p in constitution.principles:
        pairs = [
            (p.scale.normalize(s[p.id]), w)  # type: ignore[arg-type]
            for s, w in members
            if s.get(p.id) is not None
        ]
        mean = weighted_mean(pairs)
        if mean is None:
            if any(p.id in s for s, _ in members):
                scores[p.id] = None
            continue
        scores[p.id] = p.scale.low + mean * (p.scale.high - p.scale.low)
    return scores, constitution.overall(scores) if scores else None


def spread_confidence(overall: Sequence[float]) -> float | None:
    """1 - (max - min) of the members' overall scores (all in [0, 1]); None without any."""
    if not overall:
        return None
    return 1.0 - (max(overall) - min(overall))


def majority(votes: Sequence[tuple[str, float]]) -> tuple[str | None, float | None]:
    """(winner, confidence) of a weighted vote over "a" / "b" / "tie"; (None, None) without
    votes. Labels that share the top weight make a tie."""
    if not votes:
        return None, None
    weight = {label: 0.0 for label in LABELS}
    for label, w in votes:
        weight[label] += w
    top = max(weight.values())
    leaders = [label for label in LABELS if math.isclose(weight[label], top)]
    winner = leaders[0] if len(leaders) == 1 else "tie"
    total = sum(weight.values())
    return winner, weight[winner] / total if total > 0 else None
