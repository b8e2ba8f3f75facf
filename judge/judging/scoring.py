"""Absolute scoring: a candidate judged under every principle of a constitution.

By default one call judges all principles at once (cost grows with candidates, not principles);
`per_principle=True` makes one call per principle. Answers must be JSON that follows a schema built
from the constitution; an answer that does not is re-asked by the runner, and after that the
candidate is unjudged with the reason, never given a made-up score.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from judge.backends.base import Message, Request, Response
from judge.constitution import Constitution, Principle
from judge.engine.runner import Job, Runner
from judge.errors import ParseError
from judge.judging import prompts, sections
from judge.judging.confidence import least, score_confidence
from judge.judging.logprobs import FLAT, SCORES_KEY, score_distributions, score_key
from judge.judging.logprobs import expected as expected_of
from judge.judging.parsing import json_object, text_field
from judge.judging.sections import material
from judge.records import Candidate, Usage, Verdict

DEFAULT_MAX_CHARS = 24_000  # about 6,000 tokens: longer texts are cut, and the row says so
RATIONALE_TOKENS = 80  # output budget per principle; the rationale is one or two sentences

# --rationale: how much the judge writes beside each score. Fewer output tokens make the
# cheapest verdicts ("none": scores only; expected scores still come from log-probabilities).
# "brief": one rationale a candidate instead of one a principle (in the row's rationales under
# OVERALL). Output tokens cost four times input ones, so this is most of a verdict's price.
RATIONALES = ("full", "short", "brief", "none")
# brief and none answer with the scores as one list (judge.judging.logprobs.FLAT).
BRIEF_KEY = "rationale"  # --rationale brief: the answer's key of the candidate's rationale
OVERALL = "overall"  # --rationale brief: the row's rationales key of that rationale
_DUTY = {
    "full": "Score each principle on its own scale, independently of the others, and give each "
    "score a short rationale (one or two sentences) that points at the evidence.",
    "short": "Score each principle on its own scale, independently of the others, and give each "
    "score a rationale of at most ten words that names the evidence.",
    "brief": "Score each principle on its own scale, independently of the others, then give "
    "one rationale of at most ten words that names the evidence behind the lowest score.",
    "none": "Score each principle on its own scale, independently of the others. Give no "
    "rationale: only the scores.",
}
_FIELDS = {
    "full": 'each value is an object with "rationale" (a string, at most two sentences) and '
    '"score" (an integer on that principle\'s scale).',
    "short": 'each value is an object with "rationale" (a string of at most ten words) and '
    '"score" (an integer on that principle\'s scale).',
    "brief": f'and "{BRIEF_KEY}" (a string of at most ten words).',
    "none": "and nothing else.",
}
_TOKENS = {"full": RATIONALE_TOKENS, "short": 30, "brief": 8, "none": 4}  # a principle's output
# The most words a rationale may hold, as _DUTY and _FIELDS ask (a sentence: 25 words); a
# grammar-constrained backend (the embedded model) enforces it, see Request.words.
WORDS = {"full": 50, "short": 10, "brief": 10, "none": None}


def default_rationale(model: str) -> str:
    """--rationale when not given: full, but short on an in-process model (local/...): the
    embedded SmolLM2 wrote one-or-two-sentence rationales past any token cap (1 of the
    README's 7 candidates unjudged, "cut off at the token limit"); ten words a principle it
    keeps to, in a third of the time (7 of 7 judged; benchmarks in the README)."""
    return "short" if model.startswith("local/") else "full"


def answer_text(ids: str, rationale: str) -> str:
    """How the answer (one candidate's part of it, grouped) is laid out, for the prompts."""
    if rationale not in FLAT:
        return f"one key per principle id ({ids}); {_FIELDS[rationale]}"
    return (
        f'an object with "{SCORES_KEY}": the list of the scores, one integer for each principle '
        f"in this order: {ids}, each on its principle's scale; {_FIELDS[rationale]}"
    )


@dataclass(frozen=True)
class ScoreOptions:
    per_principle: bool = False
    max_chars: int = DEFAULT_MAX_CHARS
    logprobs: bool = True  # ask for token log-probabilities (expected scores) where offered
    temperature: float = 0.0
    max_tokens: int | None = None  # default: the rationale's budget per principle + room for JSON
    rationale: str = "full"  # full | short | brief | none (RATIONALES)
    # --group: the candidates of one prompt judged in one call, at most this many (0: off);
    # `seed` fixes the shuffled order they are shown in (judge.judging.grouped).
    group: int = 0
    seed: int = 0
    # --mix-prompts: a group may hold the responses to several prompts, each shown with its
    # prompt, so that a call carries --group-size candidates when prompts have few responses.
    mix_prompts: bool = False

    @classmethod
    def for_model(cls, model: str, **given: Any) -> ScoreOptions:
        """The options for judging with `model` (its default rationale level unless given):
        what every command, the CLI's and the API's, starts from."""
        return cls(**{"rationale": default_rationale(model), **given})

    def __post_init__(self) -> None:
        if self.rationale not in RATIONALES:
            raise ValueError(f"rationale must be one of {RATIONALES}, got {self.rationale!r}")
        if self.group < 0:
            raise ValueError(f"group is a number of candidates (0: off), got {self.group}")
        if self.mix_prompts and not self.group:
            raise ValueError("mix_prompts fills the calls of grouped scoring: set group too")
        if self.group and self.per_principle:
            raise ValueError(
                "grouped scoring judges every principle in one call: not with per_principle"
            )


def principle_text(p: Principle) -> str:
    lines = [f"## {p.id}" + (f" ({p.title})" if p.title else "")]
    lines.append(f"Scale: integers from {p.scale.low} (worst) to {p.scale.high} (best).")
    lines.append(p.statement.strip())
    if p.rubric:
        lines.append("Score levels:")
        lines.extend(f"- {level}: {text}" for level, text in sorted(p.rubric.items()))
    return "\n".join(lines)


def principle_schema(p: Principle) -> dict[str, Any]:
    """One principle's object in a full or short answer: its rationale, then its score."""
    score = {"type": "integer", "enum": list(range(p.scale.low, p.scale.high + 1))}
    properties = {"rationale": {"type": "string"}, "score": score}
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def verdict_schema(principles: Iterable[Principle], rationale: str = "full") -> dict[str, Any]:
    plist = list(principles)
    if rationale in FLAT:  # the scores as a list in the principles' order; its items share one
        # enum (the scales' span: grammar-constrained models then cannot write 100 on a 1-5
        # scale), and each score is checked against its own scale when the answer is read
        n = len(plist)
        span = list(range(min(p.scale.low for p in plist), max(p.scale.high for p in plist) + 1))
        item = {"type": "integer", "enum": span}
        scores = {"type": "array", "items": item, "minItems": n, "maxItems": n}
        properties: dict[str, Any] = {SCORES_KEY: scores}
        if rationale == "brief":
            properties[BRIEF_KEY] = {"type": "string"}
    else:
        properties = {p.id: principle_schema(p) for p in plist}
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


NO_REFERENCE = "not judged: every principle requires a reference, and the row has none"

# A Scorer's system prompts and schemas, by (principle ids, kind of item, how the request is
# shown, with a reference): the same for most candidates, and rendering them was a tenth of a
# verdict's CPU.
_Fixed = dict[tuple[tuple[str, ...], str, str, bool], tuple[str, dict[str, Any]]]


def build_request(
    constitution: Constitution,
    principles: list[Principle],
    candidate: Candidate,
    options: ScoreOptions,
    memo: _Fixed | None = None,
) -> tuple[Request, bool]:
    data, kind, truncated = material(candidate, options.max_chars)
    ids = ", ".join(p.id for p in principles)
    layout = sections.request_layout(candidate)
    with_reference = candidate.reference is not None and kind != "document"
    key = (tuple(p.id for p in principles), kind, layout, with_reference)
    fixed = memo.get(key) if memo is not None else None
    if fixed is None:
        fixed = (
            system_prompt(
                constitution, principles, kind, ids, options.rationale, layout, with_reference
            ),
            verdict_schema(principles, options.rationale),
        )
        if memo is not None:
            memo[key] = fixed
    system, schema = fixed
    user = prompts.render("score_user", material=data, kind=kind, ids=ids)
    per_principle = _TOKENS[options.rationale]
    max_tokens = options.max_tokens or (per_principle * len(principles) + 40)
    request = Request(
        messages=(Message("system", system, cache=True), Message("user", user)),
        schema=schema,
        schema_name="verdict",
        max_tokens=max_tokens,
        temperature=options.temperature,
        logprobs=5 if options.logprobs else None,
        logprobs_after=score_key(principles, options.rationale) if options.logprobs else None,
        words=WORDS[options.rationale],
    )
    return request, truncated


def system_prompt(
    constitution: Constitution,
    principles: list[Principle],
    kind: str,
    ids: str,
    rationale: str = "full",
    layout: str = sections.PROMPT,
    with_reference: bool = False,
) -> str:
    judged = (
        "<candidate_response> (the response to judge)"
        if layout == sections.PROMPT
        else "<candidate_response> (the assistant's next turn: judge it in the context of the "
        "conversation before it)"
    )
    tags = (
        "<candidate_document>"
        if kind == "document"
        else sections.tags_text(layout, with_reference, judged)
    )
    return prompts.render(
        "score_system",
        preamble=constitution.preamble.strip(),
        kind=kind,
        name=constitution.name,
        tags=tags,
        principles="\n\n".join(principle_text(p) for p in principles),
        ids=ids,
        duty=_DUTY[rationale],
        answer=answer_text(ids, rationale),
    )


def parse_verdict(
    principles: list[Principle], response: Response
) -> tuple[dict[str, tuple[int, str]], str]:
    """(principle id -> (score, rationale), the candidate's own rationale (--rationale brief));
    raises ParseError naming what is wrong."""
    data = json_object(response)
    if len(principles) == 1 and principles[0].id not in data and "score" in data:
        data = {principles[0].id: data}  # a single-principle answer without the outer key
    return parse_scores(principles, data), rationale_of(data)


def rationale_of(data: dict[str, Any]) -> str:
    """The candidate's own rationale in its answer object (--rationale brief), else ""."""
    return text_field(data.get(BRIEF_KEY, ""))


def parse_scores(principles: list[Principle], data: dict[str, Any]) -> dict[str, tuple[int, str]]:
    """principle id -> (score, rationale) from one candidate's object in an answer: a key per
    principle, each an object with "score" and "rationale" (or the bare score), or the list of
    scores in the principles' order (--rationale brief and none)."""
    listed = data.get(SCORES_KEY)
    keyed = any(p.id in data for p in principles if p.id != SCORES_KEY)  # a principle "scores"
    if isinstance(listed, list) and not keyed:
        if len(listed) != len(principles):
            raise ParseError(
                f"{SCORES_KEY!r} has {len(listed)} scores; expected {len(principles)}, one for "
                f"each of {', '.join(p.id for p in principles)} in that order"
            )
        data = dict(zip((p.id for p in principles), listed, strict=True))
    out: dict[str, tuple[int, str]] = {}
    for p in principles:
        entry = data.get(p.id)
        if entry is None or isinstance(entry, list):
            raise ParseError(f"no score for principle {p.id!r}")
        score = entry.get("score") if isinstance(entry, dict) else entry
        if isinstance(score, float) and score.is_integer():
            score = int(score)
        if isinstance(score, str) and score.strip().lstrip("-").isdigit():
            score = int(score.strip())
        if not isinstance(score, int) or isinstance(score, bool):
            raise ParseError(f"principle {p.id!r}: score {score!r} is not an integer")
        if not p.scale.low <= score <= p.scale.high:
            raise ParseError(
                f"principle {p.id!r}: score {score} is outside its scale {p.scale.low}-"
                f"{p.scale.high}"
            )
        why = entry.get("rationale", "") if isinstance(entry, dict) else ""
        out[p.id] = (score, text_field(why))
    return out


class Scorer:
    """Judges candidates under a constitution through a runner."""

    def __init__(self, constitution: Constitution, options: ScoreOptions | None = None) -> None:
        self.constitution = constitution
        self.options = options or ScoreOptions()
        self._fixed: _Fixed = {}

    def plan(self, candidates: Iterable[Candidate]) -> Iterable[Candidate]:
        """The candidates to judge, as given (GroupScorer forms its groups here)."""
        return candidates

    def groups(self, candidate: Candidate | None = None) -> list[list[Principle]]:
        """The principles each call judges: those that apply to the candidate (a principle that
        `requires: reference` does not judge a row without one)."""
        ps = self.constitution.principles
        if candidate is not None:
            ps = self.constitution.applicable(bool(candidate.reference))
        if not ps:
            return []
        return [[p] for p in ps] if self.options.per_principle else [ps]

    def requests(self, candidate: Candidate) -> list[Request]:
        return [
            build_request(self.constitution, group, candidate, self.options, self._fixed)[0]
            for group in self.groups(candidate)
        ]

    async def score(self, runner: Runner, candidate: Candidate) -> Verdict:
        if candidate.note:
            return Verdict(score=None, error=f"not judged: {candidate.note}")
        if not self.groups(candidate):
            return Verdict(score=None, error=NO_REFERENCE)
        scores: dict[str, float | None] = {}
        rationales: dict[str, str] = {}
        expected: dict[str, float] = {}
        usage = Usage()
        errors: list[str] = []
        confidences: list[float | None] = []
        cached = True
        for group in self.groups(candidate):
            request, _ = build_request(
                self.constitution, group, candidate, self.options, self._fixed
            )

            def parse(response: Response, group: list[Principle] = group) -> Any:
                dists = score_distributions(group, response)
                confidence = score_confidence(group, dists)
                return parse_verdict(group, response), expected_of(dists), confidence

            outcome = await runner.call(Job(request, parse))
            usage = usage + outcome.usage
            cached = cached and outcome.cached
            if outcome.value is None:
                errors.append(outcome.error or "not judged")
                for p in group:
                    scores[p.id] = None
                continue
            (parsed, overall), exp, conf = outcome.value
            confidences.append(conf)
            for pid, (s, why) in parsed.items():
                scores[pid] = float(s)
                if why:  # --rationale none: no empty strings in the rows
                    rationales[pid] = why
            if overall:  # --rationale brief: the candidate's (with per_principle: the principle's)
                rationales[group[0].id if len(group) == 1 else OVERALL] = overall
            expected.update(exp)
        error = "; ".join(errors) if errors else None
        return Verdict(
            score=None if error else self.constitution.overall(scores),
            scores=scores,
            rationales=rationales,
            usage=usage,
            error=error,
            cached=cached,
            expected_scores=expected or None,
            confidence=None if error else least(confidences),
        )

    def truncated(self, candidate: Candidate) -> bool:
        return material(candidate, self.options.max_chars)[2]
