"""Options shared by the judging commands, the progress display and the run summary."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click

from judge.cli.field_options import field_options as field_options
from judge.cli.help import Sectioned
from judge.cli.progress import Progress
from judge.engine.batcher import FALLBACKS
from judge.engine.settings import DEFAULT_MODEL
from judge.errors import as_flag, spelled
from judge.io import open_writer
from judge.judging.scoring import DEFAULT_MAX_CHARS, RATIONALES
from judge.tasks.driver import Report, Task, drive, plan_only, run_sync
from judge.tasks.summary import run_summary

F = TypeVar("F", bound=Callable[..., Any])


def stack(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


def input_command(name: str | None = None) -> Callable[[Callable[..., Any]], click.Command]:
    """A command that reads INPUT (its first argument, input_path), its --help in sections."""

    def make(func: Callable[..., Any]) -> click.Command:
        command = click.command(name, cls=Sectioned)
        return command(click.argument("input_path", metavar="INPUT")(func))

    return make


def number(
    flag: str,
    kind: click.ParamType,
    default: float | None = None,
    help: str | None = None,
    envvar: str | None = None,
) -> Callable[[F], F]:
    """A numeric option within a range; its default, when it has one, is shown in --help."""
    return click.option(
        flag, type=kind, default=default, show_default=default is not None, help=help, envvar=envvar
    )


def setting(flag: str, kind: click.ParamType, default: float | None, help: str) -> Callable[[F], F]:
    """A number() a run's environment may set too: --max-cost FLOAT or JUDGE_MAX_COST."""
    return number(flag, kind, default, help, "JUDGE_" + flag[2:].replace("-", "_").upper())


model_options = stack(
    click.option(
        "-m",
        "--model",
        envvar="JUDGE_MODEL",
        multiple=True,
        default=[DEFAULT_MODEL],
        show_default=True,
        help="Judge model as PROVIDER/NAME: openai/gpt-4o-mini, anthropic/claude-sonnet-4-5, "
        "openai/NAME with --base-url for vLLM, Ollama or llama.cpp, local/smollm2 (embedded). "
        "Repeat it for a panel of judges (score, filter, pairs, calibrate).",
    ),
    click.option(
        "--base-url",
        envvar="JUDGE_BASE_URL",
        help="URL of an OpenAI-compatible server (vLLM, Ollama, llama.cpp, Groq, Together).",
    ),
    setting("--concurrency", click.IntRange(1, 4096), 8, "Model calls in flight at once."),
    setting(
        "--rpm",
        click.FloatRange(min=0, min_open=True),
        None,
        "At most this many requests per minute.",
    ),
    setting(
        "--tpm",
        click.FloatRange(min=0, min_open=True),
        None,
        "At most this many tokens per minute (estimated before each call).",
    ),
    setting(
        "--max-retries",
        click.IntRange(0, 100),
        8,
        "Retries of a call that failed for a passing reason (429, 5xx, timeout, reset).",
    ),
    setting(
        "--timeout",
        click.FloatRange(min=0, min_open=True),
        120.0,
        "Seconds before a model call times out (then it is retried).",
    ),
    click.option(
        "--cache",
        "cache_path",
        envvar="JUDGE_CACHE",
        type=click.Path(dir_okay=False),
        help="Cache file (SQLite). Default: ~/.cache/judge/cache.sqlite.",
    ),
    click.option("--no-cache", is_flag=True, help="Neither read nor write the cache."),
    setting(
        "--max-cost",
        click.FloatRange(min=0),
        None,
        "Stop making calls before this many US dollars would be spent.",
    ),
    click.option(
        "--prices",
        envvar="JUDGE_PRICES",
        type=click.Path(exists=True, dir_okay=False),
        help="JSON file of prices per million tokens, added to the built-in table.",
    ),
    click.option(
        "--dry-run",
        is_flag=True,
        help="Count calls, tokens and dollars, and estimate the time; call nothing.",
    ),
    setting(
        "--fail-under",
        click.FloatRange(0, 1),
        None,
        "Exit 1 when the fraction of items judged is below this (a run that judged "
        "nothing always exits 1).",
    ),
    click.option("-q", "--quiet", is_flag=True, help="No progress bar (the summary stays)."),
)

