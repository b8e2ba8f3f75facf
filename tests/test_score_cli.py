"""`judge score` through click's runner and through real subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from judge.backends.base import Request
from judge.cli import main
from judge.errors import BackendError
from judge.testing import FakeBackend
from tests.fakes import FakeOpenAIServer, Fault

ROWS = [
    {"id": 1, "prompt": "2+2?", "response": "4", "extra": {"k": [1, 2]}},
    {"id": 2, "prompt": "Capital of France?", "responses": ["Paris", "Lyon", ""]},
    {"id": 3, "text": "A document about cells."},
]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def rows_of(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def invoke(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_score_writes_one_row_per_candidate(
    tmp_path: Path, constitution_file: Path, fake_backend: FakeBackend
) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    result = invoke("score", str(src), "-c", str(constitution_file), "-m", "fake/judge")
    assert result.exit_code == 0, result.output
    out = rows_of(result.stdout)
    assert [(r["id"], r.get("response_index")) for r in out] == [
        (1, None),
        (2, 0),
        (2, 1),
        (2, 2),
        (3, None),
    ]
    assert out[0]["extra"] == {"k": [1, 2]}  # input fields kept
    assert out[1]["response"] == "Paris"
    assert out[3]["score"] is None and "empty response" in out[3]["judge"]["error"]
    assert all(
        r["score"] == pytest.approx((3 * 0.75 + 0.4) / 4) for i, r in enumerate(out) if i != 3
    )
    assert len(fake_backend.requests) == 4  # the empty response cost nothing
    assert "5 candidates (4 judged, 1 not judged)" in result.stderr


def test_score_reads_stdin_and_writes_parquet(
    tmp_path: Path, constitution_file: Path, fake_backend: FakeBackend
) -> None:
    out = tmp_path / "out.parquet"
    stdin = "".join(json.dumps(r) + "\n" for r in ROWS[:1])
    result = invoke(
        "score", "-", "-c", str(constitution_file), "-m", "fake/judge", "-o", str(out), input=stdin
    )
    assert result.exit_code == 0, result.output
    import pandas as pd

    df = pd.read_parquet(out)
    assert list(df["id"]) == [1] and df["scores"][0]["helpful"] == 4.0


def test_second_run_is_served_from_the_cache(
    tmp_path: Path, constitution_file: Path, fake_backend: FakeBackend
) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    first = invoke("score", str(src), "-c", str(constitution_file), "-m", "fake/judge")
    n = len(fake_backend.requests)
    second = invoke("score", str(src), "-c", str(constitution_file), "-m", "fake/judge")
    assert len(fake_backend.requests) == n
    assert [r["score"] for r in rows_of(first.stdout)] == [
        r["score"] for r in rows_of(second.stdout)
    ]
    assert all(r["judge"]["cached"] for r in rows_of(second.stdout) if r["score"] is not None)
    assert "4 from cache" in second.stderr


def test_dry_run_calls_nothing(
    tmp_path: Path, constitution_file: Path, fake_backend: FakeBackend
) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    result = invoke(
        "score", str(src), "-c", str(constitution_file), "-m", "fake/judge", "--dry-run"
    )
    assert result.exit_code == 0
    assert fake_backend.requests == []
    assert result.stdout == ""
    assert "5 candidates -> 4 calls (0 already cached, 4 to make)" in result.stderr


def test_fatal_backend_error_exits_1_with_the_message(
    tmp_path: Path, constitution_file: Path, fake_backend: FakeBackend
) -> None:
    def bad_key(request: Request) -> BaseException:
        return BackendError("authentication failed (401); check OPENAI_API_KEY")

    fake_backend.answer = bad_key
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    result = invoke("score", str(src), "-c", str(constitution_file), "-m", "fake/judge")
    assert result.exit_code == 1
    assert "OPENAI_API_KEY" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"prompt": "a", "response": "b"}\n{not json\n', "in.jsonl:2: not valid JSON"),
        ('{"question": "a", "answer": "b"}\n', "in.jsonl:1"),
        ("", "empty input"),
    ],
)
def test_bad_input_exits_2_and_names_the_line(
    tmp_path: Path, constitution_file: Path, fake_backend: FakeBackend, content: str, message: str
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(content, encoding="utf-8")
    result = invoke("score", str(src), "-c", str(constitution_file), "-m", "fake/judge")
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_missing_field_names_the_fields_present(
    tmp_path: Path, constitution_file: Path, fake_backend: FakeBackend
) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"question": "a", "answer": "b"}])
    result = invoke("score", str(src), "-c", str(constitution_file), "-m", "fake/judge")
    assert "question" in result.stderr and "answer" in result.stderr
    remapped = invoke(
        "score",
        str(src),
        "-c",
        str(constitution_file),
        "-m",
        "fake/judge",
        "--prompt-field",
        "question",
        "--response-field",
        "answer",
    )
    assert remapped.exit_code == 0 and rows_of(remapped.stdout)[0]["score"] is not None


def test_unknown_provider_and_bad_constitution_exit_2(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    bad = tmp_path / "bad.md"
    bad.write_text("name: x\n\n## a\n\n", encoding="utf-8")
    result = invoke("score", str(src), "-c", str(bad))
    assert result.exit_code == 2 and "bad.md:" in result.stderr
    good = tmp_path / "good.md"
    good.write_text("name: x\n\n## a\n\nBe good.\n", encoding="utf-8")
    result = invoke("score", str(src), "-c", str(good), "-m", "nosuch/model")
    assert result.exit_code == 2 and "unknown model provider" in result.stderr


def test_missing_api_key_names_the_variable(tmp_path: Path, constitution_file: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    result = invoke("score", str(src), "-c", str(constitution_file), "-m", "openai/gpt-4o-mini")
    assert result.exit_code == 2 and "OPENAI_API_KEY" in result.stderr


# -- real subprocesses against a loopback OpenAI-compatible server ------------------------------


def judge_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "judge", *args]


def test_subprocess_against_fake_openai_server_with_faults(
    tmp_path: Path, constitution_file: Path
) -> None:
    rows = [{"id": i, "prompt": f"q{i}", "response": f"a{i}"} for i in range(30)]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    faults = [Fault.rate_limit(0.2), Fault.status(503), Fault.reset(), Fault.garble()]
    with FakeOpenAIServer(faults=faults, latency=0.01) as server:
        proc = subprocess.run(
            judge_cmd(
                "score",
                str(src),
                "-c",
                str(constitution_file),
                "-m",
                "openai/test",
                "--base-url",
                server.base_url,
                "--concurrency",
                "4",
            ),
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": "."},
        )
    assert proc.returncode == 0, proc.stderr
    out = rows_of(proc.stdout)
    assert [r["id"] for r in out] == list(range(30))
    assert all(r["score"] is not None for r in out)
    assert "30 judged" in proc.stderr and "retries" in proc.stderr


def test_kill_9_then_resume_pays_nothing_twice(tmp_path: Path, constitution_file: Path) -> None:
    n = 60
    rows = [{"id": i, "prompt": f"question {i}", "response": f"answer {i}"} for i in range(n)]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    cache = tmp_path / "cache.sqlite"
    with FakeOpenAIServer(latency=0.05) as server:
        args = judge_cmd(
            "score",
            str(src),
            "-c",
            str(constitution_file),
            "-m",
            "openai/test",
            "--base-url",
            server.base_url,
            "--concurrency",
            "4",
            "--cache",
            str(cache),
            "-o",
            str(out),
        )
        env = {**os.environ, "PYTHONPATH": "."}
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        deadline = time.monotonic() + 60
        while server.answered < n // 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # Requests in flight at the kill are still answered (to a dead socket) after the 50 ms
        # latency: let them finish, so that they count as paid before the resume starts.
        time.sleep(0.5)
        paid_before = server.answered
        assert 0 < paid_before < n
        done = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
        assert done.returncode == 0, done.stderr
        answered_total = server.answered
        asked = [
            b["messages"][-1]["content"]
            for b in server.bodies
            if isinstance(b, dict) and "messages" in b
        ]
    from judge.engine.cache import Cache

    cached_at_kill = int(done.stderr.split(" from cache")[0].rsplit(" ", 1)[-1])
    # Every item exactly once, in input order, and no judgment asked twice.
    result = rows_of(out.read_text(encoding="utf-8"))
    assert [r["id"] for r in result] == list(range(n))
    assert all(r["score"] is not None for r in result)
    # Everything answered before the kill was in the cache, bar answers still on the wire when
    # the process died (at most the 4 calls in flight); the resume asked only for the rest.
    assert cached_at_kill >= paid_before - 4
    assert answered_total - paid_before == n - cached_at_kill
    assert len(asked) - len(set(asked)) <= 4
    assert len(Cache(cache)) == n
