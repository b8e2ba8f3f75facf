"""Agreement statistics between a judge and humans, each with a seeded bootstrap interval.

Every function takes plain sequences and returns a float, or None where the statistic is not
defined (no items, a constant input, a single category). Pairwise labels are "a", "b" or "tie".
`bootstrap` resamples items with replacement and gives the percentile interval.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Literal

import numpy as np

from judge.calibration.fitted import TIE_TOLERANCE
from judge.calibration.votes import majority

PREFERENCE_CODE = {"a": 1.0, "tie": 0.0, "b": -1.0}  # ordinal: a over tie over b
DEFAULT_RESAMPLES = 1000
Level = Literal["nominal", "ordinal", "interval", "ratio"]
Values = Sequence[Any] | np.ndarray  # labels or numbers, one per item


@dataclass(frozen=True)
class Estimate:
    """A statistic with its bootstrap interval; `n` is the number of items it is computed on."""

    value: float | None
    low: float | None = None
    high: float | None = None
    n: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "value": _round(self.value),
            "low": _round(self.low),
            "high": _round(self.high),
            "n": self.n,
        }

    def text(self, digits: int = 2) -> str:
        if self.value is None:
            return "n/a"
        if self.low is None or self.high is None:
            return f"{self.value:.{digits}f}"
        return f"{self.value:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)


def _finite(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def bootstrap(
    stat: Callable[[np.ndarray], float | None],
    n: int,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = 0.95,
) -> Estimate:
    """stat(indices) on all n items, and its percentile interval over resampled index arrays.

    Resamples where the statistic is undefined (a resample with a single category) are skipped.
    """
    if n == 0:
        return Estimate(None, n=0)
    value = _finite(stat(np.arange(n)))
    if value is None:
        return Estimate(None, n=n)
    rng = np.random.default_rng(seed)
    values: list[float] = []
    for _ in range(resamples):
        v = _finite(stat(rng.integers(0, n, n)))
        if v is not None:
            values.append(v)
    if not values:
        return Estimate(value, n=n)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return Estimate(value, float(low), float(high), n)


# -- judge vs humans ---------------------------------------------------------------------------


def agreement(judge: Values, human: Values) -> float | None:
    """The share of items where the judge's label equals the humans'."""
    if len(judge) == 0:
        return None
    return float(np.mean(np.asarray(judge) == np.asarray(human)))


def agreement_without_ties(judge: Values, human: Values) -> float | None:
    """Agreement on the items the humans did not tie; a judge's tie there counts one half
    (what a coin flip would score), so a judge cannot look better by abstaining."""
    j, h = np.asarray(judge), np.asarray(human)
    untied = h != "tie"
    if not untied.any():
        return None
    credit = np.where(j == h, 1.0, np.where(j == "tie", 0.5, 0.0))
    return float(credit[untied].mean())


def cohen_kappa(
    a: Values,
    b: Values,
    *,
    weights: str | None = None,
    labels: Sequence[Hashable] | None = None,
) -> float | None:
    """Cohen's kappa: 1 - observed / chance-expected disagreement.

    weights=None counts every disagreement as 1; "quadratic" counts (i - j)^2 between the
    positions of the two labels in `labels` (ordinal labels; default order: sorted).
    """
    if len(a) == 0:
        return None
    order = list(labels) if labels is not None else sorted(set(a) | set(b))
    index = {label: i for i, label in enumerate(order)}
    k = len(order)
    counts = np.zeros((k, k))
    np.add.at(counts, ([index[x] for x in a], [index[y] for y in b]), 1.0)
    expected = np.outer(counts.sum(axis=1), counts.sum(axis=0)) / counts.sum()
    i, j = np.indices((k, k))
    if weights is None:
        w = (i != j).astype(float)
    elif weights == "quadratic":
        w = (i - j).astype(float) ** 2
    else:
        raise ValueError(f"unknown kappa weights {weights!r}")
    chance = float((w * expected).sum())
    if chance == 0.0:  # both raters used one and the same label: kappa is undefined
        return None
    return 1.0 - float((w * counts).sum()) / chance


def _correlation(name: str, x: Values, y: Values) -> float | None:
    if len(x) < 2 or len(set(x)) < 2 or len(set(y)) < 2:
        return None
    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fn = stats.spearmanr if name == "spearman" else stats.kendalltau
        result = fn(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return _finite(result.statistic)


def spearman(x: Values, y: Values) -> float | None:
    return _correlation("spearman", x, y)


def kendall_tau(x: Values, y: Values) -> float | None:
    """Kendall's tau-b (ties accounted for, as labels have many)."""
    return _correlation("kendall", x, y)


