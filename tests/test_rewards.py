"""judge.rewards.constitution_reward: TRL's reward_funcs contract against a loopback judge whose
scores are known (tests/reward_judge.py)."""

from __future__ import annotations

import asyncio
import inspect
import json
from pathlib import Path
from typing import Any

import pytest

from judge.calibration import Calibration, ProbabilityMap, save
from judge.constitution import parse
from judge.errors import ConfigError
from judge.rewards import constitution_reward
from judge.testing import without_codes
from tests import reward_judge
from tests.fakes import FakeOpenAIServer, Fault, Reply

COMPLETIONS = ["a", "bb", "ccc", "dddd", "eeeee", "ffffff", "g" * 7, "h" * 8]
PROMPTS = ["Say something."] * 4 + ["Say more."] * 4


@pytest.fixture
def server() -> Any:
    with FakeOpenAIServer(handler=reward_judge.answer) as s:
        yield s


def reward_fn(server: FakeOpenAIServer, text: str = reward_judge.CONSTITUTION, **kw: Any) -> Any:
    return constitution_reward(
        parse(text), model="openai/gpt-4o-mini", base_url=server.base_url, use_cache=False, **kw
    )


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")


def test_standard_form_rewards_are_the_scores(server: FakeOpenAIServer) -> None:
    with reward_fn(server) as reward:
        got = reward(prompts=PROMPTS, completions=COMPLETIONS, completion_ids=[[1]] * 8)
    assert got == [reward_judge.known_reward(c) for c in COMPLETIONS]
    assert server.count == 8  # one call a completion
    assert reward.__name__ == "known"


def test_conversational_form_and_columns(server: FakeOpenAIServer) -> None:
    prompts = [
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": p}]
        for p in PROMPTS
    ]
    completions = [[{"role": "assistant", "content": c}] for c in COMPLETIONS]
    logged: list[tuple[str, float]] = []
    with reward_fn(server) as reward:
        got = reward(
            prompts=prompts,
            completions=completions,
            reference=["x"] * 8,
            log_metric=lambda name, value: logged.append((name, value)),
            trainer_state=object(),
        )
    assert got == [reward_judge.known_reward(c) for c in COMPLETIONS]
    user = without_codes(server.bodies[0]["messages"][-1]["content"])
    # the conversation turn by turn, its roles in the tags (judge.judging.sections)
    assert "<context_system>\nBe brief.\n</context_system>" in user
    assert "<context_user>\nSay" in user and "<reference>\nx\n</reference>" in user
    assert reward.last[0].verdict is not None
    assert ("judge/unjudged", 0.0) in logged and ("judge/calls", 8.0) in logged


def test_group_judges_a_prompts_completions_in_one_call(server: FakeOpenAIServer) -> None:
    shuffled = [COMPLETIONS[i] for i in (0, 4, 1, 5, 2, 6, 3, 7)]
    prompts = [PROMPTS[i] for i in (0, 4, 1, 5, 2, 6, 3, 7)]  # interleaved prompts
    with reward_fn(server, group=True) as reward:
        got = reward(prompts=prompts, completions=shuffled)
    assert got == [reward_judge.known_reward(c) for c in shuffled]
    assert server.count == 2  # one call a prompt
    assert all(
        b["response_format"]["json_schema"]["name"] == "group_verdict" for b in server.bodies
    )


def test_async_variant_is_a_coroutine_function(server: FakeOpenAIServer) -> None:
    with reward_fn(server) as reward:
        fn = reward.as_async()
        assert inspect.iscoroutinefunction(fn) and fn.__name__ == "known"

        async def trainer_loop() -> list[float | None]:  # TRL awaits it on a loop of its own
            return await fn(prompts=PROMPTS, completions=COMPLETIONS)

        got = asyncio.run(trainer_loop())
    assert got == [reward_judge.known_reward(c) for c in COMPLETIONS]


def test_an_unjudged_completion_gets_none(monkeypatch: pytest.MonkeyPatch) -> None:
    def handler(body: dict[str, Any]) -> Any:
        if "ccc" in json.dumps(body):  # re-asks too
            return Reply("not json at all")
        return reward_judge.answer(body)

    with FakeOpenAIServer(handler=handler) as server, reward_fn(server) as reward:
        got = reward(prompts=PROMPTS[:4], completions=["a", "bb", "ccc", ""])
    assert got == [0.25, 0.5, None, None]  # ccc never parses; the empty one is not judged
    assert "unparseable" in (reward.last[2].detail()["error"] or "")
    assert reward.last[3].detail()["error"] == "not judged: empty response"


