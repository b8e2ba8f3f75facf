"""Critique and revision under a constitution (Constitutional AI's supervised stage), judged.

Each item goes through N rounds; a round draws a principle that has a critique and a revision
request (seeded per item, so a rerun asks the same questions and the cache answers them), asks the
model for a critique of the current response, then, in the same conversation, for a revision that
answers it. The next round starts from the revision. The judge then scores the original and the
final revision under the whole constitution; `improved` says whether the final one wins by at least
the margin, with the same rule `judge pairs` uses to keep a pair.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
from dataclasses import InitVar, asdict, dataclass, field
from functools import partial
from typing import Any

from judge.backends.base import Message, Request, Response, request_key
from judge.constitution import Constitution, Principle
from judge.engine.plan import Plan
from judge.engine.prices import CHARS_PER_TOKEN, estimate_tokens
from judge.engine.runner import Job, Runner
from judge.errors import ConfigError, ParseError
from judge.io import FieldMap, input_row
from judge.judging import prompts, sections
from judge.judging.scoring import DEFAULT_MAX_CHARS, ScoreOptions, Scorer, material
from judge.judging.verifiers import with_verifiers
from judge.records import Candidate, Usage, Verdict
from judge.tasks.pairs.rows import SEPARATOR, Provenance, pair_row
from judge.tasks.pairs.selection import Ranked, select

DEFAULT_MIN_MARGIN = 0.05  # on the [0, 1] overall score: one rubric step of one principle in ~5
CRITIQUE_TOKENS = 300
MAX_REVISION_TOKENS = 4096
_PLAIN_TAGS = (
    "<candidate_prompt> (the request a person made) and <candidate_response> (the response to "
    "improve)"
)


@dataclass(frozen=True)
class ReviseOptions:
    rounds: int = 1
    seed: int = 0
    min_margin: float = DEFAULT_MIN_MARGIN
    critique_tokens: int = CRITIQUE_TOKENS
    # None: twice the current response's estimated tokens, at least 256 and at most 4096.
    revision_tokens: int | None = None
    max_chars: int = DEFAULT_MAX_CHARS
    temperature: float = 0.0


@dataclass
class Round:
    round: int
    principle: str
    critique: str
    revision: str | None  # None: the revision of this round failed (its critique is kept)

    @property
    def record(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Revised:
    """One item after its rounds and the judge's two verdicts."""

    candidate: Candidate
    rounds: list[Round] = field(default_factory=list)
    final: str | None = None  # None when a round failed: the chain is incomplete
    original: Verdict | None = None
    revision: Verdict | None = None
    improved: bool | None = None
    error: str | None = None
    revise_usage: Usage = field(default_factory=Usage)
    cached: bool = True
    # The critique of a round whose revision failed: kept, so the row shows what was asked.
    unrevised: Round | None = None

    @property
    def judge_usage(self) -> Usage:
        verdicts = (
            [self.original]
            if self.revision is self.original
            else [
                self.original,
                self.revision,
            ]
        )
        return sum((v.usage for v in verdicts if v), Usage())

    @property
    def changed(self) -> bool:
        return self.final is not None and self.final.strip() != self.candidate.response.strip()


def no_principle_message(c: Constitution) -> str:
    where = c.path or c.name
    return (
        f"{where}: no principle has both a `### Critique` and a `### Revision` section, so there "
        "is nothing to revise with; add both to at least one principle (see "
        "the README, section 'Constitution format')"
    )


# --------------------------------------------------------------------------- answers

_LABEL = re.compile(
    r"\A(?:#+\s*)?(?:\*\*)?(?:here(?: is|'s) (?:the |my |a )?)?"
    r"(?:revised|rewritten|improved) (?:response|answer|version)(?:\*\*)?\s*:\s*(?:\*\*)?\s*",
    re.IGNORECASE,
)
_FENCE = re.compile(r"\A```[\w+-]*\n(.*)\n```\Z", re.DOTALL)
_QUOTES = (('"', '"'), ("\u201c", "\u201d"), ("'", "'"))


def _wrapped(text: str) -> str | None:
    """The inside of a code fence or of quotes that wrap all of `text`, else None."""
    m = _FENCE.match(text)
    if m:
        return m.group(1)
    for left, right in _QUOTES:
        inner = text[1:-1]
        wraps = len(text) > 1 and text[0] == left and text[-1] == right
        if wraps and left not in inner and right not in inner:
            return inner
    return None


def clean_revision(response: Response, current: str) -> str:
    """Just the revised response: a label such as "Revised response:" and a fence or quotes that
    wrap the whole answer are removed (unless the response being revised is wrapped that way)."""
    if response.finish_reason == "length":
        raise ParseError(
            "the revision was cut off at the token limit; write a shorter revision "
            "(or raise {opt:revision_max_tokens})"
        )
    text = _LABEL.sub("", response.text.strip(), count=1).strip()
    if _wrapped(current.strip()) is None:
        inner = _wrapped(text)
        text = text if inner is None else inner.strip()
    if not text:
        raise ParseError("the revision is empty; write the revised response as plain text")
    return text


