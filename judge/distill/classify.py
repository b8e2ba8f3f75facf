"""The classifier filter: keep the rows a distilled fastText classifier gives P(keep) >= P.

No model calls. `keep_rows` is the whole filter for one shard: a pure function from rows to the
kept rows, each with `classifier_prob` (a Ray task or any other executor can map it over
shards). `ClassifierFilter.run` is the same on one machine, streaming with flat memory: the main
process reads rows and writes the kept ones; worker processes (one a core) run fastText on
batches of texts, at most a few batches in flight each, answers in input order.

The prediction is datatrove's: P(keep) = predict(model_input(text), k=-1)'s keep value, and a row
is kept when P(keep) >= min_prob. Empty texts are never kept (as datatrove drops empty documents).
keep_top F keeps floor(F x N) of the N non-empty rows with the highest P(keep) (ties in input
order): a first pass computes P(keep) (8 bytes a row in memory), a second reads the input again
and writes; stdin is first copied to a temporary file so that it can be read twice.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import shutil
import sys
import tempfile
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.pool import AsyncResult
from typing import Any

from judge.distill.model_dir import ModelDir
from judge.distill.predict import keep_probabilities
from judge.distill.text import candidate_text, model_input
from judge.distill.train import fasttext_module
from judge.errors import ConfigError
from judge.io import FieldMap, RowWriter, input_row, iter_candidates
from judge.records import Candidate
from judge.tasks.filter import FilterCounts, top_mask
from judge.tasks.filter import _route as route
from judge.tasks.filter import describe_counts as judged_counts

PROB_FIELD = "classifier_prob"
BATCH = 64  # texts a worker gets at once (~200 kB of 500-word documents)
IN_FLIGHT = 4  # batches queued per worker: enough to keep it busy, few enough to stay flat
Batch = tuple[list[dict[str, Any]], list[str]]  # output rows, their model texts ("" = empty)
Predicted = tuple[list[dict[str, Any]], list[float]]  # output rows, their P(keep) (NaN = empty)

_models: dict[str, Any] = {}  # path -> loaded model, one per process


def load_model(path: str) -> Any:
    if path not in _models:
        _models[path] = fasttext_module().load_model(path)
    return _models[path]


def _predict(model_path: str, texts: list[str]) -> list[float]:
    """P(keep) for a batch; NaN for an empty text (never kept). Runs in the worker processes."""
    model = load_model(model_path)
    todo = [i for i, t in enumerate(texts) if t]
    probs = [math.nan] * len(texts)
    for i, p in zip(todo, keep_probabilities(model, [texts[i] for i in todo]), strict=True):
        probs[i] = p
    return probs


def output_row(candidate: Candidate, fields: FieldMap) -> dict[str, Any]:
    """The candidate's row; a `responses` list becomes this row's response and its position."""
    if candidate.response_index is None and candidate.turn is None:
        return candidate.row
    return input_row(candidate, fields)


def batches(
    candidates: Iterable[Candidate], fields: FieldMap, newline_replacement: str
) -> Iterator[Batch]:
    rows: list[dict[str, Any]] = []
    texts: list[str] = []
    for c in candidates:
        rows.append(output_row(c, fields))
        texts.append(model_input(candidate_text(c), newline_replacement) if not c.note else "")
        if len(rows) == BATCH:
            yield rows, texts
            rows, texts = [], []
    if rows:
        yield rows, texts


def keep_rows(
    rows: Iterable[dict[str, Any]],
    model: ModelDir,
    min_prob: float,
    fields: FieldMap | None = None,
) -> Iterator[dict[str, Any]]:
    """The kept rows of one shard, each with classifier_prob: the filter as a pure function."""
    fields = fields or FieldMap()
    candidates = iter_candidates("<shard>", fields, rows=enumerate(rows, 1))
    for out, texts in batches(candidates, fields, model.newline_replacement):
        for row, p in zip(out, _predict(model.model_path, texts), strict=True):
            if p >= min_prob:  # NaN (empty) compares False
                row[PROB_FIELD] = p
                yield row


def default_processes() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass
class ClassifierFilter:
    model: ModelDir
    min_prob: float | None = None
    keep_top: float | None = None
    fields: FieldMap = field(default_factory=FieldMap)
    processes: int = field(default_factory=default_processes)

    def __post_init__(self) -> None:
        if (self.min_prob is None) == (self.keep_top is None):
            raise ConfigError("give exactly one of {opt:min_prob} P and {opt:keep_top} FRACTION")

    def run(self, path: str, kept: RowWriter, rejected: RowWriter | None = None) -> FilterCounts:
        if self.min_prob is not None:
            return self._threshold(path, self.min_prob, kept, rejected)
        if path != "-":
            return self._top(path, kept, rejected)
        with tempfile.TemporaryDirectory(prefix=".judge-filter-") as tmp:
            copy = os.path.join(tmp, "stdin.jsonl")
            with open(copy, "wb") as f:
                shutil.copyfileobj(sys.stdin.buffer, f)
            return self._top(copy, kept, rejected)

    def _scored(self, path: str) -> Iterator[tuple[dict[str, Any], float]]:
        candidates = iter_candidates(path, self.fields)
        for rows, probs in self._predicted(batches(candidates, self.fields, self._nl)):
            yield from zip(rows, probs, strict=True)

    @property
    def _nl(self) -> str:
        return self.model.newline_replacement

    def _predicted(self, work: Iterator[Batch]) -> Iterator[Predicted]:
        path = self.model.model_path
        if self.processes <= 1:
            for rows, texts in work:
                yield rows, _predict(path, texts)
            return
        load_model(path)  # fail here, clearly, rather than in every worker
        methods = multiprocessing.get_all_start_methods()
        # fork: the workers start at once and share the loaded model's pages (prediction only
        # reads them); with spawn each worker loads the model itself.
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        pending: deque[tuple[list[dict[str, Any]], AsyncResult[list[float]]]] = deque()
        with ctx.Pool(self.processes) as pool:
            for rows, texts in work:
                pending.append((rows, pool.apply_async(_predict, (path, texts))))
                if len(pending) >= IN_FLIGHT * self.processes:
                    done_rows, result = pending.popleft()
                    yield done_rows, result.get()
            while pending:
                done_rows, result = pending.popleft()
                yield done_rows, result.get()

    def _threshold(
        self, path: str, min_prob: float, kept: RowWriter, rejected: RowWriter | None
    ) -> FilterCounts:
        counts = FilterCounts()
        for row, p in self._scored(path):
            _route(counts, row, p, p >= min_prob, kept, rejected)
        return counts

    def _top(self, path: str, kept: RowWriter, rejected: RowWriter | None) -> FilterCounts:
        assert self.keep_top is not None
        probs = array("d", (p for _, p in self._scored(path)))
        mask = top_mask(probs, self.keep_top)
        counts = FilterCounts()
        candidates = iter_candidates(path, self.fields)
        for i, c in enumerate(candidates):
            _route(counts, output_row(c, self.fields), probs[i], bool(mask[i]), kept, rejected)
        return counts


def _route(
    counts: FilterCounts,
    row: dict[str, Any],
    p: float,
    keep: bool,
    kept: RowWriter,
    rejected: RowWriter | None,
) -> None:
    """judge filter's routing; an empty text (NaN) counts as `failed`: never kept."""
    empty = math.isnan(p)
    row[PROB_FIELD] = None if empty else p
    route(counts, row, None if empty else p, keep, kept, rejected)


def describe_counts(counts: FilterCounts) -> str:
    return judged_counts(counts, of="", failed="empty {} (no text, not kept)")


def classify_into(
    job: ClassifierFilter,
    input_path: str,
    kept_path: str | None,
    rejected_path: str | None,
    opener: Callable[[str | None], RowWriter] | None = None,
) -> FilterCounts:
    """Run the filter into its outputs: all written, or none (aborted) if it fails."""
    if opener is None:
        from judge.io import open_writer

        opener = open_writer
    kept = opener(kept_path)
    writers = [kept]
    rejected = None
    if rejected_path:
        rejected = opener(rejected_path)
        writers.append(rejected)
    try:
        counts = job.run(input_path, kept, rejected)
    except BaseException:
        for w in writers:
            w.abort()
        raise
    for w in writers:
        w.close()
    return counts
