"""Which judged rows a classifier learns to keep: the verdict -> label rule.

The rules are `judge filter`'s, so a classifier learns the filter the judge would have run:
- min_score S: keep a row whose score is >= S (a score equal to S is kept);
- keep_top F: keep the floor(F x J) best of the J judged rows (ties at the cut in input order);
- target_precision P: keep scores >= the lowest threshold whose precision on a calibration's
  human labels is >= P (judge.calibration.Calibration.threshold).
Rows the judge could not judge get no label and are not trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from judge.calibration import Calibration
from judge.errors import ConfigError
from judge.tasks.filter import passes, top_mask

KEEP = "__label__keep"
DROP = "__label__drop"


@dataclass(frozen=True)
class LabelRule:
    kind: str  # "min_score" | "keep_top" | "target_precision"
    value: float  # S, F or P as given
    min_score: float | None = None  # the score threshold (min_score, target_precision)
    calibration: dict[str, Any] | None = None  # where target_precision's threshold came from

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.kind, self.kind: self.value}
        if self.kind == "target_precision":
            out["min_score"] = self.min_score
            out["calibration"] = self.calibration
        return out

    def text(self) -> str:
        if self.kind == "min_score":
            return f"keep when the judge's score >= {self.value:g}"
        if self.kind == "keep_top":
            return f"keep the top {self.value:g} of the judged rows by the judge's score"
        return (
            f"keep when the judge's score >= {self.min_score:.4g} (the threshold reaching "
            f"precision {self.value:g} on the human labels of the calibration)"
        )


def choose_rule(
    *,
    min_score: float | None = None,
    keep_top: float | None = None,
    target_precision: float | None = None,
    calibration: Calibration | None = None,
) -> LabelRule:
    """The one rule given; target_precision resolves to a score threshold via the calibration."""
    given = [v for v in (min_score, keep_top, target_precision) if v is not None]
    if len(given) != 1:
        raise ConfigError(
            "give exactly one label rule: {opt:min_score} S, {opt:keep_top} FRACTION, or "
            "{opt:target_precision} P (with {opt:calibration} FILE)"
        )
    if min_score is not None:
        return LabelRule("min_score", min_score, min_score=min_score)
    if keep_top is not None:
        if not 0 < keep_top <= 1:
            raise ConfigError(f"{{opt:keep_top}} is a fraction in (0, 1], got {keep_top}")
        return LabelRule("keep_top", keep_top)
    assert target_precision is not None
    if calibration is None:
        raise ConfigError(
            "{opt:target_precision} needs {opt:calibration} FILE (the calibration.json that "
            "judge calibrate writes from absolute labels)"
        )
    chosen = calibration.threshold(target_precision)
    where = {
        "source": calibration.where,
        "n": calibration.n,
        "precision": chosen["precision"],
        "recall": chosen["recall"],
    }
    return LabelRule(
        "target_precision", target_precision, min_score=chosen["threshold"], calibration=where
    )


def keep_labels(scores: Sequence[float] | np.ndarray, rule: LabelRule) -> np.ndarray:
    """True where the rule keeps the row; `scores` are the judged rows' scores, in input order."""
    s = np.asarray(scores, dtype=float)
    if rule.kind == "keep_top":
        return top_mask(s, rule.value)
    assert rule.min_score is not None
    threshold = rule.min_score
    return np.fromiter((passes(float(x), threshold) for x in s), dtype=bool, count=len(s))
