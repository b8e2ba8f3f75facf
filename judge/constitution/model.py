"""A parsed constitution: its principles, their scales, weights, rubrics and requests."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Scale(BaseModel):
    low: int = 1
    high: int = 5

    def normalize(self, value: float) -> float:
        """Map a score on this scale to [0, 1]."""
        return (value - self.low) / (self.high - self.low)

    def __str__(self) -> str:
        return f"{self.low}-{self.high}"


VERIFIERS = ("answer", "regex", "json", "length")


class Verifier(BaseModel):
    """A check made without a model (`verify:` in the file; judge.judging.verifiers runs it)."""

    kind: Literal["answer", "regex", "json", "length"]
    pattern: str | None = None  # regex: found anywhere in the response
    json_schema: dict[str, Any] | None = None  # json: the schema the value must follow
    low: int | None = None  # length: the range, inclusive; None: no bound on that side
    high: int | None = None
    unit: Literal["characters", "words"] = "characters"

    def spec(self) -> str:
        """The `verify:` value that gives this verifier back (the schema goes in its section)."""
        if self.kind == "regex":
            return f"regex {self.pattern}"
        if self.kind == "length":
            low = "" if self.low is None else str(self.low)
            high = "" if self.high is None else str(self.high)
            return f"length {low}-{high} {self.unit}"
        return self.kind


class Principle(BaseModel):
    id: str
    title: str | None = None
    weight: float = 1.0
    scale: Scale = Field(default_factory=Scale)
    statement: str
    rubric: dict[int, str] = Field(default_factory=dict)  # score level -> what it means
    critique: str | None = None  # critique request (Constitutional AI)
    revision: str | None = None  # revision request
    line: int = 0  # line of the `## id` heading
    verify: Verifier | None = None  # a verifier principle: checked, not judged by a model
    # `requires: reference`: applied only to rows that have a reference answer
    requires: list[str] = Field(default_factory=list)

    def applies(self, has_reference: bool) -> bool:
        """Whether the principle judges a row (one with a reference, or not)."""
        return has_reference or "reference" not in self.requires


class Constitution(BaseModel):
    name: str
    title: str | None = None  # from an optional `# Title` first line
    description: str | None = None
    version: str | None = None
    scale: Scale = Field(default_factory=Scale)  # the default for principles
    preamble: str = ""
    principles: list[Principle]
    path: str | None = None
    sha256: str  # of the file's bytes: travels with every verdict

    def principle(self, pid: str) -> Principle:
        for p in self.principles:
            if p.id == pid:
                return p
        raise KeyError(pid)

    def judged(self) -> list[Principle]:
        """The principles a model judges (verifier principles are checked without a model)."""
        return [p for p in self.principles if p.verify is None]

    def critique_principles(self) -> list[Principle]:
        """The principles that can drive a critique-and-revision step (they have both requests)."""
        return [p for p in self.principles if p.critique and p.revision]

    def applicable(self, has_reference: bool) -> list[Principle]:
        """The principles that judge a row with (or without) a reference answer."""
        return [p for p in self.principles if p.applies(has_reference)]

    def needs_reference(self) -> list[Principle]:
        return [p for p in self.principles if "reference" in p.requires]

    def overall(self, scores: dict[str, float | None]) -> float | None:
        """Weighted mean of the normalized scores of the principles in `scores` (a principle that
        did not apply to the row is not there); None if any of them is None."""
        total = 0.0
        weights = 0.0
        for p in self.principles:
            if p.id not in scores:
                continue
            s = scores[p.id]
            if s is None:
                return None
            total += p.weight * p.scale.normalize(s)
            weights += p.weight
        if weights == 0:
            return None
        return min(1.0, max(0.0, total / weights))
