"""judge: constitutional-AI and RLAIF judging toolkit.

`judge.Session` holds the judges and what they share across calls; `judge.score`, `judge.filter`,
`judge.pairs`, `judge.calibrate` and `judge.revise` are one-call conveniences over a Session.
"""

from __future__ import annotations

from judge.api import calibrate, filter, load_constitution, pairs, revise, score
from judge.by_kind import Filtered
from judge.calibration.labels import LabelFields
from judge.engine.settings import Settings
from judge.errors import RunFailed
from judge.io import FieldMap
from judge.judging.comparison import CompareOptions
from judge.judging.revision import ReviseOptions
from judge.judging.scoring import ScoreOptions
from judge.panel.members import Judge, load_judges
from judge.session import Session
from judge.tasks.calibrate import JudgeSetup
from judge.tasks.pairs.pipeline import PairsOptions
from judge.tasks.score import Scored

__all__ = [
    "CompareOptions",
    "FieldMap",
    "Filtered",
    "Judge",
    "JudgeSetup",
    "LabelFields",
    "PairsOptions",
    "ReviseOptions",
    "RunFailed",
    "ScoreOptions",
    "Scored",
    "Session",
    "Settings",
    "calibrate",
    "filter",
    "load_constitution",
    "load_judges",
    "pairs",
    "revise",
    "score",
]
