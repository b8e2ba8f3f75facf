"""The agreement figures of `judge calibrate`: judged label items in, report.json's numbers out.

Every figure is computed on the judged items (the ones the judge could not judge are counted,
not guessed) and carries a seeded bootstrap interval over items. A figure that does not apply is
None, with the reason in `not_applicable`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from judge.calibration import TIE_TOLERANCE
from judge.calibration import metrics as m
from judge.calibration.judgments import Judgment
from judge.calibration.labels import AbsoluteItem, LabelSet, PairItem

REQUIRED_KEYS = (
    "n",
    "agreement",
    "agreement_without_ties",
    "cohen_kappa",
    "spearman",
    "kendall_tau",
    "position_consistency",
    "first_position_rate",
    "length_bias",
)
MAX_ORDINAL_LEVELS = 11  # more distinct labels than this: treated as a continuous measure

DEFINITIONS = {
    "agreement": "share of items where the judge's label equals the humans' (majority) label",
    "agreement_without_ties": "agreement on the items the humans did not tie; a judge tie there "
    "counts one half, as a coin flip would score",
    "cohen_kappa": "Cohen's kappa, agreement corrected for chance (0 = chance, 1 = perfect); "
    "quadratic weights for ordinal labels",
    "spearman": "Spearman rank correlation between the judge's number (score, margin or p_a) "
    "and the human label (pairs: a = 1, tie = 0, b = -1)",
    "kendall_tau": "Kendall's tau-b between the same two",
    "krippendorff_alpha": "Krippendorff's alpha between judge and humans (nominal for pairs and "
    "binary labels, ordinal for ordinal labels, interval for continuous ones)",
    "position_consistency": "share of comparisons whose verdict survives swapping the order",
    "first_position_rate": "share of the orderings shown (two per comparison) that the "
    "first-shown response won; 0.5 for a judge without position bias that never ties",
    "length_bias": "pairs: how often the judge's winner is the longer response (decided pairs of "
    "different lengths); absolute labels: Spearman correlation of length with the score",
    "length_bias_human": "the same for the human labels, on the same items",
    "baseline_longer": "agreement without ties of a judge that always prefers the longer response",
}


@dataclass(frozen=True)
class LabelScale:
    """The observed label values of an absolute label set, and which count as good."""

    values: tuple[float, ...]
    positive: float  # labels >= this count as good

    @property
    def low(self) -> float:
        return self.values[0]

    @property
    def high(self) -> float:
        return self.values[-1]

    @property
    def measure(self) -> str:
        n = len(self.values)
        if n < 2:
            return "constant"
        if n == 2:
            return "binary"
        return "ordinal" if n <= MAX_ORDINAL_LEVELS else "continuous"

    def predict(self, score: float) -> float:
        """The judge's score in [0, 1] put on the label scale: the nearest observed label to
        low + score * (high - low), the higher one when halfway (binary: score >= 0.5 is high)."""
        target = self.low + score * (self.high - self.low)
        return min(reversed(self.values), key=lambda v: abs(v - target))

    def good(self, label: float) -> bool:
        return label >= self.positive - TIE_TOLERANCE


def label_scale(labels: Sequence[float], positive: float | None = None) -> LabelScale:
    """By default the labels above the middle of the observed range count as good."""
    values = tuple(sorted(set(labels)))
    if positive is None:
        middle = (values[0] + values[-1]) / 2 if values else 0.0
        positive = next((v for v in values if v > middle), values[-1] if values else 0.0)
    return LabelScale(values, float(positive))


class _Boot:
    def __init__(self, n: int, seed: int, resamples: int) -> None:
        self.n, self.seed, self.resamples = n, seed, resamples

    def __call__(self, stat: Callable[[np.ndarray], float | None], n: int | None = None) -> Any:
        e = m.bootstrap(stat, self.n if n is None else n, resamples=self.resamples, seed=self.seed)
        return e.to_json() if e.value is not None else None


def summarize(
    judgments: Sequence[Judgment],
    labels: LabelSet,
    *,
    mode: str = "score",
    positive_label: float | None = None,
    seed: int = 0,
    resamples: int = m.DEFAULT_RESAMPLES,
) -> dict[str, Any]:
    """report.json's figures: REQUIRED_KEYS always present (None where they do not apply)."""
    judged = [j for j in judgments if j.judged]
    out: dict[str, Any] = {
        "n": len(judged),
        "items": len(judgments),
        "failed": len(judgments) - len(judged),
        "kind": labels.kind,
        "shape": labels.shape,
    }
    boot = _Boot(len(judged), seed, resamples)
    if labels.kind == "pairwise":
        out["mode"] = mode
        out.update(_pairwise(judged, mode, boot))
    else:
        scale = label_scale([i.label for i in labels.absolutes()], positive_label)
        out.update(_absolute(judged, scale, boot))
    out["definitions"] = {k: v for k, v in DEFINITIONS.items() if k in out}
    for key in REQUIRED_KEYS:
        out.setdefault(key, None)
    return out


