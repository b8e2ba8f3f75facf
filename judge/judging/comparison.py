"""Pairwise comparison: which of two responses better follows a constitution.

Every pair is judged in both orders (a shown first, then b shown first), because judges favour a
position. The two verdicts are combined into P(a better): from the probability the judge put on the
"A" and "B" tokens where the backend gives token log-probabilities (the soft label of Google's
RLAIF), else from the verdicts themselves (A = 1, B = 0, tie = 0.5). A verdict that changes with
the order is a tie: the judge was following the position, not the responses.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from judge.backends.base import Message, Request, Response
from judge.constitution import Constitution, Principle
from judge.engine.runner import Job, Outcome, Runner
from judge.errors import ParseError
from judge.judging import prompts, sections
from judge.judging.confidence import comparison_confidence
from judge.judging.parsing import json_object, text_field
from judge.judging.scoring import DEFAULT_MAX_CHARS, NO_REFERENCE
from judge.records import Candidate, Comparison, Usage

RATIONALE_TOKENS = 200  # three sentences and the JSON around them
RATIONALE_WORDS = 75  # three sentences, as the prompt asks (enforced by grammar where there is one)
LABELS = ("A", "B", "tie")

COMPARE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "rationale": {"type": "string"},
        "winner": {"type": "string", "enum": list(LABELS)},
    },
    "required": ["rationale", "winner"],
    "additionalProperties": False,
}


Ask = Callable[[Runner], Awaitable[Comparison]]  # one judge's verdict on the pair at hand


@dataclass(frozen=True)
class CompareOptions:
    principles: str = "all"  # "all" in one call, or "sample": one principle per comparison
    seed: int = 0
    logprobs: bool = True
    max_chars: int = DEFAULT_MAX_CHARS
    temperature: float = 0.0
    max_tokens: int = RATIONALE_TOKENS

    def __post_init__(self) -> None:
        if self.principles not in ("all", "sample"):
            raise ValueError(f"principles must be 'all' or 'sample', got {self.principles!r}")


def _cut(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    return text[:max_chars] + "\n[... cut: the text is longer than the judge is shown]"


def principle_text(p: Principle) -> str:
    title = f" ({p.title})" if p.title else ""
    return f"## {p.id}{title}\n{p.statement.strip()}"


# What two responses answer: a prompt's text, or a candidate whose request (a conversation) and
# reference the judge is shown (judge.judging.sections), or nothing (two documents).
Asked = str | Candidate | None


def build_request(
    constitution: Constitution,
    principles: list[Principle],
    prompt: Asked,
    first: str,
    second: str,
    options: CompareOptions,
) -> Request:
    """The question for one ordering: `first` is shown as A, `second` as B; the request and the
    reference (once, before both) come first."""
    parts: list[sections.Part] = []
    if isinstance(prompt, Candidate):
        parts += sections.request(prompt, options.max_chars)[0]
        parts += sections.reference(prompt, options.max_chars)
    elif prompt is not None:
        parts.append(("candidate_prompt", _cut(prompt, options.max_chars), None))
    parts.append(("response_a", _cut(first, options.max_chars), None))
    parts.append(("response_b", _cut(second, options.max_chars), None))
    tags = "<response_a> (the first response) and <response_b> (the second response)"
    plain = not isinstance(prompt, Candidate) or (
        sections.request_layout(prompt) == sections.PROMPT and not prompt.reference
    )
    if isinstance(prompt, Candidate) and not plain:
        layout = sections.request_layout(prompt)
        tags = sections.tags_text(layout, prompt.reference is not None, tags)
    elif prompt is not None:
        tags = "<candidate_prompt> (the request), " + tags
    sampled = len(principles) < len(constitution.principles)
    ids = ", ".join(p.id for p in principles)
    system = prompts.render(
        "compare_system",
        preamble=constitution.preamble.strip(),
        kind="responses to the same request" if prompt is not None else "texts",
        name=constitution.name,
        scope=" (this comparison is about one principle only)" if sampled else "",
        tags=tags,
        principles="\n\n".join(principle_text(p) for p in principles),
    )
    user = prompts.render("compare_user", material=sections.render(parts), ids=ids)
    return Request(
        messages=(Message("system", system, cache=True), Message("user", user)),
        schema=COMPARE_SCHEMA,
        schema_name="comparison",
        max_tokens=options.max_tokens,
        temperature=options.temperature,
        logprobs=5 if options.logprobs else None,
        logprobs_after=WINNER_KEY if options.logprobs else None,
        words=RATIONALE_WORDS,
    )


def parse_winner(response: Response) -> tuple[str, str]:
    """("A" | "B" | "tie", rationale); raises ParseError naming what is wrong."""
    data = json_object(response)
    winner = data.get("winner")
    label = _label(winner) if isinstance(winner, str) else None
    if label is None:
        raise ParseError(f'"winner" must be "A", "B" or "tie", got {winner!r}')
    return label, text_field(data.get("rationale", ""))


def _label(text: str) -> str | None:
    t = text.strip().strip('"').strip()
    if t.upper() in ("A", "B"):
        return t.upper()
    return "tie" if t.lower() == "tie" else None


# The text before the winner token; its log-probabilities are the only ones kept (Request).
WINNER_KEY = r'"winner"\s*:\s*"?\s*'
_AFTER_WINNER_KEY = re.compile(WINNER_KEY + "$")


def label_mass(response: Response) -> dict[str, float] | None:
    """The judge's distribution over "A", "B" and "tie" at the winner token.

    None when the backend gave no log-probabilities or the winner token is not found among them.
    """
    if not response.logprobs:
        return None
    found: dict[str, float] | None = None
    for tok in response.logprobs:
        if _first_label(tok.token) is not None and _AFTER_WINNER_KEY.search(
            response.text[: tok.offset]
        ):
            mass = {"A": 0.0, "B": 0.0, "tie": 0.0}
            for alt, lp in {**tok.top, tok.token: tok.logprob}.items():
                label = _first_label(alt)
                if label is not None:
                    mass[label] += math.exp(lp)
            total = sum(mass.values())
            if total > 0:
                found = {k: v / total for k, v in mass.items()}
    return found


def soft_label(response: Response) -> float | None:
    """P(A better) from the log-probabilities at the winner token, a tie counting half."""
    mass = label_mass(response)
    return None if mass is None else mass["A"] + 0.5 * mass["tie"]


def _first_label(token: str) -> str | None:
    """The label a token starts ("t", "ti" and "tie" all start "tie")."""
    t = token.strip().lstrip('"').strip()
    if t in ("A", "B"):
        return t
    if t and "tie".startswith(t.lower()):
        return "tie"
    return None


@dataclass(frozen=True)
class OrderVerdict:
    label: str  # "A" | "B" | "tie": of the ordering as shown
    p_first: float  # P(the response shown first is better)
    rationale: str
    mass: dict[str, float] | None = None  # over "A", "B", "tie", from log-probabilities


def combine(first: OrderVerdict, second: OrderVerdict) -> tuple[float, str, bool, int]:
    """(p_a, winner, flipped, first_position_wins) from a-first and b-first verdicts."""
    to_ab = {"A": "a", "B": "b", "tie": "tie"}
    v1 = to_ab[first.label]
    v2 = {"A": "b", "B": "a", "tie": "tie"}[second.label]  # b was shown first
    p_a = (first.p_first + (1.0 - second.p_first)) / 2.0
    flipped = v1 != v2
    winner = "tie" if flipped else v1
    first_wins = (first.label == "A") + (second.label == "A")
    return p_a, winner, flipped, first_wins


class Comparer:
    """Judges pairs of responses under a constitution, in both orders, through a runner."""

    def __init__(self, constitution: Constitution, options: CompareOptions | None = None) -> None:
        self.constitution = constitution
        self.options = options or CompareOptions()

    def principles_for(self, key: str, prompt: Asked = None) -> list[Principle]:
        """All principles, or one drawn by weight, seeded by the options' seed and `key`; those
        that `requires: reference` only when the responses answer a candidate with one."""
        has_reference = isinstance(prompt, Candidate) and bool(prompt.reference)
        ps = self.constitution.applicable(has_reference)
        if self.options.principles == "all" or not ps:
            return list(ps)
        rng = random.Random(f"{self.options.seed}:{key}")
        return rng.choices(ps, weights=[p.weight for p in ps], k=1)

    def _parse(self, response: Response) -> OrderVerdict:
        label, rationale = parse_winner(response)
        hard = {"A": 1.0, "B": 0.0, "tie": 0.5}[label]
        mass = label_mass(response) if self.options.logprobs else None
        soft = None if mass is None else mass["A"] + 0.5 * mass["tie"]
        return OrderVerdict(label, hard if soft is None else soft, rationale, mass)

    def requests(self, prompt: Asked, a: str, b: str, key: str = "") -> list[Request]:
        ps = self.principles_for(key, prompt)
        if not ps:
            return []
        c, o = self.constitution, self.options
        return [build_request(c, ps, prompt, a, b, o), build_request(c, ps, prompt, b, a, o)]

    async def compare(
        self,
        runner: Runner,
        prompt: Asked,
        a: str,
        b: str,
        *,
        key: str = "",
        index_a: int = 0,
        index_b: int = 1,
    ) -> Comparison:
        """Judge a against b in both orders; `index_a`/`index_b` only label the record."""

        async def once(r: Runner) -> Comparison:
            return await self.compare_once(r, prompt, a, b, key, index_a, index_b)

        return await self.decide(runner, once, (index_a, index_b))

    async def decide(self, runner: Runner, once: Ask, pair: tuple[int, int]) -> Comparison:
        """Who judges the pair (indexes a, b): here the one runner; a panel or a cascade asks
        several, each through `once`."""
        return await once(runner)

    async def compare_once(
        self,
        runner: Runner,
        prompt: Asked,
        a: str,
        b: str,
        key: str,
        index_a: int,
        index_b: int,
    ) -> Comparison:
        """One judge's verdict on a against b, both orders."""
        principles = self.principles_for(key, prompt)
        pair = Comparison(a=index_a, b=index_b, p_a=None, winner=None)
        if not principles:
            return pair.model_copy(update={"error": NO_REFERENCE})
        outcomes = await asyncio.gather(
            *(runner.call(Job(r, self._parse)) for r in self.requests(prompt, a, b, key))
        )
        verdict: dict[str, Any] = {
            "usage": sum((o.usage for o in outcomes), Usage()),
            "principle": None if self.options.principles == "all" else principles[0].id,
            "cached": all(o.cached for o in outcomes),
        }
        errors = [o.error or "not judged" for o in outcomes if o.value is None]
        if errors:
            return pair.model_copy(update={**verdict, "error": "; ".join(dict.fromkeys(errors))})
        first, second = (_value(o) for o in outcomes)
        p_a, winner, flipped, first_wins = combine(first, second)
        verdict.update(p_a=p_a, winner=winner, flipped=flipped, rationale=first.rationale)
        labels = (first.label, second.label)
        verdict["confidence"] = comparison_confidence(winner, first.mass, second.mass, labels)
        verdict.update(first_position_wins=first_wins, verdicts=[first.label, second.label])
        return pair.model_copy(update=verdict)


def _value(outcome: Outcome[OrderVerdict]) -> OrderVerdict:
    assert outcome.value is not None
    return outcome.value
