"""Options shared by the judging commands, the progress display and the run summary."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from judge.api import DEFAULT_MODEL, Settings
from judge.constitution import Constitution
from judge.engine.plan import Plan
from judge.engine.runner import Runner, RunnerConfig, RunStats
from judge.io import FieldMap, count_rows, iter_candidates
from judge.judging.comparison import CompareOptions
from judge.judging.scoring import DEFAULT_MAX_CHARS, ScoreOptions, Scorer

F = TypeVar("F", bound=Callable[..., Any])


def _options(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


model_options = _options(
    click.option(
        "-m",
        "--model",
        envvar="JUDGE_MODEL",
        default=DEFAULT_MODEL,
        show_default=True,
        help="Judge model as PROVIDER/NAME: openai/gpt-4o-mini, anthropic/claude-sonnet-4-5, "
        "openai/NAME with --base-url for vLLM, Ollama or llama.cpp, local/smollm2 (embedded).",
    ),
    click.option(
        "--base-url",
        envvar="JUDGE_BASE_URL",
        help="URL of an OpenAI-compatible server (vLLM, Ollama, llama.cpp, Groq, Together).",
    ),
    click.option(
        "--concurrency",
        envvar="JUDGE_CONCURRENCY",
        type=click.IntRange(1, 4096),
        default=8,
        show_default=True,
        help="Model calls in flight at once.",
    ),
    click.option(
        "--rpm",
        envvar="JUDGE_RPM",
        type=click.FloatRange(min=0, min_open=True),
        help="At most this many requests per minute.",
    ),
    click.option(
        "--tpm",
        envvar="JUDGE_TPM",
        type=click.FloatRange(min=0, min_open=True),
        help="At most this many tokens per minute (estimated before each call).",
    ),
    click.option(
        "--max-retries",
        envvar="JUDGE_MAX_RETRIES",
        type=click.IntRange(0, 100),
        default=8,
        show_default=True,
        help="Retries of a call that failed for a passing reason (429, 5xx, timeout, reset).",
    ),
    click.option(
        "--timeout",
        envvar="JUDGE_TIMEOUT",
        type=click.FloatRange(min=0, min_open=True),
        default=120.0,
        show_default=True,
        help="Seconds before a model call times out (then it is retried).",
    ),
    click.option(
        "--cache",
        "cache_path",
        envvar="JUDGE_CACHE",
        type=click.Path(dir_okay=False),
        help="Cache file (SQLite). Default: ~/.cache/judge/cache.sqlite.",
    ),
    click.option("--no-cache", is_flag=True, help="Neither read nor write the cache."),
    click.option(
        "--max-cost",
        envvar="JUDGE_MAX_COST",
        type=click.FloatRange(min=0),
        help="Stop making calls before this many US dollars would be spent.",
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
        help="Count calls, tokens and dollars; call nothing.",
    ),
    click.option("-q", "--quiet", is_flag=True, help="No progress bar (the summary stays)."),
)

field_options = _options(
    click.option(
        "--prompt-field", default="prompt", show_default=True, help="Input field of the prompt."
    ),
    click.option(
        "--response-field",
        default="response",
        show_default=True,
        help="Input field of the response.",
    ),
    click.option(
        "--responses-field",
        default="responses",
        show_default=True,
        help="Input field of a list of responses (one output row each).",
    ),
    click.option(
        "--text-field",
        default="text",
        show_default=True,
        help="Input field of a document judged without a prompt.",
    ),
)


constitution_option = click.option(
    "-c",
    "--constitution",
    "constitution_path",
    required=True,
    envvar="JUDGE_CONSTITUTION",
    help="Constitution file (check one with `judge constitution check`).",
)

score_options = _options(
    click.option(
        "--per-principle",
        is_flag=True,
        help="One call per principle instead of one per candidate (more accurate, costlier).",
    ),
    click.option(
        "--max-chars",
        type=click.IntRange(100),
        default=DEFAULT_MAX_CHARS,
        show_default=True,
        help="Longer texts are cut to this many characters (the row says so).",
    ),
    click.option("--no-logprobs", is_flag=True, help="Do not ask for token log-probabilities."),
)


def score_options_from(kw: dict[str, Any]) -> ScoreOptions:
    """ScoreOptions from the shared scoring options (compare options read them too)."""
    return ScoreOptions(
        per_principle=kw["per_principle"],
        max_chars=kw["max_chars"],
        logprobs=not kw["no_logprobs"],
    )


def compare_options_from(kw: dict[str, Any]) -> CompareOptions:
    """CompareOptions from --principles, --seed and the shared scoring options."""
    return CompareOptions(
        principles=kw["principles"],
        seed=kw["seed"],
        logprobs=not kw["no_logprobs"],
        max_chars=kw["max_chars"],
    )


def settings_from(kw: dict[str, Any]) -> Settings:
    """Build Settings from the shared options (removing them from kw)."""
    return Settings(
        model=kw.pop("model"),
        base_url=kw.pop("base_url"),
        cache=kw.pop("cache_path"),
        use_cache=not kw.pop("no_cache"),
        prices=kw.pop("prices"),
        timeout=kw.pop("timeout"),
        runner=RunnerConfig(
            concurrency=kw.pop("concurrency"),
            requests_per_minute=kw.pop("rpm"),
            tokens_per_minute=kw.pop("tpm"),
            max_retries=kw.pop("max_retries"),
            max_cost=kw.pop("max_cost"),
        ),
    )


def fields_from(kw: dict[str, Any]) -> FieldMap:
    return FieldMap(
        prompt=kw.pop("prompt_field"),
        response=kw.pop("response_field"),
        responses=kw.pop("responses_field"),
        text=kw.pop("text_field"),
    )


def human_tokens(n: float) -> str:
    if n >= 1e6:
        return f"{n / 1e6:.2f}M"
    if n >= 1e4:
        return f"{n / 1e3:.0f}k"
    return f"{n:.0f}"


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """`1 candidate`, `2 candidates` (`nouns` for irregular plurals: `retry`, `retries`)."""
    return f"{n} {noun if n == 1 else nouns or noun + 's'}"


def dollars(x: float | None) -> str:
    if x is None:
        return "$? (price unknown; give one with --prices)"
    return f"${x:.4f}" if x < 1 else f"${x:,.2f}"


class Progress:
    """A tqdm bar on stderr, shown only on a terminal and without --quiet."""

    def __init__(self, quiet: bool, unit: str = "item") -> None:
        self.enabled = not quiet and sys.stderr.isatty()
        self.unit = unit
        self.bar: Any = None

    def __call__(self, stats: RunStats) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=stats.total, unit=self.unit, file=sys.stderr, dynamic_ncols=True)
        self.bar.n = stats.done
        spent = stats.spent
        self.bar.set_postfix_str(
            f"{human_tokens(spent.total_tokens)} tok, {dollars(spent.cost_usd)}"
            f", {stats.failed} failed"
            + (f", {stats.cached_calls} cached" if stats.cached_calls else "")
            + (
                f", rate-limited: {stats.in_flight_limit} in flight"
                if stats.in_flight_limit is not None
                else ""
            ),
            refresh=False,
        )
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def retries(n: int) -> str:
    return plural(n, "retry", "retries")


def summary(verb: str, stats: RunStats, noun: str = "candidate") -> str:
    spent = stats.spent
    judged = stats.done - stats.failed
    parts = [
        f"judge: {verb} {plural(stats.done, noun)} ({judged} judged, {stats.failed} not judged)",
        f"in {stats.elapsed:.1f} s ({stats.rate:.1f}/s)",
        f"{plural(stats.calls, 'call')}, {stats.cached_calls} from cache",
        f"{human_tokens(spent.input_tokens)} in / {human_tokens(spent.output_tokens)} out tokens",
        dollars(spent.cost_usd),
    ]
    if stats.retries or stats.reasks:
        parts.append(f"{retries(stats.retries)}, {plural(stats.reasks, 're-ask')}")
    if stats.rate_limits:
        lowest = stats.lowest_in_flight_limit
        parts.append(
            plural(stats.rate_limits, "rate-limited answer")
            + (f", calls in flight lowered to {lowest} at the least" if lowest else "")
            + " (--rpm/--tpm at the provider's limits avoid them)"
        )
    return "; ".join(parts)


def plan_text(
    model: str, what: str, plan: Plan, *, calls_note: str = "", input_note: str = ""
) -> str:
    """The --dry-run line every judging command prints."""
    todo = plan.calls - plan.cached
    return (
        f"judge: dry run for {model}: {what} -> {plural(plan.calls, 'call')}{calls_note} "
        f"({plan.cached} already cached, {todo} to make); "
        f"~{human_tokens(plan.input_tokens)} input tokens "
        f"(estimated at 4 characters a token{input_note}), "
        f"at most {human_tokens(plan.max_output_tokens)} output tokens; "
        f"input {dollars(plan.input_cost)}, at most {dollars(plan.max_cost)} in all"
    )


def plan_scoring(
    input_path: str,
    fields: FieldMap,
    constitution: Constitution,
    options: ScoreOptions,
    runner: Runner,
) -> str:
    """--dry-run of scoring every candidate of INPUT: the line to print."""
    plan = Plan()
    scorer = Scorer(constitution, options)
    n = 0
    for cand in iter_candidates(input_path, fields):
        n += 1
        if not cand.note:
            for request in scorer.requests(cand):
                plan.add(runner, request)
    return plan_text(runner.backend.name, plural(n, "candidate"), plan)


def candidate_total(path: str, fields: FieldMap) -> int | None:
    """Candidates to judge, for the progress bar: rows, unless rows hold lists of responses."""
    rows = count_rows(path)
    if rows is None:
        return None
    first = next(iter_candidates(path, fields), None)
    return rows if first is None or first.response_index is None else None