def clean_critique(response: Response) -> str:
    text = response.text.strip()
    if not text:
        raise ParseError("the critique is empty; write the critique as plain text")
    return text


# --------------------------------------------------------------------------- the reviser


@dataclass(eq=False)
class Reviser:
    constitution: Constitution
    options: ReviseOptions = field(default_factory=ReviseOptions)
    score_options: InitVar[ScoreOptions | None] = None  # how the judge scores

    def __post_init__(self, score_options: ScoreOptions | None) -> None:
        self.principles = self.constitution.critique_principles()
        if not self.principles:
            raise ConfigError(no_principle_message(self.constitution))
        scoring = score_options or ScoreOptions()
        self.scorer = with_verifiers(self.constitution, lambda c: Scorer(c, scoring))

    def draw(self, cand: Candidate) -> list[Principle]:
        """One principle per round, by weight, seeded by --seed and the item's text."""
        key = hashlib.sha256(
            f"{cand.prompt}\0{cand.response}".encode("utf-8", "surrogatepass")
        ).hexdigest()[:16]
        rng = random.Random(f"{self.options.seed}:{key}")
        ps = self.principles
        return rng.choices(ps, weights=[p.weight for p in ps], k=self.options.rounds)

    def _start(self, p: Principle, cand: Candidate, text: str) -> tuple[Message, Message] | None:
        """System and user messages of a round; None when the text must be cut to fit."""
        data, _, truncated = material(_with(cand, text), self.options.max_chars)
        if truncated:
            return None
        c = self.constitution
        statement = f"## {p.id}" + (f" ({p.title})" if p.title else "") + "\n" + p.statement
        layout = sections.request_layout(cand)
        system = prompts.render(
            "critique_system",
            preamble=c.preamble.strip(),
            name=c.name,
            principle=statement,
            tags=sections.tags_text(
                layout, cand.reference is not None, "<candidate_response> (the response to improve)"
            )
            if layout == sections.CONVERSATION or cand.reference
            else _PLAIN_TAGS,
        )
        user = prompts.render("critique_user", material=data, request=p.critique or "")
        return Message("system", system, cache=True), Message("user", user)

    def critique_request(self, p: Principle, cand: Candidate, text: str) -> Request | None:
        start = self._start(p, cand, text)
        if start is None:
            return None
        return Request(
            messages=start,
            max_tokens=self.options.critique_tokens,
            temperature=self.options.temperature,
        )

    def revision_request(
        self, p: Principle, cand: Candidate, text: str, critique: str
    ) -> Request | None:
        start = self._start(p, cand, text)
        if start is None:
            return None
        tokens = self.options.revision_tokens or min(
            MAX_REVISION_TOKENS, max(256, 2 * estimate_tokens(text))
        )
        reply_to = (
            "the conversation between the <context_...> tags, as the assistant's next turn"
            if sections.request_layout(cand) == sections.CONVERSATION
            else "the request between the <candidate_prompt> tags"
        )
        follow = prompts.render("revise_user", request=p.revision or "", reply_to=reply_to)
        return Request(
            messages=(*start, Message("assistant", critique), Message("user", follow)),
            max_tokens=tokens,
            temperature=self.options.temperature,
        )

    def _too_long(self, k: int) -> str:
        what = "the response" if k == 1 else f"the revision of round {k - 1}"
        return (
            f"not revised: the prompt or {what} is longer than --max-chars "
            f"({self.options.max_chars}); raise --max-chars"
        )

    async def revise(self, runner: Runner, judge_runner: Runner, cand: Candidate) -> Revised:
        out = Revised(cand)
        if cand.note:
            out.error = f"not revised: {cand.note}"
            return out
        text = cand.response
        for k, p in enumerate(self.draw(cand), start=1):
            creq = self.critique_request(p, cand, text)
            if creq is None:
                out.error = self._too_long(k)
                return out
            critique = await self._call(runner, out, Job(creq, clean_critique))
            if critique is None:
                out.error = f"round {k} ({p.id}): critique failed: {out.error}"
                return out
            rreq = self.revision_request(p, cand, text, critique)
            if rreq is None:  # cannot happen: the same material as the critique's, which fitted
                out.error = self._too_long(k)
                return out
            revision = await self._call(runner, out, Job(rreq, partial(_revision_of, text)))
            if revision is None:
                out.error = f"round {k} ({p.id}): revision failed: {out.error}"
                out.unrevised = Round(k, p.id, critique, None)
                return out
            out.rounds.append(Round(k, p.id, critique, revision))
            text = revision
        out.final = text
        if out.changed:
            v_orig, v_rev = await asyncio.gather(
                self.scorer.score(judge_runner, cand),
                self.scorer.score(judge_runner, _with(cand, text)),
            )
        else:  # no change: one verdict serves both (and `improved` is false)
            v_orig = v_rev = await self.scorer.score(judge_runner, cand)
        out.original, out.revision = v_orig, v_rev
        out.cached = out.cached and v_orig.cached and v_rev.cached
        self._decide(out)
        return out

    async def _call(self, runner: Runner, out: Revised, job: Job[str]) -> str | None:
        outcome = await runner.call(job)
        out.revise_usage = out.revise_usage + outcome.usage
        out.cached = out.cached and outcome.cached
        out.error = outcome.error
        return outcome.value

    def _decide(self, out: Revised) -> None:
        o, r = out.original, out.revision
        if o is None or r is None or out.final is None:
            out.error, out.improved = out.error or "not judged", None
            return
        verdicts = [("original", o)] if r is o else [("original", o), ("revision", r)]
        problems = [
            f"{what} not judged: {v.error or 'no score'}" for what, v in verdicts if v.score is None
        ]
        if problems:
            out.error, out.improved = "; ".join(problems), None
            return
        pair = self._pair(out.candidate.response, out.final, o, r, len(out.rounds))
        out.error, out.improved = None, pair is not None

    def _pair(
        self, original: str, final: str, o: Verdict, r: Verdict, rounds: int
    ) -> tuple[Ranked, Ranked] | None:
        """(final, original) when `judge pairs` would keep that pair; None otherwise."""
        if o.score is None or r.score is None:
            return None
        first = Ranked(0, original, o.score, dict(o.scores))
        last = Ranked(rounds, final, r.score, dict(r.scores))
        chosen = select([first, last], "best-worst", min_margin=self.options.min_margin).pairs
        return chosen[0] if chosen and chosen[0][0] is last else None

    # -- output ------------------------------------------------------------------------------

    def row(self, out: Revised, judge_model: str, model: str, fields: FieldMap) -> dict[str, Any]:
        cand = out.candidate
        row = input_row(cand, fields)
        o, r = out.original, out.revision
        tried = [*out.rounds, *([out.unrevised] if out.unrevised else [])]
        row["revisions"] = [x.record for x in tried]
        row["revision"] = out.final
        row["score_original"] = o.score if o else None
        row["score_revision"] = r.score if r else None
        row["scores_original"] = o.scores if o else None
        row["scores_revision"] = r.scores if r else None
        row["improved"] = out.improved
        usage = out.revise_usage + out.judge_usage
        row["judge"] = {
            "model": judge_model,
            "revision_model": model,
            "constitution": {"name": self.constitution.name, "sha256": self.constitution.sha256},
            "usage": usage.model_dump(),
            "usage_revision": out.revise_usage.model_dump(),
            "usage_judge": out.judge_usage.model_dump(),
            "cached": out.cached,
            "error": out.error,
        }
        return row

    def pair(
        self,
        out: Revised,
        judge_model: str,
        *,
        conversational: bool = True,
        separator: str = SEPARATOR,
        prompt_id: str | None = None,
    ) -> dict[str, Any] | None:
        """The `judge pairs` row (chosen: final revision, rejected: original) when improved."""
        o, r, cand = out.original, out.revision, out.candidate
        if not out.improved or o is None or r is None or out.final is None or cand.prompt is None:
            return None
        pair = self._pair(cand.response, out.final, o, r, len(out.rounds))
        if pair is None:
            return None
        c = self.constitution
        provenance = Provenance(judge_model, c.name, c.sha256, mode="score")
        return pair_row(
            cand.context or cand.prompt,
            *pair,
            provenance,
            conversational=conversational,
            separator=separator,
            prompt_id=prompt_id,
        )

    # -- dry run -----------------------------------------------------------------------------

    def plan(self, plan: Plan, runner: Runner, judge_runner: Runner, cand: Candidate) -> None:
        """Add an item's calls to `plan`. Answers the cache holds are followed exactly; past the
        first one it lacks, a critique is taken to be --critique-max-tokens long and a revision
        as long as the response it revises (estimates: the text is not known in advance)."""
        if cand.note:
            return
        text, known = cand.response, True
        for p in self.draw(cand):
            creq = self.critique_request(p, cand, text)
            if creq is None:
                return
            plan.add(runner, creq)
            critique = _cached(runner, creq, clean_critique) if known else None
            if critique is None:
                known = False
                critique = "x" * int(self.options.critique_tokens * CHARS_PER_TOKEN)
            rreq = self.revision_request(p, cand, text, critique)
            if rreq is None:
                return
            plan.add(runner, rreq)
            revised = _cached(runner, rreq, partial(_revision_of, text)) if known else None
            if revised is None:
                known = False
                revised = "x" * len(text)
            text = revised
        requests = self.scorer.requests(cand)
        if text.strip() != cand.response.strip():
            requests += self.scorer.requests(_with(cand, text))
        for request in requests:
            plan.add(judge_runner, request)


def _revision_of(current: str, response: Response) -> str:
    return clean_revision(response, current)


def _with(cand: Candidate, text: str) -> Candidate:
    return cand.model_copy(update={"response": text, "note": None})


def _cached(runner: Runner, request: Request, parse: Any) -> str | None:
    """The parsed answer the cache holds for `request`, if any."""
    if runner.cache is None:
        return None
    hit = runner.cache.get(request_key(runner.backend, request))
    if hit is None:
        return None
    try:
        value: str = parse(hit)
    except ParseError:
        return None
    return value
