"""`judge pairs` as a task: judge each prompt group, write its pairs, then the card and the push.

The output rows go to the sink `out`; with --push-to-hub and an output that is no dataset folder,
they also go to a staged dataset folder (sink `staged`), which is what gets pushed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from judge.calibration import Calibration
from judge.engine.plan import Plan, plan_all
from judge.engine.runner import Runner
from judge.engine.stats import RunStats
from judge.io import is_folder_output, write_text_atomic
from judge.io.tempfiles import remove_work_folder, work_folder
from judge.panel import report as panel_report
from judge.tasks.driver import Defaults, Sinks
from judge.tasks.pairs.calibrated import calibration_columns
from judge.tasks.pairs.card import CardInfo, dataset_card, push_to_hub
from judge.tasks.pairs.groups import Group
from judge.tasks.pairs.pipeline import PairMaker
from judge.tasks.pairs.results import GroupResult, PairsStats
from judge.tasks.pairs.rows import empty_schema, write_empty
from judge.tasks.score import OUT
from judge.tasks.summary import Coverage, dollars, human_tokens, most_common, plan_text, plural

STAGED = "staged"  # the dataset folder pushed to the Hub when the output is no folder


@dataclass
class Hub:
    """Where and how to push the dataset (--push-to-hub)."""

    repo: str
    private: bool | None = None
    staging: str | None = None  # a work folder next to the output holding the staged dataset
    allow_partial: bool = False  # push even when the budget stopped the run part way

    def staged_path(self) -> str | None:
        return None if self.staging is None else os.path.join(self.staging, "dataset")


def staging_for(repo: str | None, output: str | None) -> Hub | None:
    """The push's settings; an output that is no dataset folder gets a staged copy to push."""
    if not repo:
        return None
    # Next to the output, so that the next run removes it if this one is killed.
    staging = None if is_folder_output(output) else work_folder(output, ".stage.tmp")
    return Hub(repo, staging=staging)


