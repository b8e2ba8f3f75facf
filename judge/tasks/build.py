"""One builder per judging command: the task, from typed options, for the CLI, judge.Session
and Ray workers alike. Where the rows come from is a `Source` (a file, or rows in memory); who
judges is `Judges` with the `Settings` that reach them; `warn` hears what is worth saying but
not refusing (the CLI prints it, the Session makes it a Python warning)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from judge.calibration import Calibration, load_calibration, load_for
from judge.constitution import Constitution
from judge.engine.settings import Settings, make_runner
from judge.errors import ConfigError, InputError
from judge.io import FieldMap, count_rows, describe, iter_candidates
from judge.judging.comparison import CompareOptions
from judge.judging.revision import ReviseOptions, Reviser
from judge.judging.scoring import ScoreOptions
from judge.records import Candidate
from judge.tasks.filter import Rule
from judge.tasks.judges import Judges, Warn, open_jury
from judge.tasks.score import ScoreTask

if TYPE_CHECKING:
    from judge.calibration.labels import LabelSet
    from judge.panel.members import Judge
    from judge.tasks.calibrate import JudgeSetup
    from judge.tasks.pairs.pipeline import PairsOptions
    from judge.tasks.pairs.task import PairsTask

S = TypeVar("S", bound=ScoreTask)
Rows = Iterable[tuple[int, dict[str, Any]]]
COUNT_UP_TO = 100_000  # inputs of up to this many rows are counted candidate by candidate


@dataclass
class Source:
    """A command's input: the file at `path`, or `rows` in memory (then `path` only names them
    in messages)."""

    path: str
    rows: list[dict[str, Any]] | None = None

    def numbered(self) -> Rows | None:
        """The rows with their 1-based numbers, or None to read the file."""
        return None if self.rows is None else list(enumerate(self.rows, start=1))

    def candidates(self, fields: FieldMap) -> Iterator[Candidate]:
        return iter_candidates(self.path, fields, rows=self.numbered())

    def count(self, fields: FieldMap) -> int | None:
        """Candidates, for progress: rows, unless rows hold lists of responses."""
        rows = len(self.rows) if self.rows is not None else count_rows(self.path)
        if rows is None:
            return None
        if rows <= COUNT_UP_TO:  # read once more: a row may hold a list of responses, or turns
            return sum(1 for _ in self.candidates(fields))
        first = next(self.candidates(fields), None)
        if first is not None and first.turn is not None and fields.turns == "all":
            return None
        return rows if first is None or first.response_index is None else None


def calibration_for(
    calibration: str | Path | Calibration | None,
    constitution: Constitution,
    *,
    kind: str,
    force: bool,
    warn: Warn,
) -> Calibration | None:
    """The calibration to apply (a file or one in hand), checked against the constitution."""
    if calibration is None:
        return None
    if isinstance(calibration, Calibration):
        for line in calibration.check_use(sha256=constitution.sha256, force=force):
            warn(f"warning: {line}")
        return calibration
    if kind == "pairwise":
        loaded = load_calibration(calibration)
        loaded.check_use(sha256=constitution.sha256, force=force)
        return loaded
    loaded, warnings = load_for(calibration, kind=kind, sha256=constitution.sha256, force=force)
    for line in warnings:
        warn(f"warning: {line}")
    return loaded


def score_task(
    cls: type[S],
    constitution: Constitution,
    source: Source,
    settings: Settings,
    judges: Judges,
    *,
    options: ScoreOptions,
    fields: FieldMap,
    calibration: Calibration | None = None,
    warn: Warn = lambda _: None,
    **extra: Any,
) -> S:
    """The task of judge score (or judge filter: `cls` FilterTask, `extra` its rule)."""
    jury = open_jury(judges, settings, mode="score", constitution=constitution, warn=warn)
    if calibration is not None:
        for line in calibration.warnings(model=jury.runner.backend.name):
            warn(f"warning: {line}")
    return cls(
        constitution,
        jury.runner,
        lambda: source.candidates(fields),
        options=options,
        fields=fields,
        calibration=calibration,
        count=None if not settings.require_key else source.count(fields),
        panel=jury.panel,
        cascade=jury.cascade,
        **extra,
    )


def filter_rule(
    min_score: float | None = None,
    keep_top: float | None = None,
    target_precision: float | None = None,
    calibration: Calibration | None = None,
    say: Warn = lambda _: None,
) -> Rule:
    """Which rows a judge's scores keep: exactly one of the three; `say` hears which threshold
    --target-precision chose."""
    given = [v for v in (min_score, keep_top, target_precision) if v is not None]
    if len(given) != 1:
        raise ConfigError(
            "give exactly one of {opt:min_score}, {opt:keep_top}, or {opt:target_precision} "
            "(with {opt:calibration})"
        )
    if min_score is not None or keep_top is not None:
        return Rule(min_score=min_score, keep_top=keep_top)
    if calibration is None:
        raise ConfigError(
            "{opt:target_precision} needs {opt:calibration} (the calibration.json that "
            "judge calibrate writes from absolute labels)"
        )
    assert target_precision is not None
    chosen = calibration.threshold(target_precision)
    say(
        f"{{opt:target_precision}} {target_precision:g}: keeping scores >= "
        f"{chosen['threshold']:.4g} (on the {calibration.n} labelled items of "
        f"{calibration.where}: precision {chosen['precision']:.3f}, recall "
        f"{chosen['recall']:.3f}, {chosen['kept']:.1%} kept)"
    )
    return Rule(min_score=chosen["threshold"])


def pair_format(
    format: str | None, conversational: bool, separator: str | None
) -> tuple[bool, str | None]:
    """(conversational, separator) of the pairs' rows; separator None: the default."""
    if conversational and format == "standard":
        raise ConfigError("{opt:conversational} and {opt:format} standard contradict each other")
    chat = (format or "conversational") == "conversational"
    if separator is not None and chat:
        raise ConfigError(
            "{opt:separator} is for {opt:format} standard (the conversational form has no "
            "joined text)"
        )
    return chat, separator


