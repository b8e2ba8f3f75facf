"""`judge serve` through real HTTP: a subprocess on 127.0.0.1, the judge a loopback fake whose
scores are known (tests/reward_judge.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest

from tests import reward_judge
from tests.fakes import FakeOpenAIServer

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def served(
    tmp_path: Path, judge_url: str, *args: str, text: str = reward_judge.CONSTITUTION
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`judge serve` on a free port, under the constitution `text`; yields the process and its
    base URL."""
    constitution = tmp_path / "known.md"
    constitution.write_text(text)
    log = tmp_path / f"serve-{time.monotonic_ns()}.log"
    env = {**os.environ, "OPENAI_API_KEY": "sk-test", "PYTHONPATH": str(ROOT)}
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "judge", "serve", "-c", str(constitution), "--port", "0",
             "-m", "openai/gpt-4o-mini", "--base-url", judge_url, *args],
            stderr=err, env=env,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (m := re.search(r"on (http://\S+) ", log.read_text())):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "judge serve did not start"
            time.sleep(0.05)
        yield proc, m.group(1)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def body(completions: list[str], prompt: str = "Say something.") -> dict[str, Any]:
    return {"prompts": [prompt] * len(completions), "completions": completions}


def test_rewards_in_order_under_64_concurrent_requests(tmp_path: Path) -> None:
    batches = [[f"{i}-{'x' * j}" for j in range(i % 5 + 1)] for i in range(64)]
    with (
        FakeOpenAIServer(handler=reward_judge.answer) as judge,
        served(tmp_path, judge.base_url, "--no-cache") as (_, url),
    ):

        async def post_all() -> list[dict[str, Any]]:
            async with aiohttp.ClientSession() as session:

                async def one(completions: list[str]) -> dict[str, Any]:
                    async with session.post(f"{url}/v1/rewards", json=body(completions)) as r:
                        assert r.status == 200, await r.text()
                        return dict(await r.json())

                return await asyncio.gather(*(one(b) for b in batches))

        answers = asyncio.run(post_all())
        assert judge.count == sum(len(b) for b in batches)
    for completions, answer in zip(batches, answers, strict=True):
        assert answer["rewards"] == [reward_judge.known_reward(c) for c in completions]
        assert [d["scores"]["quality"] for d in answer["details"]] == [
            reward_judge.known_score(c) for c in completions
        ]


def test_token_required(tmp_path: Path) -> None:
    with (
        FakeOpenAIServer(handler=reward_judge.answer) as judge,
        served(tmp_path, judge.base_url, "--token", "s3cret") as (_, url),
    ):
        none = httpx.post(f"{url}/v1/rewards", json=body(["a"]))
        wrong = httpx.post(
            f"{url}/v1/rewards", json=body(["a"]), headers={"Authorization": "Bearer nope"}
        )
        right = httpx.post(
            f"{url}/v1/rewards", json=body(["a"]), headers={"Authorization": "Bearer s3cret"}
        )
        assert judge.count == 1
    assert none.status_code == 401 and none.headers["WWW-Authenticate"] == "Bearer"
    assert "missing token" in none.json()["error"]["message"]
    assert wrong.status_code == 401 and "wrong token" in wrong.json()["error"]["message"]
    assert right.status_code == 200 and right.json()["rewards"] == [0.25]


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "must be a JSON object"),
        (b'{"prompts": ["p"]}', 400, "`completions` must be a list (required)"),
        (
            b'{"prompts": ["p", "q"], "completions": ["a"]}',
            400,
            "`prompts` has 2 items; expected 1",
        ),
        (b'{"prompts": "p", "completions": ["a"]}', 400, "`prompts` must be a list, got str"),
        (
            b'{"prompts": ["p"], "completions": ["a"], "reference": "42"}',
            400,
            "`reference` must be a list",
        ),
        (
            b'{"prompts": [3], "completions": ["a"]}',
            400,
            "a prompt must be a string or a list of messages",
        ),
        (
            b'{"prompts": ["p", "p", "p"], "completions": ["a", "b", "c"]}',
            413,
            "limit is 2 (--max-batch)",
        ),
        (b'{"prompts": ["' + b"p" * 5000 + b'"], "completions": ["a"]}', 413, "(--max-bytes)"),
    ],
)
def test_malformed_bodies(tmp_path: Path, payload: bytes, status: int, message: str) -> None:
    with (
        FakeOpenAIServer(handler=reward_judge.answer) as judge,
        served(tmp_path, judge.base_url, "--max-batch", "2", "--max-bytes", "4096") as (_, url),
    ):
        r = httpx.post(
            f"{url}/v1/rewards", content=payload, headers={"Content-Type": "application/json"}
        )
        assert judge.count == 0
    assert r.status_code == status, r.text
    assert message in r.json()["error"]["message"]