def test_principle_alone_and_verifiers(server: FakeOpenAIServer) -> None:
    text = reward_judge.CONSTITUTION + "\n## exact\nverify: answer\nweight: 3\n\nThe answer.\n"
    with reward_fn(server, text, principle="exact") as reward:
        got = reward(
            prompts=["6*7?"] * 3,
            completions=["42", r"\boxed{42}", "41"],
            solution=["42"] * 3,
            reference=["42"] * 3,
        )
    assert got == [1.0, 1.0, 0.0]
    assert server.count == 0  # a verifier principle alone: no model call
    with reward_fn(server, text, reference="solution") as reward:
        got = reward(prompts=["6*7?"] * 2, completions=["42", "41"], solution=["42", "42"])
    # quality: 42 -> score 3 (0.5), 41 -> 0.5; exact weight 3: 1 or 0
    assert got == [pytest.approx((0.5 + 3) / 4), pytest.approx(0.5 / 4)]
    with pytest.raises(ConfigError, match="no principle `nope`"):
        reward_fn(server, text, principle="nope")


def test_pairwise_rewards_are_win_rates() -> None:
    def compare(body: dict[str, Any]) -> Any:
        user = reward_judge._user(body)
        first = user.index("response_a")
        a = user[first:].split("\n")[1]
        b = user[user.index("response_b") :].split("\n")[1]
        return {"rationale": "longer wins", "winner": "A" if len(a) > len(b) else "B"}

    with FakeOpenAIServer(handler=compare) as server, reward_fn(server, pairwise=True) as reward:
        got = reward(prompts=["p"] * 3 + ["q"], completions=["a", "bbb", "cc", "alone"])
        assert server.count == 6  # 3 pairs, both orders; "alone" has no rival
    assert got == [0.0, 1.0, 0.5, None]
    assert reward.last[3].error == "no other completion of its prompt to compare with"


def test_calibration_maps_the_score(server: FakeOpenAIServer, tmp_path: Path) -> None:
    c = parse(reward_judge.CONSTITUTION)
    cal = Calibration(
        kind="absolute",
        input="score",
        map=ProbabilityMap("isotonic", x=(0.0, 1.0), y=(0.1, 0.9)),
        n=4,
        model="openai/gpt-4o-mini",
        constitution={"name": c.name, "sha256": c.sha256},
    )
    path = tmp_path / "calibration.json"
    save(cal, path)
    with reward_fn(server, calibration=path) as reward:
        got = reward(prompts=PROMPTS, completions=COMPLETIONS)
    expected = [0.1 + 0.8 * reward_judge.known_reward(c) for c in COMPLETIONS]
    assert got == pytest.approx(expected)
    assert reward.last[0].verdict is not None and reward.last[0].verdict.score == 0.25


def test_a_failing_server_gives_none_not_a_number() -> None:
    with FakeOpenAIServer() as server:
        server.script(*[Fault.status(400, "bad request")] * 2)
        with reward_fn(server) as reward, pytest.raises(Exception, match="bad request"):
            reward(prompts=["p"], completions=["x"])


def test_pairwise_compares_under_the_judged_principles_only(server: FakeOpenAIServer) -> None:
    only_verifiers = "name: v\n\n## exact\nverify: answer\n\nThe answer.\n"
    refused = pytest.raises(ConfigError, match="every principle of v is a verifier")
    with reward_fn(server, only_verifiers, pairwise=True) as reward, refused:
        reward(prompts=["p", "p"], completions=["1", "2"], reference=["1", "1"])
    mixed = reward_judge.CONSTITUTION + "\n## exact\nverify: answer\n\nThe answer.\n"
    with reward_fn(server, mixed, pairwise=True) as reward:
        reward(prompts=["p", "p"], completions=["1", "22"], reference=["1", "1"])
    system = server.bodies[0]["messages"][0]["content"]
    assert "## quality" in system and "exact" not in system