def revise_task(
    constitution: Constitution,
    source: Source,
    settings: Settings,
    *,
    options: ReviseOptions,
    fields: FieldMap,
    judge_model: str | None = None,
    judge_base_url: str | None = None,
    paths: dict[str, str | None] | None = None,
    id_field: str | None = "id",
    conversational: bool = True,
    separator: str | None = None,
) -> Any:
    """The task of judge revise: `settings` revise, `judge_model` (default: the same) judges."""
    from judge.tasks.pairs.rows import SEPARATOR
    from judge.tasks.revise import ReviseTask

    runner = make_runner(settings, require_key=settings.require_key)
    judge_runner = runner
    model = judge_model or settings.model
    # --base-url belongs to -m: a different judge model gets only --judge-base-url.
    url = judge_base_url or (settings.base_url if model == settings.model else None)
    if (model, url) != (settings.model, settings.base_url):
        judge_settings = replace(settings, model=model, base_url=url)
        judge_runner = make_runner(judge_settings, require_key=settings.require_key)
    judging = ScoreOptions.for_model(model, max_chars=options.max_chars)  # the judge's default
    reviser = Reviser(constitution, options, judging)

    def candidates() -> Iterator[Candidate]:
        for cand in source.candidates(fields):
            if cand.is_document or cand.prompt is None:
                raise InputError(
                    f"revise needs a prompt and a response; this row has only {fields.text!r} "
                    "(map yours with {opt:prompt_field} and {opt:response_field})",
                    describe(source.path, cand.row_index),
                )
            yield cand

    return ReviseTask(
        reviser,
        runner,
        judge_runner,
        candidates,
        fields=fields,
        paths=paths or {},
        id_field=id_field,
        conversational=conversational,
        separator=SEPARATOR if separator is None else separator,
        count=None if not settings.require_key else source.count(fields),
    )


def pairs_task(
    constitution: Constitution,
    source: Source,
    settings: Settings,
    judges: Judges,
    *,
    options: PairsOptions,
    score_options: ScoreOptions,
    compare_options: CompareOptions,
    fields: FieldMap,
    id_field: str | None = "id",
    rescore: bool = False,
    calibration: Calibration | None = None,
    warn: Warn = lambda _: None,
    **task: Any,
) -> PairsTask:
    """The task of judge pairs; rows that already have a `score` are paired without a judge
    unless `rescore` (`task`: PairsTask's output, hub and card_path)."""
    from judge.tasks.pairs.calibrated import describe_calibration
    from judge.tasks.pairs.groups import Group, iter_groups
    from judge.tasks.pairs.pipeline import PairMaker
    from judge.tasks.pairs.task import PairsTask

    if options.mode == "score":
        other = (("comparisons", options.comparisons), ("principles", compare_options.principles))
        for name, value in other:
            if value != "all":
                raise ConfigError(f"{{opt:{name}}} {value} needs {{opt:mode}} compare")
    elif score_options.per_principle or rescore or score_options.group:
        flags = (
            ("per_principle", score_options.per_principle),
            ("rescore", rescore),
            ("group", score_options.group),
        )
        name = next(n for n, v in flags if v)
        raise ConfigError(f"{{opt:{name}}} is for {{opt:mode}} score")
    rows: Rows
    if source.rows is None:
        from judge.io import read_rows

        read = read_rows(source.path)
        first = next(read)  # an empty input raises a clear error here
        rows = itertools.chain([first], read)
    else:
        first = (1, source.rows[0]) if source.rows else (0, {})
        rows = list(enumerate(source.rows, start=1))
    from_input = (
        options.mode == "score"
        and not rescore
        and "score" in first[1]
        and fields.response in first[1]
    )
    if from_input and judges.members():
        raise ConfigError(
            "the input already has scores, so no judge is asked: add {opt:rescore} to judge it "
            "with the panel"
        )
    if from_input and settings.require_key:
        warn("using the scores already in the input (no model call; {opt:rescore} to judge again)")
    if calibration is not None:
        options = replace(options, calibration=describe_calibration(calibration))
    jury = None
    if not from_input:
        jury = open_jury(judges, settings, mode=options.mode, constitution=constitution, warn=warn)
    maker = PairMaker(
        constitution,
        options,
        score_options=score_options,
        compare_options=compare_options,
        model=settings.model,
        calibration=calibration,
        panel=None if jury is None else jury.panel,
    )
    if jury is not None and jury.cascade is not None:
        maker.use_cascade(jury.cascade)
    runner = None if jury is None else jury.runner
    if calibration is not None and settings.require_key:
        # The backend's full name (`local/smollm2`), as the calibration recorded it; with scores
        # already in the input no model judges here, so only the constitution is compared.
        model = runner.backend.name if runner is not None else None
        for line in calibration.check_use(sha256=constitution.sha256, model=model, force=True):
            warn(f"warning: {line}")
    listed = fields.responses in first[1] and fields.response not in first[1]
    used = iter([rows])

    def groups() -> Iterator[Group]:
        # The first pass reuses the rows already opened (stdin can be read once).
        given = next(used, None) or source.numbered()
        return iter_groups(source.path, fields, id_field or None, rows=given)

    count = None
    if listed and settings.require_key:
        count = len(source.rows) if source.rows is not None else count_rows(source.path)
    return PairsTask(
        maker, runner, groups, source.path, calibration=calibration, count=count, **task
    )


