"""Grouped scoring (--group): the candidates of one prompt judged in one call, as distilabel's
UltraFeedback does, so that the constitution is sent once a group instead of once a candidate.

A group is a run of consecutive candidates with the same prompt (a row's `responses`, or rows
that repeat a prompt), or of consecutive documents, at most `ScoreOptions.group` long (a longer
run is split). Candidates with a note (an empty response) are neither judged nor grouped. The
judge sees a group in an order shuffled by a RNG seeded with `ScoreOptions.seed` and the group's
texts (a re-run asks the very same question, so the cache answers it), and each verdict records
the group and the candidate's position in that order.

The answer holds one object per candidate ("response_N" for the one numbered N), each with every
principle's score. An answer that misses a candidate, has one too many, or is not JSON is re-asked
by the runner (a bounded number of times, as any answer that does not parse); after that, the
candidates whose part of the last answer is usable keep their verdicts and the others are
unjudged with the reason.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
from collections.abc import Iterable, Iterator
from itertools import pairwise
from typing import Any

from judge.backends.base import Message, Request, Response
from judge.constitution import Constitution, Principle
from judge.engine.runner import Job, Runner
from judge.engine.stats import UNPARSEABLE
from judge.errors import ParseError
from judge.judging import prompts, sections
from judge.judging.logprobs import expected_scores, score_key
from judge.judging.parsing import json_object
from judge.judging.scoring import (
    _DUTY,
    _TOKENS,
    NO_REFERENCE,
    OVERALL,
    WORDS,
    ScoreOptions,
    Scorer,
    answer_text,
    parse_scores,
    principle_text,
    rationale_of,
    verdict_schema,
)
from judge.judging.sections import cut_response, kind_of
from judge.records import Candidate, GroupPlace, Usage, Verdict

# label -> (principle id -> (score, rationale), expected scores, the candidate's rationale)
Parsed = dict[str, tuple[dict[str, tuple[int, str]], dict[str, float], str]]


class Group:
    """Candidates judged in one call: `members` in input order, `order[k]` the member shown at
    position k + 1, and the call, started by whichever member is judged first."""

    def __init__(self, members: list[Candidate], seed: int) -> None:
        self.members = members
        self.order = shuffled(members, seed)
        self.call: asyncio.Future[list[Verdict]] | None = None

    @property
    def id(self) -> int:
        return self.members[0].index

    def shown(self) -> list[Candidate]:
        return [self.members[i] for i in self.order]


def shuffled(members: list[Candidate], seed: int) -> list[int]:
    """A seeded order of the members: the same group and seed give the same order anywhere.
    The responses to one prompt stay together (their prompt is shown once, before them): the
    prompts' order is shuffled, then each prompt's responses."""
    blocks: dict[str | None, list[int]] = {}
    for i, m in enumerate(members):
        blocks.setdefault(block_of(m), []).append(i)
    texts = [seed, *blocks, *(m.response for m in members)]
    digest = hashlib.sha256(json.dumps(texts).encode("utf-8", "surrogatepass")).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    order = list(blocks.values())
    rng.shuffle(order)  # one block: draws nothing, so a one-prompt group's order is as before
    for block in order:
        if members[block[0]].turn is None:  # a conversation's turns keep their order
            rng.shuffle(block)
    return [i for block in order for i in block]


def block_of(c: Candidate) -> str | None:
    """What a candidate is shown under: its prompt, or (for the turns of a conversation, --turns
    all) its conversation, which is shown once with every turn judged in its place."""
    return c.prompt if c.turn is None else f"conversation at row {c.row_index}"


def continues(before: Candidate, c: Candidate) -> bool:
    """`c` is a later turn of the conversation whose turn `before` is (shown right before it)."""
    return (
        before.turn is not None
        and c.turn is not None
        and before.row_index == c.row_index
        and before.turn < c.turn
    )


def runs(
    candidates: Iterable[Candidate], size: int, *, mix: bool = False, by_reference: bool = False
) -> Iterator[tuple[list[Candidate], list[Candidate]]]:
    """(candidates in input order, the group among them): every candidate exactly once, the
    judgeable ones in groups of consecutive candidates of one prompt (`mix`: of any prompts,
    each shown with its own), at most `size` each; `by_reference`: those with a reference apart
    from those without (they are judged under different principles)."""
    pending: list[Candidate] = []
    members: list[Candidate] = []
    key: tuple[str, str | None, bool] | None = None
    for c in candidates:
        if c.note:
            pending.append(c)
            continue
        here = (kind_of(c), None if mix else block_of(c), by_reference and bool(c.reference))
        if members and (here != key or len(members) == size):
            yield pending, members
            pending, members = [], []
        key = here
        members.append(c)
        pending.append(c)
    if pending:
        yield pending, members


def labels(kind: str, n: int) -> list[str]:
    return [f"{kind}_{k}" for k in range(1, n + 1)]


def group_schema(principles: list[Principle], names: list[str], rationale: str) -> dict[str, Any]:
    """One verdict object per candidate; the verdict's schema is written once and referred to
    (it is input the provider bills: written out 8 times it was longer than the constitution)."""
    return {
        "$defs": {"verdict": verdict_schema(principles, rationale)},
        "type": "object",
        "properties": {name: {"$ref": "#/$defs/verdict"} for name in names},
        "required": names,
        "additionalProperties": False,
    }


def parse_group(
    principles: list[Principle], names: list[str], response: Response, *, lenient: bool = False
) -> tuple[Parsed, dict[str, str]]:
    """Each candidate's scores from a grouped answer, and what is wrong with the others' parts.

    Strict (the runner's parse): any missing, extra or malformed part raises ParseError naming it,
    so the whole group is re-asked. `lenient`: the usable parts, after the last re-ask."""
    data = json_object(response)
    if not lenient:
        missing = [n for n in names if n not in data]
        extra = [k for k in data if k not in names]
        if missing or extra:
            wrong = (f"missing {', '.join(missing)}" if missing else "") + (
                ("; " if missing else "") + f"unexpected {', '.join(map(repr, extra[:5]))}"
                if extra
                else ""
            )
            raise ParseError(
                f"expected one object for each of {', '.join(names)} ({len(names)}), got "
                f"{len(data)}: {wrong}"
            )
    windows = _windows(names, response.text)
    out: Parsed = {}
    problems: dict[str, str] = {}
    for name in names:
        entry = data.get(name)
        try:
            if not isinstance(entry, dict):
                raise ParseError("no object for it")
            parsed = parse_scores(principles, entry)
        except ParseError as exc:
            if not lenient:
                raise ParseError(f"{name}: {exc}") from None
            problems[name] = str(exc)
            continue
        start, end = windows.get(name, (0, 0))
        expected = expected_scores(principles, response, start, end)
        out[name] = parsed, expected, rationale_of(entry)
    return out, problems


def _windows(names: list[str], text: str) -> dict[str, tuple[int, int]]:
    """Where each candidate's part of the answer is (for the log-probabilities of its scores)."""
    starts = []
    for name in names:
        match = re.search(rf'"{re.escape(name)}"\s*:', text)
        if match is not None:
            starts.append((match.start(), name))
    starts.sort()
    ends = [s for s, _ in starts[1:]] + [len(text)]
    return {name: (start, end) for (start, name), end in zip(starts, ends, strict=True)}


def shares(usage: Usage, n: int) -> list[Usage]:
    """A group call's usage split over its n candidates (the call counted on the first), so
    that the rows add up to what was spent."""

    def split(total: int) -> list[int]:
        return [total // n + (1 if i < total % n else 0) for i in range(n)]

    parts = zip(
        split(usage.calls), split(usage.input_tokens), split(usage.cached_input_tokens),
        split(usage.output_tokens), strict=True,
    )  # fmt: skip
    cost = None if usage.cost_usd is None else usage.cost_usd / n
    return [
        Usage(calls=c, input_tokens=i, cached_input_tokens=ci, output_tokens=o, cost_usd=cost)
        for c, i, ci, o in parts
    ]


class GroupScorer(Scorer):
    """A Scorer that judges the candidates of one prompt together (see the module's doc).

    `plan` forms the groups as the candidates stream past; `score` on any member starts the
    group's one call, and the other members wait for it. A candidate that was not planned is
    judged in a group of its own."""

    def __init__(self, constitution: Constitution, options: ScoreOptions) -> None:
        super().__init__(constitution, options)
        self._groups: dict[int, Group] = {}  # candidate index -> its group, until it is judged
        self._group_fixed: dict[
            tuple[str, int, str, bool, tuple[str, ...]], tuple[str, dict[str, Any]]
        ] = {}

    def plan(self, candidates: Iterable[Candidate]) -> Iterator[Candidate]:
        split = bool(self.constitution.needs_reference())
        o = self.options
        for pending, members in runs(candidates, o.group, mix=o.mix_prompts, by_reference=split):
            if members:
                group = Group(members, self.options.seed)
                for m in members:
                    self._groups[m.index] = group
            yield from pending

    def _take(self, candidate: Candidate) -> Group:
        group = self._groups.pop(candidate.index, None)
        return group if group is not None else Group([candidate], self.options.seed)

    def requests(self, candidate: Candidate) -> list[Request]:
        """The group's call, for its first member only (--dry-run counts one call a group)."""
        group = self._take(candidate)
        first = group.members[0].index == candidate.index
        return [self.request(group.shown())] if first and self.groups(candidate) else []

    def request(self, shown: list[Candidate]) -> Request:
        principles = self._principles(shown)
        kind = kind_of(shown[0])
        names = labels(kind, len(shown))
        ids = ", ".join(p.id for p in principles)
        layout = group_layout(shown)
        with_reference = kind == "response" and any(c.reference for c in shown)
        key = (kind, len(shown), layout, with_reference, tuple(p.id for p in principles))
        fixed = self._group_fixed.get(key)
        if fixed is None:
            fixed = (
                self._system(principles, kind, ids, layout, with_reference),
                group_schema(principles, names, self.options.rationale),
            )
            self._group_fixed[key] = fixed
        system, schema = fixed
        user = prompts.render(
            "score_group_user",
            material=self._material(shown, kind, layout),
            count=str(len(shown)),
            kinds=f"{kind}s",
            labels=", ".join(names),
            ids=ids,
        )
        each = self.options.max_tokens or (_TOKENS[self.options.rationale] * len(principles) + 40)
        return Request(
            messages=(Message("system", system, cache=True), Message("user", user)),
            schema=schema,
            schema_name="group_verdict",
            max_tokens=each * len(shown),
            temperature=self.options.temperature,
            logprobs=5 if self.options.logprobs else None,
            logprobs_after=score_key(principles, self.options.rationale)
            if self.options.logprobs
            else None,
            words=WORDS[self.options.rationale],
        )

    def _principles(self, shown: list[Candidate]) -> list[Principle]:
        """The principles a group is judged under (runs() keeps rows with a reference apart
        from rows without when a principle requires one)."""
        return self.constitution.applicable(bool(shown[0].reference))

    @property
    def _max(self) -> int:
        return self.options.max_chars

    def _material(self, shown: list[Candidate], kind: str, layout: str) -> str:
        """The sections of a group: each request (prompt or conversation) once, before its
        candidates; a conversation's later turns after the earlier ones; a reference once,
        before the candidates it is for."""
        parts: list[sections.Part] = []
        tag = f"candidate_{kind}"
        before: Candidate | None = None
        for k, c in enumerate(shown, 1):
            if kind == "response":
                if before is not None and continues(before, c):
                    parts += sections.turns(c.context or [], self._max, (before.turn or 0) + 1)[0]
                    new = True
                elif before is None or block_of(c) != block_of(before):
                    parts += sections.request(c, self._max, layout)[0]
                    new = True
                else:
                    new = False
                if new or before is None or c.reference != before.reference:
                    parts += sections.reference(c, self._max)
            parts.append((tag, cut_response(c.response, self._max)[0], k))
            before = c
        return sections.render(parts)

    def _system(
        self, principles: list[Principle], kind: str, ids: str, layout: str, reference: bool
    ) -> str:
        """The constitution-bearing system prompt: the same for every group of this kind."""
        if kind == "document":
            tags, kinds = '<candidate_document id="N">', "documents"
        elif layout == sections.CONVERSATION or reference:
            judged = (
                '<candidate_response id="N"> (the responses to judge; each answers the request '
                "that comes last before it, and a conversation's turns are judged each in the "
                "context of the turns before it, never of those after it)"
            )
            tags, kinds = sections.tags_text(layout, reference, judged), "responses"
        elif self.options.mix_prompts:  # --mix-prompts: several requests, each before its answers
            tags = (
                '<candidate_prompt> (a request) and <candidate_response id="N"> (the responses to '
                "judge; each answers the <candidate_prompt> that comes last before it)"
            )
            kinds = "responses"
        else:
            tags = (
                '<candidate_prompt> (the request, shared by all) and <candidate_response id="N"> '
                "(the responses to judge)"
            )
            kinds = "responses to one request"
        return prompts.render(
            "score_group_system",
            preamble=self.constitution.preamble.strip(),
            kind=kind,
            kinds=kinds,
            name=self.constitution.name,
            tags=tags,
            principles="\n\n".join(principle_text(p) for p in principles),
            ids=ids,
            duty=_DUTY[self.options.rationale],
            answer=answer_text(ids, self.options.rationale),
        )

    async def score(self, runner: Runner, candidate: Candidate) -> Verdict:
        if candidate.note:
            return Verdict(score=None, error=f"not judged: {candidate.note}")
        if not self.groups(candidate):
            self._take(candidate)
            return Verdict(score=None, error=NO_REFERENCE)
        group = self._take(candidate)
        if group.call is None:
            group.call = asyncio.ensure_future(self._judge(runner, group))
        verdicts = await group.call
        return verdicts[next(i for i, m in enumerate(group.members) if m.index == candidate.index)]

    async def _judge(self, runner: Runner, group: Group) -> list[Verdict]:
        shown = group.shown()
        principles = self._principles(shown)
        names = labels(kind_of(shown[0]), len(shown))

        def parse(response: Response) -> Parsed:
            return parse_group(principles, names, response)[0]

        outcome = await runner.call(Job(self.request(shown), parse))
        parsed: Parsed = outcome.value or {}
        problems: dict[str, str] = {}
        if outcome.value is None and outcome.kind == UNPARSEABLE and outcome.response is not None:
            try:
                parsed, problems = parse_group(principles, names, outcome.response, lenient=True)
            except ParseError:
                parsed = {}
        usage = shares(outcome.usage, len(shown))
        verdicts: list[Verdict] = [Verdict(score=None)] * len(shown)
        for position, (member, name) in enumerate(zip(group.order, names, strict=True), 1):
            place = GroupPlace(id=group.id, size=len(shown), position=position)
            common: dict[str, Any] = {
                "usage": usage[member],
                "cached": outcome.cached,
                "group": place,
            }
            if name not in parsed:
                why = outcome.error or "not judged"
                if name in problems:
                    why += f" ({name}: {problems[name]})"
                scores: dict[str, float | None] = {p.id: None for p in principles}
                verdicts[member] = Verdict(score=None, scores=scores, error=why, **common)
                continue
            found, expected, overall = parsed[name]
            scores = {pid: float(s) for pid, (s, _) in found.items()}
            rationales = {pid: why for pid, (_, why) in found.items() if why}
            if overall:  # --rationale brief
                rationales[OVERALL] = overall
            verdicts[member] = Verdict(
                score=self.constitution.overall(scores),
                scores=scores,
                rationales=rationales,
                expected_scores=expected or None,
                **common,
            )
        return verdicts


def group_layout(shown: list[Candidate]) -> str:
    """A group shows conversations turn by turn if any member's request is one, or if it holds
    several turns of one conversation."""
    if any(sections.request_layout(c) == sections.CONVERSATION for c in shown):
        return sections.CONVERSATION
    if any(continues(a, b) for a, b in pairwise(shown)):
        return sections.CONVERSATION
    return sections.PROMPT


def make_scorer(constitution: Constitution, options: ScoreOptions | None = None) -> Scorer:
    """The Scorer the options ask for: grouped with `group` set, else one call a candidate."""
    options = options or ScoreOptions()
    return GroupScorer(constitution, options) if options.group else Scorer(constitution, options)
