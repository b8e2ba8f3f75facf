"""The keywords of judge.Session and of judge.score and friends, one TypedDict each, so that a
type checker refuses a misspelt one (`judge.score(rows, c, modle=...)`) and the Session refuses it
at run time too. Each keyword is a CLI option of the same name (`max_cost` is `--max-cost`);
tests/test_session_keywords.py walks the click commands to keep them so."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from typing_extensions import Required

if TYPE_CHECKING:
    from judge.calibration import Calibration
    from judge.calibration.labels import LabelFields
    from judge.cascade.model import Cascade
    from judge.engine.settings import Settings
    from judge.io import FieldMap
    from judge.judging.comparison import CompareOptions
    from judge.judging.revision import ReviseOptions
    from judge.judging.scoring import ScoreOptions
    from judge.panel.members import Judge
    from judge.tasks.calibrate import JudgeSetup
    from judge.tasks.pairs.pipeline import PairsOptions


class SettingsKeywords(TypedDict, total=False):
    """How to reach the judges and how hard to push them (judge.options.make_settings)."""

    base_url: str | None
    concurrency: int
    rpm: float | None
    tpm: float | None
    max_retries: int
    timeout: float
    cache: str | Path | None
    no_cache: bool
    max_cost: float | None
    prices: str | Path | None
    batch: bool
    batch_fallback: Literal["none", "realtime"]
    batch_size: int | None
    batch_poll: float
    batch_poll_max: float


class SessionKeywords(SettingsKeywords, total=False):
    """How to reach the judges and how hard to push them; who judges."""

    judges: str | Path | Sequence[str | Judge] | None  # a judges file, or the panel's members
    quorum: int | None
    cascade: str | Path | Cascade | None
    settings: Settings | None  # the base the keywords above change


class Fields(TypedDict, total=False):
    """Which input fields hold the candidate's parts."""

    prompt_field: str
    response_field: str
    responses_field: str
    text_field: str
    messages_field: str
    reference_field: str
    turns: Literal["last", "all"]
    fields: FieldMap  # all of them at once


class Judging(TypedDict, total=False):
    """How each candidate is judged (ScoreOptions)."""

    per_principle: bool
    max_chars: int
    logprobs: bool
    rationale: Literal["full", "short", "brief", "none"]
    group: bool
    group_size: int
    mix_prompts: bool
    seed: int


class Calibrated(TypedDict, total=False):
    calibration: str | Path | Calibration | None  # calibration.json from calibrate
    force: bool  # apply it even when fitted under another constitution


class Failing(TypedDict, total=False):
    fail_under: float | None  # RunFailed when a smaller fraction than this was judged


class ScoreKeywords(Judging, Fields, Calibrated, Failing, total=False):
    options: ScoreOptions  # the judging keywords at once


class KeptOnly(TypedDict, total=False):
    rejected: Literal[False]  # a filter returns the kept rows


class Split(TypedDict, total=False):
    """rejected=True: a filter returns a Filtered, the kept rows and the others (dropped, or
    left unjudged), as the CLI writes -o FILE and --rejected FILE."""

    rejected: Required[Literal[True]]


class Either(TypedDict, total=False):
    """rejected=<a bool known only at run time>: a filter returns either of the two."""

    rejected: Required[bool]


class Keeping(ScoreKeywords, total=False):
    min_score: float | None
    keep_top: float | None
    target_precision: float | None


class FilterKeywords(Keeping, KeptOnly, total=False):
    pass


class FilterSplit(Keeping, Split, total=False):
    pass


class FilterEither(Keeping, Either, total=False):
    pass


class FilterAsync(Keeping, total=False):
    rejected: bool  # afilter returns Any: the rows, or a Filtered with rejected=True


