"""Grouped scoring (--group): the responses to one prompt judged in one call."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from judge.backends.base import Request, request_key
from judge.cli import main
from judge.constitution import Constitution, parse
from judge.engine.runner import Runner, RunnerConfig
from judge.judging.grouped import GroupScorer, runs, shuffled
from judge.judging.scoring import ScoreOptions, Scorer
from judge.records import Candidate
from judge.tasks.driver import RowList, drive
from judge.tasks.score import OUT, ScoreTask
from judge.testing import FakeBackend, all_principles, data_section
from tests.conftest import CONSTITUTION
from tests.fakes import FakeOpenAIServer, requested_schema

_SHOWN = re.compile(r'<candidate_(?:response|document)_\w+ id="(\d+)">\n(.*?)\n</candidate_', re.S)


@pytest.fixture
def constitution() -> Constitution:
    return parse(CONSTITUTION, path="tiny.md")


def shown(request: Request) -> dict[str, str]:
    """label -> the text the judge was shown under it."""
    user = next(m.content for m in request.messages if m.role == "user")
    kind = "document" if "<candidate_document" in user else "response"
    return {f"{kind}_{n}": text for n, text in _SHOWN.findall(user)}


def helpful(text: str) -> int:
    return len(text) % 5 + 1


def by_text(request: Request) -> str:
    """Scores that depend on each candidate's text, so a mix-up of positions shows."""
    return json.dumps({label: verdict_on(text) for label, text in shown(request).items()})


def verdict_on(text: str) -> dict[str, Any]:
    return {
        "helpful": {"rationale": f"about {text}", "score": helpful(text)},
        "honest": {"rationale": "ok", "score": len(text) % 11},
    }


def cands(prompt: str | None, texts: list[str], start: int = 0) -> list[Candidate]:
    return [
        Candidate(index=start + i, row_index=start + i, prompt=prompt, response=t,
                  is_document=prompt is None, note=None if t else "empty response",
                  row={"prompt": prompt, "response": t})
        for i, t in enumerate(texts)
    ]  # fmt: skip


def score_all(
    constitution: Constitution,
    candidates: list[Candidate],
    backend: FakeBackend,
    **options: Any,
) -> list[dict[str, Any]]:
    task = ScoreTask(
        constitution,
        Runner(backend, config=RunnerConfig(concurrency=4)),
        lambda: iter(candidates),
        options=ScoreOptions(**{"group": 8, **options}),
    )
    sink = RowList()
    asyncio.run(drive(task, {OUT: sink}))
    return sink.rows


def test_grouped_scoring_parses_one_call_a_prompt(constitution: Constitution) -> None:
    backend = FakeBackend(answer=by_text)
    texts = ["Paris", "Lyon is not it", "It is Paris, France", "Marseille"]
    rows = score_all(constitution, cands("Capital?", texts) + cands("2+2?", ["4"], 4), backend)
    assert len(backend.requests) == 2  # one call a prompt
    assert [r["response"] for r in rows] == [*texts, "4"]  # input order kept
    for row in rows:
        assert row["scores"]["helpful"] == helpful(row["response"])  # the right candidate's
        assert row["rationales"]["helpful"] == f"about {row['response']}"
        assert row["judge"]["mode"] == "grouped" and row["judge"]["error"] is None
    groups = [r["judge"]["group"] for r in rows]
    assert {g["id"] for g in groups[:4]} == {0} and groups[4] == {"id": 4, "size": 1, "position": 1}
    assert sorted(g["position"] for g in groups[:4]) == [1, 2, 3, 4]
    # the position recorded is where the judge was shown the candidate
    first = shown(backend.requests[0])
    for row in rows[:4]:
        assert first[f"response_{row['judge']['group']['position']}"] == row["response"]
    # the rows' usage adds up to what the calls cost
    assert sum(r["judge"]["usage"]["calls"] for r in rows) == 2
    total_in = sum(r["judge"]["usage"]["input_tokens"] for r in rows)
    assert total_in == sum(
        len(" ".join(m.content for m in q.messages).split()) for q in backend.requests
    )


