"""The majority of several annotators' votes: a preference, or a number."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any


def majority(values: Sequence[Any]) -> Any | None:
    """The single most common value, or None when two or more share the top count."""
    counts = Counter(values).most_common()
    if not counts or (len(counts) > 1 and counts[0][1] == counts[1][1]):
        return None
    return counts[0][0]


def pair_majority(votes: Sequence[str]) -> str:
    winner = majority(votes)
    return "tie" if winner is None else str(winner)


def number_majority(values: Sequence[float]) -> float:
    winner = majority(values)
    return float(statistics.median_low(values)) if winner is None else float(winner)
