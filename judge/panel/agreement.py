"""Agreement among a panel's members (not with people: judge.calibration does that).

- Krippendorff's alpha for scores: interval level for the overall score (a number in [0, 1]),
  ordinal for a principle's integer scale. Missing verdicts are allowed: alpha uses the items
  that at least two members judged. Ordinal alpha comes from the `krippendorff` package; interval
  alpha from its closed form (sums of squares, O(items)), because the package tabulates every
  item against every distinct value, and overall scores take thousands of distinct values over
  millions of items. Tests check that the two agree.
- Fleiss' kappa for comparison winners ("a", "b", "tie"), over the items every member judged
  (the statistic needs the same number of raters per item). Written from its formula (Fleiss
  1971); statsmodels is no dependency.

Ratings are kept compactly (8 bytes a rating, 1 byte a vote), as a run may have millions of items.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from typing import Literal

import numpy as np

Level = Literal["nominal", "ordinal", "interval", "ratio"]


class Ratings:
    """Numeric ratings, one column per member (NaN: no verdict)."""

    def __init__(self, members: int) -> None:
        self.columns = [array("d") for _ in range(members)]

    def add(self, row: Sequence[float | None]) -> None:
        for column, value in zip(self.columns, row, strict=True):
            column.append(math.nan if value is None else value)

    def __len__(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    def matrix(self) -> np.ndarray:
        """members x items, as the `krippendorff` package reads reliability data."""
        return np.array([np.frombuffer(c, dtype=float) for c in self.columns]).reshape(
            len(self.columns), len(self)
        )


class Votes:
    """Categorical votes, one column per member (-1: no verdict)."""

    def __init__(self, members: int, categories: Sequence[str]) -> None:
        self.categories = list(categories)
        self.columns = [array("b") for _ in range(members)]

    def add(self, row: Sequence[str | None]) -> None:
        for column, label in zip(self.columns, row, strict=True):
            column.append(-1 if label is None else self.categories.index(label))

    def __len__(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    def counts(self) -> np.ndarray:
        """items x categories: how many members voted each category, on the items every member
        judged (Fleiss' table)."""
        codes = np.array([np.frombuffer(c, dtype=np.int8) for c in self.columns]).reshape(
            len(self.columns), len(self)
        )
        complete = codes[:, (codes >= 0).all(axis=0)]
        return np.stack([(complete == k).sum(axis=0) for k in range(len(self.categories))], 1)


def krippendorff_alpha(data: np.ndarray, level: Level) -> float | None:
    """Alpha over `data` (members x items, NaN: no verdict) at `level`; None where it is
    undefined (no item that two members rated, or no variation at all)."""
    data = np.asarray(data, dtype=float)
    pairable = data[:, (~np.isnan(data)).sum(axis=0) >= 2]
    values = pairable[~np.isnan(pairable)]
    if values.size == 0 or np.unique(values).size < 2:
        return None
    if level == "interval":
        return _interval_alpha(pairable)
    import krippendorff

    alpha = float(krippendorff.alpha(reliability_data=pairable, level_of_measurement=level))
    return None if math.isnan(alpha) else alpha


def _interval_alpha(data: np.ndarray) -> float:
    """1 - D_o / D_e with the squared difference, from sums: within an item of m ratings the
    ordered pairs' squared differences sum to 2 (m S2 - S1^2), and likewise over all n values."""
    rated = ~np.isnan(data)
    x = np.where(rated, data, 0.0)
    m = rated.sum(axis=0)
    s1, s2 = x.sum(axis=0), (x * x).sum(axis=0)
    n = int(m.sum())
    observed = (2 * (m * s2 - s1 * s1) / (m - 1)).sum() / n
    expected = 2 * (n * s2.sum() - s1.sum() ** 2) / (n * (n - 1))
    return float(1.0 - observed / expected)


def fleiss_kappa(counts: np.ndarray) -> float | None:
    """Fleiss' kappa from its table, `counts[item][category]`: how many raters put the item in
    the category, the same number (>= 2) for every item; None where it is undefined (no items,
    or every vote in one category)."""
    counts = np.asarray(counts, dtype=float)
    if counts.size == 0 or counts.shape[0] == 0:
        return None
    raters = counts.sum(axis=1)
    n = raters[0]
    if n < 2 or not np.all(raters == n):
        raise ValueError("Fleiss' kappa needs the same number (>= 2) of raters for every item")
    p_j = counts.sum(axis=0) / counts.sum()
    p_i = ((counts**2).sum(axis=1) - n) / (n * (n - 1))
    p_bar = float(p_i.mean())
    p_e = float((p_j**2).sum())
    if math.isclose(p_e, 1.0):
        return None
    return (p_bar - p_e) / (1.0 - p_e)
