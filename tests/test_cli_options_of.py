"""judge.cli.flags.options_of: each command's flags reach the fields of its option dataclass
(a renamed flag too: --critique-max-tokens is ReviseOptions.critique_tokens), and a field that no
flag sets keeps its default. The builders after the options are replaced, so nothing is judged.
And judge.cli.common.input_command: the commands that read INPUT are made alike."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

import judge.cli.calibrate_cmd
import judge.cli.distill_cmd
import judge.cli.pairs_cmd
import judge.cli.revise_cmd
from judge.cli import main
from judge.cli.help import Sectioned
from judge.distill import FastTextSettings
from judge.distill.run import MIN_CLASS
from judge.judging.revision import ReviseOptions
from judge.options import options_of
from judge.tasks.pairs.pipeline import PairsOptions


class Built(Exception):
    """Raised by the replaced builder with what it was given."""

    def __init__(self, args: tuple[Any, ...], kw: dict[str, Any]) -> None:
        super().__init__("built")
        self.args_given, self.kw = args, kw


def stop_at(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> None:
    def builder(*args: Any, **kw: Any) -> Any:
        raise Built(args, kw)

    monkeypatch.setattr(module, name, builder)


def built(*args: str) -> Built:
    result = CliRunner().invoke(main, list(args))
    assert isinstance(result.exception, Built), result.output
    return result.exception


@pytest.fixture
def rows(tmp_path: Path) -> Path:
    path = tmp_path / "in.jsonl"
    row = {"prompt": "p", "response": "r", "responses": ["a", "b"], "score": 0.5, "label": 1}
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    return path


@dataclass
class Example:
    number: int = 1
    text: str = "x"
    renamed: float = 0.5
    given: list[int] = field(default_factory=list)


def test_fields_from_flags_renamed_given_or_default() -> None:
    kw = {"number": 3, "other_flag": 0.25, "given": [9], "unrelated": True}
    got = options_of(Example, kw, {"renamed": "other_flag"}, given=[1])
    assert got == Example(number=3, text="x", renamed=0.25, given=[1])


def test_revise_flags_reach_revise_options(
    monkeypatch: pytest.MonkeyPatch, rows: Path, constitution_file: Path
) -> None:
    stop_at(monkeypatch, judge.cli.revise_cmd, "revise_task")
    got = built(
        "revise", str(rows), "-c", str(constitution_file), "--rounds", "3", "--seed", "7",
        "--min-margin", "0.3", "--critique-max-tokens", "120", "--revision-max-tokens", "200",
        "--max-chars", "5000",
    )  # fmt: skip
    assert got.kw["options"] == ReviseOptions(
        rounds=3, seed=7, min_margin=0.3, critique_tokens=120, revision_tokens=200, max_chars=5000
    )


def test_pairs_flags_reach_pairs_options(
    monkeypatch: pytest.MonkeyPatch, rows: Path, constitution_file: Path
) -> None:
    stop_at(monkeypatch, judge.cli.pairs_cmd, "pairs_task")
    got = built(
        "pairs", str(rows), "-c", str(constitution_file), "--mode", "compare", "--comparisons",
        "adaptive", "--strategy", "all", "--min-margin", "0.3", "--seed", "5", "--format",
        "standard", "--separator", "\\n--\\n",
    )  # fmt: skip
    assert got.kw["options"] == PairsOptions(
        mode="compare",
        comparisons="adaptive",
        strategy="all",
        min_margin=0.3,
        seed=5,
        conversational=False,
        separator="\n--\n",
    )


def test_distill_flags_reach_distill_options_and_fasttext_settings(
    monkeypatch: pytest.MonkeyPatch, rows: Path, tmp_path: Path
) -> None:
    stop_at(monkeypatch, judge.cli.distill_cmd, "distill")
    got = built(
        "distill", str(rows), "-o", str(tmp_path / "model"), "--min-score", "0.5",
        "--score-field", "label", "--held-out", "0.25", "--seed", "3", "--min-prob", "0.6",
        "--newline-replacement", " ", "--lr", "0.2", "--epoch", "7", "--dim", "32",
        "--word-ngrams", "1", "--min-count", "2", "--bucket", "1000", "--threads", "2",
        "--min-class", "3", "--force",
    )  # fmt: skip
    options = got.args_given[2]
    assert (options.held_out, options.seed, options.min_prob) == (0.25, 3, 0.6)
    assert (options.newline_replacement, options.min_class) == (" ", 3)
    assert (options.score_field, options.force) == ("label", True)
    assert options.rule.text().endswith("score >= 0.5")
    flags = dict(lr=0.2, epoch=7, dim=32, word_ngrams=1, min_count=2, bucket=1000, threads=2)
    # --seed seeds fastText too, as the help says and the Session does (the CLI once left
    # fastText at its default seed)
    assert options.fasttext == FastTextSettings(**flags, seed=3)


def test_distill_defaults_are_the_option_fields_defaults(
    monkeypatch: pytest.MonkeyPatch, rows: Path, tmp_path: Path
) -> None:
    stop_at(monkeypatch, judge.cli.distill_cmd, "distill")
    got = built("distill", str(rows), "-o", str(tmp_path / "model"), "--min-score", "0.5")
    options = got.args_given[2]
    assert options.fasttext == FastTextSettings()
    assert (options.held_out, options.min_prob, options.min_class) == (0.2, 0.5, MIN_CLASS)


def test_calibrate_flags_reach_judge_setup(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, constitution_file: Path
) -> None:
    labels = tmp_path / "labels.jsonl"
    row = {"prompt": "p", "response_a": "a", "response_b": "b", "preference": "a"}
    labels.write_text(json.dumps(row) + "\n", encoding="utf-8")
    stop_at(monkeypatch, judge.cli.calibrate_cmd, "calibrate_task")
    got = built(
        "calibrate", str(labels), "-c", str(constitution_file), "--mode", "compare",
        "--tie-margin", "0.05", "--principles", "sample", "--seed", "4",
    )  # fmt: skip
    setup = got.args_given[4]
    assert (setup.mode, setup.tie_margin) == ("compare", 0.05)
    assert (setup.compare.principles, setup.compare.seed) == ("sample", 4)


def test_the_commands_that_read_input_take_it_first_and_print_help_in_sections() -> None:
    ctx = click.Context(main)
    for name in ("score", "filter", "pairs", "revise", "label"):
        command = main.get_command(ctx, name)
        assert isinstance(command, Sectioned) and command.name == name
        first = command.params[0]
        assert isinstance(first, click.Argument) and first.name == "input_path", name
        assert first.human_readable_name == "INPUT"
