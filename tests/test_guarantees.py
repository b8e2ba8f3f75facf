"""Thresholds with a guarantee (Trust or Escalate): the arithmetic against hand-computed cases,
fixed-sequence stopping, and the guarantee itself by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from judge.calibration.guarantees import choose_threshold, p_value


def test_exact_binomial_p_values_by_hand() -> None:
    assert p_value(10, 10, 0.8) == pytest.approx(0.8**10)
    assert p_value(9, 10, 0.8) == pytest.approx(10 * 0.8**9 * 0.2 + 0.8**10)
    assert p_value(0, 7, 0.8) == 1.0 and p_value(0, 0, 0.8) == 1.0
    with pytest.raises(ValueError):
        p_value(11, 10, 0.8)


def test_the_most_confident_block_is_trusted_and_the_rest_escalated() -> None:
    confidence = [0.9] * 20 + [0.5] * 10
    agreed = [True] * 20 + [False] * 10
    t = choose_threshold(confidence, agreed, target=0.8, delta=0.05)
    assert t is not None and t.confidence == 0.9 and (t.n, t.agreed) == (20, 20)
    assert t.p_value == pytest.approx(0.8**20) and t.coverage == pytest.approx(20 / 30)


def test_too_few_labels_cannot_guarantee_anything() -> None:
    # 13 of 13 right still leaves P = 0.8^13 = 0.055 > 0.05: not enough evidence for 80%;
    # 14 of 14 gives 0.044.
    assert choose_threshold([0.9] * 13, [True] * 13, target=0.8, delta=0.05) is None
    assert choose_threshold([0.9] * 14, [True] * 14, target=0.8, delta=0.05) is not None


def test_fixed_sequence_stops_at_the_first_failure() -> None:
    """The top block (20 items, 13 right: p = 0.97) fails the first test: the walk stops there,
    although the next threshold down (those 20 and 200 more right answers) would pass alone."""
    confidence = [0.99] * 20 + [0.9] * 200
    agreed = [True] * 13 + [False] * 7 + [True] * 200
    assert choose_threshold(confidence, agreed, target=0.8, delta=0.05) is None
    assert choose_threshold(confidence[20:], agreed[20:], target=0.8, delta=0.05) is not None


def test_thresholds_with_too_few_items_to_test_are_skipped_not_stops() -> None:
    # One item at 0.99 cannot reject at 80% whatever its outcome (n_min = 14): it is no test.
    confidence = [0.99] + [0.9] * 30
    agreed = [False] + [True] * 30
    t = choose_threshold(confidence, agreed, target=0.8, delta=0.05)
    assert t is not None and t.confidence == 0.9 and (t.n, t.agreed) == (31, 30)


def test_the_agreement_on_trusted_items_reaches_the_target_in_1_minus_delta_of_label_sets() -> None:
    """A judge right with probability 0.6 + 0.4 * confidence (confidence uniform): its true
    agreement above a threshold t is 0.8 + 0.2 t, which reaches 0.85 only for t >= 0.25. Over
    200 label sets of 500 items, a chosen threshold below 0.25 (a broken promise) must occur in
    at most delta of them (plus sampling slack); most sets must get a threshold at all."""
    target, delta, sets = 0.85, 0.1, 200
    broken = chosen = 0
    rng = np.random.default_rng(0)
    for _ in range(sets):
        confidence = rng.uniform(0, 1, 500)
        agreed = rng.uniform(0, 1, 500) < 0.6 + 0.4 * confidence
        t = choose_threshold(confidence.tolist(), agreed.tolist(), target=target, delta=delta)
        if t is not None:
            chosen += 1
            broken += 0.8 + 0.2 * t.confidence < target
    slack = 3 * math.sqrt(sets * delta * (1 - delta))
    assert chosen > sets * 0.8  # not vacuous: almost every label set gets a threshold
    assert broken <= delta * sets + slack
