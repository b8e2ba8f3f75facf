"""The `judge pairs` pipeline: judge each prompt's candidates, rank them, select pairs.

Each group (judge.prompt_groups: a prompt with its candidate responses) is one unit of work for
the runner, so groups are judged concurrently and written in input order.

Judging a group: identical texts (after stripping white space) are judged once; candidates with an
empty response or no verdict are left out. Then, by mode:
- score: each candidate is scored under the constitution (or its `score` field is used, when the
  input already has one), and the candidates are ranked by score;
- compare: candidates are compared in pairs, in both orders (judge.compare), either every pair or
  the pairs a judge-driven merge sort asks for, and ranked by Bradley-Terry strengths.
Pairs are then selected (judge.pairs) and turned into rows.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from judge.backends.base import Request
from judge.calibration import Calibration
from judge.cascade.run import CascadeComparer, CascadeRun, CascadeScorer
from judge.constitution import Constitution
from judge.engine.runner import Runner
from judge.errors import ConfigError, InputError
from judge.io import describe
from judge.judging.comparison import CompareOptions, Comparer
from judge.judging.grouped import make_scorer
from judge.judging.scoring import ScoreOptions
from judge.judging.verifiers import with_verifiers
from judge.panel.judges import PanelComparer, PanelScorer
from judge.panel.panel import Panel
from judge.records import Candidate, Comparison, Usage
from judge.tasks.pairs import rows as given
from judge.tasks.pairs.calibrated import calibrated, check_calibration
from judge.tasks.pairs.distinct import Distinct, distinct, not_judged
from judge.tasks.pairs.groups import Group, prompt_key
from judge.tasks.pairs.ranking import (
    PairOutcome,
    all_pairs,
    bradley_terry,
    merge_sort,
    merge_sort_worst_case,
    sigmoid,
)
from judge.tasks.pairs.results import GroupResult
from judge.tasks.pairs.rows import SEPARATOR, Provenance, decided, pair_row, scored_panel
from judge.tasks.pairs.selection import Allowed, Ranked, Selection, select

MODES = ("score", "compare")
COMPARISONS = ("all", "adaptive")


@dataclass(frozen=True)
class PairsOptions:
    mode: str = "score"  # "score" | "compare"
    comparisons: str = "all"  # compare mode: "all" pairs, or "adaptive" (a judge-driven sort)
    strategy: str = "best-worst"
    min_margin: float = 0.1
    seed: int = 0
    conversational: bool = True  # TRL's conversational form; else the standard (string) one
    separator: str = SEPARATOR  # standard form: ends the prompt, so prompt + chosen reads well
    calibration: str | None = None  # recorded in the rows and the card when one was applied


# --------------------------------------------------------------------------- the pipeline


class PairMaker:
    """Turns groups into preference rows through a runner (or from scores already in the input)."""

    def __init__(
        self,
        constitution: Constitution,
        options: PairsOptions | None = None,
        *,
        score_options: ScoreOptions | None = None,
        compare_options: CompareOptions | None = None,
        model: str = "",
        calibration: Calibration | None = None,
        panel: Panel | None = None,
    ) -> None:
        self.constitution = constitution
        self.options = options or PairsOptions()
        self.calibration = calibration
        if calibration is not None:
            check_calibration(calibration, self.options.mode)
        if self.options.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.options.mode!r}")
        if self.options.comparisons not in COMPARISONS:
            raise ValueError(f"comparisons must be one of {COMPARISONS}")
        self.panel = panel
        self.scorer = with_verifiers(constitution, lambda c: make_scorer(c, score_options))
        self.comparer = Comparer(constitution, compare_options)
        grouped = score_options is not None and score_options.group
        if grouped and (self.options.mode != "score" or panel is not None):
            raise ConfigError(
                "grouped scoring ({opt:group}) is for {opt:mode} score with one judge: drop "
                "{opt:group}, "
                "or use {opt:mode} score and one -m"
            )
        if panel is not None:  # every member judges; the verdicts aggregate
            self.scorer = with_verifiers(
                constitution, lambda c: PanelScorer(c, score_options, panel)
            )
            self.comparer = PanelComparer(constitution, compare_options, panel)
        self.model = panel.name if panel is not None else model
        self.cascade: CascadeRun | None = None

    def use_cascade(self, run: CascadeRun) -> None:
        """--cascade: every verdict (score mode) or comparison (compare mode) from the first
        confident judge; the rows say which judge decided and how sure it was."""
        if self.scorer.options.group:
            raise ConfigError(
                "grouped scoring ({opt:group}) does not run with a cascade yet: drop one of them"
            )
        self.cascade = run
        options = self.scorer.options
        self.scorer = with_verifiers(self.constitution, lambda c: CascadeScorer(c, options, run))
        self.comparer = CascadeComparer(self.constitution, self.comparer.options, run)
        self.model = run.name

    def provenance(self, model: str | None = None) -> Provenance:
        c = self.constitution
        return Provenance(
            model=model or self.model,
            constitution=c.name,
            sha256=c.sha256,
            mode=self.options.mode,
            calibration=self.options.calibration,
        )

    # -- which candidates are judged (judge.tasks.pairs.distinct) --------------------------

    def plan(self, groups: Iterable[Group]) -> Iterator[Group]:
        """The prompts, each once its candidates' calls are planned (--group: the scorer forms
        the calls as the candidates stream past; with --mix-prompts a call spans prompts, so a
        prompt waits until the call of its last candidate is formed). In input order."""
        if self.options.mode != "score" or not self.scorer.options.group:
            yield from groups
            return
        waiting: deque[list[Any]] = deque()  # [prompt, its candidates not yet planned]

        def candidates() -> Iterator[Candidate]:
            for group in groups:
                todo = distinct(group)[0]
                waiting.append([group, len(todo)])
                yield from (c for _, c in todo)

        def ready() -> Iterator[Group]:
            while waiting and waiting[0][1] == 0:
                yield waiting.popleft()[0]

        for _ in self.scorer.plan(candidates()):  # in input order, each once its call is formed
            yield from ready()
            waiting[0][1] -= 1
            yield from ready()
        yield from ready()

    def requests(self, group: Group) -> list[Request]:
        """The model calls a group needs (adaptive: the worst case of the sort), for --dry-run."""
        todo, _, _ = distinct(group)
        if self.options.mode == "score":
            return [r for _, c in todo for r in self.scorer.requests(c)]
        pairs = all_pairs(list(range(len(todo))))
        if self.options.comparisons == "adaptive":
            pairs = pairs[: merge_sort_worst_case(len(todo))]
        out: list[Request] = []
        for i, j in pairs:
            a, b = todo[i][1].response, todo[j][1].response
            out += self.comparer.requests(group.asked, a, b, key=_pair_key(group.prompt, a, b))
        return out

    # -- judging --------------------------------------------------------------------------

    async def judge(self, runner: Runner, group: Group) -> GroupResult:
        todo, empty, dupes = distinct(group)
        if self.options.mode == "score":
            return await self._by_score(runner, group, Distinct(todo, empty, dupes))
        return await self._by_comparison(runner, group, Distinct(todo, empty, dupes))

    def from_scores(self, group: Group, path: str) -> GroupResult:
        """Use the `score` (and `scores`) fields already in the input: no model call."""
        todo, empty, dupes = distinct(group)
        ranked: list[Ranked] = []
        failed = empty
        unscored: list[str] = []
        info: dict[str, Any] = {}
        for index, cand in todo:
            where = describe(path, cand.row_index)
            if "score" not in cand.row:
                raise InputError(
                    "no 'score' field, but the first row had one; give every row a score, or "
                    "add {opt:rescore} to judge them all",
                    where,
                )
            score = given.number_of(cand.row["score"])
            if score is None:
                failed += 1
                unscored.append(_UNSCORED)
                continue
            if not isinstance(score, float) or not 0 <= score <= 1:
                raise InputError(
                    f"'score' must be a number in [0, 1] or null, got {cand.row['score']!r} "
                    "(add {opt:rescore} to judge the responses instead)",
                    where,
                )
            ranked.append(Ranked(index, cand.response, score, given.per_principle_of(cand.row)))
            if not info:
                info = given.object_of(cand.row.get("judge")) or {}
        provenance = self.input_provenance(info)
        notes = not_judged(group) + unscored
        return self._finish(group, ranked, provenance, failed=failed, dupes=dupes, errors=notes)

    def input_provenance(self, info: dict[str, Any]) -> Provenance:
        """Who made the scores of an already-scored input: its `judge` field, where it has one."""
        base = self.provenance()
        model = info.get("model") if isinstance(info.get("model"), str) else None
        c = info.get("constitution")
        name = c.get("name") if isinstance(c, dict) else None
        sha = c.get("sha256") if isinstance(c, dict) else None
        return Provenance(
            model=model or self.model or "unknown",
            constitution=name if isinstance(name, str) else base.constitution,
            sha256=sha if isinstance(sha, str) else base.sha256,
            mode=base.mode,
            calibration=base.calibration,
        )

    async def _by_score(self, runner: Runner, group: Group, d: Distinct) -> GroupResult:
        todo = d[0]
        verdicts = await asyncio.gather(*(self.scorer.score(runner, c) for _, c in todo))
        ranked: list[Ranked] = []
        errors: list[str] = []
        for (index, cand), v in zip(todo, verdicts, strict=True):
            if v.score is None:
                errors.append(v.error or "not judged")
                continue
            ranked.append(
                Ranked(
                    index,
                    cand.response,
                    v.score,
                    dict(v.scores),
                    v.panel,
                    v.confidence,
                    v.decided_by,
                )
            )
        usage = sum((v.usage for v in verdicts), Usage())
        return self._finish_judged(
            group,
            ranked,
            d,
            usage=usage,
            errors=errors,
            judge_of=scored_panel if self.panel is not None else decided if self.cascade else None,
        )

    async def _by_comparison(self, runner: Runner, group: Group, d: Distinct) -> GroupResult:
        todo = d[0]
        texts = [c.response for _, c in todo]
        done: dict[tuple[int, int], asyncio.Future[Comparison]] = {}

        async def compare(i: int, j: int) -> Comparison:
            lo, hi = min(i, j), max(i, j)
            if (lo, hi) not in done:  # a pair is judged once, whoever asks
                done[(lo, hi)] = asyncio.ensure_future(
                    self.comparer.compare(
                        runner,
                        group.asked,
                        texts[lo],
                        texts[hi],
                        key=_pair_key(group.prompt, texts[lo], texts[hi]),
                        index_a=lo,
                        index_b=hi,
                    )
                )
            return await done[(lo, hi)]

        async def better(i: int, j: int) -> float:
            c = await compare(i, j)
            if c.p_a is None:
                return 0.5  # unjudged: no evidence either way
            return c.p_a if c.a == i else 1.0 - c.p_a

        local = list(range(len(todo)))
        if self.options.comparisons == "adaptive":
            await merge_sort(local, better)
        else:
            await asyncio.gather(*(compare(i, j) for i, j in all_pairs(local)))
        comparisons = [f.result() for f in done.values()]
        outcomes = [PairOutcome(c.a, c.b, c.p_a) for c in comparisons if c.p_a is not None]
        # A lone candidate is not a failure; one whose every comparison failed is.
        seen = {k for o in outcomes for k in (o.i, o.j)} if len(local) > 1 else set(local)
        ranking = bradley_terry(sorted(seen), outcomes)
        winners = {(c.a, c.b): c.winner for c in comparisons if c.p_a is not None}
        by_index = {todo[k][0]: k for k in local}

        def allowed(chosen: int, rejected: int) -> bool:
            # A pair the judge compared directly is kept only if it preferred the chosen one.
            i, j = by_index[chosen], by_index[rejected]
            w = winners.get((min(i, j), max(i, j)))
            return w is None or w == ("a" if i < j else "b")

        direct = {(c.a, c.b): c.p_a for c in comparisons if c.p_a is not None}

        def p_chosen(chosen: int, rejected: int) -> float:
            # The judge's own P(chosen better) where it compared the two, else Bradley-Terry's.
            i, j = by_index[chosen], by_index[rejected]
            p = direct.get((min(i, j), max(i, j)))
            if p is not None:
                return p if i < j else 1.0 - p
            return sigmoid(ranking.strengths[i] - ranking.strengths[j])

        by_pair = {(c.a, c.b): c for c in comparisons}

        def judge_of(chosen: Ranked, rejected: Ranked) -> dict[str, Any] | None:
            # A panel's members on the pair, where they compared it directly.
            i, j = by_index[chosen.index], by_index[rejected.index]
            c = by_pair.get((min(i, j), max(i, j)))
            if c is None:
                return None
            if self.panel is not None:
                return {"panel": c.panel, "confidence": c.confidence}
            return {"confidence": c.confidence, "decided_by": c.decided_by}

        ranked = [Ranked(todo[k][0], texts[k], ranking.score(k)) for k in sorted(seen)]
        errors = [c.error for c in comparisons if c.error]
        # Rationales and per-comparison records are kept with the original (todo) indices.
        labelled = [
            c.model_copy(update={"a": todo[c.a][0], "b": todo[c.b][0]}) for c in comparisons
        ]
        return self._finish_judged(
            group,
            ranked,
            d,
            usage=sum((c.usage for c in comparisons), Usage()),
            comparisons=labelled,
            allowed=allowed,
            p_chosen=p_chosen,
            errors=errors,
            judge_of=judge_of if self.panel is not None or self.cascade is not None else None,
        )

    def _finish_judged(
        self, group: Group, ranked: list[Ranked], d: Distinct, **rest: Any
    ) -> GroupResult:
        """`_finish` for a group this run judged: the distinct candidates not ranked failed."""
        todo, empty, dupes = d
        failed = empty + len(todo) - len(ranked)
        rest["errors"] = not_judged(group) + (rest.get("errors") or [])
        return self._finish(group, ranked, self.provenance(), failed=failed, dupes=dupes, **rest)

    def _finish(
        self,
        group: Group,
        ranked: list[Ranked],
        provenance: Provenance,
        *,
        failed: int,
        dupes: int,
        usage: Usage | None = None,
        comparisons: list[Comparison] | None = None,
        allowed: Allowed | None = None,
        p_chosen: Callable[[int, int], float] | None = None,
        errors: list[str] | None = None,
        judge_of: Callable[[Ranked, Ranked], dict[str, Any] | None] | None = None,
    ) -> GroupResult:
        o = self.options
        rng = random.Random(f"{o.seed}:{prompt_key(group.prompt)}")
        selection: Selection = select(
            ranked, o.strategy, min_margin=o.min_margin, rng=rng, allowed=allowed
        )
        rows = [
            pair_row(
                group.prompt_value,
                chosen,
                rejected,
                provenance,
                conversational=o.conversational,
                separator=o.separator,
                prompt_id=group.prompt_id,
                p_chosen=None if p_chosen is None else p_chosen(chosen.index, rejected.index),
                judge=None if judge_of is None else judge_of(chosen, rejected),
            )
            for chosen, rejected in selection.pairs
        ]
        if self.calibration is not None:
            for row in rows:
                row.update(calibrated(self.calibration, row))
        return GroupResult(
            group=group,
            rows=rows,
            candidates=len(group.candidates),
            judged=len(ranked),
            failed=failed,
            duplicates=dupes,
            comparisons=comparisons or [],
            usage=usage or Usage(),
            reason=selection.reason,
            errors=errors or [],
            ranked=ranked,
        )


def _pair_key(prompt: str, a: str, b: str) -> str:
    """Seeds the principle drawn for a pair: the same texts always get the same principle."""
    lo, hi = sorted((a, b))
    return hashlib.sha256("\0".join((prompt, lo, hi)).encode("utf-8", "surrogatepass")).hexdigest()[
        :16
    ]


_UNSCORED = "its score in INPUT is null (the run that scored it left it unjudged)"
