"""`judge revise`: critique and revise each response under the constitution, judged."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import click

from judge.cli.common import (
    batch_options,
    candidate_total,
    exit_with,
    field_options,
    fields_from,
    id_field_option,
    model_options,
    number,
    options_from,
    output_option,
    run_task,
    seed_option,
    settings_from,
)
from judge.cli.pair_format import pair_format_from, pair_format_options
from judge.constitution import load
from judge.engine.settings import make_runner
from judge.errors import InputError
from judge.io import FieldMap, describe, iter_candidates
from judge.judging.revision import CRITIQUE_TOKENS, DEFAULT_MIN_MARGIN, ReviseOptions, Reviser
from judge.judging.scoring import DEFAULT_MAX_CHARS, ScoreOptions
from judge.records import Candidate
from judge.tasks.revise import CANDIDATES, PAIRS, ReviseTask
from judge.tasks.score import OUT


@click.command()
@click.argument("input_path", metavar="INPUT")
@click.option(
    "-c",
    "--constitution",
    "constitution_path",
    required=True,
    envvar="JUDGE_CONSTITUTION",
    help="Constitution file; principles with `### Critique` and `### Revision` drive the rounds.",
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
    settings = settings_from(kw)
    fields = fields_from(kw)
    constitution = load(kw["constitution_path"])
    options = options_from(
        ReviseOptions,
        kw,
        critique_tokens=kw["critique_max_tokens"],
        revision_tokens=kw["revision_max_tokens"],
    )
    reviser = Reviser(constitution, options, ScoreOptions(max_chars=kw["max_chars"]))
    to_stdout = [kw["output"] in (None, "-"), kw["pairs_path"] == "-", kw["candidates_path"] == "-"]
    if to_stdout.count(True) > 1:
        raise click.UsageError("only one output can go to stdout; give the others a file name")
    conversational, separator = pair_format_from(kw)
    if not kw["pairs_path"] and (kw["pair_format"] or kw["separator"] is not None):
        raise click.UsageError("--format and --separator shape the --pairs rows: add --pairs OUT")
    input_path: str = kw["input_path"]
    require_key = not kw["dry_run"]
    runner = make_runner(settings, require_key=require_key)
    judge_runner = runner
    judge_model = kw["judge_model"] or settings.model
    # --base-url belongs to -m: a different judge model gets only --judge-base-url.
    same = judge_model == settings.model
    judge_url = kw["judge_base_url"] or (settings.base_url if same else None)
    if (judge_model, judge_url) != (settings.model, settings.base_url):
        judge_settings = replace(settings, model=judge_model, base_url=judge_url)
        judge_runner = make_runner(judge_settings, require_key=require_key)
    paths = {OUT: kw["output"], PAIRS: kw["pairs_path"], CANDIDATES: kw["candidates_path"]}
    paths = {name: path for name, path in paths.items() if name == OUT or path}
    task = ReviseTask(
        reviser,
        runner,
        judge_runner,
        lambda: _candidates(input_path, fields),
        fields=fields,
        paths=paths,
        id_field=kw["id_field"] or None,
        conversational=conversational,
        separator=separator,
        count=None if kw["dry_run"] else candidate_total(input_path, fields),
    )
    exit_with(run_task(task, paths, quiet=kw["quiet"], dry_run=kw["dry_run"]))


def _candidates(path: str, fields: FieldMap) -> Iterator[Candidate]:
    for cand in iter_candidates(path, fields):
        if cand.is_document or cand.prompt is None:
            raise InputError(
                f"revise needs a prompt and a response; this row has only {fields.text!r} "
                "(map yours with --prompt-field and --response-field)",
                describe(path, cand.row_index),
            )
        yield cand
