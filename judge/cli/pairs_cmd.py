"""`judge pairs`: preference pairs for DPO from prompts with several candidate responses."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import click

from judge.calibration import load_calibration
from judge.cli.cascade_args import cascade_from
from judge.cli.common import (
    calibration_options,
    choice,
    compare_options_from,
    constitution_option,
    exit_with,
    field_options,
    fields_from,
    group_options,
    id_field_option,
    number,
    options_from,
    output_option,
    run_task,
    score_options,
    score_options_from,
    seed_option,
    settings_from,
)
from judge.cli.judge_options import judge_options
from judge.cli.pair_format import pair_format_from, pair_format_options
from judge.cli.panel_options import panel_from
from judge.constitution import load
from judge.engine.settings import make_runner
from judge.io import count_rows, read_rows
from judge.tasks.pairs.calibrated import describe_calibration
from judge.tasks.pairs.groups import Group, iter_groups
from judge.tasks.pairs.pipeline import COMPARISONS, MODES, PairMaker, PairsOptions
from judge.tasks.pairs.selection import STRATEGIES
from judge.tasks.pairs.task import STAGED, PairsTask, staging_for
from judge.tasks.score import OUT


@click.command()
@click.argument("input_path", metavar="INPUT")
@constitution_option
@output_option(
    "Output: a folder (a Hugging Face dataset, for TRL), "
    ".parquet, .jsonl, .csv. Default: JSON Lines on stdout."
)
@choice(
    "--mode",
    MODES,
    "score",
    "score: rank by absolute scores (one call per response, or none when INPUT "
    "already has scores); compare: judge pairs of responses, in both orders.",
)
@choice(
    "--comparisons",
    COMPARISONS,
    "all",
    "compare mode: every pair (N(N-1)/2 pairs), or adaptive: a merge sort driven "
    "by the judge (about N log2 N pairs).",
)
@choice(
    "--principles",
    ["all", "sample"],
    "all",
    "compare mode: all principles in each call, or one drawn "
    "per comparison (seeded), as in Constitutional AI.",
)
@choice(
    "--strategy",
    STRATEGIES,
    "best-worst",
    "best-worst: best vs worst; best-random: best vs a random "
    "other; all: every pair above --min-margin.",
)
@number(
    "--min-margin",
    click.FloatRange(0, 1),
    default=0.1,
    help="Keep a pair only if the chosen score beats the rejected one by this much "
    "(scores are in [0, 1]); ties never make a pair.",
)
@seed_option("Seed for best-random and --principles sample.")
@pair_format_options("the rows")
@click.option(
    "--rescore", is_flag=True, help="Judge again even when INPUT rows already have a score."
)
@id_field_option("Input field copied to prompt_id, where rows have it.")
@calibration_options(
    "Calibration from judge calibrate: adds the calibrated probabilities to each pair."
)
@click.option(
    "--push-to-hub",
    "push_repo",
    metavar="REPO",
    help="Also push the dataset, with its card, to this Hugging Face Hub repo.",
)
@click.option("--private", is_flag=True, help="With --push-to-hub: create the repo private.")
@click.option(
    "--allow-partial",
    is_flag=True,
    help="With --push-to-hub: push even when the --max-cost budget stopped the run part way "
    "(the dataset then lacks the pairs of the prompts left unjudged).",
)
@click.option(
    "--card",
    "card_path",
    type=click.Path(dir_okay=False),
    help="Write the dataset card here (a folder output gets README.md anyway).",
)
@score_options
@group_options(seed=False)
@judge_options
@field_options
def pairs(**kw: Any) -> None:
    """Make DPO preference pairs from prompts with several candidate responses.

    INPUT rows have `prompt` + `responses` (a list), or `prompt` + `response` with the rows of one
    prompt next to each other (as `judge score` writes them; their `score` is then used as it is).
    The output loads in TRL's DPOTrainer as it is.
    """
    _check_mode_options(kw)
    settings = settings_from(kw)
    panel = panel_from(kw, settings)
    fields = fields_from(kw)
    constitution = load(kw["constitution_path"])
    calibration = load_calibration(kw["calibration_path"]) if kw["calibration_path"] else None
    if calibration is not None:  # before any call: another constitution's is refused
        calibration.check_use(sha256=constitution.sha256, force=kw["force"])
    conversational, separator = pair_format_from(kw)
    options = options_from(
        PairsOptions,
        kw,
        conversational=conversational,
        separator=separator,
        calibration=describe_calibration(calibration) if calibration else None,
    )
    maker = PairMaker(
        constitution,
        options,
        score_options=score_options_from(kw),
        compare_options=compare_options_from(kw),
        model=settings.model,
        calibration=calibration,
        panel=panel,
    )
    input_path: str = kw["input_path"]
    rows = read_rows(input_path)
    first = next(rows)  # an empty input raises a clear error here
    rows = itertools.chain([first], rows)
    from_input = (
        options.mode == "score"
        and not kw["rescore"]
        and "score" in first[1]
        and fields.response in first[1]
    )
    used = iter([rows])

    def groups() -> Iterator[Group]:
        # The first pass reuses the rows already opened (stdin can be read once).
        given = next(used, None)
        return iter_groups(input_path, fields, kw["id_field"] or None, rows=given)

    if from_input and not kw["dry_run"]:
        click.echo(
            "judge: using the scores already in INPUT (no model call; --rescore to judge again)",
            err=True,
        )
    if from_input and panel is not None:
        raise click.UsageError(
            "INPUT already has scores, so no judge is asked: add --rescore to judge it with "
            "the panel"
        )
    run = None
    if not from_input:
        run = cascade_from(kw, settings, options.mode, constitution, panel=panel is not None)
    runner = None
    if run is not None:
        maker.use_cascade(run)
        runner = run.runners[0]
    elif panel is not None:
        runner = panel.runners[0]
    elif not from_input:
        runner = make_runner(settings, require_key=not kw["dry_run"])
    if calibration is not None and not kw["dry_run"]:
        # The backend's full name (`local/smollm2`), as the calibration recorded it; with scores
        # already in INPUT no model judges here, so only the constitution is compared.
        model = runner.backend.name if runner is not None else None
        for warning in calibration.check_use(sha256=constitution.sha256, model=model, force=True):
            click.echo(f"judge: warning: {warning}", err=True)
    listed = fields.responses in first[1] and fields.response not in first[1]
    output: str | None = kw["output"]
    hub = None if kw["dry_run"] else staging_for(kw["push_repo"], output)
    if hub is not None:
        hub.private = kw["private"] or None
        hub.allow_partial = kw["allow_partial"]
    task = PairsTask(
        maker,
        runner,
        groups,
        input_path,
        output=output,
        hub=hub,
        card_path=kw["card_path"],
        calibration=calibration,
        count=count_rows(input_path) if listed and not kw["dry_run"] else None,
    )
    outputs: dict[str, str | None] = {OUT: output}
    if hub is not None and hub.staging is not None:
        outputs[STAGED] = hub.staged_path()
    exit_with(run_task(task, outputs, quiet=kw["quiet"], dry_run=kw["dry_run"], unit="prompt"))


def _check_mode_options(kw: dict[str, Any]) -> None:
    """Options of the other mode would be silently ignored: say so instead."""
    if kw["mode"] == "score":
        for option, value, default in [
            ("--comparisons", kw["comparisons"], "all"),
            ("--principles", kw["principles"], "all"),
        ]:
            if value != default:
                raise click.UsageError(f"{option} {value} needs --mode compare")
    elif kw["per_principle"] or kw["rescore"] or kw["group"]:
        option = next(o for o in ("per_principle", "rescore", "group") if kw[o])
        raise click.UsageError(f"--{option.replace('_', '-')} is for --mode score")
