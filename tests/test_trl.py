"""Real TRL: GRPOTrainer takes judge.rewards.constitution_reward as it is, and the rewards it
logs are the judge's scores. TRL and torch live in a venv of their own (JUDGE_TRL_PYTHON: .ci/run
builds it), never in the project's test venv; tests/trl_grpo_run.py is what runs there."""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import pytest

from tests import reward_judge
from tests.fakes import FakeOpenAIServer

ROOT = Path(__file__).resolve().parent.parent
STEPS = 3


def expected(text: str) -> float | None:
    return reward_judge.known_reward(text) if text.strip() else None  # empty: not judged


@pytest.mark.slow
def test_grpo_logs_the_judges_scores(tmp_path: Path) -> None:
    python = os.environ.get("JUDGE_TRL_PYTHON")
    if not python or not os.path.exists(python):
        pytest.skip("set JUDGE_TRL_PYTHON to a python with torch and trl (.ci/run builds one)")
    constitution = tmp_path / "known.md"
    constitution.write_text(reward_judge.CONSTITUTION)
    out = tmp_path / "trl.json"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "OPENAI_API_KEY": "sk-test",
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf"),
        "JUDGE_CACHE": str(tmp_path / "cache.sqlite"),
        "TOKENIZERS_PARALLELISM": "false",
    }
    with FakeOpenAIServer(handler=reward_judge.answer) as judge:
        done = subprocess.run(
            [python, str(ROOT / "tests" / "trl_grpo_run.py"), str(constitution), judge.base_url,
             str(out)],
            capture_output=True, text=True, env=env, timeout=900,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-4000:]
        grouped_calls = sum(
            b["response_format"]["json_schema"]["name"] == "group_verdict" for b in judge.bodies
        )
        single_calls = judge.count - grouped_calls
    results = json.loads(out.read_text())
    assert set(results) == {
        f"{f}-{g}" for f in ("standard", "conversational") for g in ("single", "group")
    }
    want_single = want_grouped = 0
    for key, result in results.items():
        assert result["name"] == "known"
        steps = result["steps"]
        assert len(steps) == STEPS, key
        logged = [h["rewards/known/mean"] for h in result["history"] if "rewards/known/mean" in h]
        assert len(logged) == STEPS, key
        for step, mean in zip(steps, logged, strict=True):
            want = [expected(t) for t in step["completions"]]
            assert step["rewards"] == want, key  # what the reward returned to TRL
            judged = [r for r in want if r is not None]
            assert mean == pytest.approx(sum(judged) / len(judged), abs=1e-6), key
            assert step["references"] == ["x"] * len(want)  # the column came through
            if key.endswith("group"):
                want_grouped += len(
                    {p for p, r in zip(step["prompts"], want, strict=True) if r is not None}
                )
            else:
                want_single += len(judged)
        if key.startswith("conversational"):
            assert all(not math.isnan(m) for m in logged)
    every = [r for res in results.values() for s in res["steps"] for r in s["rewards"]]
    assert len({r for r in every if r is not None}) >= 3  # the policy's samples differ
    assert single_calls == want_single  # one call a completion
    assert grouped_calls == want_grouped  # one call a prompt