def test_one_constitution_a_group_and_a_distinct_cache_key(constitution: Constitution) -> None:
    group = GroupScorer(constitution, ScoreOptions(group=8))
    single = Scorer(constitution, ScoreOptions())
    members = list(group.plan(cands("Capital?", ["Paris", "Lyon"])))
    grouped = group.requests(members[0])
    assert len(grouped) == 1 and group.requests(members[1]) == []  # one call a group
    request = grouped[0]
    assert request.messages[0].role == "system" and request.messages[0].cache
    assert request.messages[0].content.count("Is it helpful?") == 1
    # the constitution-bearing prefix is the same for every group of responses, first
    other = GroupScorer(constitution, ScoreOptions(group=8))
    later = other.requests(next(iter(other.plan(cands("Else?", ["a", "b", "c"])))))[0]
    assert later.messages[0].content == request.messages[0].content
    fake = FakeBackend()
    alone = single.requests(members[0])[0]
    assert request_key(fake, request) != request_key(fake, alone)


def test_order_is_seeded_and_recorded(constitution: Constitution) -> None:
    texts = [f"answer number {i}" for i in range(6)]
    members = cands("Q?", texts)
    assert shuffled(members, 0) == shuffled(members, 0)
    orders = {tuple(shuffled(members, seed)) for seed in range(20)}
    assert len(orders) > 10  # the seed changes the order
    assert all(sorted(o) == list(range(6)) for o in orders)

    def positions(seed: int) -> list[int]:
        rows = score_all(constitution, members, FakeBackend(answer=by_text), seed=seed)
        return [r["judge"]["group"]["position"] for r in rows]

    assert positions(3) == positions(3)
    assert positions(3) == [shuffled(members, 3).index(i) + 1 for i in range(6)]
    assert any(positions(3) != positions(s) for s in (4, 5, 6))


def test_group_size_splits_long_runs(constitution: Constitution) -> None:
    backend = FakeBackend(answer=by_text)
    members = cands("Q?", [f"r{i}" for i in range(5)]) + cands(None, ["doc a", "doc b"], 5)
    rows = score_all(constitution, members, backend, group=2)
    assert [len(shown(q)) for q in backend.requests] == [2, 2, 1, 2]
    assert [r["judge"]["group"]["size"] for r in rows] == [2, 2, 2, 2, 1, 2, 2]
    assert [r["judge"]["group"]["id"] for r in rows] == [0, 0, 2, 2, 4, 5, 5]
    assert "<candidate_document" in backend.requests[-1].messages[-1].content
    assert all(r["scores"]["helpful"] == helpful(r["response"]) for r in rows)


def test_empty_responses_are_not_grouped_nor_sent(constitution: Constitution) -> None:
    backend = FakeBackend(answer=by_text)
    rows = score_all(constitution, cands("Q?", ["a", "", "b"]), backend)
    assert len(backend.requests) == 1 and len(shown(backend.requests[0])) == 2
    assert rows[1]["score"] is None and "empty response" in rows[1]["judge"]["error"]
    assert rows[0]["judge"]["group"]["size"] == 2


def test_a_malformed_group_answer_is_reasked(constitution: Constitution) -> None:
    answers = iter(["not json at all", "{}"])

    def flaky(request: Request) -> str:
        return next(answers, None) or by_text(request)

    backend = FakeBackend(answer=flaky)
    rows = score_all(constitution, cands("Q?", ["a", "bb", "ccc"]), backend)
    assert len(backend.requests) == 3  # bad JSON, then no candidate, then a good answer
    assert "Your answer could not be used" in backend.requests[2].messages[-1].content
    assert all(r["score"] is not None for r in rows)


def test_after_the_reasks_the_usable_part_is_kept(constitution: Constitution) -> None:
    def misses_one(request: Request) -> str:
        data = json.loads(by_text(request))
        data.pop("response_2")
        return json.dumps(data)

    backend = FakeBackend(answer=misses_one)
    rows = score_all(constitution, cands("Q?", ["a", "bb", "ccc"]), backend)
    assert len(backend.requests) == 3  # asked, then re-asked twice (max_reasks)
    missing = [r for r in rows if r["judge"]["group"]["position"] == 2]
    assert len(missing) == 1 and missing[0]["score"] is None
    assert "missing response_2" in missing[0]["judge"]["error"]
    kept = [r for r in rows if r["judge"]["group"]["position"] != 2]
    assert all(r["scores"]["helpful"] == helpful(r["response"]) for r in kept)


