"""Prompt caching made visible: the constitution-bearing prefix is first and byte-identical in
every call (per candidate and per group), and the cached input tokens the provider reports are
read from the usage and priced at the cached rate, through the real OpenAI SDK."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from judge.constitution import load
from judge.judging.grouped import GroupScorer
from judge.judging.scoring import ScoreOptions, Scorer
from judge.records import Candidate
from tests.fakes import FakeOpenAIServer

ROOT = Path(__file__).resolve().parents[1]
HHH = ROOT / "constitutions" / "helpful-honest-harmless.md"


def cand(i: int, prompt: str, response: str) -> Candidate:
    return Candidate(index=i, row_index=i, prompt=prompt, response=response)


@pytest.mark.parametrize("group", [0, 8])
def test_the_constitution_prefix_is_first_and_identical(group: int) -> None:
    constitution = load(HHH)
    scorer = (GroupScorer if group else Scorer)(constitution, ScoreOptions(group=group))
    items = [cand(0, "Q?", "a"), cand(1, "Q?", "b"), cand(2, "Other?", "c"), cand(3, "X?", "d")]
    requests = [r for c in scorer.plan(items) for r in scorer.requests(c)]
    assert len(requests) == (3 if group else 4)
    firsts = {r.messages[0].content for r in requests}
    assert len(firsts) == 1  # byte-identical
    system = requests[0].messages[0]
    assert system.role == "system" and system.cache
    assert all(p.statement.strip()[:40] in system.content for p in constitution.principles)
    assert all("candidate" not in m.content or m.role == "user" for m in requests[0].messages[1:])
    assert len({json.dumps(r.schema) for r in requests}) == (2 if group else 1)  # sizes 2, 1


def test_cached_tokens_are_read_and_priced(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    rows = [{"prompt": f"Question {i}?", "response": f"Answer {i}."} for i in range(3)]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    env = {"PATH": "/usr/bin:/bin", "OPENAI_API_KEY": "sk-test", "HOME": str(tmp_path)}
    with FakeOpenAIServer() as server:
        proc = subprocess.run(
            [sys.executable, "-m", "judge", "score", str(src), "-c", str(HHH),
             "-m", "openai/gpt-4o-mini", "--base-url", server.base_url, "--concurrency", "1",
             "--no-cache", "-q", "-o", str(out)],
            capture_output=True, text=True, env=env, timeout=120, cwd=ROOT,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    usages = [json.loads(line)["judge"]["usage"] for line in out.read_text().splitlines()]
    assert usages[0]["cached_input_tokens"] == 0  # the first call writes the cache
    for u in usages[1:]:
        assert 0 < u["cached_input_tokens"] < u["input_tokens"]
        uncached = u["input_tokens"] - u["cached_input_tokens"]
        cost = (uncached * 0.15 + u["cached_input_tokens"] * 0.075 + u["output_tokens"] * 0.6) / 1e6
        assert u["cost_usd"] == pytest.approx(cost)
    assert "from the prompt cache" in proc.stderr  # the summary shows them
