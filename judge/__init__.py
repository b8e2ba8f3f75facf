"""judge: constitutional-AI and RLAIF judging toolkit."""

from __future__ import annotations

from typing import Any

__all__ = [
    "CompareOptions",
    "FieldMap",
    "Judge",
    "JudgeSetup",
    "LabelFields",
    "PairsOptions",
    "ReviseOptions",
    "RunFailed",
    "ScoreOptions",
    "Scored",
    "Settings",
    "calibrate",
    "filter",
    "load_constitution",
    "load_judges",
    "pairs",
    "revise",
    "score",
]


def __getattr__(name: str) -> Any:
    # Lazy, so `judge --help` and the constitution commands start fast.
    if name in __all__:
        from judge import api

        return getattr(api, name)
    raise AttributeError(name)