def test_a_reward_never_closed_exits_cleanly(server: FakeOpenAIServer, tmp_path: Path) -> None:
    import subprocess
    import sys

    script = (
        "from judge.constitution import parse\n"
        "from judge.rewards import constitution_reward\n"
        "from tests import reward_judge\n"
        "import sys\n"
        "import asyncio\n"
        "text = reward_judge.CONSTITUTION + '## exact\\nverify: answer\\n\\nThe answer.\\n'\n"
        "r = constitution_reward(parse(text), model='openai/m', base_url=sys.argv[1],"
        " cache=sys.argv[2])\n"
        "print(r(prompts=['p'], completions=['abc'], reference=['abc']))\n"
        "print(asyncio.run(r.as_async()(prompts=['p'], completions=['ab'], reference=['x'])))\n"
    )
    cache = tmp_path / "cache.sqlite"
    done = subprocess.run(
        [sys.executable, "-c", script, server.base_url, str(cache)],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[0.875]", "[0.25]"], done.stdout
    # TRL never closes a reward: the Session closes at exit, its HTTP sessions with it
    assert "Traceback" not in done.stderr and "Unclosed" not in done.stderr, done.stderr


def test_max_cost_needs_a_known_price(server: FakeOpenAIServer) -> None:
    with pytest.raises(ConfigError, match="needs the price of"):
        constitution_reward(
            parse(reward_judge.CONSTITUTION),
            model="openai/no-such-price",
            base_url=server.base_url,
            max_cost=1.0,
        )


def test_the_docs_grpo_reward_on_math_answers() -> None:
    """docs/rewards.md's reward: math-answers.md, group=True, conversational prompts with a
    reference column; the final answer checked by code, the reasoning by the judge."""
    import re

    def steps(body: dict[str, Any]) -> dict[str, Any]:
        user = reward_judge._user(body)
        verdict = {
            "clear-steps": {"rationale": "clear", "score": 5},
            "sound-steps": {"rationale": "sound", "score": 5},
        }
        ids = re.findall(r'<candidate_response_\w+ id="(\d+)">', user)
        return {f"response_{k}": verdict for k in ids}

    root = Path(__file__).resolve().parent.parent
    prompts = [[{"role": "user", "content": "What is 6 x 7? End with \\boxed{}."}]] * 2
    prompts += [[{"role": "user", "content": "What is 1/2 + 1/4? End with \\boxed{}."}]] * 2
    completions = [
        [{"role": "assistant", "content": text}]
        for text in ("6 x 7 = 42, so \\boxed{42}", "\\boxed{41}", "\\boxed{0.75}", "1/2")
    ]
    references = ["42", "42", "\\frac{3}{4}", "\\frac{3}{4}"]
    with FakeOpenAIServer(handler=steps) as server:
        reward = constitution_reward(
            root / "constitutions" / "math-answers.md",
            model="openai/gpt-4o-mini",
            base_url=server.base_url,
            group=True,
            use_cache=False,
        )
        with reward:
            got = reward(prompts=prompts, completions=completions, reference=references)
        assert server.count == 2  # one call a prompt
        system = server.bodies[0]["messages"][0]["content"]
        assert "## clear-steps" in system and "## final-answer" not in system
    # final-answer weight 3 (5 or 1 on 1-5), clear-steps and sound-steps 5 each (weight 1)
    assert got == [1.0, 0.4, 1.0, 0.4]
    assert reward.__name__ == "math-answers"


def test_calls_from_many_threads_and_loops_share_one_session(server: FakeOpenAIServer) -> None:
    """TRL may call the sync reward from any thread, also one whose event loop is running, and
    the async one from a loop of its own each time: all run on the Session's one loop, so its
    HTTP connections never cross loops, and concurrent calls do not collide."""
    import threading

    want = [reward_judge.known_reward(c) for c in COMPLETIONS]
    got: list[list[float | None]] = []
    with reward_fn(server) as reward:

        def call() -> None:
            got.append(reward(prompts=PROMPTS, completions=COMPLETIONS))

        async def in_a_running_loop() -> None:
            call()
            got.append(await reward.as_async()(prompts=PROMPTS, completions=COMPLETIONS))

        threads = [threading.Thread(target=call) for _ in range(4)]
        threads += [threading.Thread(target=asyncio.run, args=(in_a_running_loop(),))]
        for t in threads:
            t.start()
        call()
        for t in threads:
            t.join(timeout=60)
        asyncio.run(in_a_running_loop())  # a later loop: the same connections, still valid
        session = reward.session
    assert got == [want] * 9
    with pytest.raises(ConfigError, match="open the Session first"):
        session.run(asyncio.sleep(0))  # closed with the reward
    with pytest.raises(ConfigError, match=r"is closed .* make another"):
        reward(prompts=PROMPTS, completions=COMPLETIONS)
