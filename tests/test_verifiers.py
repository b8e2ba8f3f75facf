"""Verifier principles: parsed and linted in the constitution, checked without a model call, and
combined with the model-judged principles in one verdict (counted at a loopback server)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from judge.constitution import check_text, load, parse, render
from judge.constitution.model import Verifier
from judge.judging import checking
from judge.judging.checking import checks
from judge.judging.verifiers import Check, check, check_answer
from tests.fakes import FakeOpenAIServer

ROOT = Path(__file__).resolve().parent.parent
MATH = ROOT / "constitutions" / "math-answers.md"


@pytest.mark.parametrize(
    ("answer", "passed"),
    [
        ("42", True),
        ("42.0", True),
        (r"\frac{84}{2}", True),
        (r"\boxed{42}", True),
        ("forty-two", False),
        ("41", False),
        (r"So $x = \frac{84}{2}$, and the answer is \boxed{42}.", True),
        (r"First 40, then \boxed{41}", False),
        ("", False),
    ],
)
def test_final_answer_forms_against_the_reference_42(answer: str, passed: bool) -> None:
    result = check_answer(answer, "42")
    assert result.passed is passed, result.what
    assert "reference '42'" in result.what


def test_a_reference_that_is_not_math_is_compared_as_text() -> None:
    assert check_answer("The capital is... Answer: Paris.", "paris").passed is True
    assert check_answer(r"\boxed{Lyon}", "Paris").passed is False
    missing = check_answer("42", None)
    assert missing.passed is None and "no `reference`" in missing.what


@pytest.mark.parametrize(
    ("verifier", "response", "passed", "what"),
    [
        (Verifier(kind="regex", pattern=r"^Answer: \d+$"), "Answer: 12", True, "found"),
        (Verifier(kind="regex", pattern=r"^Answer: \d+$"), "answer: 12", False, "not found"),
        (Verifier(kind="json"), '{"a": 1}', True, "valid JSON"),
        (Verifier(kind="json"), '```json\n{"a": 1}\n```', True, "valid JSON"),
        (Verifier(kind="json"), "{'a': 1}", False, "not valid JSON"),
        (
            Verifier(kind="json", json_schema={"type": "object", "required": ["name"]}),
            '{"a": 1}',
            False,
            "'name' is a required property",
        ),
        (
            Verifier(kind="json", json_schema={"type": "object", "required": ["name"]}),
            '{"name": "x"}',
            True,
            "follows the schema",
        ),
        (Verifier(kind="length", low=2, high=3, unit="words"), "one two", True, "2 words in 2-3"),
        (Verifier(kind="length", low=2, high=3, unit="words"), "one", False, "outside"),
        (Verifier(kind="length", high=5), "abcdef", False, "6 characters outside 0-5"),
        (Verifier(kind="length", low=5), "abcdef", True, "in 5-"),
    ],
)
def test_checks(verifier: Verifier, response: str, passed: bool, what: str) -> None:
    result = check(verifier, response)
    assert result.passed is passed and what in result.what, result.what


BAD = """name: bad
scale: 0-1

