"""The embedded backend's cache identity is the model file's content (judge/backends/local.py,
judge/backends/file_digest.py), hashed once per version of the file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from judge.backends import file_digest
from judge.backends.local import LocalBackend


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files hashed (each a full read), in order; no memo from earlier tests."""
    seen: list[Path] = []
    real = file_digest.hash_file

    def counting(path: Path) -> str:
        seen.append(path)
        return real(path)

    monkeypatch.setattr(file_digest, "hash_file", counting)
    monkeypatch.setattr(file_digest, "_seen", {})
    return seen


def gguf(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def test_equal_size_different_bytes_are_different_judges(
    tmp_path: Path, hashes: list[Path]
) -> None:
    (tmp_path / "a").mkdir()
    a = gguf(tmp_path / "a" / "model.gguf", b"GGUF" + b"\x00" * 1000)
    b = gguf(tmp_path / "model.gguf", b"GGUF" + b"\x01" * 1000)
    assert a.stat().st_size == b.stat().st_size and a.name == b.name
    ident_a = LocalBackend(str(a)).identity()
    ident_b = LocalBackend(str(b)).identity()
    assert ident_a != ident_b
    assert ident_a["sha256"] == file_digest.hash_file(a)


def test_an_unchanged_file_is_hashed_once(tmp_path: Path, hashes: list[Path]) -> None:
    model = gguf(tmp_path / "model.gguf", b"GGUF" + os.urandom(4096))
    backend = LocalBackend(str(model))
    first = backend.identity()
    for _ in range(5):
        assert backend.identity() == first
    assert len(hashes) == 1
    # A new process: the in-process memo is gone, the memo file next to the cache remains.
    file_digest._seen.clear()
    assert LocalBackend(str(model)).identity() == first
    assert len(hashes) == 1
    memo = json.loads(file_digest.memo_path().read_text("utf-8"))
    assert memo[str(model.resolve())]["sha256"] == first["sha256"]
    # A re-export in place (same size, new bytes, new mtime) is hashed again.
    model.write_bytes(b"GGUF" + os.urandom(4096))
    stat = model.stat()
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert LocalBackend(str(model)).identity() != first
    assert len(hashes) == 2


def test_an_unwritable_memo_only_means_hashing_again(
    tmp_path: Path, hashes: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("JUDGE_CACHE", str(blocker / "cache.sqlite"))
    model = gguf(tmp_path / "model.gguf", b"GGUF" + b"\x02" * 100)
    assert len(LocalBackend(str(model)).identity()["sha256"]) == 64