@pytest.mark.parametrize("rationale", ["full", "short", "brief", "none"])
def test_rationale_modes(constitution: Constitution, rationale: str) -> None:
    backend = FakeBackend(answer=all_principles(3))
    rows = score_all(constitution, cands("Q?", ["a", "b"]), backend, rationale=rationale)
    request = backend.requests[0]
    assert request.schema is not None
    assert request.schema["properties"]["response_2"] == {"$ref": "#/$defs/verdict"}
    verdict = request.schema["$defs"]["verdict"]["properties"]
    keyed = rationale in ("full", "short")  # a key a principle; else the list of scores
    assert set(verdict) == ({"helpful", "honest"} if keyed else {"scores"}) | (
        {"rationale"} if rationale == "brief" else set()
    )
    if keyed:
        assert "rationale" in verdict["helpful"]["properties"]
    budget = {"full": 80, "short": 30, "brief": 8, "none": 4}[rationale]
    assert request.max_tokens == 2 * (budget * 2 + 40)
    assert all(r["scores"]["helpful"] == 3 for r in rows)
    want = {"full": {"helpful", "honest"}, "short": {"helpful", "honest"}, "brief": {"overall"}}
    assert all(set(r["rationales"]) == want.get(rationale, set()) for r in rows)


def test_group_is_refused_with_per_principle(constitution: Constitution) -> None:
    with pytest.raises(ValueError, match="per_principle"):
        ScoreOptions(group=8, per_principle=True)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["p", "q", None]), st.sampled_from(["x", "yy", ""]))),
    st.integers(1, 4),
)
def test_runs_cover_every_candidate_once_in_order(
    spec: list[tuple[str | None, str]], size: int
) -> None:
    items = [
        Candidate(index=i, row_index=i, prompt=p, response=r, is_document=p is None,
                  note=None if r else "empty response")
        for i, (p, r) in enumerate(spec)
    ]  # fmt: skip
    seen: list[int] = []
    for pending, members in runs(items, size):
        seen += [c.index for c in pending]
        assert 1 <= len(members) <= size or (not members and all(c.note for c in pending))
        assert len({(c.prompt, c.is_document) for c in members}) <= 1
        assert not any(c.note for c in members)
        indexes = [c.index for c in members]
        between = [c for c in items if indexes and indexes[0] <= c.index <= indexes[-1]]
        assert all(c.note or c in members for c in between)  # consecutive
    assert seen == list(range(len(items)))


def test_cli_dry_run_counts_one_call_a_group(
    tmp_path: Path, constitution_file: Path, fake_backend: FakeBackend
) -> None:
    src = tmp_path / "in.jsonl"
    rows = [{"prompt": "Q?", "responses": ["a", "b", "c"]}, {"prompt": "R?", "response": "d"}]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    common = ["score", str(src), "-c", str(constitution_file), "-m", "fake/judge", "--dry-run"]
    run = CliRunner().invoke(main, [*common, "--group"])
    assert run.exit_code == 0 and "-> 2 calls" in run.stderr, run.stderr
    run = CliRunner().invoke(main, [*common, "--group", "--group-size", "2"])
    assert "-> 3 calls" in run.stderr, run.stderr
    assert "-> 4 calls" in CliRunner().invoke(main, common).stderr
    assert fake_backend.requests == []
    bad = CliRunner().invoke(main, [*common, "--group", "--per-principle"])
    assert bad.exit_code == 2 and "--per-principle" in bad.stderr


def test_cli_filter_groups(
    tmp_path: Path, constitution_file: Path, fake_backend: FakeBackend
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"prompt": "Q?", "responses": ["a", "b", "c"]}) + "\n")
    args = ["filter", str(src), "-c", str(constitution_file), "-m", "fake/judge", "--group"]
    run = CliRunner().invoke(main, [*args, "--min-score", "0.5"])
    assert run.exit_code == 0, run.stderr
    assert len(fake_backend.requests) == 1
    assert [json.loads(x)["judge"]["group"]["size"] for x in run.stdout.splitlines()] == [3] * 3