batch_options = stack(
    click.option(
        "--batch",
        is_flag=True,
        envvar="JUDGE_BATCH",
        help="Send the calls through the provider's batch API (OpenAI, Anthropic): half price, "
        "answers within hours. One job a round; a killed run re-attaches to its jobs.",
    ),
    click.option(
        "--batch-fallback",
        type=click.Choice(FALLBACKS),
        default="none",
        show_default=True,
        envvar="JUDGE_BATCH_FALLBACK",
        help="What becomes of batch lines that failed after 2 resubmissions: none (unjudged, "
        "exit 1) or realtime (sent as ordinary calls, at the full price).",
    ),
    setting(
        "--batch-size",
        click.IntRange(1),
        None,
        "At most this many requests a job. Default: the provider's limit (OpenAI 50,000, "
        "Anthropic 100,000; 200 MB / 256 MB).",
    ),
    setting(
        "--batch-poll",
        click.FloatRange(min=0, min_open=True),
        1.0,
        "Seconds before the first check of a job's state; it grows 1.5x a check up to "
        "--batch-poll-max.",
    ),
    setting(
        "--batch-poll-max",
        click.FloatRange(min=0, min_open=True),
        60.0,
        "Longest wait between two checks of a job's state.",
    ),
)


def choice(flag: str, choices: Any, default: str, help: str) -> Callable[[F], F]:
    """An option that takes one of `choices` (default shown in --help)."""
    return click.option(
        flag, type=click.Choice(list(choices)), default=default, show_default=True, help=help
    )


def seed_option(help: str) -> Callable[[F], F]:
    return click.option("--seed", type=int, default=0, show_default=True, help=help)


def id_field_option(help: str) -> Callable[[F], F]:
    return click.option("--id-field", default="id", show_default=True, help=help)


ROWS_OUTPUT = (
    "Output file (.jsonl, .parquet, .csv) or folder (dataset). Default: JSON Lines on stdout."
)


def output_option(help: str = ROWS_OUTPUT) -> Callable[[F], F]:
    """-o/--output: where the rows go (by extension; stdout when absent)."""
    return click.option("-o", "--output", help=help)


def calibration_options(help: str) -> Callable[[F], F]:
    """--calibration FILE (env JUDGE_CALIBRATION) and --force to apply one fitted under another
    constitution."""
    return stack(
        click.option(
            "--calibration",
            "calibration_path",
            type=click.Path(dir_okay=False),
            envvar="JUDGE_CALIBRATION",
            help=help,
        ),
        force_option,
    )


def rule_options(keep: str) -> Callable[[F], F]:
    """--min-score, --keep-top and --target-precision: which rows a judge's scores keep (`keep`
    says what keeping means: "Keep" for judge filter, "Label keep" for judge distill)."""
    return stack(
        number(
            "--min-score",
            click.FloatRange(0, 1),
            help=f"{keep} rows whose score is >= this (a score equal to it counts).",
        ),
        number(
            "--keep-top",
            click.FloatRange(0, 1, min_open=True),
            help=f"{keep} this fraction of the judged rows, best first: floor(F x judged); "
            "equal scores at the cut go in input order.",
        ),
        number(
            "--target-precision",
            click.FloatRange(0, 1, min_open=True),
            help=f"{keep} rows above the lowest score whose precision on the calibration's "
            "human labels is >= this; needs --calibration.",
        ),
    )


force_option = click.option(
    "--force",
    is_flag=True,
    help="Apply --calibration even when it was fitted under another constitution (its sha256 "
    "differs).",
)


