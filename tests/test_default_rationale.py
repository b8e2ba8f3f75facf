"""One default rationale level for every command, the CLI's and the API's: short on an
in-process model (local/...), whose longer rationales ran past the token cap; full elsewhere
(ScoreOptions.for_model, judge/judging/scoring.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

import judge
from judge.judging import scoring
from judge.judging.scoring import ScoreOptions
from judge.rewards.verdicts import Judging

EMBEDDED = "local/smollm2"


def test_the_model_picks_the_level() -> None:
    assert ScoreOptions.for_model(EMBEDDED).rationale == "short"
    assert ScoreOptions.for_model("openai/gpt-4o-mini").rationale == "full"
    assert ScoreOptions.for_model(EMBEDDED, rationale="none").rationale == "none"  # given wins
    assert ScoreOptions.for_model(EMBEDDED, max_chars=10).max_chars == 10


def levels(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The rationale level of every scoring request built from now on."""
    seen: list[str] = []
    build = scoring.build_request

    def recording(*args: object, **kw: object) -> object:
        options = kw.get("options", args[3] if len(args) > 3 else None)
        assert isinstance(options, ScoreOptions)
        seen.append(options.rationale)
        return build(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(scoring, "build_request", recording)
    return seen


@pytest.mark.parametrize("command", ["score", "pairs", "revise"])
def test_the_api_picks_short_on_the_embedded_model(
    command: str, constitution_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("llama_cpp", reason="the embedded judge needs the `local` extra")
    seen = levels(monkeypatch)
    rows: list[dict[str, object]] = [{"prompt": "2+2?", "response": "4"}]
    if command == "pairs":
        rows = [{"prompt": "2+2?", "responses": ["4", "5"]}]
    with judge.Session(EMBEDDED, cache=tmp_path / "c.sqlite") as s:
        s.plan(command, rows, constitution_file)  # builds every request, calls nothing
    assert seen and set(seen) == {"short"}, (command, seen)


def test_a_reward_function_picks_the_models_level(
    constitution_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """constitution_reward and `judge serve` judge through Judging: ScoreOptions() was full."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")  # nothing is called
    constitution = judge.load_constitution(constitution_file)
    for model, level in ((EMBEDDED, "short"), ("openai/gpt-4o-mini", "full")):
        with judge.Session(model, cache=tmp_path / "c.sqlite") as session:
            options = Judging(constitution, session).score_options
        assert options is not None and options.rationale == level, model
