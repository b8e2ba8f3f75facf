"""Thresholds with a guarantee: trust a judge only where its confidence clears a threshold chosen
on human labels so that, with probability at least 1 - delta, its agreement with people on the
items it decides is at least the target (Jung, Brahman and Choi, "Trust or Escalate", ICLR 2025).

The test, for one threshold t: among the n labelled items whose confidence is >= t, k agree with
the humans. Under H0 "the agreement on such items is below the target", the number agreeing is
at most Binomial(n, target); the exact p-value is P(Binomial(n, target) >= k). Fixed-sequence
testing walks the thresholds from the most confident down and stops at the first that cannot
reject H0 at level delta; the last rejected threshold is chosen (the lowest confidence still
trusted, so the most coverage). Walking a fixed order, every test at the same delta, keeps the
family-wise error at delta (no correction for the number of thresholds is needed).

The thresholds are labelled items' own confidences, chosen from the confidences alone (the
n_min-th most confident, n_min the least n with target^n <= delta, below which not even perfect
agreement could reject H0, and then one every 1/steps of the items): given the confidences, the
sequence is fixed before any agreement is looked at, so the tests stay exact and the order fixed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def p_value(agreed: int, n: int, target: float) -> float:
    """P(Binomial(n, target) >= agreed): how surprising `agreed` of `n` is if the true
    agreement were only `target` (exact; 1.0 when there are no items)."""
    if not 0 <= agreed <= n:
        raise ValueError(f"agreed must be within 0..n, got {agreed} of {n}")
    if n == 0:
        return 1.0
    from scipy import stats  # here: scipy.stats takes 0.5 s to import, and every run loads this

    return float(stats.binom.sf(agreed - 1, n, target))


@dataclass(frozen=True)
class Threshold:
    """A chosen threshold and what it gives on the labels it was chosen on."""

    confidence: float  # trust the judge when its confidence is >= this
    n: int  # labelled items at or above it
    agreed: int
    p_value: float
    coverage: float  # n / all labelled items

    @property
    def agreement(self) -> float:
        return self.agreed / self.n if self.n else 0.0


def choose_threshold(
    confidence: Sequence[float],
    agreed: Sequence[bool],
    *,
    target: float,
    delta: float,
    steps: int = 20,
    start: int = 0,
) -> Threshold | None:
    """The lowest confidence threshold at which fixed-sequence testing still guarantees an
    agreement >= `target` with probability >= 1 - `delta`; None when even the most confident
    items cannot (the judge cannot be trusted at that level on these labels).

    The thresholds tested are the confidences of the n_min-th most confident item and then of
    every 1/`steps` of the items further down: a coarse sequence, because every test is a chance
    to stop, and one unlucky item among a few more would end the walk early. `start`: the first
    test keeps at least this many items (a first test on n_min items fails on a single error).
    """
    if not 0 < target < 1 or not 0 < delta < 1:
        raise ValueError("target and delta are probabilities strictly between 0 and 1")
    if len(confidence) != len(agreed):
        raise ValueError("one confidence per labelled item, and one agreement each")
    c = np.asarray(confidence, dtype=float)
    a = np.asarray(agreed, dtype=bool)
    order = np.argsort(-c, kind="stable")
    c, a = c[order], a[order]
    total = len(c)
    n_min = math.ceil(math.log(delta) / math.log(target))
    if total < n_min:
        return None
    step = max(1, math.ceil(total / steps))
    chosen: Threshold | None = None
    tested = -1
    for count in (*range(max(n_min, start), total, step), total):
        t = float(c[count - 1])
        n = int(np.searchsorted(-c, -t, side="right"))  # ties with the threshold are in too
        if n == tested:
            continue
        tested = n
        k = int(a[:n].sum())
        p = p_value(k, n, target)
        if p > delta:
            break
        chosen = Threshold(t, n, k, p, n / total)
    return chosen
