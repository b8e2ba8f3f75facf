"""`judge pairs`: preference pairs for DPO from prompts with several candidate responses."""

from __future__ import annotations

import asyncio
import itertools
import os
from typing import Any

import click

from judge.api import make_runner
from judge.calibration import load_calibration
from judge.cli.common import (
    Progress,
    compare_options_from,
    constitution_option,
    dollars,
    field_options,
    fields_from,
    human_tokens,
    model_options,
    plan_text,
    plural,
    retries,
    score_options,
    score_options_from,
    settings_from,
)
from judge.cli.pair_format import pair_format_from, pair_format_options
from judge.constitution import load
from judge.engine.plan import Plan
from judge.engine.runner import Runner
from judge.io import count_rows, is_folder_output, open_writer, read_rows, write_text_atomic
from judge.io.tempfiles import remove_work_folder, work_folder
from judge.tasks.pairs.card import CardInfo, dataset_card, push_to_hub
from judge.tasks.pairs.groups import iter_groups
from judge.tasks.pairs.pipeline import (
    COMPARISONS,
    MODES,
    GroupResult,
    PairMaker,
    PairsOptions,
    PairsStats,
    calibration_columns,
    describe_calibration,
)
from judge.tasks.pairs.rows import empty_schema, write_empty
from judge.tasks.pairs.selection import STRATEGIES