def test_cli_subprocess_against_the_fake_openai_server(
    tmp_path: Path, constitution_file: Path
) -> None:
    rows = [
        {"id": 1, "prompt": "Capital of France?", "responses": ["Paris", "Lyon", "Nice"]},
        {"id": 2, "prompt": "Capital of France?", "response": "Paris, France"},
        {"id": 3, "prompt": "2+2?", "response": "4"},
    ]
    out = tmp_path / "out.jsonl"
    with FakeOpenAIServer() as server:
        proc = score_jsonl(rows, tmp_path, constitution_file, server, "--group")
        assert proc.returncode == 0, proc.stderr
        assert server.count == 2  # the 4 answers to one prompt, then the other prompt
        # The two calls run concurrently: either may reach the server first.
        schemas = sorted(
            (b["response_format"]["json_schema"] for b in server.bodies),
            key=lambda s: len(s["schema"]["required"]),
        )
        assert [s["name"] for s in schemas] == ["group_verdict"] * 2
        assert sorted(schemas[1]["schema"]["required"]) == [f"response_{i}" for i in range(1, 5)]
        assert schemas[0]["schema"]["required"] == ["response_1"]
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in got] == [1, 1, 1, 2, 3]
    assert all(r["score"] is not None for r in got)
    assert [r["judge"]["group"]["size"] for r in got] == [4, 4, 4, 4, 1]
    assert sorted(r["judge"]["group"]["position"] for r in got[:4]) == [1, 2, 3, 4]


def score_jsonl(
    rows: list[dict[str, Any]],
    tmp_path: Path,
    constitution: Path,
    server: FakeOpenAIServer,
    *options: str,
) -> subprocess.CompletedProcess[str]:
    """`judge score` in a subprocess on `rows` against the loopback server, to out.jsonl."""
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return subprocess.run(
        [sys.executable, "-m", "judge", "score", str(src), "-c", str(constitution),
         "-m", "openai/gpt-4o-mini", "--base-url", server.base_url, *options,
         "--no-cache", "-q", "-o", str(tmp_path / "out.jsonl")],
        capture_output=True, text=True, env={**_env(), "OPENAI_API_KEY": "sk-test"},
        timeout=120,
    )  # fmt: skip


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "JUDGE_"))}


def test_calibrate_scores_both_responses_of_a_pair_in_one_call(
    tmp_path: Path, constitution_file: Path, fake_backend: FakeBackend
) -> None:
    labels = tmp_path / "pairs.jsonl"
    rows = [
        {"prompt": f"q{i}", "response_a": "a" * (i + 1), "response_b": "b", "human_preference": "A"}
        for i in range(4)
    ]
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ["calibrate", str(labels), "-c", str(constitution_file), "-m", "fake/judge"]
    plan = CliRunner().invoke(main, [*args, "--group", "--dry-run"])
    assert plan.exit_code == 0 and "-> 4 calls" in plan.stderr, plan.stderr
    run = CliRunner().invoke(main, [*args, "--group", "-o", str(tmp_path / "report")])
    assert run.exit_code == 0, run.stderr
    assert len(fake_backend.requests) == 4  # one call a pair, not two
    assert all(len(shown(q)) == 2 for q in fake_backend.requests)


_TAGS = re.compile(r"<candidate_prompt_\w+>\n(.*?)\n</candidate_prompt_")


