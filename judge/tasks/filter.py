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
(in a hidden `.NAME....spool.tmp` folder next to the output NAME, which the next run to write NAME
removes if this one is killed; in the system's temporary folder when the output is stdout) and
only the scores stay in memory (8 bytes a row); the cut is computed at the
end, and the spool is read back in input order. One judging pass, so nothing depends on the cache
(which --no-cache turns off), and stdin works.
"""

from __future__ import annotations

import math
import os
from array import array
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from judge.api import Scored, score_stream
from judge.calibration import TIE_TOLERANCE, Calibration
from judge.constitution import Constitution
from judge.engine.runner import Runner
from judge.io import FieldMap, RowWriter, open_writer, read_rows
from judge.io.tempfiles import remove_work_folder, work_folder
from judge.judging.scoring import ScoreOptions
from judge.records import Candidate


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
class Filter:
    constitution: Constitution
    rule: Rule
    options: ScoreOptions | None = None
    fields: FieldMap | None = None
    calibration: Calibration | None = None  # adds calibrated_score to every row

    def _row(self, scored: Scored) -> dict[str, Any]:
        row = scored.row
        if self.calibration is not None:
            row["calibrated_score"] = self.calibration.apply_score(scored.verdict.score)
        return row

    def _stream(
        self, candidates: Iterable[Candidate], runner: Runner, total: int | None
    ) -> AsyncIterator[Scored]:
        return score_stream(
            candidates, self.constitution, runner, self.options, fields=self.fields, total=total
        )

    async def run(
        self,
        candidates: Iterable[Candidate],
        runner: Runner,
        kept: RowWriter,
        rejected: RowWriter | None = None,
        *,
        total: int | None = None,
        output: str | None = None,
    ) -> FilterCounts:
        """Judge and write: kept rows to `kept`, dropped and failed ones to `rejected`.
        `output` is where `kept` writes (None: stdout): keep-top spools next to it."""
        if self.rule.min_score is not None:
            return await self._threshold(candidates, runner, kept, rejected, total)
        return await self._top(candidates, runner, kept, rejected, total, output)

    async def _threshold(
        self,
        candidates: Iterable[Candidate],
        runner: Runner,
        kept: RowWriter,
        rejected: RowWriter | None,
        total: int | None,
    ) -> FilterCounts:
        assert self.rule.min_score is not None
        counts = FilterCounts()
        async for scored in self._stream(candidates, runner, total):
            row = self._row(scored)
            score = scored.verdict.score
            _route(counts, row, score, passes(score, self.rule.min_score), kept, rejected)
        return counts

    async def _top(
        self,
        candidates: Iterable[Candidate],
        runner: Runner,
        kept: RowWriter,
        rejected: RowWriter | None,
        total: int | None,
        output: str | None,
    ) -> FilterCounts:
        assert self.rule.keep_top is not None
        scores = array("d")
        tmp = work_folder(output, ".spool.tmp")
        try:
            spool_path = os.path.join(tmp, "spool.jsonl")
            spool = open_writer(spool_path)
            try:
                async for scored in self._stream(candidates, runner, total):
                    spool.write(self._row(scored))
                    score = scored.verdict.score
                    scores.append(float("nan") if score is None else score)
            except BaseException:
                spool.abort()
                raise
            spool.close()
            counts = FilterCounts()
            if not scores:
                return counts
            mask = top_mask(scores, self.rule.keep_top)
            for i, (_, row) in enumerate(read_rows(spool_path)):
                score = None if math.isnan(scores[i]) else scores[i]
                _route(counts, row, score, bool(mask[i]), kept, rejected)
        finally:
            remove_work_folder(tmp)
        return counts


def _route(
    counts: FilterCounts,
    row: dict[str, Any],
    score: float | None,
    keep: bool,
    kept: RowWriter,
    rejected: RowWriter | None,
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


def describe_counts(counts: FilterCounts) -> str:
    judged = counts.kept + counts.dropped
    share = f" ({counts.kept / judged:.1%} of judged)" if judged else ""
    return (
        f"kept {counts.kept}{share}, dropped {counts.dropped}, "
        f"failed {counts.failed} (not judged, not kept)"
    )
