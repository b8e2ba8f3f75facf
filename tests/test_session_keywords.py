"""Every option of every judging command is a keyword of judge.Session or of its method (the
same name, `--max-cost` is `max_cost=`), unless it is listed here with the reason it has none."""

from __future__ import annotations

import click
import pytest

from judge.cli import main
from judge.keywords import (
    CalibrateKeywords,
    CheckKeywords,
    ClassifyKeywords,
    DistillKeywords,
    FilterKeywords,
    PairsKeywords,
    ReviseKeywords,
    ScoreKeywords,
    SessionKeywords,
    keys,
)

METHODS = {
    "score": ScoreKeywords,
    "filter": FilterKeywords,
    "pairs": PairsKeywords,
    "calibrate": CalibrateKeywords,
    "revise": ReviseKeywords,
    "distill": DistillKeywords,
    "constitution check": CheckKeywords,  # Session.check
}

# The click parameter's name where it differs from its keyword.
RENAMED = {
    "cache_path": "cache",
    "calibration_path": "calibration",
    "cascade_path": "cascade",
    "rejected_path": "rejected",
    "no_logprobs": "logprobs",
    "pair_format": "format",
    "pairs_path": "pairs",
    "candidates_path": "emit_candidates",
}

# Options with no keyword, and why.
CLI_ONLY = {
    "input_path": "the data: the methods' first argument",
    "labels_path": "the labels: calibrate's first argument",
    "constitution_path": "the constitution: every method's second argument",
    "model": "the Session's first argument (a name, or a list for a panel)",
    "output": "where rows go: the methods return them",
    "output_dir": "calibrate's required output_dir= argument",
    "quiet": "the CLI's progress bar; the API shows none",
    "dry_run": "Session.plan(command, data, constitution) is the dry run",
    "ray_address": "Ray: judge.ray.BatchScorer in your own Ray Data pipeline",
    "push_repo": "publishing: the Dataset that pairs returns has push_to_hub",
    "private": "publishing: Dataset.push_to_hub(private=True)",
    "allow_partial": "publishing: a RunFailed's result is the partial dataset to push or not",
    "card_path": "publishing: the dataset card is written beside a folder output",
    "classifier_dir": "filter --classifier: Session.classify's model_dir argument",
    "scored_path": "the scored rows: distill's first argument",
    "out_dir": "distill's required output_dir argument",
    "files": "the constitution files: check's arguments",
}


def options(command: str) -> list[click.Parameter]:
    """The parameters of `command` ("score", or a group's "constitution check")."""
    cmd: click.Command | None = main
    for name in command.split():
        assert isinstance(cmd, click.Group)
        cmd = cmd.get_command(click.Context(cmd), name)
    assert cmd is not None
    return list(cmd.params)


@pytest.mark.parametrize("command", sorted(METHODS))
def test_every_option_is_a_keyword(command: str) -> None:
    allowed = keys(SessionKeywords) | keys(METHODS[command])
    if command == "filter":  # filter --classifier is Session.classify
        allowed |= keys(ClassifyKeywords)
    missing = []
    for param in options(command):
        assert param.name is not None
        name = RENAMED.get(param.name, param.name)
        if name not in allowed and param.name not in CLI_ONLY:
            missing.append(param.opts[-1])
    assert missing == [], f"judge {command}: options without a Session keyword: {missing}"


def test_the_exclusions_are_options_still() -> None:
    """An excluded name that no command has any more is a stale excuse."""
    names = {p.name for command in METHODS for p in options(command)}
    assert set(CLI_ONLY) <= names
    assert set(RENAMED) <= names
