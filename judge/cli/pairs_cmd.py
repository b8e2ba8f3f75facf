"""`judge pairs`: preference pairs for DPO from prompts with several candidate responses."""

from __future__ import annotations

from typing import Any

import click

from judge.cli.common import (
    calibration_options,
    choice,
    constitution_option,
    exit_with,
    field_options,
    group_options,
    id_field_option,
    input_command,
    number,
    output_option,
    run_task,
    score_options,
    seed_option,
)
from judge.cli.flags import (
    comparing_of,
    fields_of,
    judges_of,
    judging_of,
    say,
    settings_of,
)
from judge.cli.judge_options import judge_options
from judge.cli.pair_format import pair_format_options, unescape
from judge.constitution import load
from judge.options import options_of
from judge.tasks.build import Source, calibration_for, pair_format, pairs_task
from judge.tasks.pairs.pipeline import COMPARISONS, MODES, PairsOptions
from judge.tasks.pairs.rows import SEPARATOR
from judge.tasks.pairs.selection import STRATEGIES
from judge.tasks.pairs.task import STAGED, staging_for
from judge.tasks.score import OUT


@input_command()
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
    constitution = load(kw["constitution_path"])
    calibration = calibration_for(
        kw["calibration_path"], constitution, kind="pairwise", force=kw["force"], warn=say
    )
    conversational, separator = pair_format(
        kw["pair_format"], kw["conversational"], kw["separator"]
    )
    options = options_of(
        PairsOptions,
        kw,
        conversational=conversational,
        separator=SEPARATOR if separator is None else unescape(separator),
    )
    output: str | None = kw["output"]
    hub = None if kw["dry_run"] else staging_for(kw["push_repo"], output)
    if hub is not None:
        hub.private = kw["private"] or None
        hub.allow_partial = kw["allow_partial"]
    task = pairs_task(
        constitution,
        Source(kw["input_path"]),
        settings_of(kw),
        judges_of(kw),
        options=options,
        score_options=judging_of(kw),
        compare_options=comparing_of(kw),
        fields=fields_of(kw),
        id_field=kw["id_field"] or None,
        rescore=kw["rescore"],
        calibration=calibration,
        warn=say,
        output=output,
        hub=hub,
        card_path=kw["card_path"],
    )
    outputs: dict[str, str | None] = {OUT: output}
    if hub is not None and hub.staging is not None:
        outputs[STAGED] = hub.staged_path()
    exit_with(run_task(task, outputs, quiet=kw["quiet"], dry_run=kw["dry_run"], unit="prompt"))
