"""Typed records that flow through the toolkit: candidates in, verdicts out."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Usage(BaseModel):
    """Tokens and dollars spent on one or more model calls."""

    model_config = ConfigDict(extra="forbid")

    calls: int = 0
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None

    def __add__(self, other: Usage) -> Usage:
        # Unknown (None) is not zero: calls of a model without a price make the sum unknown;
        # Usage() (no calls) adds nothing either way.
        unknown = [u for u in (self, other) if u.cost_usd is None]
        cost = None
        if not any(u.calls for u in unknown) and len(unknown) < 2:
            cost = (self.cost_usd or 0.0) + (other.cost_usd or 0.0)
        return Usage(
            calls=self.calls + other.calls,
            input_tokens=self.input_tokens + other.input_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cost_usd=cost,
        )

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class Candidate(BaseModel):
    """One thing to judge: a response to a prompt, or a document (`text`) with no prompt.

    `row` keeps every field of the input row so that outputs never drop data.
    `index` is the candidate's position in the input (after `responses` lists are expanded);
    `row_index` is the input row it came from (1-based line for JSON Lines).
    A conversation's candidate has `context`, the messages before the judged turn (text only),
    and, when it is one of the row's own assistant turns, `turn`, its position in `messages`;
    its `prompt` is the context's transcript (judge.io.conversations).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: int
    row_index: int
    prompt: str | None = None
    response: str
    response_index: int | None = None
    is_document: bool = False
    row: dict[str, Any] = Field(default_factory=dict)
    note: str | None = None  # a problem with the input itself (empty response, ...)
    context: list[dict[str, str]] | None = None
    turn: int | None = None
    reference: str | None = None  # a reference answer, shown to the judge in its own section


class GroupPlace(BaseModel):
    """Where a candidate was in a grouped call (--group): the group's id (the input index of its
    first candidate), its size, and the candidate's 1-based position in the shuffled order
    the judge was shown."""

    id: int
    size: int
    position: int


class Verdict(BaseModel):
    """The judge's absolute verdict on one candidate under a constitution."""

    score: float | None  # overall, in [0, 1]; None when the item could not be judged
    scores: dict[str, float | None] = Field(default_factory=dict)
    rationales: dict[str, str] = Field(default_factory=dict)
    usage: Usage = Field(default_factory=Usage)
    error: str | None = None
    cached: bool = False
    # Expected score per principle from token log-probabilities, where the backend gives them.
    expected_scores: dict[str, float] | None = None
    # A panel's verdict (judge.panel): each member's verdict, and their agreement in [0, 1].
    panel: list[dict[str, Any]] | None = None
    confidence: float | None = None  # in [0, 1] (judge.judging.confidence); None: unknown
    decided_by: str | None = None  # the cascade's judge that made the verdict (--cascade)
    group: GroupPlace | None = None  # judged in a group (--group): where


class Comparison(BaseModel):
    """A pairwise verdict: which of two responses better follows the constitution."""

    a: int  # candidate index shown first in the first ordering
    b: int
    p_a: float | None  # probability that `a` is better, after position debiasing
    winner: str | None  # "a", "b", "tie" or None when unjudged
    flipped: bool = False  # the verdict changed with the order (a position-biased verdict)
    first_position_wins: int = 0  # of the two orderings, how many the first position won
    rationale: str = ""
    usage: Usage = Field(default_factory=Usage)
    error: str | None = None
    principle: str | None = None  # the principle drawn for this comparison (--principles sample)
    verdicts: list[str] = Field(default_factory=list)  # "A"/"B"/"tie" per ordering, as shown
    cached: bool = False  # both orderings' answers came from the cache
    # A panel's verdict (judge.panel): each member's verdict, and their agreement in [0, 1].
    panel: list[dict[str, Any]] | None = None
    confidence: float | None = None  # in [0, 1] (judge.judging.confidence)
    decided_by: str | None = None  # the cascade's judge that made the verdict (--cascade)
