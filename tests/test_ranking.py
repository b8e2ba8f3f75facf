"""Bradley-Terry fitting and the judge-driven merge sort."""

from __future__ import annotations

import asyncio
import itertools
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from judge.tasks.pairs.ranking import (
    PairOutcome,
    all_pairs,
    bradley_terry,
    merge_sort,
    merge_sort_worst_case,
    order_by,
    sigmoid,
)


def test_bradley_terry_recovers_a_known_order_from_sampled_outcomes() -> None:
    rng = random.Random(0)
    true = {i: s for i, s in enumerate([2.0, -1.0, 0.5, 1.2, -2.0, 0.0])}
    outcomes = []
    for i, j in all_pairs(list(true)):
        for _ in range(30):
            win = rng.random() < sigmoid(true[i] - true[j])
            outcomes.append(PairOutcome(i, j, 1.0 if win else 0.0))
    ranking = bradley_terry(list(true), outcomes, prior=0.01)
    assert ranking.order == sorted(true, key=lambda k: -true[k])
    assert sum(ranking.strengths.values()) == pytest.approx(0.0, abs=1e-6)
    for i in true:  # the fitted gaps are close to the true ones
        assert ranking.strengths[i] - ranking.strengths[0] == pytest.approx(
            true[i] - true[0], abs=0.6
        )


def test_a_clean_sweep_stays_finite_and_ties_stay_equal() -> None:
    sweep = bradley_terry([0, 1, 2], [PairOutcome(0, 1, 1.0), PairOutcome(1, 2, 1.0)])
    assert sweep.order == [0, 1, 2]
    assert all(math.isfinite(s) and abs(s) < 10 for s in sweep.strengths.values())
    ties = bradley_terry([5, 6], [PairOutcome(5, 6, 0.5), PairOutcome(6, 5, 0.5)])
    assert ties.strengths[5] == pytest.approx(ties.strengths[6], abs=1e-9)
    assert ties.score(5) == pytest.approx(0.5)


def test_soft_outcomes_give_smaller_gaps_than_hard_ones() -> None:
    soft = bradley_terry([0, 1], [PairOutcome(0, 1, 0.6)])
    hard = bradley_terry([0, 1], [PairOutcome(0, 1, 1.0)])
    soft_gap = soft.strengths[0] - soft.strengths[1]
    hard_gap = hard.strengths[0] - hard.strengths[1]
    assert 0 < soft_gap < hard_gap


def test_items_without_outcomes_and_empty_input() -> None:
    r = bradley_terry([3, 4], [])
    assert r.strengths == {3: 0.0, 4: 0.0} and r.order == [3, 4]
    assert bradley_terry([], []).order == []
    with pytest.raises(ValueError):
        bradley_terry([0, 1], [PairOutcome(0, 1, 1.0)], prior=0)


def test_order_by_keeps_input_order_for_equal_values() -> None:
    assert order_by({0: 0.2, 1: 0.9, 2: 0.2, 3: 0.9}) == [1, 3, 0, 2]


def sort_with(values: list[float], noise: float = 0.0, seed: int = 0) -> tuple[list[int], int]:
    rng = random.Random(seed)
    calls = 0

    async def better(i: int, j: int) -> float:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        if rng.random() < noise:
            return rng.choice([0.0, 1.0])
        return 1.0 if values[i] > values[j] else 0.0 if values[i] < values[j] else 0.5

    order = asyncio.run(merge_sort(list(range(len(values))), better))
    return order, calls


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=0, max_size=20))
def test_merge_sort_sorts_best_first_within_its_comparison_bound(values: list[int]) -> None:
    floats = [float(v) for v in values]
    order, calls = sort_with(floats)
    assert sorted(order) == list(range(len(values)))
    assert [floats[i] for i in order] == sorted(floats, reverse=True)
    assert calls <= merge_sort_worst_case(len(values))
    # ties keep the input order (a stable sort)
    for a, b in itertools.pairwise(order):
        if floats[a] == floats[b]:
            assert a < b


@pytest.mark.parametrize("n", [4, 8, 16])
def test_adaptive_needs_far_fewer_comparisons_than_all_pairs(n: int) -> None:
    values = [float(v) for v in random.Random(n).sample(range(100), n)]
    _, calls = sort_with(values)
    assert calls <= merge_sort_worst_case(n) < n * (n - 1) // 2
    assert merge_sort_worst_case(n) == {4: 5, 8: 17, 16: 49}[n]


def test_a_noisy_judge_still_puts_the_best_near_the_top() -> None:
    values = [float(v) for v in range(16)]
    hits = 0
    for seed in range(20):
        order, _ = sort_with(values, noise=0.1, seed=seed)
        hits += order.index(15) <= 2
    assert hits >= 15
