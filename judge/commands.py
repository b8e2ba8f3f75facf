"""Each judging command as the Python API runs it: the keywords (judge.keywords) into option
objects, the task from its builder (judge.tasks.build), the sinks its rows go to, and what the
call returns. judge.Session drives the task; the CLI builds the same tasks from its flags."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from judge.by_kind import Filtered
from judge.constitution import Constitution, load
from judge.engine.settings import Settings
from judge.io import FieldMap
from judge.io.tables import like, records_of
from judge.options import REVISE_FLAGS, compare_options, options_of, score_options
from judge.tasks.build import Source, calibration_for, filter_rule, pair_format, score_task
from judge.tasks.driver import RowList, Task
from judge.tasks.judges import Judges, Warn
from judge.tasks.score import ScoreTask

S = TypeVar("S", bound=ScoreTask)
DATA = "<data>"  # how messages name rows given in memory

ConstitutionLike = Constitution | str | Path


@dataclass
class Given:
    """What a call was given: the Session's settings and judges, the data, the constitution,
    the method's keywords, and where warnings go."""

    settings: Settings
    judges: Judges
    data: Any
    constitution: ConstitutionLike
    kw: Mapping[str, Any]
    warn: Warn

    def __post_init__(self) -> None:
        self.rows, self.kind = records_of(self.data)

    def constitution_object(self) -> Constitution:
        return constitution_of(self.constitution)


@dataclass
class Call:
    """A command ready to drive: its task, its sinks, and what the call returns once driven."""

    task: Task[Any, Any]
    sinks: dict[str, Any]
    result: Callable[[], Any]


def constitution_of(constitution: ConstitutionLike) -> Constitution:
    return constitution if isinstance(constitution, Constitution) else load(constitution)


def fields_of(kw: Mapping[str, Any], names: tuple[str, ...] = ("prompt", "response")) -> FieldMap:
    base: FieldMap = kw.get("fields") or FieldMap()
    return FieldMap(
        prompt=kw.get("prompt_field", base.prompt),
        response=kw.get("response_field", base.response),
        responses=kw.get("responses_field", base.responses),
        text=kw.get("text_field", base.text),
        messages=kw.get("messages_field", base.messages),
        reference=kw.get("reference_field", base.reference),
        turns=kw.get("turns", base.turns),
    )


_JUDGING = (
    "per_principle",
    "max_chars",
    "logprobs",
    "rationale",
    "group",
    "group_size",
    "mix_prompts",
    "seed",
)


def judging_of(kw: Mapping[str, Any], base: Any = None, model: str = "") -> Any:
    """ScoreOptions from the judging keywords (over `options`, or `base`, when given); no
    rationale: the default for `model`."""
    given = {k: kw[k] for k in _JUDGING if k in kw}
    start = kw.get("options", base)
    if start is not None and not given:
        return start
    if start is not None:
        given = {
            "per_principle": start.per_principle,
            "max_chars": start.max_chars,
            "logprobs": start.logprobs,
            "rationale": start.rationale,
            "group": bool(start.group),
            "group_size": start.group or 8,
            "mix_prompts": start.mix_prompts,
            "seed": start.seed,
            **given,
        }
    return score_options(model=model, **given)


def _rows_out(task: Any, kind: str, sink: RowList | None = None) -> Call:
    sink = sink or RowList()
    return Call(task, {"out": sink}, lambda: like(sink.rows, kind))  # type: ignore[arg-type]


def _scoring(cls: type[S], g: Given, rule: Any = None) -> S:
    """The task of score or filter (`rule`: which rows filter keeps)."""
    c = g.constitution_object()
    calibration = calibration_for(
        g.kw.get("calibration"), c, kind="absolute", force=g.kw.get("force", False), warn=g.warn
    )
    extra = {}
    if rule is not None:
        kw = g.kw
        extra["rule"] = filter_rule(
            kw.get("min_score"), kw.get("keep_top"), kw.get("target_precision"), calibration, g.warn
        )
    return score_task(
        cls,
        c,
        Source(DATA, g.rows),
        g.settings,
        g.judges,
        options=judging_of(g.kw, model=g.settings.model),
        fields=fields_of(g.kw),
        calibration=calibration,
        warn=g.warn,
        **extra,
    )


def score_call(g: Given) -> Call:
    from judge.tasks.score import OUT, ScoreTask

    task = _scoring(ScoreTask, g)
    if g.kind == "records":
        task.keep = True
        return Call(task, {OUT: RowList()}, lambda: task.results)
    return _rows_out(task, g.kind)


def filter_call(g: Given) -> Call:
    from judge.tasks.filter import REJECTED, FilterTask

    task = _scoring(FilterTask, g, rule=True)
    out = RowList()
    if not g.kw.get("rejected"):
        return _rows_out(task, g.kind, out)
    rejected = RowList()  # the CLI's --rejected FILE

    def result() -> Filtered[Any]:
        return Filtered(like(out.rows, g.kind), like(rejected.rows, g.kind))

    return Call(task, {"out": out, REJECTED: rejected}, result)


