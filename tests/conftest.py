"""Shared fixtures: every test gets its own cache file and no API keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from judge.backends.presets import providers
from judge.testing import FakeBackend, all_principles, use_backend

CONSTITUTION = """\
name: tiny
scale: 1-5

Judge the response.

## helpful
weight: 3

Is it helpful?

### Rubric
1: Useless.
5: Perfect.

### Critique
Say what is unhelpful.

### Revision
Make it more helpful.

## honest
scale: 0-10

Is it true?
"""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--live", action="store_true", help="run tests that call paid APIs")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--live"):
        return
    skip = pytest.mark.skip(reason="calls a paid API: opt in with --live")
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    cache_dir = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("JUDGE_CACHE", str(cache_dir / "cache.sqlite"))
    keys = [p.key_env for p in providers() if p.key_env]
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "JUDGE_MODEL", *keys):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def constitution_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.md"
    path.write_text(CONSTITUTION, encoding="utf-8")
    return path


@pytest.fixture
def fake_backend() -> Iterator[FakeBackend]:
    """Registers provider `fake`: `-m fake/judge` reaches this backend in CLI tests."""
    backend = FakeBackend(answer=all_principles(4))
    with use_backend("fake", backend):
        yield backend
