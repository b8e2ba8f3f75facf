"""Agreement statistics against values worked out by hand, and the report's figures."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from judge.calibration import metrics as m
from judge.calibration.agreement import REQUIRED_KEYS, label_scale, summarize
from judge.calibration.judgments import Judgment
from judge.calibration.labels import AbsoluteItem, LabelSet, PairItem

# -- judge vs humans ------------------------------------------------------------------------


def test_agreement_counts_equal_labels() -> None:
    assert m.agreement(["a", "b", "tie", "a"], ["a", "a", "tie", "b"]) == 0.5
    assert m.agreement([], []) is None


def test_agreement_without_ties_gives_a_judge_tie_half_credit() -> None:
    # Human ties are left out; of the three others: right, judge tie (1/2), wrong.
    judge = ["a", "tie", "b", "a"]
    human = ["a", "a", "a", "tie"]
    assert m.agreement_without_ties(judge, human) == pytest.approx(1.5 / 3)
    assert m.agreement_without_ties(["a"], ["tie"]) is None


def test_cohen_kappa_by_hand() -> None:
    # po = 4/5; marginals judge a2 b2 t1, human a1 b3 t1: pe = (2*1 + 2*3 + 1*1) / 25 = 9/25.
    kappa = m.cohen_kappa(list("aabbt"), list("abbbt"))
    assert kappa == pytest.approx((0.8 - 0.36) / (1 - 0.36))  # 0.6875


def test_quadratic_kappa_by_hand() -> None:
    # Counts (1,1), (2,3), (3,3); rows 1,1,1; columns 1,0,2; weights (i-j)^2.
    # Observed weighted disagreement: 1. Expected: rows of [1/3, 0, 2/3] -> 8/3 + 1 + 4/3 = 5.
    kappa = m.cohen_kappa([1, 2, 3], [1, 3, 3], weights="quadratic", labels=[1, 2, 3])
    assert kappa == pytest.approx(1 - 1 / 5)


def test_kappa_matches_sklearn_on_random_labels() -> None:
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(0)
    a = rng.integers(1, 6, 200)
    b = np.clip(a + rng.integers(-2, 3, 200), 1, 5)
    for weights in (None, "quadratic"):
        ours = m.cohen_kappa(a, b, weights=weights, labels=[1, 2, 3, 4, 5])
        assert ours == pytest.approx(cohen_kappa_score(a, b, weights=weights))


def test_kappa_is_undefined_when_both_use_one_label() -> None:
    assert m.cohen_kappa(["a", "a"], ["a", "a"]) is None
    assert m.cohen_kappa([], []) is None


def test_spearman_and_kendall_by_hand() -> None:
    # Ranks differ by d = 0, -1, 1, 0: rho = 1 - 6 * 2 / (4 * 15) = 0.8.
    assert m.spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    # 5 concordant, 1 discordant of 6 pairs.
    assert m.kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)
    # tau-b with ties: C = 4, D = 0, one tie in x, one in y: 4 / sqrt(5 * 5).
    assert m.kendall_tau([1, 2, 2, 3], [1, 2, 3, 3]) == pytest.approx(0.8)
    assert m.spearman([1, 1, 1], [1, 2, 3]) is None  # constant input


def test_krippendorff_alpha_by_hand() -> None:
    # Nominal, two coders: coincidences o11 = 2, o12 = o21 = 1, o22 = 4; n1 = 3, n2 = 5, n = 8.
    # Do = 2/8, De = 2 * 3 * 5 / (8 * 7); alpha = 1 - Do / De = 8/15.
    assert m.krippendorff_alpha([[1, 1, 2, 2], [1, 2, 2, 2]]) == pytest.approx(8 / 15)
    # Interval: Do = (1 + 1) / 6; De = 82 / 30 (ordered value pairs weighted by (c - k)^2).
    alpha = m.krippendorff_alpha([[1, 2, 3], [1, 2, 4]], "interval")
    assert alpha == pytest.approx(1 - (2 / 6) / (82 / 30))
    # A missing value leaves its item unpairable: only (1,1) and (1,2) count -> Do = De = 1/2.
    assert m.krippendorff_alpha([[1, 1, None], [1, 2, 2]]) == pytest.approx(0.0)
    assert m.krippendorff_alpha([[1, 1], [1, 1]]) is None  # one value: undefined


def test_longer_wins_counts_decided_pairs_of_different_length() -> None:
    winners = ["a", "b", "tie", "a", "b"]
    len_a = [10, 10, 5, 3, 4]
    len_b = [5, 20, 1, 3, 2]
    # Counted: the longer a wins, the longer b wins, the shorter b wins -> 2 of 3.
    assert m.longer_wins(winners, len_a, len_b) == pytest.approx(2 / 3)
    assert m.longer_wins(["tie"], [1], [2]) is None


def test_position_figures() -> None:
    assert m.position_consistency([False, False, True, False]) == 0.75
    assert m.first_position_rate([2, 1, 1, 0]) == 0.5
    assert m.first_position_rate([2, 2]) == 1.0
    assert m.position_consistency([]) is None and m.first_position_rate([]) is None


# -- humans among themselves -----------------------------------------------------------------


def test_annotator_agreement_by_hand() -> None:
    assert m.pairwise_agreement(["a", "a", "b"]) == pytest.approx(1 / 3)
    assert m.pairwise_agreement(["a"]) is None
    # [a, a, b]: the first two see others (a, b) without a majority; the third sees (a, a): wrong.
    assert m.rest_counts(["a", "a", "b"]) == (0, 1)
    assert m.rest_counts(["a", "a", "a"]) == (3, 3)


def test_annotator_matrix_pads_missing_votes() -> None:
    matrix = m.annotator_matrix([["a", "b"], ["tie"]], m.PREFERENCE_CODE.__getitem__)
    assert matrix == [[1.0, 0.0], [-1.0, None]]


# -- the bootstrap ---------------------------------------------------------------------------


def test_bootstrap_is_seeded_and_brackets_the_value() -> None:
    x = np.array([0.0] * 30 + [1.0] * 70)

    def mean(i: np.ndarray) -> float:
        return float(x[i].mean())

    e = m.bootstrap(mean, len(x), resamples=2000, seed=1)
    assert e.value == pytest.approx(0.7) and e.n == 100
    assert e.low is not None and e.high is not None
    assert e.low < 0.7 < e.high
    # About the normal interval: 0.7 +- 1.96 * sqrt(0.21 / 100) = +- 0.09.
    assert e.high - e.low == pytest.approx(2 * 1.96 * math.sqrt(0.21 / 100), abs=0.03)
    assert m.bootstrap(mean, len(x), resamples=2000, seed=1) == e
    assert m.bootstrap(mean, len(x), resamples=2000, seed=2) != e


def test_bootstrap_of_a_constant_and_of_an_undefined_statistic() -> None:
    e = m.bootstrap(lambda i: 0.5, 10, resamples=50)
    assert (e.value, e.low, e.high) == (0.5, 0.5, 0.5)
    assert m.bootstrap(lambda i: None, 10).value is None
    assert m.bootstrap(lambda i: 1.0, 0).value is None
    assert e.to_json() == {"value": 0.5, "low": 0.5, "high": 0.5, "n": 10}
    assert e.text() == "0.50 [0.50, 0.50]"


# -- the report's figures --------------------------------------------------------------------


def pair_judgment(
    k: int, human: str, judge: str, *, len_a: int = 5, len_b: int = 5, **kw: Any
) -> Judgment:
    item = PairItem(k, f"f:{k + 1}", "p", "x" * len_a, "y" * len_b, human)
    signal = {"a": 0.5, "b": -0.5, "tie": 0.0}[judge]
    return Judgment(item, preference=judge, signal=signal, **kw)


def label_set(judgments: list[Judgment], kind: str = "pairwise") -> LabelSet:
    shape = "preference" if kind == "pairwise" else "absolute"
    return LabelSet(kind, shape, [j.item for j in judgments], {})  # type: ignore[arg-type]


def test_summary_of_compare_mode_judgments() -> None:
    js = [
        pair_judgment(0, "a", "a", flipped=False, first_position_wins=1),
        pair_judgment(1, "b", "b", flipped=False, first_position_wins=1),
        pair_judgment(2, "a", "tie", flipped=True, first_position_wins=2),
        pair_judgment(3, "tie", "b", flipped=False, first_position_wins=1),
        Judgment(PairItem(4, "f:5", "p", "x", "y", "a"), error="model call failed"),
    ]
    r = summarize(js, label_set(js), mode="compare", resamples=50)
    assert set(REQUIRED_KEYS) <= set(r)
    assert (r["n"], r["items"], r["failed"]) == (4, 5, 1)
    assert r["agreement"]["value"] == pytest.approx(2 / 4)
    assert r["agreement_without_ties"]["value"] == pytest.approx(2.5 / 3)
    assert r["position_consistency"]["value"] == pytest.approx(3 / 4)
    assert r["first_position_rate"]["value"] == pytest.approx(5 / 8)
    assert r["per_principle"] is None and "per_principle" in r["not_applicable"]
    assert r["human_agreement"] is None


def test_score_mode_has_no_position_figures_and_says_why() -> None:
    js = [pair_judgment(0, "a", "a"), pair_judgment(1, "b", "a")]
    r = summarize(js, label_set(js), mode="score", resamples=20)
    assert r["position_consistency"] is None and r["first_position_rate"] is None
    assert "scored on its own" in r["not_applicable"]["position_consistency"]


def test_a_length_biased_judge_shows_in_length_bias() -> None:
    rng = np.random.default_rng(0)
    js = []
    for k in range(200):
        la, lb = rng.integers(10, 500, 2)
        if la == lb:
            continue
        judge = "a" if la > lb else "b"
        human = str(rng.choice(["a", "b"]))  # the humans do not care about length
        js.append(pair_judgment(k, human, judge, len_a=int(la), len_b=int(lb)))
    r = summarize(js, label_set(js), mode="score", resamples=200)
    assert r["length_bias"]["value"] == 1.0
    assert abs(r["length_bias_human"]["value"] - 0.5) < 0.1
    assert r["agreement_without_ties"]["value"] == pytest.approx(r["baseline_longer"]["value"])


def test_human_ceiling_from_annotators() -> None:
    js = []
    for k, (votes, judge) in enumerate(
        [(["a", "a", "b"], "a"), (["b", "b", "b"], "a"), (["tie", "a", "a"], "a")]
    ):
        item = PairItem(k, f"f:{k}", "p", "x", "y", m.majority(votes) or "tie", votes)
        js.append(Judgment(item, preference=judge, signal=0.5))
    r = summarize(js, label_set(js), resamples=50)
    h = r["human_agreement"]
    assert h["items"] == 3 and h["annotators"] == 3
    assert h["mean_pairwise_agreement"]["value"] == pytest.approx((1 / 3 + 1 + 1 / 3) / 3)
    # [a,a,b] -> (0, 1); [b,b,b] -> (3, 3); [tie,a,a] -> (0, 1): 3 of 5.
    assert h["annotator_vs_rest"]["value"] == pytest.approx(3 / 5)
    assert h["judge_vs_annotators"]["value"] == pytest.approx((2 / 3 + 0 + 2 / 3) / 3)


def abs_judgment(k: int, label: float, score: float, **kw: Any) -> Judgment:
    item = AbsoluteItem(k, f"f:{k + 1}", "p", "r" * (k + 1), label)
    return Judgment(item, score=score, **kw)


def test_absolute_binary_labels() -> None:
    # Scores >= 0.5 predict label 1: predictions 1, 0, 1, 0 against labels 1, 0, 0, 0.
    js = [abs_judgment(0, 1, 0.9), abs_judgment(1, 0, 0.2), abs_judgment(2, 0, 0.5)]
    js.append(abs_judgment(3, 0, 0.1))
    r = summarize(js, label_set(js, "absolute"), resamples=20)
    assert r["agreement"]["value"] == pytest.approx(3 / 4)
    # po = 3/4; marginals pred (1: 2, 0: 2), labels (1: 1, 0: 3): pe = (2 + 6) / 16 = 1/2.
    assert r["cohen_kappa"]["value"] == pytest.approx((0.75 - 0.5) / 0.5)
    assert r["kappa_weights"] == "none"
    assert r["label_scale"] == {"values": [0.0, 1.0], "measure": "binary", "positive_label": 1.0}
    assert r["agreement_without_ties"] is None and r["position_consistency"] is None
    # Longer responses (higher k) score lower here.
    assert r["length_bias"]["value"] == pytest.approx(
        m.spearman([1, 2, 3, 4], [0.9, 0.2, 0.5, 0.1])
    )


def test_absolute_ordinal_labels_use_quadratic_kappa() -> None:
    js = [abs_judgment(0, 1, 0.0), abs_judgment(1, 3, 0.5), abs_judgment(2, 5, 0.75)]
    r = summarize(js, label_set(js, "absolute"), resamples=20)
    # Scores on the 1-5 scale: 1, 3, 4 -> nearest observed label: 1, 3, 5 (4 is halfway: up).
    assert r["agreement"]["value"] == 1.0
    assert r["kappa_weights"] == "quadratic"
    assert r["label_scale"]["positive_label"] == 5.0  # above the middle (3) of 1..5


def test_label_scale() -> None:
    s = label_scale([1, 2, 3, 4, 5])
    assert s.measure == "ordinal" and s.positive == 4.0
    assert [s.predict(x) for x in (0.0, 0.1, 0.125, 0.5, 1.0)] == [1, 1, 2, 3, 5]
    assert label_scale([0, 1]).positive == 1.0 and label_scale([0, 1]).predict(0.5) == 1
    assert label_scale([0, 1], positive=0).good(0)
    assert label_scale([x / 100 for x in range(50)]).measure == "continuous"
    assert label_scale([3, 3]).measure == "constant"