## a
verify: regex ^Answer: (\\d+

a

## b
verify: jsn

b

## c
verify: json

c

### Schema
```json
{"type": "objekt"}
```

## d
verify: length 30-10 words

d

## e
verify: answer 42

e

## f

f

### Schema
{"type": "object"}
"""


def test_bad_verifiers_are_reported_with_their_line() -> None:
    problems = [str(p) for p in check_text(BAD, path="c.md")]
    assert problems[0].startswith("c.md:5: bad regular expression `^Answer: (\\d+`: missing )")
    assert problems[1].startswith("c.md:10: unknown verifier `jsn`; known: answer, regex")
    assert problems[2].startswith("c.md:19: bad JSON schema at type: 'objekt' is not valid")
    assert problems[3] == "c.md:25: bad length range `30-10 words`: MIN (30) is above MAX (10)"
    assert problems[4].startswith("c.md:30: `verify: answer` takes nothing after it")
    assert (
        problems[5]
        == "c.md:38: `### Schema` goes with `verify: json`; add that attribute or remove it"
    )
    assert len(problems) == 6


GOOD = """name: good
scale: 0-1

## shape
verify: json {"type": "object", "required": ["name"]}

The answer is a JSON object with a name.

## long
verify: length 10- words
weight: 2

At least ten words.

## schema-in-section
verify: json

JSON, as in its schema.

### Schema
```json
{"type": "array", "items": {"type": "integer"}}
```

## tone
scale: 1-5

Polite.
"""


def test_verifiers_parse_and_render_back() -> None:
    c = parse(GOOD)
    assert c.principle("shape").verify == Verifier(
        kind="json", json_schema={"type": "object", "required": ["name"]}
    )
    assert c.principle("long").verify == Verifier(kind="length", low=10, unit="words")
    schema = {"type": "array", "items": {"type": "integer"}}
    assert c.principle("schema-in-section").verify == Verifier(kind="json", json_schema=schema)
    assert [p.id for p in c.judged()] == ["tone"]
    back = parse(render(c))
    assert [p.verify for p in back.principles] == [p.verify for p in c.principles]
    assert render(back) == render(c)


def test_a_rubric_on_a_verifier_principle_is_a_warning() -> None:
    text = "name: w\n\n## a\nverify: answer\n\nx\n\n### Rubric\n1: no\n5: yes\n"
    (problem,) = check_text(text, path="w.md")
    assert problem.level == "warning" and problem.line == 8
    assert "scores 5 when the check passes and 1 when it fails" in problem.message


def test_math_answers_constitution_has_a_verifier_and_judged_principles() -> None:
    c = load(MATH)
    assert [(p.id, p.verify.kind if p.verify else None) for p in c.principles] == [
        ("final-answer", "answer"),
        ("clear-steps", None),
        ("sound-steps", None),
    ]


def score(
    rows: list[dict[str, Any]], constitution: Path, server: FakeOpenAIServer, tmp: Path
) -> Any:
    src = tmp / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    env = {"PATH": "/usr/bin:/bin", "OPENAI_API_KEY": "sk-test", "HOME": str(tmp)}
    import os

    env["PYTHONPATH"] = os.environ.get("PYTHONPATH", str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "judge", "score", str(src), "-c", str(constitution),
         "-m", "openai/gpt-4o-mini", "--base-url", server.base_url, "--no-cache", "-q"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


ANSWERS = ["42", "42.0", r"\frac{84}{2}", r"\boxed{42}", "forty-two"]


def test_a_constitution_of_verifiers_only_makes_no_model_call(tmp_path: Path) -> None:
    only = tmp_path / "only.md"
    only.write_text(
        "name: only\nscale: 0-1\n\n## final\nverify: answer\nweight: 3\n\nThe final answer.\n\n"
        "## short\nverify: length -40\n\nAt most 40 characters.\n"
    )
    rows = [{"prompt": "6*7?", "response": a, "reference": "42"} for a in ANSWERS]
    rows.append({"prompt": "6*7?", "response": "42"})  # no reference: not judged
    with FakeOpenAIServer() as server:
        out = score(rows, only, server, tmp_path)
        assert server.count == 0
    assert [r["score"] for r in out] == [1.0, 1.0, 1.0, 1.0, 0.25, None]
    assert [r["scores"]["final"] for r in out[:5]] == [1.0, 1.0, 1.0, 1.0, 0.0]
    assert out[0]["rationales"]["final"] == "checked: final answer '42' = reference '42' (as math)"
    assert out[0]["judge"]["usage"]["calls"] == 0
    assert "no `reference`" in out[5]["judge"]["error"]


def test_verifier_and_judged_principles_make_one_verdict(tmp_path: Path) -> None:
    rows = [{"prompt": "6*7?", "response": a, "reference": "42"} for a in ANSWERS]
    with FakeOpenAIServer(handler=lambda body: _answer(body)) as server:
        out = score(rows, MATH, server, tmp_path)
        assert server.count == len(rows)  # one call a candidate, for the judged principles only
        system = server.bodies[0]["messages"][0]["content"]
        assert "## clear-steps" in system and "final-answer" not in system
    # final-answer weight 3 on 1-5 (5 or 1), clear-steps 4 and sound-steps 3 (weight 1 each)
    passed = (3 * 1.0 + 0.75 + 0.5) / 5
    failed = (3 * 0.0 + 0.75 + 0.5) / 5
    assert [r["score"] for r in out] == pytest.approx([passed] * 4 + [failed])
    assert out[4]["scores"] == {"final-answer": 1.0, "clear-steps": 4.0, "sound-steps": 3.0}
    assert out[4]["rationales"]["final-answer"].startswith("checked: no final answer found")


def _answer(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "clear-steps": {"rationale": "clear", "score": 4},
        "sound-steps": {"rationale": "sound", "score": 3},
    }


SLOW = r"\boxed{9^{9^{9^{9}}}}"  # math-verify gives up on this parse after 5 s


def test_a_slow_check_runs_off_the_event_loop() -> None:
    """A slow math parse runs in a worker process: the loop keeps ticking and another check is
    answered meanwhile (both on the loop that makes the model calls before, and blocked)."""
    answer = [Verifier(kind="answer")]

    async def run() -> tuple[list[Check], float, float, list[Check]]:
        slow = asyncio.ensure_future(checks(answer, SLOW, "42"))
        started = time.monotonic()
        fast = await checks(answer, r"\boxed{42}", "42")
        fast_took = time.monotonic() - started
        longest = 0.0
        while not slow.done():
            tick = time.monotonic()
            await asyncio.sleep(0.05)
            longest = max(longest, time.monotonic() - tick)
        return fast, fast_took, longest, await slow

    fast, fast_took, longest, slow = asyncio.run(run())
    assert fast[0].passed is True and fast_took < 3
    assert longest < 1, f"the event loop stalled {longest:.1f} s"
    assert slow[0].passed is False  # math-verify's own time limit held in the worker


def test_checks_past_the_time_limit_leave_the_candidate_unchecked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(checking, "LIMIT", 0.5)
    started = time.monotonic()
    got = asyncio.run(checks([Verifier(kind="answer"), Verifier(kind="json")], SLOW, "42"))
    assert time.monotonic() - started < 3
    assert got == [Check(None, "not checked: the check took over 0.5 s")] * 2


def test_a_dead_checking_worker_is_replaced() -> None:
    answer = [Verifier(kind="answer")]
    assert asyncio.run(checks(answer, "42", "42"))[0].passed is True
    pool = checking._pool
    assert pool is not None
    for pid in list(pool._processes):  # killed, as by the kernel when memory runs out
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    assert asyncio.run(checks(answer, "41", "42"))[0].passed is False  # checked all the same


def test_the_checks_run_while_the_model_judges(monkeypatch: pytest.MonkeyPatch) -> None:
    """A candidate's verdict waits for the slower of its model call and its checks, not both."""
    from judge.engine.runner import Runner
    from judge.judging.scoring import Scorer
    from judge.judging.verifiers import with_verifiers
    from judge.records import Candidate
    from judge.testing import FakeBackend

    async def slow_checks(kinds: list[Verifier], text: str, reference: str | None) -> list[Check]:
        await asyncio.sleep(1.0)
        return [Check(True, "passed") for _ in kinds]

    monkeypatch.setattr(checking, "checks", slow_checks)
    constitution = load(MATH)
    scorer = with_verifiers(constitution, Scorer)
    answer = json.dumps(_answer({}))
    candidate = Candidate(index=0, row_index=1, prompt="6*7?", response="42", reference="42")

    async def run() -> tuple[float, float | None]:
        async with Runner(FakeBackend(answer=lambda r: answer, latency=1.0)) as runner:
            started = time.monotonic()
            verdict = await scorer.score(runner, candidate)
            return time.monotonic() - started, verdict.score

    took, got = asyncio.run(run())
    assert got == pytest.approx((3 * 1.0 + 0.75 + 0.5) / 5)
    assert took < 1.6, f"{took:.2f} s: the checks waited for the model's answer"
