"""Judges with their own endpoints: the judges file, the -m shorthand, per-member Settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from judge.engine.prices import Price
from judge.engine.runner import RunnerConfig
from judge.engine.settings import Settings
from judge.errors import ConfigError
from judge.panel.members import (
    Judge,
    judges_from_models,
    load_judges,
    runner_for,
    settings_for,
)

FULL = """\
- name: fast
  model: openai/Qwen2.5-7B
  base_url: http://127.0.0.1:8000/v1
  api_key_env: VLLM_KEY
  prices: {input: 0.1, output: 0.3}
  weight: 2
  concurrency: 4
- model: anthropic/claude-haiku-4-5
"""


def write(tmp_path: Path, text: str, name: str = "judges.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_file_with_every_field(tmp_path: Path) -> None:
    judges = load_judges(write(tmp_path, FULL))
    assert judges == [
        Judge(
            name="fast",
            model="openai/Qwen2.5-7B",
            base_url="http://127.0.0.1:8000/v1",
            api_key_env="VLLM_KEY",
            prices=Price(0.1, 0.3),
            weight=2.0,
            concurrency=4,
        ),
        Judge(name="anthropic/claude-haiku-4-5", model="anthropic/claude-haiku-4-5"),
    ]


def test_json_file_and_judges_key_and_bare_model_strings(tmp_path: Path) -> None:
    data = {"judges": ["openai/a", {"model": "openai/b", "weight": 0.5}]}
    judges = load_judges(write(tmp_path, json.dumps(data), "judges.json"))
    assert [(j.name, j.weight) for j in judges] == [("openai/a", 1.0), ("openai/b", 0.5)]


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ("[]", "non-empty list of members"),
        ("model: openai/a", "non-empty list of members"),
        ("- {name: x}", "member 1 (x): field `model`: missing"),
        ("- {model: openai/a}\n- {model: openai/b, weight: 0}", "member 2: field `weight`"),
        ("- {model: openai/a, weight: yes}", "field `weight`: must be a number > 0"),
        ("- {model: openai/a, concurrency: 0}", "field `concurrency`: must be an integer >= 1"),
        ("- {model: openai/a, prices: 3}", "field `prices`: write {input:"),
        ("- {model: openai/a, prices: {input: 1}}", "output must be a number >= 0"),
        ("- {model: openai/a, base_url: ''}", "field `base_url`: must be a non-empty string"),
        ("- {model: openai/a, key: X}", "field `key`: unknown field; the fields are name,"),
        ("- {model: openai/a}\n- {model: openai/a}", "two members are named 'openai/a'"),
        ("- [1, 2", "not valid YAML or JSON"),
        ("- 3", "member 1 is not an object"),
    ],
)
def test_errors_name_the_member_the_field_and_the_fix(
    tmp_path: Path, text: str, wanted: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_judges(write(tmp_path, text))
    assert wanted in str(err.value)
    assert str(tmp_path / "judges.yaml") in str(err.value)


def test_bad_judges_file_exits_2_without_a_traceback(
    tmp_path: Path, constitution_file: Path
) -> None:
    judges = write(tmp_path, "- {model: openai/a, weight: -1}")
    src = write(tmp_path, '{"prompt": "q", "response": "a"}\n', "in.jsonl")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "judge",
            "score",
            str(src),
            "-c",
            str(constitution_file),
            "--judges",
            str(judges),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "member 1: field `weight`: must be a number > 0" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_models_shorthand_shares_the_options_and_numbers_repeats() -> None:
    settings = Settings(base_url="http://127.0.0.1:9/v1")
    judges = judges_from_models(["openai/a", "openai/b", "openai/a"], settings)
    assert [j.name for j in judges] == ["openai/a", "openai/b", "openai/a#2"]
    assert all(j.base_url == settings.base_url and j.weight == 1.0 for j in judges)


def test_settings_for_replaces_model_server_key_price_and_concurrency(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shared = Settings(model="openai/x", base_url="http://shared", runner=RunnerConfig(8))
    judge = Judge("j", "openai/y", base_url="http://own", api_key_env="MY_KEY", concurrency=2)
    with pytest.raises(ConfigError, match=r"judge 'j': MY_KEY .* is not set"):
        settings_for(judge, shared)
    monkeypatch.setenv("MY_KEY", "sk-own")
    own = settings_for(judge, shared)
    assert (own.model, own.base_url, own.api_key_env) == ("openai/y", "http://own", "MY_KEY")
    assert own.runner.concurrency == 2 and shared.runner.concurrency == 8
    assert settings_for(Judge("k", "openai/z"), shared).base_url is None  # its own, not shared


def test_runner_for_uses_the_members_price_and_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", "sk-own")
    judge = Judge("j", "openai/unpriced-model", api_key_env="MY_KEY", prices=Price(1.0, 2.0))
    runner = runner_for(judge, Settings(use_cache=False))
    assert runner.price == Price(1.0, 2.0)
    assert runner.backend._secret == "sk-own"  # type: ignore[attr-defined]


def test_a_dry_run_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    judge = Judge("j", "openai/m", api_key_env="UNSET_KEY")
    runner = runner_for(judge, Settings(use_cache=False, require_key=False))
    assert runner.backend.name == "openai/m"


def test_runner_errors_name_the_member() -> None:
    with pytest.raises(ConfigError, match="judge 'bad': unknown model provider 'nope'"):
        runner_for(Judge("bad", "nope/x"), Settings(use_cache=False))
