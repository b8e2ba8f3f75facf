"""Choosing what to label first, from the judge's own verdicts (a judgments file).

A judgments file is the output of `judge score` (rows with `score`, `judge.expected_scores`),
`judge pairs` (`chosen`, `rejected`, `p_chosen` or `margin`) or the judgments.jsonl of `judge
calibrate` (`response_a`, `response_b`, `p_a`, `margin`, `flipped`; or `response`, `score`).
Its rows find their items by content (prompt and response texts). `judge.confidence` (0-1) and
`judge.panel` (one verdict per panel member) are read when present.

- uncertain: swap flips first, then the least sure verdicts: a probability near 0.5, a margin
  near 0, a score in the middle of the range, a low confidence, expected scores (from token
  log-probabilities) halfway between two levels; the strongest of these signals counts.
- disagree: where the panel members' verdicts spread most (needs `judge.panel`).
- stratified: spread over the judge's range: the scores (or margins) fall into five equal-width
  bins, taken in turn, seeded-random within a bin.
- random: a seeded shuffle.
Items the judgments do not cover follow in input order (random: shuffled with the rest).
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from judge.errors import InputError
from judge.io import describe, read_rows
from judge.label.items import Item, content_key

METHODS = ("uncertain", "disagree", "stratified", "random")
_BINS = 5
_WINNER_VALUE = {"a": 1.0, "b": 0.0, "tie": 0.5}


@dataclass
class Signal:
    """What one judgments row says about how sure the judge was."""

    value: float | None = None  # the score, margin or p, for stratified
    uncertainty: float | None = None  # 0 sure .. 1 unsure, +1 for a swap flip
    disagreement: float | None = None  # spread of the panel's verdicts


@dataclass
class Selection:
    items: list[Item]
    matched: int = 0  # items the judgments covered
    notes: list[str] = field(default_factory=list)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if value == value else None  # NaN is no number


def _judge_info(row: dict[str, Any]) -> dict[str, Any]:
    info = row.get("judge")
    return info if isinstance(info, dict) else {}


def _member_value(member: Any) -> float | None:
    if isinstance(member, dict):
        for name in ("score", "p_a", "p_chosen", "margin"):
            if (v := _number(member.get(name))) is not None:
                return v
        winner = member.get("winner", member.get("preference"))
        return _WINNER_VALUE.get(str(winner).lower()) if winner is not None else None
    if isinstance(member, str):
        return _WINNER_VALUE.get(member.lower())
    return _number(member)


def _panel_spread(row: dict[str, Any]) -> float | None:
    panel = _judge_info(row).get("panel", row.get("panel"))
    members = list(panel.values()) if isinstance(panel, dict) else panel
    if not isinstance(members, list):
        return None
    values = [v for v in (_member_value(m) for m in members) if v is not None]
    return statistics.pstdev(values) if len(values) >= 2 else None


def _signal(row: dict[str, Any], p: float | None, margin: float | None, flipped: bool) -> Signal:
    unsure: list[float] = []
    if p is not None:
        unsure.append(1.0 - abs(2.0 * p - 1.0))
    elif margin is not None:
        unsure.append(1.0 - min(1.0, abs(margin)))
    info = _judge_info(row)
    if (c := _number(info.get("confidence", row.get("confidence")))) is not None:
        unsure.append(1.0 - min(1.0, max(0.0, c)))
    expected = info.get("expected_scores")
    if isinstance(expected, dict):
        # An expected score halfway between two levels: the judge hesitated between them.
        halves = [2.0 * abs(v - round(v)) for v in map(_number, expected.values()) if v is not None]
        if halves:
            unsure.append(sum(halves) / len(halves))
    uncertainty = (max(unsure) if unsure else None) if not flipped else 1.0 + max(unsure or [0])
    value = p if p is not None else margin
    return Signal(value, uncertainty, _panel_spread(row))


def read_signals(path: str) -> tuple[dict[str, Signal], dict[str, float]]:
    """(pair or absolute content key -> Signal, absolute key -> score) from a judgments file."""
    signals: dict[str, Signal] = {}
    scores: dict[str, float] = {}
    for line, row in read_rows(path):
        if not isinstance(row, dict):
            raise InputError("expected an object with named fields", describe(path, line))
        prompt = row.get("prompt")
        if prompt == "":
            prompt = None
        flipped = row.get("flipped") is True
        if isinstance(row.get("response_a"), str) and isinstance(row.get("response_b"), str):
            key = content_key(prompt, row["response_a"], row["response_b"])
            p = _number(row.get("p_a"))
            signals[key] = _signal(row, p, _number(row.get("margin")), flipped)
        elif isinstance(row.get("chosen"), str) and isinstance(row.get("rejected"), str):
            key = content_key(prompt, row["chosen"], row["rejected"])
            p = _number(row.get("p_chosen"))
            signals[key] = _signal(row, p, _number(row.get("margin")), flipped)
        else:
            text = row.get("response", row.get("text"))
            score = _number(row.get("score"))
            if not isinstance(text, str):
                continue
            key = content_key(prompt, text)
            if score is not None:
                scores[key] = score
            sig = _signal(row, None, None, False)
            if score is not None:
                middle = 1.0 - abs(2.0 * min(1.0, max(0.0, score)) - 1.0)
                sig.uncertainty = max(middle, sig.uncertainty or 0.0)
            sig.value = score
            signals[key] = sig
    return signals, scores


def _item_signal(item: Item, signals: dict[str, Signal], scores: dict[str, float]) -> Signal:
    if item.key in signals:
        return signals[item.key]
    if item.pair:  # a pair from a `judge score` output: the margin of its two scores
        sa = scores.get(content_key(item.prompt, item.response_a))
        sb = scores.get(content_key(item.prompt, item.response_b))
        if sa is not None and sb is not None:
            return Signal(value=sa - sb, uncertainty=1.0 - min(1.0, abs(sa - sb)))
    return Signal()


def select(
    items: Sequence[Item],
    method: str | None,
    judgments: str | None,
    *,
    sample: int | None = None,
    seed: int = 0,
) -> Selection:
    """The items in the order to label them, the first `sample` of them when given."""
    rng = random.Random(seed)
    order = list(items)
    if method in ("uncertain", "disagree", "stratified") and judgments is None:
        raise InputError(
            f"{{opt:select}} {method} needs {{opt:judgments}} FILE (from judge score/pairs)"
        )
    result = Selection(order)
    if method == "random":
        rng.shuffle(order)
    elif method is not None and judgments is not None:
        signals, scores = read_signals(judgments)
        found = [(item, _item_signal(item, signals, scores)) for item in order]
        result.matched = sum(
            s.value is not None or s.uncertainty is not None or s.disagreement is not None
            for _, s in found
        )
        if result.matched == 0:
            raise InputError(
                f"none of the {len(order)} items is in the judgments (matched by prompt and "
                "response texts): give the output of judge score/pairs/calibrate on this input",
                judgments,
            )
        if result.matched < len(order):
            result.notes.append(
                f"{len(order) - result.matched} items have no verdict in {judgments}: "
                "they come after the others"
            )
        order = _ordered(found, method, rng, judgments)
    if sample is not None:
        order = order[:sample]
    result.items = order
    return result


def _ordered(
    found: list[tuple[Item, Signal]], method: str, rng: random.Random, judgments: str
) -> list[Item]:
    ties = {item.id: rng.random() for item, _ in found}  # seeded order among equals
    rest = [item for item, _ in found]
    if method == "stratified":
        valued = [(i, s.value) for i, s in found if s.value is not None]
        if not valued:
            raise InputError(
                "{opt:select} stratified needs the judge's scores, margins or probabilities, and "
                "these judgments have none",
                judgments,
            )
        low = min(v for _, v in valued)
        width = (max(v for _, v in valued) - low) / _BINS or 1.0
        bins: list[list[Item]] = [[] for _ in range(_BINS)]
        for item, v in valued:
            bins[min(_BINS - 1, int((v - low) / width))].append(item)
        for b in bins:
            b.sort(key=lambda i: ties[i.id])
        picked = [b[k] for k in range(max(map(len, bins))) for b in bins if k < len(b)]
    else:
        attr = "uncertainty" if method == "uncertain" else "disagreement"
        ranked = [(i, getattr(s, attr)) for i, s in found if getattr(s, attr) is not None]
        if not ranked and method == "disagree":
            raise InputError(
                "{opt:select} disagree needs the verdicts of a panel of judges (a judge.panel "
                "field) and these judgments have none; use {opt:select} uncertain or stratified",
                judgments,
            )
        ranked.sort(key=lambda p: (-p[1], ties[p[0].id]))
        picked = [i for i, _ in ranked]
    chosen = {i.id for i in picked}
    return picked + [i for i in rest if i.id not in chosen]