def test_openrlhf_get_reward(tmp_path: Path) -> None:
    prompts = ["Q: 6*7?\nA: ", "Q: 1+1?\nA: "]
    responses = ["42", "11"]
    payload = {
        "query": [p + r for p, r in zip(prompts, responses, strict=True)],
        "prompts": prompts,
        "labels": ["42", "2"],
    }
    with (
        FakeOpenAIServer(handler=reward_judge.answer) as judge,
        served(tmp_path, judge.base_url) as (_, url),
    ):
        r = httpx.post(f"{url}/get_reward", json=payload)
    assert r.status_code == 200, r.text
    expected = [reward_judge.known_reward(t) for t in responses]  # the response after the prompt
    assert r.json() == {"rewards": expected, "scores": expected, "extra_logs": {}}


def test_budget_reached_gives_402(tmp_path: Path) -> None:
    with (
        FakeOpenAIServer(handler=reward_judge.answer) as judge,
        served(tmp_path, judge.base_url, "--no-cache", "--max-cost", "0.0005") as (_, url),
    ):
        statuses = []
        for i in range(40):
            r = httpx.post(f"{url}/v1/rewards", json=body([f"answer {i}"]))
            statuses.append(r.status_code)
            if r.status_code != 200:
                break
        calls = judge.count
    assert statuses[0] == 200 and statuses[-1] == 402, statuses
    error = r.json()["error"]
    assert error["type"] == "budget_reached" and "--max-cost budget is reached" in error["message"]
    assert calls == len(statuses) - 1  # the refused request made no call