def test_mix_prompts_fills_a_call_with_several_prompts(constitution: Constitution) -> None:
    """--mix-prompts: one call holds the responses to several prompts, each prompt shown once
    and right before its responses; every score lands on its own candidate."""
    backend = FakeBackend(answer=by_text)
    members = (
        cands("Capital?", ["Paris", "Lyon is not it"])
        + cands("2+2?", ["4"], 2)
        + cands("Colour of the sky?", ["blue", "grey at night", "green"], 3)
    )
    rows = score_all(constitution, members, backend, mix_prompts=True)
    assert len(backend.requests) == 1
    user = backend.requests[0].messages[-1].content
    prompt_of = {c.response: c.prompt for c in members}
    assert len(re.findall(r"<candidate_prompt_\w+>", user)) == 3
    texts = shown(backend.requests[0])
    for label, text in texts.items():  # each response comes after its own prompt
        at = re.search(rf'<candidate_response_\w+ id="{label.split("_")[1]}">', user).start()
        before = _TAGS.findall(user[:at])
        assert before[-1] == prompt_of[text]
    assert "each answers the <candidate_prompt>" in backend.requests[0].messages[0].content
    assert [r["response"] for r in rows] == [c.response for c in members]
    assert all(r["scores"]["helpful"] == helpful(r["response"]) for r in rows)
    assert {r["judge"]["group"]["size"] for r in rows} == {6}
    # without the flag: a call a prompt
    plain = FakeBackend(answer=by_text)
    score_all(constitution, members, plain)
    assert len(plain.requests) == 3


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from(["p", "q", "r"]), min_size=1, max_size=12), st.integers(0, 9))
def test_a_mixed_group_keeps_each_prompts_responses_together(
    prompts_: list[str], seed: int
) -> None:
    members = [
        Candidate(index=i, row_index=i, prompt=p, response=f"answer {i}")
        for i, p in enumerate(prompts_)
    ]
    order = shuffled(members, seed)
    assert sorted(order) == list(range(len(members)))
    seen = [members[i].prompt for i in order]
    blocks = [p for k, p in enumerate(seen) if k == 0 or p != seen[k - 1]]
    assert len(blocks) == len(set(seen))  # one run of positions a prompt
    # a one-prompt group keeps the order earlier versions gave it (their cached answers hold)
    import hashlib
    import random

    same = [m.model_copy(update={"prompt": "p"}) for m in members]
    texts = [seed, "p", *(m.response for m in same)]
    digest = hashlib.sha256(json.dumps(texts).encode()).digest()
    old = list(range(len(same)))
    random.Random(int.from_bytes(digest[:8], "big")).shuffle(old)
    assert shuffled(same, seed) == old


def test_runs_mix_prompts_up_to_the_size() -> None:
    items = cands("a", ["1", "2"]) + cands("b", ["3", ""], 2) + cands("c", ["5", "6", "7"], 4)
    items += cands(None, ["doc"], 7)
    got = [[c.index for c in members] for _, members in runs(items, 4, mix=True)]
    assert got == [[0, 1, 2, 4], [5, 6], [7]]  # documents are never mixed with responses


def test_cli_mix_prompts_needs_group(
    tmp_path: Path, constitution_file: Path, fake_backend: FakeBackend
) -> None:
    src = tmp_path / "in.jsonl"
    rows = [{"prompt": f"Q{i}?", "responses": ["a", "b"]} for i in range(5)]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    common = ["score", str(src), "-c", str(constitution_file), "-m", "fake/judge", "--dry-run"]
    bad = CliRunner().invoke(main, [*common, "--mix-prompts"])
    assert bad.exit_code == 2 and "add --group" in bad.stderr
    run = CliRunner().invoke(main, [*common, "--group", "--mix-prompts", "--group-size", "4"])
    assert run.exit_code == 0 and "-> 3 calls" in run.stderr, run.stderr
    assert "-> 5 calls" in CliRunner().invoke(main, [*common, "--group"]).stderr


def test_calibrate_mixes_pairs_into_one_call(
    tmp_path: Path, constitution_file: Path, fake_backend: FakeBackend
) -> None:
    """calibrate --group --mix-prompts: the pairs of several items share a call, so the
    agreement of the cheapest mode can be measured on the user's own labels."""
    labels = tmp_path / "pairs.jsonl"
    rows = [
        {"prompt": f"q{i}", "response_a": "a" * (i + 1), "response_b": "b", "human_preference": "A"}
        for i in range(5)
    ]
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ["calibrate", str(labels), "-c", str(constitution_file), "-m", "fake/judge", "--group"]
    args += ["--mix-prompts", "--group-size", "4"]
    plan = CliRunner().invoke(main, [*args, "--dry-run"])
    assert plan.exit_code == 0 and "-> 3 calls" in plan.stderr, plan.stderr
    run = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "report")])
    assert run.exit_code == 0, run.stderr
    assert len(fake_backend.requests) == 3  # 10 responses in calls of 4, 4 and 2
    judged = [json.loads(x) for x in (tmp_path / "report" / "judgments.jsonl").open()]
    assert len(judged) == 5 and all(j["error"] is None for j in judged)