def _pairwise(judged: Sequence[Judgment], mode: str, boot: _Boot) -> dict[str, Any]:
    items = [j.item for j in judged]
    assert all(isinstance(i, PairItem) for i in items)
    pairs: list[PairItem] = [i for i in items if isinstance(i, PairItem)]
    jp = np.array([j.preference for j in judged], dtype=object)
    hp = np.array([i.preference for i in pairs], dtype=object)
    sig = np.array([j.signal for j in judged], dtype=float)
    hcode = np.array([m.PREFERENCE_CODE[h] for h in hp], dtype=float)
    jcode = np.array([m.PREFERENCE_CODE[str(p)] for p in jp], dtype=float)
    la = np.array([len(i.response_a) for i in pairs])
    lb = np.array([len(i.response_b) for i in pairs])
    longer = np.where(la > lb, "a", np.where(la < lb, "b", "tie")).astype(object)
    out: dict[str, Any] = {
        "agreement": boot(lambda i: m.agreement(jp[i], hp[i])),
        "agreement_without_ties": boot(lambda i: m.agreement_without_ties(jp[i], hp[i])),
        "cohen_kappa": boot(lambda i: m.cohen_kappa(jp[i], hp[i], labels=("a", "tie", "b"))),
        "spearman": boot(lambda i: m.spearman(sig[i], hcode[i])),
        "kendall_tau": boot(lambda i: m.kendall_tau(sig[i], hcode[i])),
        "krippendorff_alpha": boot(lambda i: m.krippendorff_alpha([jcode[i], hcode[i]])),
        "length_bias": boot(lambda i: m.longer_wins(jp[i], la[i], lb[i])),
        "length_bias_human": boot(lambda i: m.longer_wins(hp[i], la[i], lb[i])),
        "baseline_longer": boot(lambda i: m.agreement_without_ties(longer[i], hp[i])),
        "judge_tie_rate": boot(lambda i: float(np.mean(jp[i] == "tie"))),
        "human_tie_rate": boot(lambda i: float(np.mean(hp[i] == "tie"))),
    }
    na: dict[str, str] = {}
    if mode == "compare":
        flipped = [bool(j.flipped) for j in judged]
        wins = [int(j.first_position_wins or 0) for j in judged]
        fl, wi = np.array(flipped), np.array(wins)
        out["position_consistency"] = boot(lambda i: m.position_consistency(list(fl[i])))
        out["first_position_rate"] = boot(lambda i: m.first_position_rate(list(wi[i])))
        na["per_principle"] = (
            "a comparison gives one verdict for the whole constitution, not one per principle; "
            "calibrate with --mode score for per-principle figures"
        )
        out["per_principle"] = None
    else:
        reason = (
            "in score mode each response is scored on its own, so the judge never sees an order "
            "to be biased by; calibrate with --mode compare to measure position bias"
        )
        na["position_consistency"] = na["first_position_rate"] = reason
        out["position_consistency"] = out["first_position_rate"] = None
        out["per_principle"] = _per_principle_pairs(judged, hp, hcode, boot)
    human = _human_agreement(judged, [str(p) for p in jp], m.PREFERENCE_CODE.__getitem__, boot)
    return _finish(out, na, human)


