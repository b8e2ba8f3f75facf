"""From judged label items to a Calibration (see judge/calibration.py for what it holds).

Targets: absolute items give 1 when the label counts as good, else 0. Pairwise items give 1 when
the humans preferred a, 0 for b, and a human tie gives half a weight to each. Each pair is also
entered mirrored (a and b swapped: the margin negated, p_a -> 1 - p_a, the target flipped), so
that the map treats a and b alike; the copies of one item stay in one cross-validation fold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from judge.calibration import Calibration, CalibrationError, ProbabilityMap
from judge.calibration.agreement import LabelScale
from judge.calibration.fitted import (
    FitData,
    brier,
    choose_map,
    fit_map,
    log_loss,
    principle_weights,
)
from judge.calibration.judgments import Judgment
from judge.calibration.labels import AbsoluteItem, PairItem
from judge.calibration.metrics import precision_curve
from judge.constitution import Constitution

FLAT = 1e-9  # an isotonic map whose levels differ by no more than this is one level
PAIR_TARGETS = {"a": ((1.0, 1.0),), "b": ((0.0, 1.0),), "tie": ((1.0, 0.5), (0.0, 0.5))}


@dataclass
class Fit:
    calibration: Calibration | None
    reason: str | None  # why there is no calibration
    data: FitData | None = None
    raw: np.ndarray | None = None  # the judge's own number as a probability, per fit row
    calibrated: np.ndarray | None = None  # out-of-fold calibrated probabilities, per fit row
    raw_scores: dict[str, float] | None = None  # log-loss and Brier of `raw`
    refused: str | None = None  # "inverted" or "flat": a map was fitted but is not written

    def to_json(self) -> dict[str, Any]:
        if self.calibration is None:
            out: dict[str, Any] = {"fitted": False, "reason": self.reason}
            if self.refused:
                out["refused"] = self.refused
            return out
        c = self.calibration
        return {
            "fitted": True,
            "kind": c.kind,
            "input": c.input,
            "method": c.map.method,
            "cross_validation": c.cv,
            "raw": self.raw_scores,
            "principle_weights": c.principle_weights,
            "positive_label": c.positive_label,
        }


def input_name(kind: str, mode: str) -> str:
    if kind == "absolute":
        return "score"
    return "p_a" if mode == "compare" else "margin"


def as_probability(x: np.ndarray, input: str) -> np.ndarray:
    """The judge's own number read as a probability, before calibration."""
    return (x + 1.0) / 2.0 if input == "margin" else x


def fit_data(judged: Sequence[Judgment], input: str, scale: LabelScale | None) -> FitData:
    xs: list[float] = []
    ys: list[float] = []
    ws: list[float] = []
    groups: list[int] = []
    for k, j in enumerate(judged):
        item = j.item
        if isinstance(item, AbsoluteItem):
            assert scale is not None and j.score is not None
            xs.append(j.score)
            ys.append(1.0 if scale.good(item.label) else 0.0)
            ws.append(1.0)
            groups.append(k)
            continue
        assert isinstance(item, PairItem) and j.signal is not None
        mirrored = -j.signal if input == "margin" else 1.0 - j.signal
        for y, w in PAIR_TARGETS[item.preference]:
            xs += [j.signal, mirrored]
            ys += [y, 1.0 - y]
            ws += [w, w]
            groups += [k, k]
    return FitData(np.array(xs), np.array(ys), np.array(ws), np.array(groups))


def principle_features(
    judged: Sequence[Judgment], constitution: Constitution, scale: LabelScale | None
) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    """Normalized principle scores (absolute) or their differences a - b (pairs), the targets,
    and the principle ids; items missing a principle's score are left out."""
    ps = constitution.principles
    rows: list[list[float]] = []
    ys: list[float] = []
    for j in judged:
        item = j.item
        if isinstance(item, AbsoluteItem):
            if scale is None or any(j.scores.get(p.id) is None for p in ps):
                continue
            rows.append([p.scale.normalize(j.scores[p.id] or 0.0) for p in ps])
            ys.append(1.0 if scale.good(item.label) else 0.0)
            continue
        assert isinstance(item, PairItem)
        if any(j.scores_a.get(p.id) is None or j.scores_b.get(p.id) is None for p in ps):
            continue
        rows.append(
            [
                p.scale.normalize(j.scores_a[p.id] or 0.0)
                - p.scale.normalize(j.scores_b[p.id] or 0.0)
                for p in ps
            ]
        )
        ys.append({"a": 1.0, "b": 0.0, "tie": 0.5}[item.preference])
    if not rows:
        return None
    return np.array(rows, dtype=float), np.array(ys, dtype=float), [p.id for p in ps]


