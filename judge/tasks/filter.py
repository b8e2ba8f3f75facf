"""The pretraining filter: keep the candidates a judge scores high.

Rules:
- `min_score S`: keep a candidate whose overall score is >= S. A score equal to S (to 9 decimal
  places, so that float rounding in the weighted mean does not decide) is kept.
- `keep_top F`: keep the floor(F x J) best of the J judged candidates (never more than the
  fraction asked for; F is read as the decimal the user typed, so 0.3 x 10 is 3, not 2). Equal
  scores at the cut are broken by input order: the earlier candidate is kept.
Candidates the judge could not judge are never kept (and do not count in J); they are counted.

Streaming: with a threshold each row is written as soon as it is judged. keep-top cannot know the
cut before the last score, so every judged row is spooled to a temporary JSON Lines file on disk
(next to the output) and only the scores stay in memory (8 bytes a row); the cut is computed at the
end, and the spool is read back in input order. One judging pass, so nothing depends on the cache
(which --no-cache turns off), and stdin works.
"""

from __future__ import annotations

import math
import os
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from judge.calibration import TIE_TOLERANCE
from judge.io import RowWriter, open_writer, read_rows
from judge.io.tempfiles import remove_work_folder, work_folder
from judge.records import Candidate, Verdict
from judge.tasks.driver import Sink, Sinks
from judge.tasks.score import OUT, ScoreTask

REJECTED = "rejected"  # the sink of dropped and unjudged rows, when asked for


@dataclass(frozen=True)
class Rule:
    min_score: float | None = None
    keep_top: float | None = None  # a fraction in (0, 1]

    def __post_init__(self) -> None:
        if (self.min_score is None) == (self.keep_top is None):
            raise ValueError("give exactly one of min_score and keep_top")
        if self.keep_top is not None and not 0 < self.keep_top <= 1:
            raise ValueError(f"keep_top is a fraction in (0, 1], got {self.keep_top}")


def passes(score: float | None, min_score: float) -> bool:
    return score is not None and score >= min_score - TIE_TOLERANCE


def top_count(fraction: float, judged: int) -> int:
    """floor(fraction x judged), in decimal arithmetic on the fraction as written."""
    return math.floor(Decimal(repr(fraction)) * judged)


def top_mask(scores: Iterable[float], fraction: float) -> np.ndarray:
    """Which rows keep-top keeps; NaN marks a row that was not judged (never kept)."""
    s = np.fromiter(scores, dtype=float)
    judged = np.flatnonzero(~np.isnan(s))
    k = top_count(fraction, len(judged))
    # Highest score first; among equal scores, the earlier row first.
    order = judged[np.lexsort((judged, -s[judged]))]
    mask = np.zeros(len(s), dtype=bool)
    mask[order[:k]] = True
    return mask


@dataclass
class FilterCounts:
    kept: int = 0
    dropped: int = 0
    failed: int = 0


@dataclass
class FilterTask(ScoreTask):
    """Judge every candidate, keep those the rule keeps (sink `out`), and send the dropped and
    the unjudged ones to the sink `rejected` when there is one."""

    rule: Rule = field(default_factory=lambda: Rule(min_score=0.5))
    output: str | None = None  # where kept rows go (None: stdout): keep-top spools next to it
    verb = "filtered"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.counts = FilterCounts()
        self._scores = array("d")
        self._spool: str | None = None  # the keep-top spool's folder
        self._spooled: RowWriter | None = None

    def write(self, candidate: Candidate, verdict: Verdict, sinks: Sinks) -> None:
        row = self.scored(candidate, verdict).row
        score = verdict.score
        if self.rule.min_score is not None:
            keep = passes(score, self.rule.min_score)
            _route(self.counts, row, score, keep, sinks[OUT], sinks.get(REJECTED))
            return
        # keep-top cannot know the cut before the last score: the row waits on disk.
        if self._spooled is not None:
            self._spooled.write(row)
        self._scores.append(float("nan") if score is None else score)

    def units(self) -> Iterable[Candidate]:
        if self.rule.keep_top is not None and self._spool is None:
            # Made before the first call: a killed run's spool next to the output goes first.
            self._spool = work_folder(self.output, ".spool.tmp")
            self._spooled = open_writer(os.path.join(self._spool, "spool.jsonl"))
        return super().units()

    def finish(self, sinks: Sinks) -> list[str]:
        if self._spooled is not None and self._spool is not None and self.rule.keep_top:
            try:
                self._spooled.close()
                mask = top_mask(self._scores, self.rule.keep_top)
                spooled = os.path.join(self._spool, "spool.jsonl")
                for i, (_, row) in enumerate(read_rows(spooled)):
                    score = None if math.isnan(self._scores[i]) else self._scores[i]
                    rejected = sinks.get(REJECTED)
                    _route(self.counts, row, score, bool(mask[i]), sinks[OUT], rejected)
            finally:
                remove_work_folder(self._spool)
        return [f"judge: {describe_counts(self.counts)}", *super().finish(sinks)]

    def abandon(self) -> None:
        """The run failed: the spool goes (a killed run's is swept by the next writer)."""
        if self._spool is not None:
            remove_work_folder(self._spool)


def _route(
    counts: FilterCounts,
    row: dict[str, Any],
    score: float | None,
    keep: bool,
    kept: Sink,
    rejected: Sink | None,
) -> None:
    if score is None:
        counts.failed += 1
    elif keep:
        counts.kept += 1
        kept.write(row)
        return
    else:
        counts.dropped += 1
    if rejected is not None:
        rejected.write(row)


def describe_counts(
    counts: FilterCounts, of: str = " of judged", failed: str = "failed {} (not judged, not kept)"
) -> str:
    """`kept 8 (80.0% of judged), dropped 2, failed 1 (...)`; `failed` words the third count."""
    seen = counts.kept + counts.dropped
    share = f" ({counts.kept / seen:.1%}{of})" if seen else ""
    return f"kept {counts.kept}{share}, dropped {counts.dropped}, {failed.format(counts.failed)}"
