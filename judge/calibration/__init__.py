"""Calibration against human labels: labels, metrics, agreement, fitting, reports and plots.

The fitted calibration (what `--calibration FILE` applies) is importable from here.
"""

from judge.calibration.fitted import (
    TIE_TOLERANCE,
    Calibration,
    CalibrationError,
    ProbabilityMap,
    load_calibration,
    load_for,
    save,
)

__all__ = [
    "TIE_TOLERANCE",
    "Calibration",
    "CalibrationError",
    "ProbabilityMap",
    "load_calibration",
    "load_for",
    "save",
]
