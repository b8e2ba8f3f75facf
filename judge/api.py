"""The Python API: one function per command, run by the same driver as the CLI.

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

Each function takes records (a list of dicts), a pandas DataFrame or a datasets.Dataset and
returns the same kind; settings (model, server, cache, budget, concurrency) come from `model=` or
`settings=`, which is never changed. `judges=` (score, filter, pairs, calibrate) makes a panel:
model names sharing the settings, or `Judge` specs with their own endpoints (`load_judges`).
Where the CLI would exit 1 (the model could not be reached, the budget ran out, nothing was
judged, or a smaller fraction than `fail_under=`) the function raises `judge.errors.RunFailed`,
whose `result` holds what it would have returned (every row, the unjudged ones with their
reason) and `lines` the summary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import judge
from judge.calibration.labels import LabelFields, load_labels
from judge.constitution import Constitution, load
from judge.engine.settings import Settings, make_runner
from judge.errors import RunFailed
from judge.io import FieldMap, iter_candidates
from judge.judging.comparison import CompareOptions
from judge.judging.revision import ReviseOptions, Reviser
from judge.judging.scoring import ScoreOptions
from judge.panel.members import Judge as Judge  # exported by judge.__all__
from judge.panel.members import load_judges as load_judges
from judge.panel.panel import Panel, make_panel
from judge.records import Candidate
from judge.tasks.calibrate import CalibrateTask, JudgeSetup
from judge.tasks.driver import Report, RowList, Task, drive, run_sync
from judge.tasks.filter import FilterTask, Rule
from judge.tasks.pairs.groups import iter_groups
from judge.tasks.pairs.pipeline import PairMaker, PairsOptions
from judge.tasks.pairs.task import PairsTask
from judge.tasks.revise import ReviseTask
from judge.tasks.score import OUT, ScoreTask
from judge.tasks.score import Scored as Scored  # exported by judge.__all__

# The names `import judge` gives: the package's __all__, kept in one place.
__all__ = list(judge.__all__)


def _records(data: Any) -> tuple[list[dict[str, Any]], str]:
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        rows = [{str(k): v for k, v in r.items()} for r in data.to_dict(orient="records")]
        return rows, "pandas"
    import datasets

    if isinstance(data, datasets.Dataset):
        return list(data), "datasets"
    return [dict(r) for r in data], "records"


def _like(rows: list[dict[str, Any]], kind: str) -> Any:
    """Rows as the kind of table they came in (records stay a list of dicts)."""
    if kind == "pandas":
        import pandas as pd

        return pd.DataFrame(rows)
    if kind == "datasets":
        import datasets

        return datasets.Dataset.from_list(rows)
    return rows


def _settings(settings: Settings | None, model: str | None) -> Settings:
    settings = settings or Settings()
    return replace(settings, model=model) if model is not None else replace(settings)


Judges = Sequence[Judge | str] | None


def _panel(settings: Settings, judges: Judges, quorum: int | None) -> Panel | None:
    return None if not judges else make_panel(judges, settings, quorum)


def _constitution(constitution: Constitution | str | Path) -> Constitution:
    return constitution if isinstance(constitution, Constitution) else load(constitution)


def _candidates(data: Any, fields: FieldMap) -> tuple[list[Candidate], str]:
    """The candidates in `data`, and the kind of table it is."""
    records, kind = _records(data)
    rows = ((i + 1, r) for i, r in enumerate(records))
    return list(iter_candidates("<data>", fields, rows=rows)), kind


def _table(task: Task[Any, Any], kind: str, fail_under: float | None) -> Any:
    """Run a task whose rows go to `out`; its rows as the kind of table the input was."""
    sink = RowList()
    return _run(task, {OUT: sink}, lambda: _like(sink.rows, kind), fail_under)


def _run(
    task: Task[Any, Any], sinks: dict[str, RowList], result: Any, fail_under: float | None
) -> Any:
    """Drive `task`; `result()` is what the function returns, or RunFailed carries (also when
    nothing was judged, or a smaller fraction than `fail_under`)."""
    report: Report = run_sync(drive(task, sinks, fail_under=fail_under))
    if report.exit_code:
        raise RunFailed(report.lines, result())
    return result()


def load_constitution(path: str | Path) -> Constitution:
    return load(path)


def _scoring(
    cls: type[ScoreTask],
    data: Any,
    constitution: Constitution | str | Path,
    model: str | None,
    settings: Settings | None,
    fields: FieldMap | None,
    judges: Judges = None,
    quorum: int | None = None,
    **task: Any,
) -> tuple[ScoreTask, str]:
    """A scoring task (ScoreTask or FilterTask) over `data`, and the kind of table it was."""
    fields = fields or FieldMap()
    candidates, kind = _candidates(data, fields)
    settings = _settings(settings, model)
    panel = _panel(settings, judges, quorum)
    made = cls(
        _constitution(constitution),
        make_runner(settings) if panel is None else panel.runners[0],
        lambda: iter(candidates),
        fields=fields,
        count=len(candidates),
        panel=panel,
        **task,
    )
    return made, kind


def score(
    data: Any,
    constitution: Constitution | str | Path,
    model: str | None = None,
    *,
    options: ScoreOptions | None = None,
    settings: Settings | None = None,
    fields: FieldMap | None = None,
    judges: Judges = None,
    quorum: int | None = None,
    fail_under: float | None = None,
) -> Any:
    """Score records, a DataFrame or a Dataset: a list of `Scored` for records, or the same kind
    of table with the output columns (`score`, `scores`, `rationales`, `judge`) added."""
    options = options or ScoreOptions()
    task, kind = _scoring(
        ScoreTask, data, constitution, model, settings, fields, judges, quorum, options=options
    )
    if kind == "records":
        task.keep = True
        return _run(task, {OUT: RowList()}, lambda: task.results, fail_under)
    return _table(task, kind, fail_under)


def filter(
    data: Any,
    constitution: Constitution | str | Path,
    model: str | None = None,
    *,
    min_score: float | None = None,
    keep_top: float | None = None,
    options: ScoreOptions | None = None,
    settings: Settings | None = None,
    fields: FieldMap | None = None,
    judges: Judges = None,
    quorum: int | None = None,
    fail_under: float | None = None,
) -> Any:
    """The rows a judge keeps (`min_score` or `keep_top`), with their scores, as the same kind
    of table as `data`."""
    rule = Rule(min_score=min_score, keep_top=keep_top)
    options = options or ScoreOptions()
    task, kind = _scoring(
        FilterTask,
        data,
        constitution,
        model,
        settings,
        fields,
        judges,
        quorum,
        options=options,
        rule=rule,
    )
    return _table(task, kind, fail_under)


def pairs(
    data: Any,
    constitution: Constitution | str | Path,
    model: str | None = None,
    *,
    options: PairsOptions | None = None,
    score_options: ScoreOptions | None = None,
    compare_options: CompareOptions | None = None,
    settings: Settings | None = None,
    fields: FieldMap | None = None,
    id_field: str | None = "id",
    judges: Judges = None,
    quorum: int | None = None,
    fail_under: float | None = None,
) -> Any:
    """DPO preference pairs from prompts with several responses (`prompt` + `responses`, or
    rows of one prompt next to each other), as the same kind of table as `data`; rows that
    already have a `score` are ranked by it, with no model call (`options.mode == "score"`)."""
    fields = fields or FieldMap()
    records, kind = _records(data)
    options = options or PairsOptions()
    c = _constitution(constitution)
    settings = _settings(settings, model)
    panel = _panel(settings, judges, quorum)
    maker = PairMaker(
        c,
        options,
        score_options=score_options,
        compare_options=compare_options,
        model=settings.model,
        panel=panel,
    )
    from_input = (
        options.mode == "score"
        and bool(records)
        and "score" in records[0]
        and fields.response in records[0]
    )
    rows = [(i + 1, r) for i, r in enumerate(records)]
    task = PairsTask(
        maker,
        None if from_input else make_runner(settings) if panel is None else panel.runners[0],
        lambda: iter_groups("<data>", fields, id_field, rows=rows),
        "<data>",
    )
    return _table(task, kind, fail_under)


def calibrate(
    labels: Any,
    constitution: Constitution | str | Path,
    model: str | None = None,
    *,
    output_dir: str | Path,
    setup: JudgeSetup | None = None,
    kind: str | None = None,
    label_fields: LabelFields | None = None,
    positive_label: float | None = None,
    seed: int = 0,
    resamples: int = 1000,
    settings: Settings | None = None,
    judges: Judges = None,
    quorum: int | None = None,
    fail_under: float | None = None,
) -> dict[str, Any]:
    """Measure a judge against human labels (records, a DataFrame or a Dataset of pairwise or
    absolute labels, as `judge calibrate` reads them) and fit a calibration: the report as a
    dict; report.md, report.json, the figures, judgments.jsonl and calibration.json (when one
    could be fitted) are written to `output_dir`."""
    records, _ = _records(labels)
    label_set = load_labels(
        "<labels>",
        label_fields,
        kind=kind,  # type: ignore[arg-type]
        seed=seed,
        rows=[(i + 1, r) for i, r in enumerate(records)],
    )
    c = _constitution(constitution)
    settings = _settings(settings, model)
    panel = _panel(settings, judges, quorum)
    task = CalibrateTask(
        c,
        make_runner(settings) if panel is None else panel.runners[0],
        label_set,
        setup or JudgeSetup(),
        Path(output_dir),
        meta={"constitution": c.path, "labels": None, "sample": None},
        positive_label=positive_label,
        seed=seed,
        resamples=resamples,
        panel=panel,
    )
    result: dict[str, Any] = _run(task, {}, lambda: task.report, fail_under)
    return result


def revise(
    data: Any,
    constitution: Constitution | str | Path,
    model: str | None = None,
    *,
    options: ReviseOptions | None = None,
    judge_model: str | None = None,
    settings: Settings | None = None,
    fields: FieldMap | None = None,
    fail_under: float | None = None,
) -> Any:
    """Critique and revise each response (`prompt` + `response` rows) under the constitution,
    judged against the original by `judge_model` (default: `model`); rows as `judge revise`
    writes them, as the same kind of table as `data`."""
    fields = fields or FieldMap()
    candidates, kind = _candidates(data, fields)
    settings = _settings(settings, model)
    c = _constitution(constitution)
    options = options or ReviseOptions()
    runner = make_runner(settings)
    judge_runner = make_runner(replace(settings, model=judge_model)) if judge_model else runner
    task = ReviseTask(
        Reviser(c, options, ScoreOptions(max_chars=options.max_chars)),
        runner,
        judge_runner,
        lambda: iter(candidates),
        fields=fields,
        paths={},
        count=len(candidates),
    )
    return _table(task, kind, fail_under)