def test_kill_9_and_restart_loses_no_cached_verdict(tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite"
    completions = [f"c{'x' * i}" for i in range(8)]
    with FakeOpenAIServer(handler=reward_judge.answer) as judge:
        with served(tmp_path, judge.base_url, "--cache", str(cache)) as (proc, url):
            first = httpx.post(f"{url}/v1/rewards", json=body(completions), timeout=60).json()
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        assert judge.count == 8
        with served(tmp_path, judge.base_url, "--cache", str(cache)) as (_, url):
            again = httpx.post(f"{url}/v1/rewards", json=body(completions), timeout=60).json()
        assert judge.count == 8  # every verdict came from the cache
    assert again["rewards"] == first["rewards"]
    assert all(d["cached"] for d in again["details"])


def test_sigterm_drains_requests_in_flight(tmp_path: Path) -> None:
    with (
        FakeOpenAIServer(handler=reward_judge.answer, latency=1.5) as judge,
        served(tmp_path, judge.base_url, "--no-cache") as (proc, url),
    ):

        async def post_then_stop() -> tuple[int, dict[str, Any]]:
            async with aiohttp.ClientSession() as session:
                request = asyncio.ensure_future(
                    session.post(f"{url}/v1/rewards", json=body(["a", "bb"]))
                )
                await asyncio.sleep(0.5)  # in flight at the judge
                proc.send_signal(signal.SIGTERM)
                response = await request
                return response.status, dict(await response.json())

        status, answer = asyncio.run(post_then_stop())
        assert proc.wait(timeout=30) == 0
    assert status == 200 and answer["rewards"] == [0.25, 0.5]
    with pytest.raises(httpx.ConnectError):  # it is gone
        httpx.post(f"{url}/v1/rewards", json=body(["a"]))


def test_a_slow_verification_holds_up_no_other_request(tmp_path: Path) -> None:
    """A final answer whose math parse takes 5 s (math-verify's limit) is checked off the event
    loop: another request is answered meanwhile."""
    exact = "name: exact\n\n## exact\nverify: answer\n\nThe final answer.\n"
    slow = {"prompts": ["p"], "completions": [r"\boxed{9^{9^{9^{9}}}}"], "reference": ["42"]}
    fast = {"prompts": ["p"], "completions": [r"\boxed{42}"], "reference": ["42"]}
    with (
        FakeOpenAIServer(handler=reward_judge.answer) as judge,
        served(tmp_path, judge.base_url, "--no-cache", text=exact) as (_, url),
    ):
        httpx.post(f"{url}/v1/rewards", json=fast, timeout=60)  # the checking workers started

        async def both() -> tuple[float, float, list[Any], list[Any]]:
            async with aiohttp.ClientSession() as session:
                started = time.monotonic()
                held = asyncio.ensure_future(session.post(f"{url}/v1/rewards", json=slow))
                await asyncio.sleep(0.3)  # the slow parse under way
                async with session.post(f"{url}/v1/rewards", json=fast) as r:
                    quick = (await r.json())["rewards"]
                fast_done = time.monotonic() - started
                response = await held
                slow_done = time.monotonic() - started
                return fast_done, slow_done, quick, (await response.json())["rewards"]

        fast_done, slow_done, quick, late = asyncio.run(both())
        assert judge.count == 0  # verifiers only: no model call
    assert quick == [1.0] and late == [0.0]
    assert fast_done < 2.5 < slow_done, (fast_done, slow_done)


def test_checking_workers_end_with_a_server_killed_outright(tmp_path: Path) -> None:
    """kill -9 gives judge serve no chance to stop its checking workers: they notice and exit,
    not keeping its port (the listening socket they inherited) and memory for good."""
    exact = "name: exact\n\n## exact\nverify: answer\n\nThe final answer.\n"
    fast = {"prompts": ["p"], "completions": [r"\boxed{42}"], "reference": ["42"]}
    with (
        FakeOpenAIServer(handler=reward_judge.answer) as judge,
        served(tmp_path, judge.base_url, "--no-cache", text=exact) as (proc, url),
    ):
        assert httpx.post(f"{url}/v1/rewards", json=fast, timeout=60).json()["rewards"] == [1.0]
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        workers = [int(p) for p in children.read_text().split()]
        assert workers  # the checks ran in worker processes
        proc.kill()
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{w}").exists() for w in workers):
            assert time.monotonic() < deadline, "checking workers outlived judge serve"
            time.sleep(0.1)


def test_the_drain_follows_the_call_timeout_or_drain_timeout(tmp_path: Path) -> None:
    """SIGTERM waits for requests in flight as long as a call may take (--timeout), not a fixed
    60 s; --drain-timeout sets it, and a request still in flight after it is cut."""
    with (
        FakeOpenAIServer(handler=reward_judge.answer, latency=20) as judge,
        served(tmp_path, judge.base_url, "--no-cache", "--timeout", "300") as (proc, url),
    ):
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        log = next(tmp_path.glob("serve-*.log")).read_text()
        assert "SIGTERM drains for up to 300 s" in log
        with served(tmp_path, judge.base_url, "--no-cache", "--drain-timeout", "1") as (proc, url):

            async def post_then_stop() -> float:
                async with aiohttp.ClientSession() as session:
                    request = asyncio.ensure_future(
                        session.post(f"{url}/v1/rewards", json=body(["a"]))
                    )
                    await asyncio.sleep(0.5)  # in flight at the judge, which takes 20 s
                    proc.send_signal(signal.SIGTERM)
                    started = time.monotonic()
                    with contextlib.suppress(aiohttp.ClientError):
                        await request
                    return time.monotonic() - started

            cut_after = asyncio.run(post_then_stop())
            assert proc.wait(timeout=30) == 0
    assert cut_after < 10, cut_after


def test_health_and_details(tmp_path: Path) -> None:
    with (
        FakeOpenAIServer(handler=reward_judge.answer) as judge,
        served(tmp_path, judge.base_url, "--no-cache") as (_, url),
    ):
        r = httpx.post(f"{url}/v1/rewards", json={**body(["a", ""]), "reference": ["1", "2"]})
        health = httpx.get(f"{url}/health").json()
    assert r.json()["rewards"] == [0.25, None]
    assert r.json()["details"][1]["error"] == "not judged: empty response"
    assert (
        health["ok"] and health["constitution"]["name"] == "known" and health["spent"]["calls"] == 1
    )
    assert json.loads(json.dumps(health))  # plain JSON


def test_group_flag_makes_one_call_a_prompt(tmp_path: Path) -> None:
    completions = ["a", "bb", "ccc", "dddd"]
    payload = {"prompts": ["p", "q", "p", "q"], "completions": completions}
    with (
        FakeOpenAIServer(handler=reward_judge.answer) as judge,
        served(tmp_path, judge.base_url, "--no-cache", "--group") as (_, url),
    ):
        r = httpx.post(f"{url}/v1/rewards", json=payload, timeout=60)
        assert judge.count == 2
    assert r.json()["rewards"] == [reward_judge.known_reward(c) for c in completions]
