"""--dry-run estimates the time of a run, from the backend's speed and the concurrency."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from judge.cli import main
from judge.testing import FakeBackend


def dry_run(tmp_path: Path, constitution_file: Path, *extra: str) -> str:
    return run(tmp_path, constitution_file, "q", "--dry-run", *extra)


def test_the_time_follows_the_configured_latency_and_the_concurrency(
    tmp_path: Path, constitution_file: Path, fake_backend: FakeBackend, monkeypatch: Any
) -> None:
    monkeypatch.setenv("JUDGE_CALL_SECONDS", "30")
    text = dry_run(tmp_path, constitution_file, "--concurrency", "2")
    assert "time: at most about 2 min (JUDGE_CALL_SECONDS=30 a call, --concurrency 2)" in text
    text = dry_run(tmp_path, constitution_file, "--concurrency", "8")
    assert "time: at most about 30 s (JUDGE_CALL_SECONDS=30 a call, --concurrency 8)" in text
    assert fake_backend.requests == []


def test_without_a_configured_latency_the_assumption_is_said(
    tmp_path: Path, constitution_file: Path, fake_backend: FakeBackend, monkeypatch: Any
) -> None:
    monkeypatch.delenv("JUDGE_CALL_SECONDS", raising=False)
    text = dry_run(tmp_path, constitution_file)
    assert re.search(r"time: at most about \d+ s \(assumed 1 s a call", text), text


@pytest.mark.embedded
def test_the_embedded_model_measures_its_speed(tmp_path: Path, constitution_file: Path) -> None:
    pytest.importorskip("llama_cpp")
    rows = [{"prompt": "2+2?", "response": "4"}]
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(rows[0]) + "\n", encoding="utf-8")
    args = ["score", str(src), "-c", str(constitution_file), "--dry-run", "--no-cache"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert re.search(r"measured here: \d+ prompt and \d+ output tokens/s", result.stderr)


def run(tmp_path: Path, constitution_file: Path, tag: str, *extra: str, n: int = 8) -> str:
    rows = [{"id": i, "prompt": f"q{tag}{i}", "response": f"a{i}"} for i in range(n)]
    src = tmp_path / f"{tag}.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    args = ["score", str(src), "-c", str(constitution_file), "-m", "fake/j", "-q"]
    args += ["-o", str(tmp_path / f"{tag}.out.jsonl"), "--cache", str(tmp_path / "c.sqlite")]
    result = CliRunner().invoke(main, [*args, *extra], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return str(result.stderr)


def test_the_latency_measured_on_earlier_calls_is_used_and_said(
    tmp_path: Path, constitution_file: Path, fake_backend: FakeBackend, monkeypatch: Any
) -> None:
    """Each answer's time is kept in the cache: a later dry run of the same model estimates
    from it (the 90th percentile) instead of an assumed second a call."""
    monkeypatch.delenv("JUDGE_CALL_SECONDS", raising=False)
    fake_backend.latency = 0.3
    run(tmp_path, constitution_file, "paid")  # 8 real calls, each about 0.3 s
    assert len(fake_backend.requests) == 8
    text = run(tmp_path, constitution_file, "new", "--dry-run", "--concurrency", "2")
    said = re.search(
        r"time: at most about (\d+) s \(measured: ([\d.]+) s a call, the 90th percentile of "
        r"the last 8 calls to fake/judge in the cache, --concurrency 2\)",
        text,
    )
    assert said, text
    assert 0.3 <= float(said[2]) < 1.0
    assert int(said[1]) == round(8 * float(said[2]) / 2)  # 8 calls, two at a time
    assert len(fake_backend.requests) == 8  # the dry run called nothing
    # A configured latency is the user's word: it wins over the measured one.
    monkeypatch.setenv("JUDGE_CALL_SECONDS", "30")
    text = run(tmp_path, constitution_file, "new", "--dry-run", "--concurrency", "8")
    assert "(JUDGE_CALL_SECONDS=30 a call, --concurrency 8)" in text


def test_too_few_measured_calls_keep_the_assumption(
    tmp_path: Path, constitution_file: Path, fake_backend: FakeBackend, monkeypatch: Any
) -> None:
    monkeypatch.delenv("JUDGE_CALL_SECONDS", raising=False)
    run(tmp_path, constitution_file, "paid", n=4)  # 4 measured calls: too few to say
    text = run(tmp_path, constitution_file, "new", "--dry-run")
    assert "(assumed 1 s a call" in text, text


@pytest.mark.parametrize("value", ["thirty", "0", "-2", "nan", "inf"])
def test_an_unusable_configured_latency_is_refused_not_ignored(
    tmp_path: Path, constitution_file: Path, fake_backend: FakeBackend, monkeypatch: Any, value: str
) -> None:
    monkeypatch.setenv("JUDGE_CALL_SECONDS", value)
    rows = tmp_path / "in.jsonl"
    rows.write_text('{"prompt": "q", "response": "a"}\n', encoding="utf-8")
    args = ["score", str(rows), "-c", str(constitution_file), "-m", "fake/j", "--dry-run"]
    result = CliRunner().invoke(main, [*args, "--no-cache"])
    assert result.exit_code == 2, result.stderr
    assert f"JUDGE_CALL_SECONDS={value!r} is not a number of seconds" in result.stderr
    assert "Traceback" not in result.stderr and fake_backend.requests == []


def test_the_latency_measured_on_one_server_is_not_used_for_another(
    tmp_path: Path, constitution_file: Path, fake_backend: FakeBackend, monkeypatch: Any
) -> None:
    """The same model on another server answers at another speed: its times are its own."""
    monkeypatch.delenv("JUDGE_CALL_SECONDS", raising=False)
    fake_backend.latency = 0.3
    monkeypatch.setattr(FakeBackend, "identity", lambda self: {"base_url": "http://a:1/v1"})
    run(tmp_path, constitution_file, "paid")  # 8 measured calls to the server at a
    said = run(tmp_path, constitution_file, "new", "--dry-run")
    assert "the last 8 calls to fake/judge at http://a:1/v1 in the cache" in said, said
    monkeypatch.setattr(FakeBackend, "identity", lambda self: {"base_url": "http://b:2/v1"})
    assert "(assumed 1 s a call" in run(tmp_path, constitution_file, "new", "--dry-run")