def calibrate_task(
    constitution: Constitution,
    labels: LabelSet,
    settings: Settings,
    judges: Judges,
    setup: JudgeSetup,
    folder: Path,
    *,
    meta: dict[str, Any],
    positive_label: float | None = None,
    seed: int = 0,
    resamples: int = 1000,
    escalate_to: Sequence[str] = (),
    target_agreement: float | None = None,
    delta: float = 0.1,
    warn: Warn = lambda _: None,
) -> Any:
    """The task of judge calibrate: measure the judges against `labels` (CalibrateTask), or, with
    `target_agreement`, fit a cascade of the model then each of `escalate_to` (or of the members
    of a judges file, in order) (CascadeFitTask)."""
    from judge.tasks.calibrate import CalibrateTask

    if labels.kind == "absolute" and setup.mode == "compare":
        raise ConfigError("{opt:mode} compare needs pairwise labels; these are absolute")
    if folder.exists() and not folder.is_dir():
        raise InputError("is a file; give {opt:output} a folder for the report", str(folder))
    if escalate_to or target_agreement is not None:
        if judges.cascade is not None:
            raise ConfigError("{opt:cascade} uses a cascade; {opt:escalate_to} fits one: give one")
        if target_agreement is None:
            raise ConfigError("fitting a cascade needs {opt:target_agreement} (e.g. 0.8)")
        staged = isinstance(judges.panel, str | Path)
        if staged and escalate_to:
            raise ConfigError(
                "give a cascade's judges with {opt:judges} (in order) or with {opt:model} and "
                "{opt:escalate_to}, not both"
            )
        if judges.panel and not staged:
            raise ConfigError(
                "a cascade's judges are {opt:model} (once) and each {opt:escalate_to}; a panel "
                "({opt:model} repeated or {opt:judges}) is not a stage of a cascade"
            )
        models = judges.members() if staged else [settings.model, *escalate_to]
        fit = _cascade_fit(constitution, labels, settings, models, setup, folder, positive_label)
        fit.target, fit.delta, fit.meta = target_agreement, delta, meta
        return fit
    jury = open_jury(judges, settings, mode=setup.mode, constitution=constitution, warn=warn)
    return CalibrateTask(
        constitution,
        jury.runner,
        labels,
        setup,
        folder,
        meta=meta,
        positive_label=positive_label,
        seed=seed,
        resamples=resamples,
        panel=jury.panel,
        cascade=jury.cascade,
    )


def _cascade_fit(
    constitution: Constitution,
    labels: LabelSet,
    settings: Settings,
    models: Sequence[str | Judge],
    setup: JudgeSetup,
    folder: Path,
    positive_label: float | None,
) -> Any:
    from judge.calibration.agreement import label_scale
    from judge.cascade.fit import CascadeFitTask
    from judge.cascade.run import open_judges

    if len(models) < 2:
        raise ConfigError("a cascade needs at least two judges")
    if labels.kind == "pairwise" and setup.mode != "compare":
        raise ConfigError(
            "a cascade on pairwise labels needs {opt:mode} compare (its confidence is per "
            "comparison); for score and filter, fit one on absolute labels"
        )
    if labels.kind == "absolute":
        scale = label_scale([i.label for i in labels.absolutes()], positive_label)
        if scale.measure in ("continuous", "constant"):
            raise InputError(
                f"the labels are {scale.measure}: a cascade needs labels a verdict can agree "
                "with exactly (binary or a few levels)"
            )
    if len({m if isinstance(m, str) else m.name for m in models}) < len(models):
        raise ConfigError(
            "each judge of a cascade once: {opt:model} and {opt:escalate_to} repeat one"
        )
    runners, described = open_judges(models, settings, require_key=settings.require_key)
    return CascadeFitTask(
        constitution,
        runners,
        described,
        labels,
        setup,
        folder,
        target=0.0,
        delta=0.1,
        positive_label=positive_label,
    )
