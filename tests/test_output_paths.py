"""Outputs that cannot be written: refused before any model call (exit 2, one line); a write that
fails part way (a full disk): one line, exit 1, the old output intact. Keys pasted where a name
belongs are never echoed (issue 21, section 4)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from judge.cli import main
from judge.errors import InputError
from judge.io import check_writable, open_writer
from tests.cli import judge
from tests.fakes import FakeOpenAIServer

KEY = "sk-proj-AbCdEf0123456789xyzXYZ"


def rows_file(path: Path, n: int, size: int = 10) -> Path:
    path.write_text(
        "".join(
            json.dumps({"id": i, "prompt": f"q{i}", "response": "a" * size}) + "\n"
            for i in range(n)
        ),
        encoding="utf-8",
    )
    return path


@contextlib.contextmanager
def tmpfs(size: str, *, read_only: bool = False) -> Iterator[Path]:
    """A small tmpfs mounted for the test (root on Linux only; else the test is skipped)."""
    where = Path(tempfile.mkdtemp(prefix="judge-tmpfs-"))
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = (
        sys.platform.startswith("linux")
        and os.geteuid() == 0
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True
        ).returncode
        == 0
    )
    if not mounted:
        where.rmdir()
        pytest.skip("cannot mount a tmpfs here (needs root on Linux)")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False)
        where.rmdir()


def unwritable_paths(tmp_path: Path) -> list[str]:
    """Outputs no one can write, whoever runs the test: under a file, and /proc."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    paths = [str(blocker / "out.jsonl"), str(blocker / "sub" / "out.parquet")]
    if os.path.isdir("/proc/self"):
        paths += ["/proc/x.jsonl", "/proc/sub/x.jsonl"]
    return paths


def test_unwritable_outputs_fail_before_any_call(tmp_path: Path, constitution_file: Path) -> None:
    src = rows_file(tmp_path / "in.jsonl", 3)
    with FakeOpenAIServer() as server:
        for out in unwritable_paths(tmp_path):
            done = judge(
                "score", str(src), "-c", str(constitution_file), "-m", "openai/test",
                "--base-url", server.base_url, "--no-cache", "-o", out,
            )  # fmt: skip
            assert done.returncode == 2, (out, done.stderr)
            assert done.stderr.count("\n") == 1 and "cannot write the output" in done.stderr
            assert out in done.stderr and "Traceback" not in done.stderr
        assert server.count == 0


def test_a_read_only_mount_fails_before_any_call(tmp_path: Path, constitution_file: Path) -> None:
    src = rows_file(tmp_path / "in.jsonl", 3)
    with tmpfs("64k", read_only=True) as ro, FakeOpenAIServer() as server:
        done = judge(
            "score", str(src), "-c", str(constitution_file), "-m", "openai/test",
            "--base-url", server.base_url, "--no-cache", "-o", str(ro / "out.jsonl"),
        )  # fmt: skip
        assert done.returncode == 2 and "Read-only file system" in done.stderr, done.stderr
        assert server.count == 0


def test_a_full_disk_mid_run_keeps_the_old_output(tmp_path: Path, constitution_file: Path) -> None:
    src = rows_file(tmp_path / "in.jsonl", 300, size=200)
    with tmpfs("128k") as disk, FakeOpenAIServer() as server:
        out = disk / "out.jsonl"
        out.write_text('{"old": 1}\n')
        done = judge(
            "score", str(src), "-c", str(constitution_file), "-m", "openai/test",
            "--base-url", server.base_url, "--no-cache", "-o", str(out), "-q",
        )  # fmt: skip
        assert done.returncode == 1, done.stderr
        assert "No space left on device" in done.stderr and "Traceback" not in done.stderr
        assert "Unclosed" not in done.stderr and done.stderr.count("judge: error") == 1
        assert out.read_text() == '{"old": 1}\n'
        assert [p.name for p in disk.iterdir()] == ["out.jsonl"]  # no temporary file left


def test_a_failing_write_is_one_line_and_exit_1(
    tmp_path: Path, constitution_file: Path, fake_backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same without a mount: a writer whose disk fills after the first row."""
    from judge.io import writers

    src = rows_file(tmp_path / "in.jsonl", 5)
    out = tmp_path / "out.jsonl"
    out.write_text('{"old": 1}\n')
    real = writers._FileWriter._write_line

    def full(self: Any, line: str) -> None:
        if self.count >= 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(self, line)

    monkeypatch.setattr(writers._FileWriter, "_write_line", full)
    result = CliRunner().invoke(
        main, ["score", str(src), "-c", str(constitution_file), "-m", "fake/judge", "-o", str(out)]
    )
    assert result.exit_code == 1, result.output
    assert "No space left on device" in result.stderr and result.exception is not None
    assert isinstance(result.exception, SystemExit)
    assert out.read_text() == '{"old": 1}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl", "tiny.md"]


def test_check_writable_leaves_nothing_behind(tmp_path: Path) -> None:
    check_writable(str(tmp_path / "new" / "deeper" / "out.jsonl"))
    check_writable(str(tmp_path / "model_dir"), folder=True)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="cannot write"):
        check_writable(str(tmp_path / "f" / "out.jsonl"))
    with pytest.raises(InputError, match="cannot write"):
        open_writer(str(tmp_path / "f" / "out.jsonl"))


def test_label_refuses_to_start_on_an_unwritable_output(tmp_path: Path) -> None:
    src = tmp_path / "items.jsonl"
    src.write_text('{"id": 1, "prompt": "p", "response": "r"}\n')
    for out in unwritable_paths(tmp_path):
        if not out.endswith(".jsonl"):
            continue
        done = judge("label", str(src), "-o", out, "--no-browser", "--port", "0")
        assert done.returncode == 2 and "cannot write" in done.stderr, done.stderr
        assert "open http" not in done.stderr


def test_distill_refuses_an_unwritable_model_dir(tmp_path: Path) -> None:
    src = tmp_path / "scored.jsonl"
    src.write_text("".join(json.dumps({"text": f"t{i}", "score": i % 2}) + "\n" for i in range(40)))
    (tmp_path / "a-file").write_text("x")
    done = judge("distill", str(src), "-o", str(tmp_path / "a-file" / "m"), "--min-score", "0.5")
    assert done.returncode == 2 and "cannot write" in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("field", "value"),
    [("api_key_env", KEY), ("api_key_env", "AbCdEf0123456789xyzXYZqq"), ("weight", KEY)],
)
def test_a_key_in_a_judges_file_is_never_echoed(
    tmp_path: Path, constitution_file: Path, field: str, value: str
) -> None:
    judges = tmp_path / "judges.yaml"
    judges.write_text(
        f"judges:\n  - model: openai/a\n    {field}: {value}\n  - model: openai/b\n",
        encoding="utf-8",
    )
    src = rows_file(tmp_path / "in.jsonl", 1)
    done = judge("score", str(src), "-c", str(constitution_file), "--judges", str(judges))
    assert done.returncode == 2, done.stderr
    assert value not in done.stderr and value[:12] not in done.stderr
    if field == "api_key_env":
        assert "looks like an API key" in done.stderr


def test_a_key_given_as_the_model_is_never_echoed(tmp_path: Path, constitution_file: Path) -> None:
    src = rows_file(tmp_path / "in.jsonl", 1)
    done = judge("score", str(src), "-c", str(constitution_file), "-m", KEY)
    assert (
        done.returncode == 2 and KEY not in done.stderr and "looks like an API key" in done.stderr
    )