def test_cheapest_mode_end_to_end_with_log_probabilities(
    tmp_path: Path, constitution_file: Path
) -> None:
    """--group --mix-prompts --rationale brief through the OpenAI SDK against the loopback
    server: one call, the list of scores read for every candidate, each principle's expected
    score from the log-probabilities of its place in the list, the rationale in the rows."""
    rows = [{"id": i, "prompt": f"Question {i}?", "responses": ["yes", "no"]} for i in range(3)]
    out = tmp_path / "out.jsonl"

    def ones(body: dict[str, Any]) -> str:  # 1 for every score, each candidate's rationale "ok"
        schema = requested_schema(body)
        assert schema is not None
        return json.dumps({k: {"scores": [1, 1], "rationale": "ok"} for k in schema["required"]})

    with FakeOpenAIServer(handler=ones) as server:
        options = ["--group", "--mix-prompts", "--rationale", "brief"]
        proc = score_jsonl(rows, tmp_path, constitution_file, server, *options)
        assert proc.returncode == 0, proc.stderr
        assert server.count == 1
        body = server.bodies[0]
        assert body["logprobs"] is True
        verdict = body["response_format"]["json_schema"]["schema"]["$defs"]["verdict"]
        assert verdict["required"] == ["scores", "rationale"]
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(got) == 6 and all(r["score"] is not None for r in got)
    for r in got:
        assert r["rationales"] == {"overall": "ok"}
        # the fake answers 1 for every score with p=0.9, and 2, 3, 4, 5 with 0.025 each
        assert r["judge"]["expected_scores"] == pytest.approx({"helpful": 1.25, "honest": 1.25})


def by_text_alone(request: Request) -> str:
    """by_text for one candidate a call too (its tag has no id)."""
    if shown(request):
        return by_text(request)
    user = request.messages[-1].content
    text = data_section(user, "candidate_response")
    assert text is not None
    return json.dumps(verdict_on(text))


@pytest.mark.parametrize(
    ("options", "calls"),
    [([], 12), (["--group"], 4), (["--group", "--mix-prompts", "--group-size", "5"], 3)],
)
def test_pairs_group_and_mix_prompts_give_the_same_pairs(
    tmp_path: Path,
    constitution_file: Path,
    fake_backend: FakeBackend,
    options: list[str],
    calls: int,
) -> None:
    """judge pairs --group (and --mix-prompts): fewer calls, the very same pairs, as each
    candidate's scores depend on its own text only."""
    fake_backend.answer = by_text_alone
    src = tmp_path / "in.jsonl"
    rows = [
        {"id": i, "prompt": f"Q{i}?", "responses": [f"a{i}", f"bb{i}x", f"cccc{i}"]}
        for i in range(4)
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "pairs.jsonl"
    args = ["pairs", str(src), "-c", str(constitution_file), "-m", "fake/judge", "-o", str(out)]
    plan = CliRunner().invoke(main, [*args, *options, "--dry-run"])
    assert plan.exit_code == 0 and f"-> {calls} calls" in plan.stderr, plan.stderr
    run = CliRunner().invoke(main, [*args, *options])
    assert run.exit_code == 0, run.stderr
    assert len(fake_backend.requests) == calls
    got = [json.loads(x) for x in out.read_text().splitlines()]
    picked = [(r["prompt"][-1]["content"], r["chosen"][-1]["content"], r["rejected"][-1]["content"])
              for r in got]  # fmt: skip
    constitution = parse(CONSTITUTION, path="tiny.md")

    def overall(text: str) -> float:
        return constitution.overall({"helpful": helpful(text), "honest": len(text) % 11})

    expected = []
    for r in rows:  # the default selection: the best against the worst
        ranked = sorted(r["responses"], key=overall, reverse=True)
        expected.append((r["prompt"], ranked[0], ranked[-1]))
    assert picked == expected


def test_pairs_group_is_refused_where_it_cannot_run(
    tmp_path: Path, constitution_file: Path, fake_backend: FakeBackend
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"prompt": "Q?", "responses": ["a", "b"]}) + "\n")
    args = ["pairs", str(src), "-c", str(constitution_file), "-m", "fake/judge", "--group"]
    compare = CliRunner().invoke(main, [*args, "--mode", "compare"])
    assert compare.exit_code == 2 and "--group is for --mode score" in compare.stderr
    panel = CliRunner().invoke(main, [*args, "-m", "fake/other"])
    assert panel.exit_code == 2 and "one judge" in panel.stderr, panel.stderr
    assert fake_backend.requests == []
