"""One-call conveniences: each opens a judge.Session, runs one command and closes it.

    import judge
    c = judge.load_constitution("constitutions/helpful-honest-harmless.md")
    results = judge.score([{"prompt": "Hi", "response": "Hello!"}], c, model="openai/gpt-4o-mini")
    results[0].verdict.score, results[0].row          # typed results for records
    judge.score(df, c)                                 # a pandas DataFrame in, a DataFrame out
    judge.filter(dataset, c, min_score=0.7)            # a datasets.Dataset in, a Dataset out
    judge.pairs(records, c)                            # preference rows, ready for TRL
    judge.calibrate(labels, c, output_dir="calib")     # agreement with people; files in the dir
    judge.revise(records, c)                           # critique and revision rounds, judged
    judge.score(records, c, judges=["openai/a", "anthropic/b", "openai/c"])  # a panel

Each takes the Session's keywords (model, base_url, cache, max_cost, ...) and the method's. For
many calls, open one Session: it keeps the connections, the cache and one budget across them.
Where the CLI would exit 1 (the model could not be reached, the budget ran out, nothing was
judged, or a smaller fraction than `fail_under=`) the function raises `judge.errors.RunFailed`,
whose `result` holds what it would have returned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from typing_extensions import Unpack

from judge.by_kind import Records, Row, by_kind, filters
from judge.keywords import (
    CalibrateCall,
    FilterCall,
    FilterEitherCall,
    FilterSplitCall,
    PairsCall,
    ReviseCall,
    ScoreCall,
    split,
)
from judge.session import Session
from judge.tasks.score import Scored

if TYPE_CHECKING:
    import datasets
    import pandas as pd

    from judge.commands import ConstitutionLike
    from judge.constitution import Constitution

Model = str | Sequence[str] | None


def load_constitution(path: str | Path) -> Constitution:
    from judge.constitution import load

    return load(path)


def _once(method: str, data: Any, constitution: Any, model: Model, kw: Mapping[str, Any]) -> Any:
    session_kw, call_kw = split(kw)
    with Session(model, **session_kw) as session:
        return getattr(session, method)(data, constitution, **call_kw)


@by_kind(Scored)
def score(
    data: Any, /, constitution: ConstitutionLike, model: Model = None, **kw: Unpack[ScoreCall]
) -> Any:
    """Score records, a DataFrame or a Dataset: a list of `Scored` for records, or the same kind
    of table with the output columns (`score`, `scores`, `rationales`, `judge`) added."""
    return _once("score", data, constitution, model, kw)


def _filter_rejected(
    data: Any, /, constitution: ConstitutionLike, model: Model = None, **kw: Unpack[FilterSplitCall]
) -> None:
    """judge.filter's keywords with rejected=True (a declaration for type checkers)."""


def _filter_either(
    data: Any,
    /,
    constitution: ConstitutionLike,
    model: Model = None,
    **kw: Unpack[FilterEitherCall],
) -> None:
    """judge.filter's keywords with rejected=<a bool> (a declaration for type checkers)."""


@filters(_filter_rejected, _filter_either)
@by_kind(Row)
def filter(
    data: Any, /, constitution: ConstitutionLike, model: Model = None, **kw: Unpack[FilterCall]
) -> Any:
    """The rows a judge keeps (`min_score`, `keep_top` or `target_precision`), with their scores,
    as the same kind of table as `data`."""
    return _once("filter", data, constitution, model, kw)


@by_kind(Row)
def pairs(
    data: Any, /, constitution: ConstitutionLike, model: Model = None, **kw: Unpack[PairsCall]
) -> Any:
    """DPO preference pairs from prompts with several responses (`prompt` + `responses`, or
    rows of one prompt next to each other), as the same kind of table as `data`; rows that
    already have a `score` are ranked by it, with no model call."""
    return _once("pairs", data, constitution, model, kw)


def calibrate(
    labels: Records | pd.DataFrame | datasets.Dataset,
    constitution: ConstitutionLike,
    model: Model = None,
    *,
    output_dir: str | Path,
    **kw: Unpack[CalibrateCall],
) -> dict[str, Any]:
    """Measure a judge against human labels (pairwise or absolute, as `judge calibrate` reads
    them) and fit a calibration: the report as a dict; report.md, report.json, the figures,
    judgments.jsonl and calibration.json (when one could be fitted) in `output_dir`."""
    session_kw, call_kw = split(kw)
    with Session(model, **session_kw) as session:
        return session.calibrate(labels, constitution, output_dir=str(output_dir), **call_kw)


@by_kind(Row)
def revise(
    data: Any, /, constitution: ConstitutionLike, model: Model = None, **kw: Unpack[ReviseCall]
) -> Any:
    """Critique and revise each response under the constitution, judged against the original
    by `judge_model` (default: `model`); rows as `judge revise` writes them."""
    return _once("revise", data, constitution, model, kw)