def _per_principle_pairs(
    judged: Sequence[Judgment], hp: np.ndarray, hcode: np.ndarray, boot: _Boot
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pid in dict.fromkeys(k for j in judged for k in j.scores_a):
        rows = [
            (k, sa - sb)
            for k, j in enumerate(judged)
            if (sa := j.scores_a.get(pid)) is not None and (sb := j.scores_b.get(pid)) is not None
        ]
        if rows:
            idx = np.array([k for k, _ in rows])
            out[pid] = _principle_pair_figures(
                np.array([d for _, d in rows], dtype=float), hp[idx], hcode[idx], boot
            )
    return out


def _principle_pair_figures(
    diff: np.ndarray, human: np.ndarray, code: np.ndarray, boot: _Boot
) -> dict[str, Any]:
    """One principle: its score difference (a - b) against the humans' preference."""
    pref = np.where(diff > 0, "a", np.where(diff < 0, "b", "tie")).astype(object)
    return {
        "agreement_without_ties": boot(
            lambda i: m.agreement_without_ties(pref[i], human[i]), len(diff)
        ),
        "spearman": boot(lambda i: m.spearman(diff[i], code[i]), len(diff)),
    }


def _absolute(judged: Sequence[Judgment], scale: LabelScale, boot: _Boot) -> dict[str, Any]:
    items = [j.item for j in judged if isinstance(j.item, AbsoluteItem)]
    score = np.array([j.score for j in judged], dtype=float)
    y = np.array([i.label for i in items], dtype=float)
    pred = np.array([scale.predict(s) for s in score], dtype=float)
    length = np.array([len(i.response) for i in items], dtype=float)
    measure = scale.measure
    na: dict[str, str] = {
        "agreement_without_ties": "ties are a pairwise notion; these labels are absolute",
        "position_consistency": "absolute labels: each response is judged alone, in no order",
        "first_position_rate": "absolute labels: each response is judged alone, in no order",
    }
    out: dict[str, Any] = {
        "label_scale": {
            "values": list(scale.values) if measure != "continuous" else [scale.low, scale.high],
            "measure": measure,
            "positive_label": scale.positive,
        },
        "spearman": boot(lambda i: m.spearman(score[i], y[i])),
        "kendall_tau": boot(lambda i: m.kendall_tau(score[i], y[i])),
        "length_bias": boot(lambda i: m.spearman(length[i], score[i])),
        "length_bias_human": boot(lambda i: m.spearman(length[i], y[i])),
    }
    if measure in ("binary", "ordinal"):
        weights = "quadratic" if measure == "ordinal" else None
        level: m.Level = "ordinal" if measure == "ordinal" else "nominal"
        out["agreement"] = boot(lambda i: m.agreement(pred[i], y[i]))
        out["cohen_kappa"] = boot(
            lambda i: m.cohen_kappa(pred[i], y[i], weights=weights, labels=scale.values)
        )
        out["krippendorff_alpha"] = boot(lambda i: m.krippendorff_alpha([pred[i], y[i]], level))
        out["kappa_weights"] = weights or "none"
    else:
        reason = f"the labels are {measure}: exact agreement has no meaning; see the correlations"
        na["agreement"] = na["cohen_kappa"] = reason
        on_scale = scale.low + score * (scale.high - scale.low)
        out["krippendorff_alpha"] = boot(
            lambda i: m.krippendorff_alpha([on_scale[i], y[i]], "interval")
        )
    good = np.array([scale.good(v) for v in y])
    out["positive_rate"] = boot(lambda i: float(np.mean(good[i])))
    out["per_principle"] = _per_principle_absolute(judged, y, boot)
    among: m.Level = "nominal" if measure == "binary" else "ordinal"
    if measure == "continuous":
        among = "interval"
    return _finish(out, na, _human_agreement(judged, list(pred), float, boot, among))


def _finish(
    out: dict[str, Any], na: dict[str, str], human: dict[str, Any] | None
) -> dict[str, Any]:
    """Add the annotators' own agreement (when there are several) and what does not apply."""
    out["human_agreement"] = human
    if human is None:
        na["human_agreement"] = "one label per item: no annotators to compare"
    out["not_applicable"] = na
    return out


def _per_principle_absolute(
    judged: Sequence[Judgment], y: np.ndarray, boot: _Boot
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pid in dict.fromkeys(k for j in judged for k in j.scores):
        rows = [(k, s) for k, j in enumerate(judged) if (s := j.scores.get(pid)) is not None]
        if rows:
            idx = np.array([k for k, _ in rows])
            out[pid] = _principle_figures(np.array([s for _, s in rows], dtype=float), y[idx], boot)
    return out


def _principle_figures(scores: np.ndarray, y: np.ndarray, boot: _Boot) -> dict[str, Any]:
    return {"spearman": boot(lambda i: m.spearman(scores[i], y[i]), len(scores))}


def _human_agreement(
    judged: Sequence[Judgment],
    judge_labels: Sequence[Any],
    code: Callable[[Any], float],
    boot: _Boot,
    level: m.Level = "nominal",
) -> dict[str, Any] | None:
    """The ceiling: how far the annotators agree with each other, and the judge with them."""
    rows = [
        (k, list(j.item.annotators))
        for k, j in enumerate(judged)
        if j.item.annotators and len(j.item.annotators) > 1
    ]
    if not rows:
        return None
    votes = [v for _, v in rows]
    judge = [judge_labels[k] for k, _ in rows]
    n = len(rows)
    pair = np.array([m.pairwise_agreement(v) for v in votes], dtype=float)
    rest = np.array([m.rest_counts(v) for v in votes], dtype=float)
    with_judge = np.array([sum(judge[k] == x for x in v) / len(v) for k, v in enumerate(votes)])
    return {
        "items": n,
        "annotators": max(len(v) for v in votes),
        "mean_pairwise_agreement": boot(lambda i: float(pair[i].mean()), n),
        "annotator_vs_rest": boot(
            lambda i: float(rest[i, 0].sum() / rest[i, 1].sum()) if rest[i, 1].sum() else None,
            n,
        ),
        "krippendorff_alpha": boot(
            lambda i: m.krippendorff_alpha(m.annotator_matrix([votes[k] for k in i], code), level),
            n,
        ),
        "judge_vs_annotators": boot(lambda i: float(with_judge[i].mean()), n),
    }
