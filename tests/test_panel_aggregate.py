"""A panel's arithmetic: mean of normalised scores, weighted majority vote, confidence, and the
inter-judge agreement statistics, against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from judge.constitution import parse
from judge.panel.aggregate import (
    LABELS,
    default_quorum,
    majority,
    mean_scores,
    spread_confidence,
    weighted_mean,
)
from judge.panel.agreement import Ratings, Votes, fleiss_kappa, krippendorff_alpha
from tests.conftest import CONSTITUTION

# helpful: 1-5, weight 3; honest: 0-10, weight 1
TINY = parse(CONSTITUTION, path="tiny.md")


def test_mean_of_normalised_scores_by_hand() -> None:
    # Member 1: helpful 4 (0.75), honest 4 (0.4); member 2 (weight 2): helpful 2 (0.25),
    # honest 2 (0.2). helpful: (0.75 + 2 x 0.25) / 3 = 5/12 -> 1 + 4 x 5/12 = 8/3;
    # honest: (0.4 + 2 x 0.2) / 3 = 4/15 -> 10 x 4/15 = 8/3; overall: (3 x 5/12 + 4/15) / 4.
    scores, overall = mean_scores(
        TINY, [({"helpful": 4.0, "honest": 4.0}, 1.0), ({"helpful": 2.0, "honest": 2.0}, 2.0)]
    )
    assert scores["helpful"] == pytest.approx(8 / 3)
    assert scores["honest"] == pytest.approx(8 / 3)
    assert overall == pytest.approx((3 * 5 / 12 + 4 / 15) / 4)
    # ... which is also the weighted mean of the members' overall scores (the mean is linear)
    assert overall == pytest.approx((0.6625 + 2 * 0.2375) / 3)


def test_a_principle_no_member_scored_stays_missing() -> None:
    scores, overall = mean_scores(TINY, [({"helpful": 5.0, "honest": None}, 1.0)])
    assert scores == {"helpful": 5.0, "honest": None} and overall is None


def test_majority_by_hand() -> None:
    assert majority([("a", 1), ("a", 1), ("b", 1)]) == ("a", pytest.approx(2 / 3))
    assert majority([("a", 1), ("b", 1)]) == ("tie", 0.0)  # split: a tie nobody voted for
    assert majority([("a", 1), ("b", 1), ("tie", 1)]) == ("tie", pytest.approx(1 / 3))
    assert majority([("a", 1), ("b", 3)]) == ("b", 0.75)  # weights count
    assert majority([("tie", 1), ("tie", 1), ("a", 1)]) == ("tie", pytest.approx(2 / 3))
    assert majority([]) == (None, None)


def test_spread_confidence_and_quorum() -> None:
    assert spread_confidence([0.6625, 0.2375]) == pytest.approx(0.575)
    assert spread_confidence([0.5]) == 1.0 and spread_confidence([]) is None
    assert [default_quorum(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]


votes = st.lists(
    st.tuples(st.sampled_from(LABELS), st.floats(0.1, 10, allow_nan=False)), min_size=1
)


@given(votes)
def test_majority_picks_a_top_label_or_calls_a_tie(vs: list[tuple[str, float]]) -> None:
    winner, confidence = majority(vs)
    weight = {label: sum(w for v, w in vs if v == label) for label in LABELS}
    top = max(weight.values())
    assert winner is not None and confidence is not None and 0 <= confidence <= 1
    if winner != "tie":
        assert math.isclose(weight[winner], top)
        assert all(not math.isclose(w, top) for label, w in weight.items() if label != winner)
    if len({v for v, _ in vs}) == 1:
        assert winner == vs[0][0] and confidence == pytest.approx(1.0)


@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0.1, 10)), min_size=1))
def test_weighted_mean_lies_between_the_members(pairs: list[tuple[float, float]]) -> None:
    mean = weighted_mean(pairs)
    assert mean is not None
    values = [v for v, _ in pairs]
    assert min(values) - 1e-9 <= mean <= max(values) + 1e-9
    confidence = spread_confidence(values)
    assert confidence is not None and 0 <= confidence <= 1


def rows(ratings: list[list[float | None]]) -> np.ndarray:
    """members x items, from rows of items (None: no verdict)."""
    return np.array([[np.nan if v is None else v for v in r] for r in ratings], dtype=float).T


def table(votes: list[list[str]], categories: tuple[str, ...] = LABELS) -> np.ndarray:
    return np.array([[v.count(c) for c in categories] for v in votes])


def test_fleiss_kappa_by_hand() -> None:
    # Items (a,a,a), (a,a,b), (b,b,b), (a,b,tie): P_i = 1, 1/3, 1, 0 -> P = 7/12;
    # p = (6, 5, 1)/12 -> P_e = 62/144; kappa = (84 - 62) / (144 - 62) = 22/82.
    votes = [["a", "a", "a"], ["a", "a", "b"], ["b", "b", "b"], ["a", "b", "tie"]]
    assert fleiss_kappa(table(votes)) == pytest.approx(22 / 82)


def test_fleiss_kappa_matches_the_worked_example() -> None:
    # The worked example on Wikipedia's "Fleiss' kappa" page: 10 subjects, 14 raters,
    # 5 categories; kappa = 0.210.
    counts = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    assert fleiss_kappa(np.array(counts)) == pytest.approx(0.2099, abs=5e-4)


def test_fleiss_kappa_undefined_cases() -> None:
    assert fleiss_kappa(np.zeros((0, 3))) is None
    assert fleiss_kappa(table([["a", "a"], ["a", "a"]])) is None  # one category only
    with pytest.raises(ValueError, match="same number"):
        fleiss_kappa(table([["a", "a"], ["a"]]))


def test_votes_table_keeps_the_items_every_member_judged() -> None:
    votes = Votes(3, LABELS)
    for row in (["a", "a", "b"], ["a", None, "b"], ["tie", "b", "b"]):
        votes.add(row)
    assert votes.counts().tolist() == [[2, 1, 0], [0, 2, 1]]


def test_krippendorff_interval_alpha_by_hand() -> None:
    # Units (1,1), (2,2), (3,4): D_o = 2/6; values 1,1,2,2,3,4: sum over ordered pairs of
    # squared differences 2 x (6 x 35 - 13^2) = 82, D_e = 82/30; alpha = 1 - 10/82.
    assert krippendorff_alpha(rows([[1, 1], [2, 2], [3, 4]]), "interval") == pytest.approx(72 / 82)
    # A unit only one member rated adds nothing.
    ratings = rows([[1, 1], [2, 2], [3, 4], [5, None]])
    assert krippendorff_alpha(ratings, "interval") == pytest.approx(72 / 82)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.lists(
            st.one_of(st.none(), st.integers(0, 8).map(lambda k: k / 8)), min_size=3, max_size=3
        ),
        min_size=2,
        max_size=30,
    )
)
def test_interval_alpha_equals_the_krippendorff_package(ratings: list[list[float | None]]) -> None:
    import krippendorff

    data = rows(ratings)
    ours = krippendorff_alpha(data, "interval")
    pairable = data[:, (~np.isnan(data)).sum(axis=0) >= 2]
    if ours is None:
        return
    theirs = krippendorff.alpha(reliability_data=pairable, level_of_measurement="interval")
    assert ours == pytest.approx(theirs, abs=1e-9)


def test_ratings_store_members_by_items() -> None:
    ratings = Ratings(2)
    ratings.add([0.5, None])
    ratings.add([1.0, 0.0])
    m = ratings.matrix()
    assert m.shape == (2, 2) and m[0].tolist() == [0.5, 1.0] and np.isnan(m[1, 0])


def test_krippendorff_undefined_cases() -> None:
    assert krippendorff_alpha(rows([[0.5, 0.5], [0.5, 0.5]]), "interval") is None
    assert krippendorff_alpha(rows([[0.5, None]]), "interval") is None
    assert krippendorff_alpha(rows([[1, 1], [2, 2]]), "ordinal") == pytest.approx(1.0)
