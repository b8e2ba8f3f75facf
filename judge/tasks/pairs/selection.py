"""Pair selection: which of a prompt's judged candidates make preference pairs.

Strategies, on the judged candidates of one prompt (each with a score in [0, 1]):
- `best-worst`: the best against the worst (Self-Rewarding Language Models),
- `best-random`: the best against one of the others drawn at random (UltraFeedback binarized),
- `all`: every pair whose margin is at least --min-margin.
A pair is kept only if the chosen response beats the rejected one by at least the margin (and by
more than nothing: ties never make a pair), their texts differ (after stripping white space), and
the judge, if it compared them directly, preferred the chosen one.

"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

STRATEGIES = ("best-worst", "best-random", "all")
TIE = 1e-9  # margins at or below this are ties, whatever --min-margin says

Allowed = Callable[[int, int], bool]  # (chosen index, rejected index) -> may they be paired


@dataclass(frozen=True)
class Ranked:
    """A judged candidate of one prompt."""

    index: int  # position among the prompt's responses (chosen_index / rejected_index)
    text: str
    score: float  # in [0, 1], higher is better
    scores: dict[str, float | None] | None = None  # per principle, where known
    panel: list[dict[str, Any]] | None = None  # a panel's member verdicts (judge.panel)
    confidence: float | None = None  # a panel's agreement on this candidate, or a judge's
    decided_by: str | None = None  # the cascade's judge that scored it (--cascade)


@dataclass
class Selection:
    pairs: list[tuple[Ranked, Ranked]] = field(default_factory=list)  # (chosen, rejected)
    reason: str | None = None  # why there is no pair


def _same(a: Ranked, b: Ranked) -> bool:
    return a.text.strip() == b.text.strip()


def select(
    candidates: Sequence[Ranked],
    strategy: str = "best-worst",
    *,
    min_margin: float = 0.0,
    rng: random.Random | None = None,
    allowed: Allowed | None = None,
) -> Selection:
    """The preference pairs of one prompt's candidates under a strategy."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    ranked = sorted(candidates, key=lambda c: (-c.score, c.index))
    if len(ranked) < 2:
        return Selection(reason="fewer than 2 judged candidates")
    distinct = {c.text.strip() for c in ranked}
    if len(distinct) < 2:
        return Selection(reason="all judged candidates have the same text")

    def ok(chosen: Ranked, rejected: Ranked) -> bool:
        margin = chosen.score - rejected.score
        return (
            margin > TIE
            and margin >= min_margin
            and not _same(chosen, rejected)
            and (allowed is None or allowed(chosen.index, rejected.index))
        )

    best = ranked[0]
    pairs: list[tuple[Ranked, Ranked]] = []
    if strategy == "best-worst":
        worst = next(c for c in reversed(ranked) if not _same(best, c))
        if ok(best, worst):
            pairs.append((best, worst))
    elif strategy == "best-random":
        pool = [c for c in ranked[1:] if ok(best, c)]
        if pool:
            pairs.append((best, (rng or random.Random(0)).choice(pool)))
    else:
        pairs = [(c, r) for k, c in enumerate(ranked) for r in ranked[k + 1 :] if ok(c, r)]
    return Selection(pairs, None if pairs else "tied, or closer than --min-margin")
