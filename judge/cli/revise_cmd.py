"""`judge revise`: critique and revise each response under the constitution, judged."""

from __future__ import annotations

from typing import Any

import click

from judge.cli.common import (
    batch_options,
    constitution_flag,
    exit_with,
    field_options,
    id_field_option,
    input_command,
    model_options,
    number,
    output_option,
    run_task,
    seed_option,
)
from judge.cli.flags import fields_of, one_judge, settings_of
from judge.cli.pair_format import pair_format_options, unescape
from judge.constitution import load
from judge.judging.revision import CRITIQUE_TOKENS, DEFAULT_MIN_MARGIN, ReviseOptions
from judge.judging.scoring import DEFAULT_MAX_CHARS
from judge.options import REVISE_FLAGS, options_of
from judge.tasks.build import Source, pair_format, revise_task
from judge.tasks.revise import CANDIDATES, PAIRS
from judge.tasks.score import OUT


@input_command()
@constitution_flag(
    "Constitution file; principles with `### Critique` and `### Revision` drive the rounds."
)
@output_option()
@number(
    "--rounds",
    click.IntRange(1, 20),
    default=1,
    help="Critique-and-revision rounds per item; each starts from the last revision.",
)
@seed_option("Seed of the principle drawn for each round (per item: reruns are identical).")
@number(
    "--min-margin",
    click.FloatRange(0, 1),
    default=DEFAULT_MIN_MARGIN,
    help="`improved` when the revision's score beats the original's by this much "
    "(scores are in [0, 1]).",
)
@click.option(
    "--judge-model",
    envvar="JUDGE_JUDGE_MODEL",
    help="Model that scores the original and the revision. Default: the -m model.",
)
@click.option("--judge-base-url", help="URL of an OpenAI-compatible server for --judge-model.")
@click.option(
    "--pairs",
    "pairs_path",
    metavar="OUT",
    help="Also write revision-vs-original preference pairs, only where improved, "
    "in the format of `judge pairs`.",
)
@pair_format_options("the --pairs rows")
@id_field_option("Input field copied to the pairs' prompt_id, where rows have it.")
@click.option(
    "--emit-candidates",
    "candidates_path",
    metavar="OUT",
    help="Also write prompt + responses [original, revision 1, ..., final] per item: "
    "an input for `judge pairs`.",
)
@number(
    "--critique-max-tokens",
    click.IntRange(16),
    default=CRITIQUE_TOKENS,
    help="Output cap of a critique.",
)
@number(
    "--revision-max-tokens",
    click.IntRange(16),
    help="Output cap of a revision. Default: twice the response's length in tokens, 256 to 4096.",
)
@number(
    "--max-chars",
    click.IntRange(100),
    default=DEFAULT_MAX_CHARS,
    help="Items whose prompt or response is longer are not revised (the row says so).",
)
@model_options
@batch_options
@field_options
def revise(**kw: Any) -> None:
    """Critique and revise every response in INPUT under a constitution, and judge whether the
    revision beats the original.

    INPUT rows have `prompt` + `response` (or `prompt` + `responses`, revised one by one).
    """
    one_judge(kw)
    settings = settings_of(kw)
    options = options_of(ReviseOptions, kw, REVISE_FLAGS)
    to_stdout = [kw["output"] in (None, "-"), kw["pairs_path"] == "-", kw["candidates_path"] == "-"]
    if to_stdout.count(True) > 1:
        raise click.UsageError("only one output can go to stdout; give the others a file name")
    conversational, separator = pair_format(
        kw["pair_format"], kw["conversational"], kw["separator"]
    )
    if not kw["pairs_path"] and (kw["pair_format"] or kw["separator"] is not None):
        raise click.UsageError("--format and --separator shape the --pairs rows: add --pairs OUT")
    paths = {OUT: kw["output"], PAIRS: kw["pairs_path"], CANDIDATES: kw["candidates_path"]}
    paths = {name: path for name, path in paths.items() if name == OUT or path}
    task = revise_task(
        load(kw["constitution_path"]),
        Source(kw["input_path"]),
        settings,
        options=options,
        fields=fields_of(kw),
        judge_model=kw["judge_model"],
        judge_base_url=kw["judge_base_url"],
        paths=paths,
        id_field=kw["id_field"] or None,
        conversational=conversational,
        separator=None if separator is None else unescape(separator),
    )
    exit_with(run_task(task, paths, quiet=kw["quiet"], dry_run=kw["dry_run"]))