class PairsKeywords(Judging, Fields, Calibrated, Failing, total=False):
    mode: Literal["score", "compare"]
    comparisons: Literal["all", "adaptive"]
    principles: Literal["all", "sample"]
    strategy: Literal["best-worst", "best-random", "all"]
    min_margin: float
    format: Literal["conversational", "standard"]
    separator: str | None
    conversational: bool
    rescore: bool
    id_field: str | None
    options: PairsOptions
    score_options: ScoreOptions
    compare_options: CompareOptions


class CalibrateKeywords(Judging, Failing, total=False):
    mode: Literal["score", "compare"]
    kind: Literal["auto", "pairwise", "absolute"] | None
    tie_margin: float
    positive_label: float | None
    label_map: str | Mapping[str, str] | None
    sample: int | None
    resamples: int
    principles: Literal["all", "sample"]
    escalate_to: Sequence[str]
    target_agreement: float | None
    delta: float
    label_field: str | None
    annotators_field: str | None
    prompt_field: str
    response_a_field: str
    response_b_field: str
    chosen_field: str
    rejected_field: str
    response_field: str
    text_field: str
    setup: JudgeSetup
    label_fields: LabelFields


class ReviseKeywords(Fields, Failing, total=False):
    rounds: int
    seed: int
    min_margin: float
    judge_model: str | None
    judge_base_url: str | None
    pairs: bool  # the revision-vs-original preference pairs instead of the rows
    emit_candidates: bool  # prompt + [original, revisions...] rows instead (a pairs input)
    format: Literal["conversational", "standard"]
    separator: str | None
    conversational: bool
    id_field: str | None
    critique_max_tokens: int
    revision_max_tokens: int | None
    max_chars: int
    options: ReviseOptions


class DistillKeywords(Fields, total=False):
    min_score: float | None
    keep_top: float | None
    target_precision: float | None
    calibration: str | Path | Calibration | None
    score_field: str
    held_out: float
    seed: int
    min_prob: float
    newline_replacement: str
    lr: float
    epoch: int | None
    dim: int
    word_ngrams: int
    min_count: int
    bucket: int
    threads: int
    min_class: int
    force: bool  # write a classifier that fails the quality checks


class ClassifyBy(Fields, total=False):
    min_prob: float | None
    keep_top: float | None
    processes: int | None


class ClassifyKeywords(ClassifyBy, KeptOnly, total=False):
    pass


class ClassifySplit(ClassifyBy, Split, total=False):
    pass


class ClassifyEither(ClassifyBy, Either, total=False):
    pass


class CheckKeywords(TypedDict, total=False):
    strict: bool  # warnings count as errors: returned with level "error"


class ScoreCall(SessionKeywords, ScoreKeywords, total=False):
    """judge.score's keywords: the Session's and the method's."""


class FilterCall(SessionKeywords, FilterKeywords, total=False):
    pass


class FilterSplitCall(SessionKeywords, FilterSplit, total=False):
    pass


class FilterEitherCall(SessionKeywords, FilterEither, total=False):
    pass


class PairsCall(SessionKeywords, PairsKeywords, total=False):
    pass


class CalibrateCall(SessionKeywords, CalibrateKeywords, total=False):
    pass


class ReviseCall(SessionKeywords, ReviseKeywords, total=False):
    pass


def keys(typed: Any) -> frozenset[str]:
    """Every keyword of a TypedDict, its bases' too."""
    return frozenset(typed.__required_keys__ | typed.__optional_keys__)


def split(keywords: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the Session's keywords, the rest) of a one-call function's keywords."""
    names = keys(SessionKeywords)
    session = {k: v for k, v in keywords.items() if k in names}
    return session, {k: v for k, v in keywords.items() if k not in names}


def check(keywords: Mapping[str, Any], allowed: type, where: str) -> None:
    """TypeError for a keyword `allowed` (a TypedDict) does not have, with the closest one."""
    import difflib

    names = keys(allowed)
    for key in keywords:
        if key not in names:
            close = difflib.get_close_matches(key, list(names), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise TypeError(f"{where}() got an unexpected keyword argument {key!r}{hint}")
