"""`judge revise` as a task: critique and revise each item, judge it, and tally what it cost.

Outputs (sinks): `out`, a row per item; `pairs`, revision-vs-original preference pairs where the
revision improved; `candidates`, prompt + responses [original, revisions...] for `judge pairs`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from judge.engine.plan import plan_all
from judge.engine.prices import estimate_tokens
from judge.engine.runner import Runner
from judge.io import FieldMap, write_text_atomic
from judge.judging.revision import Revised, Reviser
from judge.records import Candidate, Usage
from judge.tasks.driver import Defaults, Sinks
from judge.tasks.pairs.rows import SEPARATOR, empty_schema, write_empty
from judge.tasks.score import OUT
from judge.tasks.summary import dollars, human_tokens, plan_text, plural

PAIRS = "pairs"  # revision-vs-original preference pairs
CANDIDATES = "candidates"  # prompt + [original, revisions...]: a `judge pairs` input


@dataclass
class Tally:
    """Counts and the efficiency figure: tokens generated per token kept, dollars per 1,000 kept.

    Generated: the output tokens of every critique and revision, and the judge's input and output
    tokens, as the servers reported them (calls answered from the cache count too: they were paid
    for in an earlier run). Kept: the tokens of the improved final revisions, estimated at
    4 characters a token (judge.pricing.estimate_tokens), as no tokenizer is at hand.
    """

    items: int = 0
    revised: int = 0  # every round done
    judged: int = 0
    improved: int = 0
    unchanged: int = 0  # final revision identical to the original
    revise_usage: Usage = field(default_factory=Usage)
    judge_usage: Usage = field(default_factory=Usage)
    kept_tokens: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def add(self, out: Revised) -> None:
        self.items += 1
        self.revised += out.final is not None
        self.judged += out.improved is not None
        self.unchanged += out.final is not None and not out.changed
        self.revise_usage = self.revise_usage + out.revise_usage
        self.judge_usage = self.judge_usage + out.judge_usage
        if out.improved and out.final is not None:
            self.improved += 1
            self.kept_tokens += estimate_tokens(out.final)
        if out.error:
            reason = re.sub(r"^round \d+ \([^)]*\): ", "", out.error)[:160]
            self.errors[reason] = self.errors.get(reason, 0) + 1

    @property
    def generated_tokens(self) -> int:
        return self.revise_usage.output_tokens + self.judge_usage.total_tokens

    @property
    def per_token_kept(self) -> float | None:
        return self.generated_tokens / self.kept_tokens if self.kept_tokens else None

    @property
    def cost(self) -> float | None:
        """Dollars of both models; unknown (None) when either has no price."""
        return (self.revise_usage + self.judge_usage).cost_usd

    @property
    def per_1000_kept(self) -> float | None:
        cost = self.cost
        return None if cost is None or not self.improved else 1000 * cost / self.improved

    def metadata(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "revised": self.revised,
            "judged": self.judged,
            "improved": self.improved,
            "unchanged": self.unchanged,
            "tokens": {
                "critique_revision_output": self.revise_usage.output_tokens,
                "judge_input": self.judge_usage.input_tokens,
                "judge_output": self.judge_usage.output_tokens,
                "generated": self.generated_tokens,
                "kept": self.kept_tokens,
            },
            "tokens_generated_per_token_kept": self.per_token_kept,
            "cost_usd": self.cost,
            "usd_per_1000_kept": self.per_1000_kept,
            "method": (
                "generated = critique and revision output tokens + judge input and output "
                "tokens (as reported by the servers, cached calls included); kept = tokens of "
                "the improved final revisions, estimated at 4 characters a token; dollars at "
                "list prices (judge/data/prices.json), null when a price is unknown"
            ),
        }


@dataclass
class ReviseTask(Defaults):
    reviser: Reviser
    runner: Runner  # writes critiques and revisions
    judge_runner: Runner  # scores the original and the revision (may be `runner` itself)
    candidates: Callable[[], Iterable[Candidate]]
    fields: FieldMap = field(default_factory=FieldMap)
    paths: dict[str, str | None] = field(default_factory=dict)  # sink -> path, for .meta.json
    id_field: str | None = "id"
    conversational: bool = True
    separator: str = SEPARATOR  # --format standard: what ends each prompt
    count: int | None = None
    noun = "items"
    verb = "revised"

    def __post_init__(self) -> None:
        self.tally = Tally()
        self.pairs_written = 0
        self.candidates_written = 0
        self.ids = False

    @property
    def runners(self) -> Sequence[Runner]:
        return (
            [self.runner] if self.judge_runner is self.runner else [self.runner, self.judge_runner]
        )

    @property
    def models(self) -> tuple[str, str]:
        return self.runner.backend.name, self.judge_runner.backend.name

    def units(self) -> Iterable[Candidate]:
        return self.candidates()

    def dry_run(self) -> str:
        plan, n = plan_all(
            self.candidates(), lambda p, c: self.reviser.plan(p, self.runner, self.judge_runner, c)
        )
        model, judge_model = self.models
        rounds = self.reviser.options.rounds
        return plan_text(
            model + ("" if judge_model == model else f", judge {judge_model}"),
            f"{plural(n, 'item')} x ({plural(rounds, 'round')} x 2 calls + 2 judge calls)",
            plan,
            input_note="; critiques and revisions not yet made are taken as long as "
            "--critique-max-tokens and as the response they revise",
        )

    async def judge(self, cand: Candidate) -> Revised:
        # Joined inside the run, so progress, the summary and --max-cost cover both models.
        self.judge_runner.join(self.runner)
        return await self.reviser.revise(self.runner, self.judge_runner, cand)

    def failed(self, out: Revised) -> bool:
        return out.improved is None

    def write(self, cand: Candidate, out: Revised, sinks: Sinks) -> None:
        model, judge_model = self.models
        self.tally.add(out)
        sinks[OUT].write(self.reviser.row(out, judge_model, model, self.fields))
        raw_id = cand.row.get(self.id_field) if self.id_field else None
        self.ids = self.ids or raw_id is not None
        if PAIRS in sinks:
            pair = self.reviser.pair(
                out,
                judge_model,
                conversational=self.conversational,
                separator=self.separator,
                prompt_id=None if raw_id is None else str(raw_id),
            )
            if pair is not None:
                sinks[PAIRS].write(pair)
                self.pairs_written += 1
        if CANDIDATES in sinks and out.rounds:
            sinks[CANDIDATES].write(candidates_row(out, self.fields))
            self.candidates_written += 1

    def finish(self, sinks: Sinks) -> list[str]:
        if PAIRS in sinks and not self.pairs_written:
            # `judge pairs` writes an empty dataset with the pairs' columns: so do we.
            sinks[PAIRS].abort()
            schema = empty_schema(
                conversational=self.conversational,
                mode="score",
                principles=[p.id for p in self.reviser.constitution.principles],
                prompt_id=self.ids,
            )
            write_empty(self.paths.get(PAIRS), schema)
        meta = self.metadata(PAIRS in sinks)
        for path in self.paths.values():
            if path and path != "-":
                write_meta(path, meta)
        pairs = self.pairs_written if PAIRS in sinks else None
        lines = [report(self.tally, self.reviser.options.min_margin, pairs)]
        if CANDIDATES in sinks and not self.candidates_written:
            lines.append(
                f"judge: --emit-candidates wrote no row to {self.paths.get(CANDIDATES)}: no item "
                "finished a round of critique and revision (the reasons are above and in each "
                "row's judge.error)"
            )
        return lines

    def metadata(self, with_pairs: bool) -> dict[str, Any]:
        model, judge_model = self.models
        c, o = self.reviser.constitution, self.reviser.options
        return {
            "command": "judge revise",
            "model": model,
            "judge_model": judge_model,
            "constitution": {"name": c.name, "sha256": c.sha256},
            "rounds": o.rounds,
            "seed": o.seed,
            "min_margin": o.min_margin,
            "pairs": self.pairs_written if with_pairs else None,
            **self.tally.metadata(),
        }


def candidates_row(out: Revised, fields: FieldMap) -> dict[str, Any]:
    """The input row with `responses` = [original, revision 1, ..., last]: a `judge pairs` input."""
    row = dict(out.candidate.row)
    row.pop(fields.response, None)
    row[fields.responses] = [out.candidate.response, *(r.revision for r in out.rounds)]
    return row


def meta_path(output: str) -> str:
    return output.rstrip("/" + os.sep) + ".meta.json"


def write_meta(output: str, meta: dict[str, Any]) -> None:
    """`OUTPUT.meta.json`: how the rows of `output` were made, and what it cost."""
    text = orjson.dumps(meta, option=orjson.OPT_INDENT_2).decode()
    write_text_atomic(meta_path(output), text + "\n")


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