def direction(fitted: ProbabilityMap, data: FitData) -> str | None:
    """ "inverted" when the judge's numbers run against the humans, "flat" when the map says
    nothing, None when it rises with the judge's number, as a calibration must.

    Inverted means a negative logistic slope on all the data: for a logistic map, its own
    coefficient; an isotonic map is fitted increasing, so it cannot fall, and an inverted judge
    shows in it only as a map pooled flat, so its direction is read from the logistic slope on the
    same data. Flat means the map gives every input the same probability (a logistic coefficient
    of 0; a single isotonic level).
    """
    slope = fitted if fitted.method == "logistic" else fit_map(data.x, data.y, data.w, "logistic")
    if slope.coef < 0:
        return "inverted"
    if fitted.method == "logistic":
        return "flat" if fitted.coef == 0 else None
    return "flat" if max(fitted.y) - min(fitted.y) <= FLAT else None


def refusal(problem: str, kind: str, input: str) -> str:
    """Why no calibration.json was written, for report.md, report.json and stderr."""
    higher = {"score": "score", "margin": "score difference a - b", "p_a": "p_a"}[input]
    humans = "rate the item good" if kind == "absolute" else "prefer a"
    if problem == "inverted":
        return (
            f"the judge's numbers run against the humans: the higher its {higher}, the less "
            f"often the humans {humans}. A calibration would turn its ranking upside down, so "
            "none is written. Check the labels (which value is good: --positive-label; which "
            "response is a) and the constitution, or try a stronger judge"
        )
    return (
        f"the judge's {higher} says nothing about the humans: the fitted map gives every item "
        "the same probability, so none is written. Check the labels and the constitution, or "
        "try a stronger judge"
    )


def fit(
    judgments: Sequence[Judgment],
    *,
    kind: str,
    mode: str,
    constitution: Constitution,
    model: str,
    options: dict[str, Any],
    scale: LabelScale | None = None,
    seed: int = 0,
) -> Fit:
    """Fit a calibration on the judged items; a Fit with the reason when it cannot be done."""
    judged = [j for j in judgments if j.judged]
    name = input_name(kind, mode)
    data = fit_data(judged, name, scale)
    raw = np.clip(as_probability(data.x, name), 0.0, 1.0)
    raw_scores = (
        {"log_loss": log_loss(raw, data.y, data.w), "brier": brier(raw, data.y, data.w)}
        if len(data.y)
        else None
    )
    try:
        fitted, cv, calibrated = choose_map(data, seed=seed)
    except CalibrationError as exc:
        return Fit(None, str(exc), data, raw, None, raw_scores)
    refused = direction(fitted, data)
    if refused is not None:
        return Fit(None, refusal(refused, kind, name), data, raw, calibrated, raw_scores, refused)
    weights = None
    features = principle_features(judged, constitution, scale) if mode == "score" else None
    if features is not None and len(features[2]) > 1:
        x, y, ids = features
        weights = principle_weights(x, y, np.ones(len(y)), ids, intercept=kind == "absolute")
    thresholds = None
    if kind == "absolute":
        assert scale is not None
        thresholds = precision_curve(
            [float(j.score) for j in judged if j.score is not None],
            [isinstance(j.item, AbsoluteItem) and scale.good(j.item.label) for j in judged],
        )
    calibration = Calibration(
        kind=kind,
        input=name,
        map=fitted,
        n=len(judged),
        model=model,
        constitution={"name": constitution.name, "sha256": constitution.sha256},
        cv=cv,
        principle_weights=weights,
        thresholds=thresholds,
        positive_label=scale.positive if scale is not None else None,
        options=options,
    )
    return Fit(calibration, None, data, raw, calibrated, raw_scores)
