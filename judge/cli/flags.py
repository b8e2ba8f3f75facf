"""The flags of the judging commands into the library's option objects (judge.options,
judge.tasks.judges.Judges, judge.tasks.score_job.ScoreJob): the CLI's only translation step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from judge import options as opts
from judge.constitution import load
from judge.engine.settings import Settings
from judge.errors import as_flag, spelled
from judge.io import FieldMap
from judge.judging.comparison import CompareOptions
from judge.judging.scoring import ScoreOptions
from judge.keywords import SettingsKeywords, keys
from judge.options import make_settings, one_model
from judge.tasks.build import calibration_for
from judge.tasks.judges import Judges
from judge.tasks.score import ScoreTask
from judge.tasks.score_job import ScoreJob


def settings_of(kw: Mapping[str, Any]) -> Settings:
    """Settings from the model options (and --batch's, where the command has them)."""
    model, _ = one_model(kw["model"])
    given: dict[str, Any] = {name: kw.get(name) for name in keys(SettingsKeywords)}
    given["cache"] = kw["cache_path"]  # click names --cache's value cache_path
    return make_settings(model=model, dry_run=kw.get("dry_run", False), **given)


def judges_of(kw: Mapping[str, Any]) -> Judges:
    """Who judges: -m (repeated: a panel), --judges, --quorum, --cascade."""
    _, members = one_model(kw["model"])
    return Judges.of(members, kw.get("judges"), kw.get("quorum"), kw.get("cascade_path"))


def one_judge(kw: Mapping[str, Any]) -> None:
    if len(kw["model"] or ()) > 1:
        raise click.UsageError(
            "this command takes one -m; a panel of judges (repeated -m) works on score, "
            "filter, pairs and calibrate"
        )


def fields_of(kw: Mapping[str, Any]) -> FieldMap:
    """The input fields (field_options), and which turns of a conversation are judged."""
    base = FieldMap()
    return FieldMap(
        prompt=kw["prompt_field"],
        response=kw["response_field"],
        responses=kw["responses_field"],
        text=kw["text_field"],
        messages=kw.get("messages_field", base.messages),
        reference=kw.get("reference_field", base.reference),
        turns=kw.get("turns", base.turns),
    )


def judging_of(kw: Mapping[str, Any]) -> ScoreOptions:
    """ScoreOptions from the scoring options and, where the command has them, --group's."""
    return opts.score_options(
        per_principle=kw["per_principle"],
        max_chars=kw["max_chars"],
        logprobs=not kw["no_logprobs"],
        rationale=kw["rationale"],
        model=one_model(kw.get("model"))[0],
        group=kw.get("group", False),
        group_size=kw.get("group_size", 8),
        mix_prompts=kw.get("mix_prompts", False),
        seed=kw.get("seed", 0),
    )


def comparing_of(kw: Mapping[str, Any]) -> CompareOptions:
    """CompareOptions from --principles, --seed and the scoring options."""
    return opts.compare_options(
        principles=kw.get("principles", "all"),
        seed=kw.get("seed", 0),
        logprobs=not kw["no_logprobs"],
        max_chars=kw["max_chars"],
    )


def say(message: str) -> None:
    """A line for stderr from the library (its options written as flags)."""
    click.echo("judge: " + spelled(message, as_flag), err=True)


def score_job(kw: Mapping[str, Any], cls: type[ScoreTask]) -> ScoreJob:
    """judge score's or judge filter's options (with a judge) as a ScoreJob."""
    constitution = load(kw["constitution_path"])
    calibration = calibration_for(
        kw.get("calibration_path"),
        constitution,
        kind="absolute",
        force=kw.get("force", False),
        warn=say,
    )
    return ScoreJob(
        cls,
        constitution,
        settings_of(kw),
        judges_of(kw),
        judging_of(kw),
        fields_of(kw),
        calibration,
    )
