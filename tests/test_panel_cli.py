"""Panels through real subprocesses against loopback servers: an OpenAI-compatible server and an
Anthropic one in one panel (a judges file), repeated -m on one server, a member down."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli import judge
from tests.fakes import FakeAnthropicServer, FakeOpenAIServer, Fault


def scorer(score: int) -> Any:
    def handler(body: dict[str, Any]) -> dict[str, Any]:
        return {p: {"rationale": "r", "score": score} for p in ("helpful", "honest")}

    return handler


def rows_of(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def inputs(tmp_path: Path, n: int = 5) -> str:
    path = tmp_path / "in.jsonl"
    rows = [{"id": i, "prompt": f"q{i}", "response": f"answer {i}"} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_judges_file_mixes_openai_compatible_and_anthropic(
    tmp_path: Path, constitution_file: Path
) -> None:
    with (
        FakeOpenAIServer(handler=scorer(4), api_key="sk-vllm") as vllm,
        FakeAnthropicServer(handler=scorer(2), api_key="sk-ant") as claude,
    ):
        judges = tmp_path / "judges.yaml"
        judges.write_text(
            f"- name: local\n  model: openai/qwen\n  base_url: {vllm.base_url}\n"
            "  api_key_env: VLLM_KEY\n  prices: {input: 1, output: 2}\n"
            f"- name: claude\n  model: anthropic/claude-x\n  base_url: {claude.base_url}\n"
            "  api_key_env: CLAUDE_KEY\n  weight: 3\n  prices: {input: 3, output: 15}\n",
            encoding="utf-8",
        )
        env = {"VLLM_KEY": "sk-vllm", "CLAUDE_KEY": "sk-ant"}
        c = str(constitution_file)
        proc = judge("score", inputs(tmp_path), "-c", c, "--judges", str(judges), env=env)
        assert proc.returncode == 0, proc.stderr
        assert vllm.answered == 5 and claude.answered == 5
        assert {b["model"] for b in vllm.bodies} == {"qwen"}
        assert {b["model"] for b in claude.bodies} == {"claude-x"}
    out = rows_of(proc.stdout)
    assert [r["id"] for r in out] == list(range(5))
    members = out[0]["judge"]["panel"]
    assert [(m["name"], m["model"], m["weight"]) for m in members] == [
        ("local", "openai/qwen", 1.0),
        ("claude", "anthropic/claude-x", 3.0),
    ]
    # helpful 4 -> 0.75 and 2 -> 0.25, weighted 1:3 -> 0.375; honest 0.4 and 0.2 -> 0.25;
    # overall (3 x 0.375 + 0.25) / 4
    assert abs(out[0]["score"] - 0.34375) < 1e-9
    assert all(m["usage"]["cost_usd"] > 0 for m in members)  # each at its own price
    assert "member local (weight 1): 5 verdicts" in proc.stderr
    assert "member claude (weight 3): 5 verdicts" in proc.stderr
    assert "sk-vllm" not in proc.stderr + proc.stdout and "sk-ant" not in proc.stderr


def test_repeated_model_option_on_one_server_and_a_dry_run(
    tmp_path: Path, constitution_file: Path
) -> None:
    src, c = inputs(tmp_path, 3), str(constitution_file)
    with FakeOpenAIServer() as server:
        common = ["-c", c, "-m", "openai/a", "-m", "openai/b", "--base-url", server.base_url]
        dry = judge("score", src, *common, "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert "3 candidates -> 6 calls" in dry.stderr and server.count == 0
        assert dry.stderr.count("judge:   dry run for member openai/") == 2
        proc = judge("score", src, *common, env={"OPENAI_API_KEY": "sk-test"})
        assert proc.returncode == 0, proc.stderr
        assert sorted(b["model"] for b in server.bodies) == ["a"] * 3 + ["b"] * 3
    assert all(len(r["judge"]["panel"]) == 2 for r in rows_of(proc.stdout))
    assert "6 calls" in proc.stderr


def test_member_down_with_and_without_quorum(tmp_path: Path, constitution_file: Path) -> None:
    src, c = inputs(tmp_path, 3), str(constitution_file)
    with (
        FakeOpenAIServer(handler=scorer(5)) as up,
        FakeAnthropicServer(handler=lambda body: Fault.status(503)) as down,
    ):
        judges = tmp_path / "judges.yaml"
        judges.write_text(
            f"- {{name: a, model: openai/a, base_url: '{up.base_url}'}}\n"
            f"- {{name: b, model: openai/b, base_url: '{up.base_url}'}}\n"
            f"- {{name: down, model: anthropic/c, base_url: '{down.base_url}'}}\n",
            encoding="utf-8",
        )
        env = {"OPENAI_API_KEY": "sk-test", "ANTHROPIC_API_KEY": "sk-test"}
        args = ["score", src, "-c", c, "--judges", str(judges), "--max-retries", "0"]
        rest = judge(*args, "--no-cache", env=env)
        alone = judge(*args, "--no-cache", "--quorum", "3", env=env)
    # Quorum 2 (the default for 3): rows written, the verdict from a and b, exit 1 to say
    # that a member could not be reached.
    assert rest.returncode == 1, rest.stderr
    rows = rows_of(rest.stdout)
    assert len(rows) == 3 and all(r["score"] == 0.875 for r in rows)
    assert all("503" in r["judge"]["panel"][2]["error"] for r in rows)
    assert "3 items got the panel's verdict without every member" in rest.stderr
    # Quorum 3: every row written, unjudged with the reason.
    assert alone.returncode == 1
    rows = rows_of(alone.stdout)
    assert len(rows) == 3 and all(r["score"] is None for r in rows)
    assert all("below the quorum of 3" in r["judge"]["error"] for r in rows)
    assert "Traceback" not in rest.stderr + alone.stderr
