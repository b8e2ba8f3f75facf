"""The judge's verdict on one human-labelled item, as metrics, fits and reports read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from judge.calibration.fitted import TIE_TOLERANCE
from judge.calibration.labels import LabelItem, PairItem
from judge.records import Comparison, Usage, Verdict

# What a Judgment takes as it is from the Scorer's Verdict, and from the Comparer's Comparison.
_OF_VERDICT = ("error", "usage", "cached", "score", "scores", "panel", "confidence", "decided_by")
_OF_COMPARISON = ("error", "usage", "rationale", "panel", "confidence", "decided_by")


@dataclass
class Judgment:
    """The judge's verdict on one labelled item."""

    item: LabelItem
    error: str | None = None
    usage: Usage = field(default_factory=Usage)
    cached: bool = False
    # absolute items
    score: float | None = None
    scores: dict[str, float | None] = field(default_factory=dict)
    # pairwise items
    preference: str | None = None  # the judge's: "a", "b" or "tie"
    signal: float | None = None  # what the calibration reads: the margin, or p_a
    score_a: float | None = None
    score_b: float | None = None
    scores_a: dict[str, float | None] = field(default_factory=dict)
    scores_b: dict[str, float | None] = field(default_factory=dict)
    compared: bool = False  # judged by comparison (compare mode), not by two scores
    flipped: bool | None = None
    first_position_wins: int | None = None
    verdicts: list[str] | None = None
    rationale: str = ""
    # A panel's member verdicts (score mode on pairs: {"a": [...], "b": [...]}) and agreement.
    panel: Any = None
    confidence: float | None = None  # judge.judging.confidence
    decided_by: str | None = None  # the cascade's judge that decided (--cascade)

    @classmethod
    def of_verdict(cls, item: LabelItem, v: Verdict) -> Judgment:
        """An absolute item's judgment: the Scorer's verdict on its response."""
        return cls(item, rationale=rationale(v), **_named(v, *_OF_VERDICT))

    @classmethod
    def of_comparison(cls, item: PairItem, c: Comparison) -> Judgment:
        """A pair's judgment in compare mode: the Comparer's verdict (both orders)."""
        ok = c.error is None
        return cls(
            item,
            preference=c.winner,
            signal=c.p_a,
            compared=True,
            flipped=c.flipped if ok else None,
            first_position_wins=c.first_position_wins if ok else None,
            verdicts=c.verdicts or None,
            **_named(c, *_OF_COMPARISON),
        )

    @property
    def judged(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        """A row of judgments.jsonl, for reading the disagreements."""
        item = self.item
        row = _named(item, "index", "where", "prompt")
        if isinstance(item, PairItem):
            row.update(_named(item, "response_a", "response_b"), human=item.preference)
            row.update(annotators=item.annotators, judge=self.preference)
            row["agree"] = None if self.preference is None else self.preference == item.preference
            if item.swapped:
                row["chosen_shown_as"] = "b"
            if not self.compared:
                row["margin"] = self.signal
                row.update(_named(self, "score_a", "score_b", "scores_a", "scores_b"))
            else:
                row["p_a"] = self.signal
                row.update(_named(self, "flipped", "verdicts", "first_position_wins"))
        else:
            row.update(_named(item, "response", "label", "annotators"))
            row.update(_named(self, "score", "scores"))
        row.update(_named(self, "rationale", "error"), usage=self.usage.model_dump())
        if self.panel is not None:
            row["panel"] = self.panel
        row.update(confidence=self.confidence)
        if self.decided_by is not None:
            row["decided_by"] = self.decided_by
        return row


def rationale(v: Verdict) -> str:
    """A verdict's rationales in one line, each after its principle's id."""
    return " ".join(f"[{pid}] {text}" for pid, text in v.rationales.items() if text)


def _named(source: object, *names: str) -> dict[str, Any]:
    """The attributes `names` of `source`, under the same names."""
    return {name: getattr(source, name) for name in names}


def preference_from_margin(margin: float, tie_margin: float) -> str:
    if margin > tie_margin + TIE_TOLERANCE:
        return "a"
    if margin < -tie_margin - TIE_TOLERANCE:
        return "b"
    return "tie"