@dataclass
class PairsTask(Defaults):
    maker: PairMaker
    runner: Runner | None  # None: the scores come from INPUT, no model is called
    groups: Callable[[], Iterable[Group]]
    input_path: str
    output: str | None = None
    hub: Hub | None = None
    card_path: str | None = None
    calibration: Calibration | None = None
    count: int | None = None
    noun = "prompts"
    verb = "paired"
    stats: PairsStats = field(default_factory=PairsStats)
    _refused: str | None = None  # why the push was refused (exit 1)

    @property
    def runners(self) -> Sequence[Runner]:
        if self.maker.cascade is not None:
            return self.maker.cascade.runners
        if self.runner is not None and self.maker.panel is not None:
            return self.maker.panel.runners
        return [] if self.runner is None else [self.runner]

    def units(self) -> Iterable[Group]:
        return self.groups() if self.runner is None else self.maker.plan(self.groups())

    def dry_run(self) -> str:
        if self.runner is None:
            return "judge: dry run: INPUT already has scores: no model call"
        if self.maker.cascade is not None:
            groups = list(self.groups())
            todo = (self.maker.requests(g) for g in groups)
            return self.maker.cascade.dry_run(todo, plural(len(groups), "prompt"))
        if self.maker.panel is not None:
            return panel_report.plan(self.maker.panel, "prompt", self.groups, self.maker.requests)
        plan, n = plan_all(self.maker.plan(self.groups()), self.plan_one)
        adaptive = self.maker.options.comparisons == "adaptive"
        note = " (adaptive: the worst case of the sort)" if adaptive else ""
        return plan_text(self.runner.backend.name, plural(n, "prompt"), plan, calls_note=note)

    def plan_one(self, plan: Plan, group: Group) -> None:
        if self.runner is not None:
            for request in self.maker.requests(group):
                plan.add(self.runner, request)

    async def judge(self, group: Group) -> GroupResult:
        if self.runner is None:
            return self.maker.from_scores(group, self.input_path)
        return await self.maker.judge(self.runner, group)

    def failed(self, result: GroupResult) -> bool:
        return result.all_failed

    def write(self, group: Group, result: GroupResult, sinks: Sinks) -> None:
        self.stats.add(result)
        for row in result.rows:
            for sink in sinks.values():
                sink.write(row)

    def finish(self, sinks: Sinks) -> list[str]:
        lines: list[str] = []
        if not self.stats.pairs:
            schema = empty_schema(
                conversational=self.maker.options.conversational,
                mode=self.maker.options.mode,
                principles=[p.id for p in self.maker.constitution.principles],
                calibration=self.calibration is not None,
                extra=calibration_columns(self.calibration),
                prompt_id=self.stats.ids,
            )
            for name, sink in sinks.items():
                sink.abort()
                write_empty(self.output if name == OUT else self._staged(), schema)
            lines.append(f"judge: no pair survived, so the dataset is empty: {self._why()}")
        else:
            for sink in sinks.values():
                sink.close()  # the card and the push read the finished dataset
        lines += self._provenance_warnings()
        info = self._card_info()
        if self.output and is_folder_output(self.output):
            folder = self.output.rstrip("/" + os.sep)
            write_text_atomic(os.path.join(folder, "README.md"), dataset_card(info))
        if self.card_path:
            repo = self.hub.repo if self.hub else None
            write_text_atomic(self.card_path, dataset_card(info, repo))
        lines.append(self._report())
        if self.runner is not None and self.maker.panel is not None:
            lines += panel_report.summary_lines(self.maker.panel)
        if self.hub is not None:
            lines.append(self._push(info))
        if self.maker.cascade is not None:
            lines.append(self.maker.cascade.summary())
        return lines

    def failure(self) -> str | None:
        return self._refused

    def coverage(self, stats: RunStats) -> Coverage:
        """Candidates, not prompts: the distinct texts the run had to judge (a duplicate is
        judged once, with its first copy)."""
        s = self.stats
        what = "comparison" if self.maker.options.mode == "compare" else "candidate"
        reason = most_common(s.errors, what)
        return Coverage(s.candidates - s.duplicates, s.failed, "candidates", reason)

    # -- the rest of the finish ----------------------------------------------------------------

    def _staged(self) -> str | None:
        return None if self.hub is None else self.hub.staged_path()

    def _model(self) -> str:
        if self.maker.cascade is not None:
            return self.maker.cascade.name
        if self.runner is not None:
            panel = self.maker.panel
            return self.runner.backend.name if panel is None else panel.name
        return ", ".join(dict.fromkeys(m for m, _, _ in self.stats.judges)) or "unknown"

    def _provenance_warnings(self) -> list[str]:
        if self.runner is not None:
            return []
        c = self.maker.constitution
        return [
            f"judge: warning: INPUT was scored under constitution {name} (sha256 {sha[:12]}), "
            f"not {c.path} ({c.sha256[:12]}); the rows record the one that made the scores"
            for _, name, sha in self.stats.judges
            if sha != c.sha256
        ]

    def _card_info(self) -> CardInfo:
        r = self.runner
        return CardInfo(
            constitution=self.maker.constitution,
            model=self._model(),
            options=self.maker.options,
            stats=self.stats,
            principles=self.maker.comparer.options.principles,
            calls=r.stats.calls if r else 0,
            cached_calls=r.stats.cached_calls if r else 0,
            scores_from_input=r is None,
            calibration=self.maker.options.calibration,
            source=self.input_path,
        )

    def _push(self, info: CardInfo) -> str:
        import datasets

        hub = self.hub
        if hub is None:
            return ""
        budget_hit = self.runner is not None and self.runner.stats.budget_hit
        try:
            if budget_hit and not hub.allow_partial:
                written = f"; {self.output} is written" if self.output not in (None, "-") else ""
                self._refused = (
                    f"not pushing to {hub.repo}: the --max-cost budget stopped the run part way, "
                    "so the dataset is partial. Raise --max-cost and run again (paid verdicts "
                    f"come from the cache), or add --allow-partial to push it as it is{written}"
                )
                return "judge: nothing pushed"
            folder = hub.staged_path() or str(self.output).rstrip("/" + os.sep)
            push_to_hub(datasets.load_from_disk(folder), hub.repo, info, private=hub.private)
        finally:
            if hub.staging:
                remove_work_folder(hub.staging)
        url = f"https://huggingface.co/datasets/{hub.repo}"
        return f"judge: pushed {plural(self.stats.pairs, 'pair')} to {url}"

    def _why(self) -> str:
        s = self.stats
        if s.prompts == 0:
            return "the input has no prompts"
        reasons = ", ".join(f"{reason}: {n}" for reason, n in sorted(s.no_pair_reasons.items()))
        hint = ""
        if "tied, or closer than --min-margin" in s.no_pair_reasons:
            other = "--mode compare or " if self.maker.options.mode == "score" else ""
            hint = f" (lower --min-margin, or judge with {other}a stronger model)"
        return f"prompts without a pair: {reasons}{hint}"

    def _report(self) -> str:
        s, o = self.stats, self.maker.options
        lines = [
            f"judge: {plural(s.prompts, 'prompt')}, {plural(s.candidates, 'candidate')}: "
            f"{s.judged} judged, {s.failed} not judged, "
            f"{plural(s.duplicates, 'duplicate text')} (judged once) -> pairs: {s.pairs} "
            f"({o.strategy}, --min-margin {o.min_margin:g})"
        ]
        if s.prompts_without_pair and s.pairs:  # with no pair at all, "no pair survived" said why
            lines.append(f"judge: {self._why()}")
        if o.mode == "compare":
            lines.append(
                f"judge: {plural(s.comparisons, 'comparison')} in both orders "
                f"({s.comparisons_failed} not judged); ties {s.ties}; position bias: "
                f"{plural(s.flips, 'verdict')} flipped with the "
                f"order ({_pct(s.flip_rate)}), the first-shown response won "
                f"{_pct(s.first_position_rate)} of orderings"
            )
        if s.errors:
            # Score mode: a reason a candidate; compare mode: a reason a failed comparison.
            what = "comparison" if o.mode == "compare" else "candidate"
            top = sorted(s.errors.items(), key=lambda kv: -kv[1])
            reasons = "; ".join(f"{e} ({plural(n, what)})" for e, n in top[:3])
            more = sum(n for _, n in top[3:])
            reasons += f"; other reasons ({plural(more, what)})" if more else ""
            lines.append(f"judge: not judged because: {reasons}")
        if self.runner is None:
            lines.append("judge: 0 calls (the scores came from INPUT)")
        else:
            spent = self.runner.stats.spent
            tokens = f"{human_tokens(spent.input_tokens)} in / {human_tokens(spent.output_tokens)}"
            lines.append(f"judge: {tokens} out tokens; {dollars(spent.cost_usd)}")
        return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"
