"""Agreement among a panel's members (not with people: judge.calibration does that).

- Krippendorff's alpha (the `krippendorff` package) for scores: interval level for the overall
  score (a number in [0, 1]), ordinal for a principle's integer scale. Missing verdicts are
  allowed: alpha uses the items that at least two members judged.
- Fleiss' kappa for comparison winners ("a", "b", "tie"), over the items every member judged
  (the statistic needs the same number of raters per item). Written from its formula (Fleiss
  1971); statsmodels is no dependency.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

Rating = float | None
Level = Literal["nominal", "ordinal", "interval", "ratio"]


def krippendorff_alpha(ratings: Sequence[Sequence[Rating]], level: Level) -> float | None:
    """Alpha over `ratings[item][member]` (None: no verdict) at `level` ("interval",
    "ordinal", "nominal", "ratio"); None where it is undefined (fewer than two members rated
    an item, or every rating is the same value)."""
    rows = [r for r in ratings if sum(v is not None for v in r) >= 2]
    if not rows:
        return None
    values = {v for r in rows for v in r if v is not None}
    if len(values) < 2:
        return None  # no variation at all: alpha is 0/0
    import krippendorff

    data = np.array([[np.nan if v is None else v for v in r] for r in rows], dtype=float).T
    alpha = float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))
    return None if math.isnan(alpha) else alpha


def fleiss_kappa(votes: Sequence[Sequence[str]], categories: Sequence[str]) -> float | None:
    """Fleiss' kappa over `votes[item][rater]`, every item with the same number (>= 2) of
    raters; None where it is undefined (no items, or every vote in one category)."""
    if not votes:
        return None
    n = len(votes[0])
    if n < 2 or any(len(v) != n for v in votes):
        raise ValueError("Fleiss' kappa needs the same number (>= 2) of raters for every item")
    index = {c: i for i, c in enumerate(categories)}
    counts = np.zeros((len(votes), len(categories)))
    for i, item in enumerate(votes):
        for label in item:
            counts[i, index[label]] += 1
    n_items = len(votes)
    p_j = counts.sum(axis=0) / (n_items * n)
    p_i = ((counts**2).sum(axis=1) - n) / (n * (n - 1))
    p_bar = float(p_i.mean())
    p_e = float((p_j**2).sum())
    if math.isclose(p_e, 1.0):
        return None
    return (p_bar - p_e) / (1.0 - p_e)
