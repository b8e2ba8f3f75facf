"""Ranking the candidates of one prompt: by score, or by Bradley-Terry strengths from comparisons.

Bradley-Terry: P(i beats j) = sigmoid(s_i - s_j). The strengths are fitted by maximum likelihood
with scipy, from soft outcomes (P(i better) in [0, 1]; a tie is 0.5), with a small L2 prior that
keeps them finite when one candidate wins everything (a perfect separation has no finite MLE).

`merge_sort` is the adaptive way to get a ranking: a merge sort whose comparisons the judge makes,
about N log2 N comparisons instead of the N(N-1)/2 of judging every pair.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_PRIOR = 0.01  # L2 penalty on the strengths: a Gaussian prior of variance 100


@dataclass(frozen=True)
class PairOutcome:
    """One judged comparison: P(i is better than j)."""

    i: int
    j: int
    p: float


@dataclass(frozen=True)
class Ranking:
    """Strengths (or scores) by candidate, and the candidates best first."""

    strengths: dict[int, float]
    order: list[int]

    def score(self, i: int) -> float:
        """A strength as a number in [0, 1]: P(beating a candidate of average strength)."""
        return sigmoid(self.strengths[i])


def sigmoid(x: float) -> float:
    return 0.5 * (1.0 + math.tanh(0.5 * x))  # stable for large |x|


def bradley_terry(
    items: Sequence[int], outcomes: Sequence[PairOutcome], prior: float = DEFAULT_PRIOR
) -> Ranking:
    """Fit strengths for `items` from `outcomes`; items with no outcome get strength 0."""
    if prior <= 0:
        raise ValueError("the prior must be > 0 (without it, a clean sweep has no finite fit)")
    ids = list(dict.fromkeys(items))
    pos = {item: k for k, item in enumerate(ids)}
    n = len(ids)
    kept = [o for o in outcomes if o.i in pos and o.j in pos and o.i != o.j]
    if n == 0:
        return Ranking({}, [])
    if not kept:
        return Ranking(dict.fromkeys(ids, 0.0), list(ids))
    i = np.array([pos[o.i] for o in kept])
    j = np.array([pos[o.j] for o in kept])
    p = np.clip(np.array([o.p for o in kept], dtype=float), 0.0, 1.0)

    def objective(s: np.ndarray) -> tuple[float, np.ndarray]:
        d = s[i] - s[j]
        # -log-likelihood: p log(1 + e^-d) + (1 - p) log(1 + e^d), and its gradient
        nll = float(np.sum(p * np.logaddexp(0.0, -d) + (1.0 - p) * np.logaddexp(0.0, d)))
        r = 0.5 * (1.0 + np.tanh(0.5 * d)) - p  # d nll / d d
        grad = np.zeros(n)
        np.add.at(grad, i, r)
        np.add.at(grad, j, -r)
        return nll + 0.5 * prior * float(s @ s), grad + prior * s

    from scipy.optimize import minimize  # here: importing scipy.optimize takes half a second

    fit = minimize(objective, np.zeros(n), jac=True, method="L-BFGS-B")
    s = fit.x - fit.x.mean()  # the prior already centres them; this removes round-off
    strengths = {item: float(s[pos[item]]) for item in ids}
    return Ranking(strengths, order_by(strengths))


def order_by(values: dict[int, float]) -> list[int]:
    """Best first; equal values keep their input order."""
    return sorted(values, key=lambda k: -values[k])


def all_pairs(items: Sequence[int]) -> list[tuple[int, int]]:
    """Every unordered pair, each once (i before j in the input)."""
    return [(a, b) for k, a in enumerate(items) for b in items[k + 1 :]]


Better = Callable[[int, int], Awaitable[float]]  # P(first is better than second)


async def merge_sort(items: Sequence[int], better: Better) -> list[int]:
    """Sort best first with the judge as comparator (a tie keeps the input order).

    The two halves are sorted concurrently, so a prompt's comparisons take about N rounds of
    judging instead of N log N. Uses at most N*ceil(log2 N) - 2^ceil(log2 N) + 1 comparisons.
    """
    items = list(items)
    if len(items) <= 1:
        return items
    mid = len(items) // 2
    left, right = await asyncio.gather(
        merge_sort(items[:mid], better), merge_sort(items[mid:], better)
    )
    merged: list[int] = []
    while left and right:
        # Ties go left: the sort is stable, and an indifferent judge changes nothing.
        if await better(right[0], left[0]) > 0.5:
            merged.append(right.pop(0))
        else:
            merged.append(left.pop(0))
    return merged + left + right


def merge_sort_worst_case(n: int) -> int:
    """The most comparisons `merge_sort` makes for n items."""
    if n <= 1:
        return 0
    k = math.ceil(math.log2(n))
    return n * k - 2**k + 1
