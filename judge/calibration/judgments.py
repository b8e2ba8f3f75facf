"""The judge's verdict on one human-labelled item, as metrics, fits and reports read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from judge.calibration.fitted import TIE_TOLERANCE
from judge.calibration.labels import LabelItem, PairItem
from judge.records import Usage


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

    @property
    def judged(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        """A row of judgments.jsonl, for reading the disagreements."""
        item = self.item
        row: dict[str, Any] = {"index": item.index, "where": item.where, "prompt": item.prompt}
        if isinstance(item, PairItem):
            row.update(
                response_a=item.response_a,
                response_b=item.response_b,
                human=item.preference,
                annotators=item.annotators,
                judge=self.preference,
                agree=None if self.preference is None else self.preference == item.preference,
            )
            if item.swapped:
                row["chosen_shown_as"] = "b"
            if not self.compared:
                row.update(margin=self.signal, score_a=self.score_a, score_b=self.score_b)
                row.update(scores_a=self.scores_a, scores_b=self.scores_b)
            else:
                row.update(p_a=self.signal, flipped=self.flipped, verdicts=self.verdicts)
                row["first_position_wins"] = self.first_position_wins
        else:
            row.update(
                response=item.response,
                label=item.label,
                annotators=item.annotators,
                score=self.score,
                scores=self.scores,
            )
        row.update(rationale=self.rationale, error=self.error, usage=self.usage.model_dump())
        if self.panel is not None:
            row["panel"] = self.panel
        row.update(confidence=self.confidence)
        if self.decided_by is not None:
            row["decided_by"] = self.decided_by
        return row


def preference_from_margin(margin: float, tie_margin: float) -> str:
    if margin > tie_margin + TIE_TOLERANCE:
        return "a"
    if margin < -tie_margin - TIE_TOLERANCE:
        return "b"
    return "tie"
