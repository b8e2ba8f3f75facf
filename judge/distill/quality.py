"""Refusing a classifier that does not mimic the judge, and a fastText that is not one build.

A classifier whose held-out ROC AUC is near or below chance, or whose F1 is no better than keeping
every row, would filter a corpus at random (or upside down) at full speed: `judge distill` stops
with exit 1 and writes no model, unless --force. One observed cause: two fastText builds
installed over each other (fasttext-wheel over fasttext-community share the `fasttext` import
name and their files mix), which gave a model with held-out ROC AUC 0.33.
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

from judge.errors import JudgeError

AUC_FLOOR = 0.6  # at or below: near chance (0.5) or inverted
KNOWN_BUILDS = ("fasttext-community", "fasttext", "fasttext-wheel", "fasttext-numpy2-wheel")


class PoorClassifier(JudgeError):
    """The distilled classifier does not agree with the judge on held-out rows (exit 1)."""

    exit_code = 1


def fasttext_builds() -> list[str]:
    """The installed distributions that provide the `fasttext` module."""
    return sorted(set(importlib.metadata.packages_distributions().get("fasttext", [])))


def build_problem(builds: list[str] | None = None) -> tuple[str | None, bool]:
    """What is wrong with the fastText install, and whether it is serious (mixed builds)."""
    builds = fasttext_builds() if builds is None else builds
    if len(builds) > 1:
        names = " and ".join(builds)
        return (
            f"two fastText builds are installed over each other ({names}): they share the "
            "`fasttext` module and their files mix, which has produced inverted models; "
            f"reinstall one: pip uninstall -y {' '.join(builds)} && pip install "
            "fasttext-community",
            True,
        )
    if builds and builds[0] not in KNOWN_BUILDS:
        return (
            f"fastText comes from {builds[0]}, a build judge was not tested with "
            f"({', '.join(KNOWN_BUILDS)}); check the held-out agreement below",
            False,
        )
    return None, False


def quality_problem(metrics: dict[str, Any]) -> str | None:
    """Why the held-out metrics say the classifier does not mimic the judge, or None."""
    auc, f1, floor = metrics.get("roc_auc"), metrics.get("f1"), metrics.get("keep_all_f1")
    if auc is not None and auc <= AUC_FLOOR:
        side = "below chance: its ranking is inverted" if auc < 0.5 else "near chance"
        return f"held-out ROC AUC {auc:.3f} is {side} (0.5 is a coin toss)"
    if f1 is not None and floor is not None and f1 <= floor:
        return (
            f"held-out F1 {f1:.3f} is no better than keeping every row ({floor:.3f}) at "
            f"P(keep) >= {metrics.get('min_prob', 0.5):g}"
        )
    return None


def refuse(problem: str, build: str | None) -> PoorClassifier:
    cause = f"; {build}" if build else ""
    return PoorClassifier(
        f"the classifier does not mimic the judge: {problem}{cause}. No model was written; "
        "more judged rows, a rule that splits them more evenly, or more --epoch may help; "
        "--force writes it anyway"
    )