def krippendorff_alpha(
    data: Sequence[Sequence[float | None]], level: Level = "nominal"
) -> float | None:
    """Krippendorff's alpha; `data` is one row per coder, one column per item, None if missing.

    level: nominal, ordinal, interval or ratio.
    """
    import krippendorff

    matrix = np.array(
        [[np.nan if v is None else float(v) for v in row] for row in data], dtype=float
    )
    if matrix.size == 0 or len(set(matrix[~np.isnan(matrix)].tolist())) < 2:
        return None
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            value = krippendorff.alpha(reliability_data=matrix, level_of_measurement=level)
    except ValueError:  # fewer than two values to pair within any item
        return None
    return _finite(value)


def longer_wins(winners: Values, len_a: Values, len_b: Values) -> float | None:
    """How often the longer response wins, among decided items whose lengths differ."""
    wins = [
        (w == "a") == (la > lb)
        for w, la, lb in zip(winners, len_a, len_b, strict=True)
        if w in ("a", "b") and la != lb
    ]
    return sum(wins) / len(wins) if wins else None


def position_consistency(flipped: Sequence[bool]) -> float | None:
    """The share of comparisons whose verdict survives swapping the two responses."""
    return (len(flipped) - sum(flipped)) / len(flipped) if flipped else None


def first_position_rate(first_wins: Sequence[int]) -> float | None:
    """Of all orderings shown (two per comparison), the share the first-shown response won."""
    return sum(first_wins) / (2 * len(first_wins)) if first_wins else None


# -- humans among themselves -------------------------------------------------------------------


def pairwise_agreement(votes: Sequence[Hashable]) -> float | None:
    """One item: the share of annotator pairs that agree."""
    pairs = list(combinations(votes, 2))
    return sum(x == y for x, y in pairs) / len(pairs) if pairs else None


def rest_counts(votes: Sequence[Hashable]) -> tuple[int, int]:
    """One item: (agreements, comparisons) of each annotator with the majority of the others;
    an annotator whose others have no single majority is not compared."""
    agree = compared = 0
    for k, vote in enumerate(votes):
        others = [v for i, v in enumerate(votes) if i != k]
        rest = majority(others) if others else None
        if rest is not None:
            compared += 1
            agree += vote == rest
    return agree, compared


def annotator_matrix(
    annotations: Sequence[Sequence[Hashable]], code: Callable[[Any], float]
) -> list[list[float | None]]:
    """Coders x items for krippendorff_alpha: annotator k is the k-th vote of each item."""
    width = max((len(v) for v in annotations), default=0)
    return [
        [code(votes[k]) if k < len(votes) else None for votes in annotations] for k in range(width)
    ]


def precision_curve(scores: Sequence[float], positive: Sequence[bool]) -> list[dict[str, float]]:
    """For each distinct score t (high to low): the items with score >= t, their precision
    (share of positives) and recall (share of all positives kept)."""
    s = np.asarray(scores, dtype=float)
    pos = np.asarray(positive, dtype=bool)
    total_pos = int(pos.sum())
    curve = []
    for t in sorted(set(s.tolist()), reverse=True):
        kept = s >= t - TIE_TOLERANCE
        n_kept = int(kept.sum())
        hits = int((kept & pos).sum())
        curve.append(
            {
                "threshold": t,
                "precision": hits / n_kept,
                "recall": hits / total_pos if total_pos else 0.0,
                "kept": n_kept / len(s),
            }
        )
    return curve