def pairs_call(g: Given) -> Call:
    from judge.tasks.build import pairs_task
    from judge.tasks.pairs.pipeline import PairsOptions

    kw, warn = g.kw, g.warn
    c = g.constitution_object()
    chat, separator = pair_format(
        kw.get("format"), kw.get("conversational", False), kw.get("separator")
    )
    base: PairsOptions = kw.get("options") or PairsOptions()
    options = replace(
        base,
        **{k: kw[k] for k in ("mode", "comparisons", "strategy", "min_margin", "seed") if k in kw},
    )
    if "format" in kw or "conversational" in kw:
        options = replace(options, conversational=chat)
    if separator is not None:
        options = replace(options, separator=separator)
    compare = kw.get("compare_options") or compare_options(
        principles=kw.get("principles", "all"),
        seed=options.seed,
        logprobs=kw.get("logprobs", True),
        max_chars=judging_of(kw, kw.get("score_options"), model=g.settings.model).max_chars,
    )
    calibration = calibration_for(
        kw.get("calibration"), c, kind="pairwise", force=kw.get("force", False), warn=warn
    )
    task = pairs_task(
        c,
        Source(DATA, g.rows),
        g.settings,
        g.judges,
        options=options,
        score_options=judging_of(
            {k: v for k, v in kw.items() if k != "options"},
            kw.get("score_options"),
            model=g.settings.model,
        ),
        compare_options=compare,
        fields=fields_of(kw),
        id_field=kw.get("id_field", "id"),
        rescore=kw.get("rescore", False),
        calibration=calibration,
        warn=warn,
    )
    return _rows_out(task, g.kind)


def calibrate_call(g: Given) -> Call:
    import random

    from judge.calibration.labels import LabelFields, load_labels, parse_label_map
    from judge.tasks.build import calibrate_task
    from judge.tasks.calibrate import JudgeSetup

    kw, warn = g.kw, g.warn
    c = g.constitution_object()
    roles = ("prompt", "response_a", "response_b", "chosen", "rejected", "response", "text")
    base: LabelFields = kw.get("label_fields") or LabelFields()
    fields = replace(
        base,
        **{r: kw[f"{r}_field"] for r in roles if f"{r}_field" in kw},
        **{r: kw[f"{r}_field"] for r in ("label", "annotators") if f"{r}_field" in kw},
    )
    label_map = kw.get("label_map")
    kind = kw.get("kind")
    seed = kw.get("seed", 0)
    label_set = load_labels(
        "<labels>",
        fields,
        kind=None if kind in (None, "auto") else kind,
        label_map=parse_label_map(label_map)
        if isinstance(label_map, str | None)
        else dict(label_map),
        seed=seed,
        rows=list(enumerate(g.rows, start=1)),
    )
    sample = kw.get("sample")
    if sample and sample < len(label_set.items):
        chosen = sorted(random.Random(seed).sample(range(len(label_set.items)), sample))
        label_set.items = [label_set.items[i] for i in chosen]
    setup = kw.get("setup") or JudgeSetup(
        mode=kw.get("mode", "score"),
        tie_margin=kw.get("tie_margin", 0.0),
        score=judging_of(kw, model=g.settings.model),
        compare=compare_options(
            principles=kw.get("principles", "all"),
            seed=seed,
            logprobs=kw.get("logprobs", True),
            max_chars=judging_of(kw, model=g.settings.model).max_chars,
        ),
    )
    task = calibrate_task(
        c,
        label_set,
        g.settings,
        g.judges,
        setup,
        Path(kw["output_dir"]),
        meta={"constitution": c.path, "labels": None, "sample": sample},
        positive_label=kw.get("positive_label"),
        seed=seed,
        resamples=kw.get("resamples", 1000),
        escalate_to=kw.get("escalate_to", ()),
        target_agreement=kw.get("target_agreement"),
        delta=kw.get("delta", 0.1),
        warn=warn,
    )
    return Call(task, {}, lambda: task.report)


def revise_call(g: Given) -> Call:
    from judge.errors import ConfigError
    from judge.judging.revision import ReviseOptions
    from judge.tasks.build import revise_task
    from judge.tasks.revise import CANDIDATES, PAIRS

    if g.judges.panel or g.judges.cascade is not None:
        raise ConfigError("revise takes one model: drop {opt:judges} and {opt:cascade}")
    kw = g.kw
    if kw.get("pairs") and kw.get("emit_candidates"):
        raise ConfigError("{opt:pairs} or {opt:emit_candidates}: one table a call")
    c = g.constitution_object()
    base: ReviseOptions = kw.get("options") or ReviseOptions()
    options = options_of(ReviseOptions, kw, REVISE_FLAGS, base)
    chat, separator = pair_format(
        kw.get("format"), kw.get("conversational", False), kw.get("separator")
    )
    wanted = PAIRS if kw.get("pairs") else CANDIDATES if kw.get("emit_candidates") else "out"
    task = revise_task(
        c,
        Source(DATA, g.rows),
        g.settings,
        options=options,
        fields=fields_of(kw),
        judge_model=kw.get("judge_model"),
        judge_base_url=kw.get("judge_base_url"),
        id_field=kw.get("id_field", "id"),
        conversational=chat,
        separator=separator,
    )
    sinks = {"out": RowList(), wanted: RowList()}
    return Call(task, sinks, lambda: like(sinks[wanted].rows, g.kind))
