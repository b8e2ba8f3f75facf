"""Verifier principles: checked by code beside the model-judged ones, never by a model call.

A verifier principle (`verify:` in the constitution) scores its scale's maximum when its check
passes and its minimum when it fails; the rationale says what was checked. `VerifiedScorer` wraps
the Scorer of the model-judged principles (none when the constitution has only verifiers: then no
call is made at all) and merges both into one verdict, weighted by the constitution. No code in a
response is ever run.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from judge.backends.base import Request
from judge.constitution import Constitution, Principle
from judge.constitution.model import Verifier
from judge.engine.runner import Runner
from judge.errors import ConfigError
from judge.judging.scoring import Scorer
from judge.records import Candidate, Verdict

REFERENCE = "reference"  # the row's field that `verify: answer` compares against
_SHOWN = 60  # characters of an answer shown in a rationale


@dataclass(frozen=True)
class Check:
    passed: bool | None  # None: could not be checked (the reason in `what`)
    what: str  # what was checked, for the rationale


def reference_of(candidate: Candidate) -> str | None:
    value = candidate.reference
    if value is None and candidate.turn is None:  # a conversation's row holds a list, per turn
        value = candidate.row.get(REFERENCE)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value if isinstance(value, str) else json.dumps(value)


def check(verifier: Verifier, text: str, reference: str | None = None) -> Check:
    """The check of `text` (a response); `reference`: what `verify: answer` compares with."""
    if verifier.kind == "answer":
        return check_answer(text, reference)
    if verifier.kind == "regex":
        pattern = verifier.pattern or ""
        found = re.search(pattern, text) is not None
        return Check(found, f"regex /{pattern}/ {'found' if found else 'not found'}")
    if verifier.kind == "json":
        return check_json(text, verifier)
    n = len(text.split()) if verifier.unit == "words" else len(text)
    low = verifier.low if verifier.low is not None else 0
    inside = low <= n and (verifier.high is None or n <= verifier.high)
    bounds = f"{low}-{'' if verifier.high is None else verifier.high}"
    return Check(inside, f"length {n} {verifier.unit} {'in' if inside else 'outside'} {bounds}")


def check_json(text: str, verifier: Verifier) -> Check:
    body = text.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*\n(.*)\n```", body, re.DOTALL)
    try:
        value = json.loads(fenced.group(1) if fenced else body)
    except json.JSONDecodeError as exc:
        return Check(False, f"not valid JSON ({exc.msg} at line {exc.lineno})")
    except ValueError as exc:  # a number too long to convert, and the like
        return Check(False, f"not valid JSON ({exc})")
    if verifier.json_schema is None:
        return Check(True, "valid JSON")
    from jsonschema import Draft202012Validator
    from jsonschema.validators import validator_for

    cls = validator_for(verifier.json_schema, default=Draft202012Validator)
    error = next(iter(cls(verifier.json_schema).iter_errors(value)), None)
    if error is None:
        return Check(True, "valid JSON, follows the schema")
    where = "/".join(str(p) for p in error.absolute_path) or "the top level"
    return Check(False, f"valid JSON, not the schema: at {where}, {error.message[:_SHOWN]}")


def check_answer(text: str, reference: str | None) -> Check:
    """The response's final answer against the reference: as math (math-verify, as TRL's
    accuracy reward) when the reference is math, else as text (case and spaces ignored)."""
    if reference is None:
        return Check(None, f"no `{REFERENCE}` to check the final answer against")
    try:
        from math_verify import parse, verify
    except ImportError:
        raise ConfigError(
            "`verify: answer` compares answers with math-verify: pip install 'judge[rewards]'"
        ) from None
    # math-verify's timeouts use SIGALRM, which only the main thread may set
    timeout = 5 if threading.current_thread() is threading.main_thread() else None
    gold = parse(reference, extraction_mode="first_match", parsing_timeout=timeout)
    if gold:
        found = parse(text, parsing_timeout=timeout)
        if not found:
            return Check(
                False, f"no final answer found to compare with reference {_short(reference)}"
            )
        same = verify(gold, found, timeout_seconds=timeout)
        shown = _short(str(found[-1]))
        sign = "=" if same else "!="
        return Check(same, f"final answer {shown} {sign} reference {_short(reference)} (as math)")
    answer = final_text(text)
    same = _norm(answer) == _norm(reference)
    sign = "=" if same else "!="
    return Check(same, f"final answer {_short(answer)} {sign} reference {_short(reference)}")


def final_text(text: str) -> str:
    """A text answer: the last \\boxed{...}, else what follows the last `answer:`, else the
    last non-empty line."""
    boxed = re.findall(r"\\boxed\{([^{}]*)\}", text)
    if boxed:
        return str(boxed[-1])
    said = re.findall(r"answer\s*(?:is|:)\s*(.+)", text, re.IGNORECASE)
    if said:
        return str(said[-1])
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _norm(text: str) -> str:
    return " ".join(text.casefold().split()).strip(" .!*`$")


def _short(text: str) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "...")


def scored(principle: Principle, result: Check) -> float | None:
    if result.passed is None:
        return None
    return float(principle.scale.high if result.passed else principle.scale.low)


class VerifiedScorer(Scorer):
    """The verifier principles checked here, the others judged by `inner` (None: there are
    none, and no call is made)."""

    def __init__(self, constitution: Constitution, inner: Scorer | None) -> None:
        super().__init__(constitution, inner.options if inner else None)
        self.inner = inner
        self.verifiers = [p for p in constitution.principles if p.verify is not None]

    def plan(self, candidates: Iterable[Candidate]) -> Iterable[Candidate]:
        return self.inner.plan(candidates) if self.inner else candidates

    def requests(self, candidate: Candidate) -> list[Request]:
        return self.inner.requests(candidate) if self.inner else []

    def truncated(self, candidate: Candidate) -> bool:
        return self.inner.truncated(candidate) if self.inner else False

    async def score(self, runner: Runner, candidate: Candidate) -> Verdict:
        if candidate.note:
            return Verdict(score=None, error=f"not judged: {candidate.note}")
        from judge.judging.checking import checks

        kinds = [p.verify for p in self.verifiers if p.verify is not None]
        # The checks run in a worker process while the model judges the other principles.
        checking = asyncio.ensure_future(checks(kinds, candidate.response, reference_of(candidate)))
        try:
            judged = (
                await self.inner.score(runner, candidate) if self.inner else Verdict(score=None)
            )
        except BaseException:
            checking.cancel()
            raise
        results = await checking
        return merge(self.constitution, self.verifiers, results, judged, self.inner is None)


def merge(
    constitution: Constitution,
    verifiers: list[Principle],
    results: list[Check],
    judged: Verdict,
    alone: bool,
) -> Verdict:
    """One verdict: the model's on its principles, the checks' (`results`, one a verifier) on
    theirs, in the file's order."""
    scores = dict(judged.scores)
    rationales = dict(judged.rationales)
    errors = [judged.error] if judged.error else []
    for p, result in zip(verifiers, results, strict=True):
        scores[p.id] = scored(p, result)
        rationales[p.id] = f"checked: {result.what}"
        if result.passed is None:
            errors.append(f"{p.id}: {result.what}")
    ordered = {p.id: scores.get(p.id) for p in constitution.principles}
    error = "; ".join(errors) if errors else None
    return judged.model_copy(
        update={
            "score": None if error else constitution.overall(ordered),
            "scores": ordered,
            "rationales": rationales,
            "error": error,
            "cached": judged.cached and not alone,
        }
    )


def with_verifiers(constitution: Constitution, build: Callable[[Constitution], Scorer]) -> Scorer:
    """The scorer for a constitution: `build(constitution)` when no principle is a verifier,
    else a VerifiedScorer around `build` of the model-judged principles (if there are any)."""
    if all(p.verify is None for p in constitution.principles):
        return build(constitution)
    judged = constitution.judged()
    inner = build(constitution.model_copy(update={"principles": judged})) if judged else None
    return VerifiedScorer(constitution, inner)
