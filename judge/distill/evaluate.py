"""How well the classifier agrees with the judge on held-out rows.

Precision, recall and F1 of the classifier's keep (P(keep) >= min_prob) against the judge's label,
ROC AUC of P(keep), Spearman between P(keep) and the judge's score, and a table of thresholds:
the kept fraction, precision and recall at P(keep) >= t for t = 0.1 ... 0.9. keep_all_f1 is the
F1 of keeping every row, the floor to beat when the judge keeps most rows.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from judge.calibration.metrics import precision_curve, spearman

TABLE_STEPS = 10  # thresholds 0.1, 0.2, ..., 0.9


def _score(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)


def agreement(
    keep: np.ndarray, prob: np.ndarray, scores: np.ndarray, min_prob: float
) -> dict[str, Any]:
    """Metrics of P(keep) `prob` against the judge's labels `keep` and scores `scores`."""
    keep = np.asarray(keep, dtype=bool)
    prob = np.asarray(prob, dtype=float)
    n = len(keep)
    out: dict[str, Any] = {
        "n": n,
        "judge_kept": int(keep.sum()),
        "min_prob": min_prob,
        "precision": None,
        "recall": None,
        "f1": None,
        "roc_auc": None,
        "spearman": _score(spearman(prob, scores)) if n else None,
        "thresholds": [],
        "keep_all_f1": None,
    }
    if n == 0:
        return out
    from sklearn.metrics import precision_recall_fscore_support, roc_auc_score

    kept = prob >= min_prob
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p, r, f, _ = precision_recall_fscore_support(
            keep, kept, average="binary", zero_division=0.0
        )
    share = float(keep.mean())
    out.update(
        # the floor to beat: keeping everything scores F1 = 2 s / (1 + s), s the share kept
        keep_all_f1=_score(2 * share / (1 + share)),
        classifier_kept=int(kept.sum()),
        precision=_score(p),
        recall=_score(r),
        f1=_score(f),
    )
    if 0 < keep.sum() < n:
        out["roc_auc"] = _score(roc_auc_score(keep, prob))
    out["thresholds"] = threshold_table(keep, prob)
    return out


def threshold_table(keep: np.ndarray, prob: np.ndarray) -> list[dict[str, float | None]]:
    """kept, precision and recall at P(keep) >= 0.1, 0.2, ..., 0.9."""
    # precision_curve keeps score >= t for each distinct score: on P(keep) floored to the grid,
    # ">= t" is exactly "P(keep) >= t" for each grid point t.
    grid = np.floor(np.asarray(prob) * TABLE_STEPS + 1e-9) / TABLE_STEPS
    by_t = {
        round(row["threshold"], 6): row
        for row in precision_curve(grid.tolist(), np.asarray(keep).tolist())
    }
    table = []
    for i in range(1, TABLE_STEPS):
        t = i / TABLE_STEPS
        # the nearest grid value at or above t that occurs (none: nothing is kept at t)
        above = [v for v in by_t if v >= t - 1e-9]
        row = by_t[min(above)] if above else {"kept": 0.0, "precision": 0.0, "recall": 0.0}
        table.append(
            {
                "min_prob": t,
                "kept": round(row["kept"], 6),
                "precision": round(row["precision"], 6) if above else None,
                "recall": round(row["recall"], 6),
            }
        )
    return table