@click.command()
@click.argument("input_path", metavar="INPUT")
@constitution_option
@click.option(
    "-o",
    "--output",
    help="Output: a folder (a Hugging Face dataset, for TRL), "
    ".parquet, .jsonl, .csv. Default: JSON Lines on stdout.",
)
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default="score",
    show_default=True,
    help="score: rank by absolute scores (one call per response, or none when INPUT "
    "already has scores); compare: judge pairs of responses, in both orders.",
)
@click.option(
    "--comparisons",
    type=click.Choice(COMPARISONS),
    default="all",
    show_default=True,
    help="compare mode: every pair (N(N-1)/2 pairs), or adaptive: a merge sort driven "
    "by the judge (about N log2 N pairs).",
)
@click.option(
    "--principles",
    type=click.Choice(["all", "sample"]),
    default="all",
    show_default=True,
    help="compare mode: all principles in each call, or one drawn "
    "per comparison (seeded), as in Constitutional AI.",
)
@click.option(
    "--strategy",
    type=click.Choice(STRATEGIES),
    default="best-worst",
    show_default=True,
    help="best-worst: best vs worst; best-random: best vs a random "
    "other; all: every pair above --min-margin.",
)
@click.option(
    "--min-margin",
    type=click.FloatRange(0, 1),
    default=0.1,
    show_default=True,
    help="Keep a pair only if the chosen score beats the rejected one by this much "
    "(scores are in [0, 1]); ties never make a pair.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed for best-random and --principles sample.",
)
@pair_format_options("the rows")
@click.option(
    "--rescore", is_flag=True, help="Judge again even when INPUT rows already have a score."
)
@click.option(
    "--id-field",
    default="id",
    show_default=True,
    help="Input field copied to prompt_id, where rows have it.",
)
@click.option(
    "--calibration",
    "calibration_path",
    type=click.Path(dir_okay=False),
    envvar="JUDGE_CALIBRATION",
    help="Calibration from judge calibrate: adds the calibrated probabilities to each pair.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Apply --calibration even when it was fitted under another constitution (its sha256 "
    "differs).",
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
@model_options
@field_options
def pairs(**kw: Any) -> None:
    """Make DPO preference pairs from prompts with several candidate responses.

    INPUT rows have `prompt` + `responses` (a list), or `prompt` + `response` with the rows of one
    prompt next to each other (as `judge score` writes them; their `score` is then used as it is).
    The output loads in TRL's DPOTrainer as it is.
    """
    _check_mode_options(kw)
    settings = settings_from(kw)
    fields = fields_from(kw)
    constitution = load(kw["constitution_path"])
    calibration = load_calibration(kw["calibration_path"]) if kw["calibration_path"] else None
    if calibration is not None:  # before any call: another constitution's is refused
        calibration.check_use(sha256=constitution.sha256, force=kw["force"])
    conversational, separator = pair_format_from(kw)
    options = PairsOptions(
        mode=kw["mode"],
        comparisons=kw["comparisons"],
        strategy=kw["strategy"],
        min_margin=kw["min_margin"],
        seed=kw["seed"],
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
    groups = iter_groups(input_path, fields, kw["id_field"] or None, rows=rows)

    if kw["dry_run"]:
        if from_input:
            click.echo("judge: dry run: INPUT already has scores: no model call", err=True)
            return
        planner = make_runner(settings)
        plan = Plan()
        n = 0
        for group in groups:
            n += 1
            for request in maker.requests(group):
                plan.add(planner, request)
        click.echo(
            plan_text(
                planner.backend.name,
                plural(n, "prompt"),
                plan,
                calls_note=" (adaptive: the worst case of the sort)"
                if options.comparisons == "adaptive"
                else "",
            ),
            err=True,
        )
        return

    output: str | None = kw["output"]
    push_repo: str | None = kw["push_repo"]
    sink = _Sink(output, staged=bool(push_repo) and not is_folder_output(output))
    stats = PairsStats()
    progress = Progress(kw["quiet"], "prompt")
    runner: Runner | None = None
    if from_input:
        click.echo(
            "judge: using the scores already in INPUT (no model call; --rescore to judge again)",
            err=True,
        )
    else:
        runner = make_runner(settings, on_progress=progress)
    if calibration is not None:
        # The backend's full name (`local/smollm2`), as the calibration recorded it; with scores
        # already in INPUT no model judges here, so only the constitution is compared.
        model = runner.backend.name if runner is not None else None
        for warning in calibration.check_use(sha256=constitution.sha256, model=model, force=True):
            click.echo(f"judge: warning: {warning}", err=True)
    listed = fields.responses in first[1] and fields.response not in first[1]
    total = count_rows(input_path) if listed else None

    def write(result: GroupResult) -> None:
        stats.add(result)
        for row in result.rows:
            sink.write(row)

    async def go() -> None:
        if runner is None:
            for group in groups:
                write(maker.from_scores(group, input_path))
            return
        try:
            async for result in maker.stream(runner, groups, total=total):
                write(result)
        finally:
            await runner.backend.aclose()

    try:
        asyncio.run(go())
    except BaseException:
        progress.close()
        sink.abort()
        raise
    progress.close()
    if stats.pairs:
        sink.close()
    else:
        sink.close_empty(
            empty_schema(
                conversational=options.conversational,
                mode=options.mode,
                principles=[p.id for p in constitution.principles],
                calibration=calibration is not None,
                extra=calibration_columns(calibration),
                prompt_id=stats.ids,
            )
        )
        why = _why(stats, options.mode)
        click.echo(f"judge: no pair survived, so the dataset is empty: {why}", err=True)

    if runner is not None:
        model = runner.backend.name
    else:
        model = ", ".join(dict.fromkeys(m for m, _, _ in stats.judges)) or "unknown"
        for _, name, sha in stats.judges:
            if sha != constitution.sha256:
                click.echo(
                    f"judge: warning: INPUT was scored under constitution {name} (sha256 "
                    f"{sha[:12]}), not {kw['constitution_path']} ({constitution.sha256[:12]}); "
                    "the rows record the one that made the scores",
                    err=True,
                )
    info = CardInfo(
        constitution=constitution,
        model=model,
        options=options,
        stats=stats,
        principles=kw["principles"],
        calls=runner.stats.calls if runner else 0,
        cached_calls=runner.stats.cached_calls if runner else 0,
        scores_from_input=from_input,
        calibration=options.calibration,
        source=input_path,
    )
    if output and is_folder_output(output):
        write_text_atomic(
            os.path.join(output.rstrip("/" + os.sep), "README.md"), dataset_card(info)
        )
    if kw["card_path"]:
        write_text_atomic(kw["card_path"], dataset_card(info, push_repo))
    click.echo(_report(stats, options, runner, from_input), err=True)
    budget_hit = runner is not None and runner.stats.budget_hit
    if push_repo and budget_hit and not kw["allow_partial"]:
        sink.cleanup()
        click.echo(
            f"judge: error: not pushing to {push_repo}: the --max-cost budget stopped the run part "
            "way, so the dataset is partial. Raise --max-cost and run again (paid verdicts come "
            "from the cache), or add --allow-partial to push it as it is"
            + (f"; {output} is written" if output and output != "-" else ""),
            err=True,
        )
        raise click.exceptions.Exit(1)
    if push_repo:
        try:
            push_to_hub(sink.dataset(), push_repo, info, private=kw["private"] or None)
        finally:
            sink.cleanup()
        click.echo(
            f"judge: pushed {plural(stats.pairs, 'pair')} to "
            f"https://huggingface.co/datasets/{push_repo}",
            err=True,
        )
    if budget_hit:
        click.echo(
            "judge: the --max-cost budget was reached; some responses or comparisons are not "
            "judged, so some prompts have fewer pairs or none. Raise --max-cost and run the same "
            "command again: verdicts already paid for come from the cache.",
            err=True,
        )
        raise click.exceptions.Exit(1)


def _check_mode_options(kw: dict[str, Any]) -> None:
    """Options of the other mode would be silently ignored: say so instead."""
    if kw["mode"] == "score":
        for option, value, default in [
            ("--comparisons", kw["comparisons"], "all"),
            ("--principles", kw["principles"], "all"),
        ]:
            if value != default:
                raise click.UsageError(f"{option} {value} needs --mode compare")
    elif kw["per_principle"] or kw["rescore"]:
        option = "--per-principle" if kw["per_principle"] else "--rescore"
        raise click.UsageError(f"{option} is for --mode score")


class _Sink:
    """The output, plus a staged dataset folder to push when the output is no folder."""

    def __init__(self, output: str | None, staged: bool) -> None:
        self.output = output
        self.writer = open_writer(output)  # checks the output path before any call is made
        # Next to the output, so that the next run removes it if this one is killed.
        self.staging = work_folder(output, ".stage.tmp") if staged else None
        self.staged = open_writer(self._staged_path()) if self.staging else None

    def _staged_path(self) -> str:
        return os.path.join(self.staging or "", "dataset")

    def write(self, row: dict[str, Any]) -> None:
        self.writer.write(row)
        if self.staged is not None:
            self.staged.write(row)

    def close(self) -> None:
        self.writer.close()
        if self.staged is not None:
            self.staged.close()

    def close_empty(self, schema: Any) -> None:
        """No rows: an output with the columns and no rows (open_writer cannot know them)."""
        self.writer.abort()
        write_empty(self.output, schema)
        if self.staged is not None:
            self.staged.abort()
            write_empty(self._staged_path(), schema)

    def abort(self) -> None:
        self.writer.abort()
        if self.staged is not None:
            self.staged.abort()
        self.cleanup()

    def dataset(self) -> Any:
        import datasets

        folder = self._staged_path() if self.staging else str(self.output).rstrip("/" + os.sep)
        return datasets.load_from_disk(folder)

    def cleanup(self) -> None:
        if self.staging:
            remove_work_folder(self.staging)
            self.staging = None


def _why(stats: PairsStats, mode: str) -> str:
    if stats.prompts == 0:
        return "the input has no prompts"
    reasons = ", ".join(f"{reason}: {n}" for reason, n in sorted(stats.no_pair_reasons.items()))
    hint = ""
    if "tied, or closer than --min-margin" in stats.no_pair_reasons:
        other = "--mode compare or " if mode == "score" else ""
        hint = f" (lower --min-margin, or judge with {other}a stronger model)"
    return f"prompts without a pair: {reasons}{hint}"


def _report(
    stats: PairsStats, options: PairsOptions, runner: Runner | None, from_input: bool
) -> str:
    s = stats
    lines = [
        f"judge: {plural(s.prompts, 'prompt')}, {plural(s.candidates, 'candidate')} ({s.judged} "
        f"judged, {s.failed} not judged, {plural(s.duplicates, 'duplicate text')}) -> pairs: "
        f"{s.pairs} "
        f"({options.strategy}, --min-margin {options.min_margin:g})"
    ]
    if s.prompts_without_pair and s.pairs:  # with no pair at all, "no pair survived" said why
        lines.append(f"judge: {_why(s, options.mode)}")
    if options.mode == "compare":
        lines.append(
            f"judge: {plural(s.comparisons, 'comparison')} in both orders ({s.comparisons_failed} "
            f"not judged); ties {s.ties}; position bias: {plural(s.flips, 'verdict')} flipped "
            "with the order "
            f"({_pct(s.flip_rate)}), the first-shown response won {_pct(s.first_position_rate)} "
            "of orderings"
        )
    if s.errors:
        top = sorted(s.errors.items(), key=lambda kv: -kv[1])[:3]
        lines.append("judge: not judged because: " + "; ".join(f"{e} ({n}x)" for e, n in top))
    if runner is not None:
        r = runner.stats
        spent = r.spent
        lines.append(
            f"judge: {plural(r.calls, 'call')}, {r.cached_calls} from cache; "
            f"{human_tokens(spent.input_tokens)} in / {human_tokens(spent.output_tokens)} out "
            f"tokens; {dollars(spent.cost_usd)}; {r.elapsed:.1f} s"
            + (
                f"; {retries(r.retries)}, {plural(r.reasks, 're-ask')}"
                if r.retries or r.reasks
                else ""
            )
        )
    elif from_input:
        lines.append("judge: 0 calls (the scores came from INPUT)")
    return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"
