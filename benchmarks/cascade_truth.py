"""The true agreement of a cascade of simulated judges (benchmarks/cascade_sim.py), not an estimate.

A held-out set of 150 pairs measures a cascade's agreement with an error of several points; the
simulation knows each judge's accuracy as a function of its latent confidence u ~ U(0, 1), so the
agreement on decided items over the whole population of items can be computed exactly:

- a judge of `--mode compare` sees a pair in both orders with the same belief: unless position-
  biased (probability flip * (1 - u)), it names the same winner in both orders, right with
  probability low + (high - low) * u, and its confidence (judge.judging.confidence) is p * p with
  p = 0.5 + 0.49 * u, the probability it put on its label in each order;
- a position-biased judge says "A" in both orders: a flip, reported as a tie (which never agrees
  with a human preference for a or b), with confidence (0.2 * (1 - p)) ** 2, the tie's share;
- a judge decides when its confidence is >= its threshold; the next judge's belief is drawn
  independently, so a cascade decides D1 + (1 - D1) * D2 of the items, and agrees on
  (R1 + (1 - D1) * R2) / that, where D is the share a judge decides and R the share it decides
  and gets right.

`predict` applies the same rules to one item through the simulation's own draws, so the
benchmark can check, item by item, that judge decided what this model says it decides.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy import integrate

from benchmarks.cascade_sim import SimJudge, Simulation

TIE_SHARE = 0.2  # of the probability a simulated judge leaves off its label (cascade_sim._compare)


def confidence(u: float, biased: bool) -> float:
    """judge's confidence in a compare verdict of a judge with latent confidence u."""
    p = 0.5 + 0.49 * u
    return (TIE_SHARE * (1 - p)) ** 2 if biased else p * p


def _decides(judge: SimJudge, threshold: float | None) -> tuple[float, float]:
    """(share of all items the judge decides, share it decides and agrees with people on)."""
    if threshold is None:
        return 0.0, 0.0
    # unbiased: p * p >= t  <=>  u >= (sqrt(t) - 0.5) / 0.49
    # biased: (0.2 * (1 - p)) ** 2 >= t  <=>  u <= (0.5 - sqrt(t) / 0.2) / 0.49
    low_u = min(max((math.sqrt(threshold) - 0.5) / 0.49, 0.0), 1.0)
    high_u = min(max((0.5 - math.sqrt(threshold) / TIE_SHARE) / 0.49, 0.0), 1.0)

    def unbiased(u: float) -> float:
        return 1 - judge.flip * (1 - u)

    def right(u: float) -> float:
        return judge.low + (judge.high - judge.low) * u

    decided = integrate.quad(unbiased, low_u, 1.0)[0]
    decided += integrate.quad(lambda u: judge.flip * (1 - u), 0.0, high_u)[0]
    agreed = integrate.quad(lambda u: unbiased(u) * right(u), low_u, 1.0)[0]
    return decided, agreed


def truth(stages: Sequence[tuple[SimJudge, float | None]]) -> dict[str, float | None]:
    """The coverage and the agreement on decided items of a cascade over all items."""
    reach, decided, agreed = 1.0, 0.0, 0.0
    for judge, threshold in stages:
        d, r = _decides(judge, threshold)
        decided += reach * d
        agreed += reach * r
        reach *= 1 - d
    return {"coverage": decided, "agreement": agreed / decided if decided else None}


def predict(
    sim: Simulation, stages: Sequence[tuple[str, float | None]], tag: str
) -> tuple[str | None, bool | None]:
    """(the model that decides item `tag`, whether it agrees with the human label), or (None,
    None) when the cascade abstains."""
    for model, threshold in stages:
        if threshold is None:
            continue
        right, u, biased = sim.belief(model, tag)
        if confidence(u, biased) >= threshold:
            return model, (not biased) and right
    return None, None