def constitution_flag(
    help: str = "Constitution file (check one with `judge constitution check`).",
    *,
    required: bool = True,
    type: click.ParamType | None = None,
) -> Callable[[F], F]:
    """-c/--constitution FILE (env JUDGE_CONSTITUTION), required unless `required` is False."""
    return click.option(
        "-c",
        "--constitution",
        "constitution_path",
        required=required,
        envvar="JUDGE_CONSTITUTION",
        type=type,
        help=help,
    )


constitution_option = constitution_flag()

score_options = stack(
    click.option(
        "--per-principle",
        is_flag=True,
        help="One call per principle instead of one per candidate (more accurate, costlier).",
    ),
    number(
        "--max-chars",
        click.IntRange(100),
        default=DEFAULT_MAX_CHARS,
        help="Longer texts are cut to this many characters (the row says so).",
    ),
    click.option("--no-logprobs", is_flag=True, help="Do not ask for token log-probabilities."),
    click.option(
        "--rationale",
        type=click.Choice(list(RATIONALES)),
        default=None,
        envvar="JUDGE_RATIONALE",
        help="What the judge writes beside the scores: full (one or two sentences a principle), "
        "short (at most ten words a principle), brief (one rationale of at most ten words a "
        "candidate, in rationales.overall) or none (scores only). Output tokens are most of a "
        "verdict's price: brief and none are the cheapest. Default: full; short on an "
        "in-process model (local/...), whose longer rationales ran past the token cap.",
    ),
)


def group_options(seed: bool) -> Callable[[F], F]:
    """--group and --group-size (judge.judging.grouped); `seed`: add --seed too, for commands
    that have none of their own."""
    options = [
        click.option(
            "--group",
            is_flag=True,
            help="Judge the responses to one prompt (consecutive rows or a row's list; "
            "consecutive documents) in one call, in a seeded shuffled order: the constitution "
            "is sent once a group. Rows record judge.group (id, size, position).",
        ),
        number(
            "--group-size",
            click.IntRange(1, 64),
            8,
            "With --group: at most this many candidates a call (longer runs are split).",
        ),
        click.option(
            "--mix-prompts",
            is_flag=True,
            help="With --group: fill each call with up to --group-size candidates whatever "
            "their prompts (each shown after its own prompt), so the constitution is shared "
            "even when a prompt has one or two responses; the cheapest calls.",
        ),
    ]
    if seed:
        options.append(seed_option("Seed of --group's shuffled order."))
    return stack(*options)


def run_task(
    task: Task[Any, Any],
    outputs: Mapping[str, str | None],
    *,
    quiet: bool,
    dry_run: bool = False,
    unit: str = "item",
) -> Report:
    """Run a task through the driver as a command: progress on a terminal, the summary on
    stderr, the exit status. `outputs` maps the task's sinks to paths (None: stdout); each is
    opened before any call is made, so a bad path fails fast."""
    if dry_run:
        click.echo(spelled(run_sync(plan_only(task)), as_flag), err=True)
        raise click.exceptions.Exit(0)
    sinks = {name: open_writer(path) for name, path in outputs.items()}
    progress = Progress(quiet, unit)
    fail_under = click.get_current_context().params.get("fail_under")
    try:
        report = run_sync(drive(task, sinks, on_progress=progress, fail_under=fail_under))
    except KeyboardInterrupt:
        # Ctrl-C: what was spent so far, calls cancelled in flight included (the provider
        # bills them); the group then says how to resume and exits 130.
        progress.close()
        if task.runners:
            summary = run_summary(task.verb, task.runners[0].stats, task.noun)
            click.echo(spelled(summary, as_flag), err=True)
        raise
    finally:
        progress.close()
    for line in report.lines:
        click.echo(spelled(line, as_flag), err=True)
    return report


def exit_with(report: Report) -> None:
    if report.exit_code:
        raise click.exceptions.Exit(report.exit_code)
