"""`judge revise`: critique and revise each response under the constitution, judged."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import click

from judge.api import make_runner
from judge.cli.common import (
    Progress,
    candidate_total,
    dollars,
    field_options,
    fields_from,
    human_tokens,
    model_options,
    plan_text,
    plural,
    settings_from,
    summary,
)
from judge.cli.pair_format import pair_format_from, pair_format_options
from judge.constitution import load
from judge.engine.plan import Plan
from judge.errors import InputError
from judge.io import FieldMap, describe, iter_candidates, open_writer, write_text_atomic
from judge.judging.scoring import DEFAULT_MAX_CHARS, ScoreOptions
from judge.records import Candidate
from judge.tasks.pairs.rows import empty_schema, write_empty
from judge.tasks.revise import (
    CRITIQUE_TOKENS,
    DEFAULT_MIN_MARGIN,
    Revised,
    ReviseOptions,
    Reviser,
    Tally,
    revise_stream,
)


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
@click.option(
    "-o",
    "--output",
    help="Output file (.jsonl, .parquet, .csv) or folder (dataset). Default: JSON Lines on stdout.",
)
@click.option(
    "--rounds",
    type=click.IntRange(1, 20),
    default=1,
    show_default=True,
    help="Critique-and-revision rounds per item; each starts from the last revision.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the principle drawn for each round (per item: reruns are identical).",
)
@click.option(
    "--min-margin",
    type=click.FloatRange(0, 1),
    default=DEFAULT_MIN_MARGIN,
    show_default=True,
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
@click.option(
    "--id-field",
    default="id",
    show_default=True,
    help="Input field copied to the pairs' prompt_id, where rows have it.",
)
@click.option(
    "--emit-candidates",
    "candidates_path",
    metavar="OUT",
    help="Also write prompt + responses [original, revision 1, ..., final] per item: "
    "an input for `judge pairs`.",
)
@click.option(
    "--critique-max-tokens",
    type=click.IntRange(16),
    default=CRITIQUE_TOKENS,
    show_default=True,
    help="Output cap of a critique.",
)
@click.option(
    "--revision-max-tokens",
    type=click.IntRange(16),
    help="Output cap of a revision. Default: twice the response's length in tokens, 256 to 4096.",
)
@click.option(
    "--max-chars",
    type=click.IntRange(100),
    default=DEFAULT_MAX_CHARS,
    show_default=True,
    help="Items whose prompt or response is longer are not revised (the row says so).",
)
@model_options
@field_options
def revise(**kw: Any) -> None:
    """Critique and revise every response in INPUT under a constitution, and judge whether the
    revision beats the original.

    INPUT rows have `prompt` + `response` (or `prompt` + `responses`, revised one by one).
    """
    settings = settings_from(kw)
    fields = fields_from(kw)
    constitution = load(kw["constitution_path"])
    options = ReviseOptions(
        rounds=kw["rounds"],
        seed=kw["seed"],
        min_margin=kw["min_margin"],
        critique_tokens=kw["critique_max_tokens"],
        revision_tokens=kw["revision_max_tokens"],
        max_chars=kw["max_chars"],
    )
    conversational, separator = pair_format_from(kw)
    if not kw["pairs_path"] and (kw["pair_format"] or kw["separator"] is not None):
        raise click.UsageError("--format and --separator shape the --pairs rows: add --pairs OUT")
    reviser = Reviser(constitution, options, ScoreOptions(max_chars=kw["max_chars"]))
    outputs = [p for p in (kw["output"], kw["pairs_path"], kw["candidates_path"]) if p]
    to_stdout = [kw["output"] in (None, "-"), kw["pairs_path"] == "-", kw["candidates_path"] == "-"]
    if to_stdout.count(True) > 1:
        raise click.UsageError("only one output can go to stdout; give the others a file name")
    input_path: str = kw["input_path"]
    progress = Progress(kw["quiet"], "item")
    runner = make_runner(settings, on_progress=progress)
    judge_runner = runner
    judge_model = kw["judge_model"] or settings.model
    # --base-url belongs to -m: a different judge model gets only --judge-base-url.
    same = judge_model == settings.model
    judge_url = kw["judge_base_url"] or (settings.base_url if same else None)
    if (judge_model, judge_url) != (settings.model, settings.base_url):
        judge_runner = make_runner(replace(settings, model=judge_model, base_url=judge_url))
    model, judge_model = runner.backend.name, judge_runner.backend.name

    if kw["dry_run"]:
        plan = Plan()
        n = 0
        for cand in _candidates(input_path, fields):
            n += 1
            reviser.plan(plan, runner, judge_runner, cand)
        click.echo(
            plan_text(
                model + ("" if judge_model == model else f", judge {judge_model}"),
                f"{plural(n, 'item')} x ({plural(options.rounds, 'round')} x 2 calls + 2 judge "
                "calls)",
                plan,
                input_note="; critiques and revisions not yet made are taken as long as "
                "--critique-max-tokens and as the response they revise",
            ),
            err=True,
        )
        return

    writer = open_writer(kw["output"])
    pairs_writer = open_writer(kw["pairs_path"]) if kw["pairs_path"] else None
    cands_writer = open_writer(kw["candidates_path"]) if kw["candidates_path"] else None
    writers = [w for w in (writer, pairs_writer, cands_writer) if w is not None]
    tally = Tally(price_known=runner.price is not None and judge_runner.price is not None)
    pairs_written = 0
    ids = False

    def write(out: Revised) -> None:
        nonlocal pairs_written, ids
        tally.add(out)
        writer.write(reviser.row(out, judge_model, model, fields))
        raw_id = out.candidate.row.get(kw["id_field"]) if kw["id_field"] else None
        ids = ids or raw_id is not None
        if pairs_writer is not None:
            pair = reviser.pair(
                out,
                judge_model,
                conversational=conversational,
                separator=separator,
                prompt_id=None if raw_id is None else str(raw_id),
            )
            if pair is not None:
                pairs_writer.write(pair)
                pairs_written += 1
        if cands_writer is not None and out.rounds:
            cands_writer.write(candidates_row(out, fields))

    async def go() -> None:
        try:
            async for out in revise_stream(
                reviser,
                runner,
                judge_runner,
                _candidates(input_path, fields),
                total=candidate_total(input_path, fields),
            ):
                write(out)
        finally:
            await runner.backend.aclose()
            if judge_runner is not runner:
                await judge_runner.backend.aclose()

    try:
        asyncio.run(go())
    except BaseException:
        progress.close()
        for w in writers:
            w.abort()
        raise
    progress.close()
    writer.close()
    if cands_writer is not None:
        cands_writer.close()
    if pairs_writer is not None:
        if pairs_written:
            pairs_writer.close()
        else:  # `judge pairs` writes an empty dataset with the pairs' columns: so do we
            pairs_writer.abort()
            schema = empty_schema(
                conversational=conversational,
                mode="score",
                principles=[p.id for p in constitution.principles],
                prompt_id=ids,
            )
            write_empty(kw["pairs_path"], schema)
    meta = {
        "command": "judge revise",
        "model": model,
        "judge_model": judge_model,
        "constitution": {"name": constitution.name, "sha256": constitution.sha256},
        "rounds": options.rounds,
        "seed": options.seed,
        "min_margin": options.min_margin,
        "pairs": pairs_written if pairs_writer is not None else None,
        **tally.metadata(),
    }
    for path in outputs:
        if path != "-":
            write_meta(path, meta)
    stats = runner.stats
    click.echo(summary("revised", stats, "item"), err=True)
    click.echo(report(tally, options.min_margin, pairs_written if pairs_writer else None), err=True)
    if stats.budget_hit:
        click.echo(
            f"judge: the --max-cost budget was reached; {plural(stats.failed, 'item')} "
            f"{'is' if stats.failed == 1 else 'are'} not revised or "
            "not judged (improved null, reason in judge.error). Raise --max-cost and run the same "
            "command again: answers already paid for come from the cache.",
            err=True,
        )
        raise click.exceptions.Exit(1)


def _candidates(path: str, fields: FieldMap) -> Iterator[Candidate]:
    for cand in iter_candidates(path, fields):
        if cand.is_document or cand.prompt is None:
            raise InputError(
                f"revise needs a prompt and a response; this row has only {fields.text!r} "
                "(map yours with --prompt-field and --response-field)",
                describe(path, cand.row_index),
            )
        yield cand


def candidates_row(out: Revised, fields: FieldMap) -> dict[str, Any]:
    """The input row with `responses` = [original, revision 1, ..., last]: a `judge pairs` input."""
    row = dict(out.candidate.row)
    row.pop(fields.response, None)
    row[fields.responses] = [out.candidate.response, *(r.revision for r in out.rounds)]
    return row


def meta_path(output: str) -> str:
    return output.rstrip("/" + os.sep) + ".meta.json"


def write_meta(output: str, meta: dict[str, Any]) -> None:
    write_text_atomic(meta_path(output), json.dumps(meta, indent=2) + "\n")


def report(tally: Tally, min_margin: float, pairs: int | None) -> str:
    t = tally
    lines = [
        f"judge: improved {t.improved} of {plural(t.judged, 'judged item')} "
        f"(--min-margin {min_margin:g}); "
        f"{t.unchanged} unchanged; {t.items - t.revised} not revised"
        + (f"; {plural(pairs, 'pair')} written" if pairs is not None else "")
    ]
    if t.errors:
        top = sorted(t.errors.items(), key=lambda kv: -kv[1])[:3]
        reasons = "; ".join(f"{e} ({n}x)" for e, n in top)
        lines.append(f"judge: not revised or not judged: {reasons}")
    generated = (
        f"{human_tokens(t.generated_tokens)} generated: "
        f"{human_tokens(t.revise_usage.output_tokens)} critique and revision output, "
        f"{human_tokens(t.judge_usage.total_tokens)} judge in + out"
    )
    if t.per_token_kept is None:
        lines.append(
            f"judge: tokens generated per token kept: n/a, no improved revision kept ({generated})"
        )
        return "\n".join(lines)
    cost = (
        "price unknown (give one with --prices)"
        if t.per_1000_kept is None
        else f"{dollars(t.per_1000_kept)} per 1,000 kept samples at list prices"
    )
    lines.append(
        f"judge: tokens generated per token kept: {t.per_token_kept:.1f} ({generated}; "
        f"{human_tokens(t.kept_tokens)} kept, estimated at 4 characters a token); {cost}"
    )
    return "\n".join(lines)
