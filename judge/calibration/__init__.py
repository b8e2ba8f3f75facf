"""Calibration against human labels: labels, metrics, agreement, fitting, reports and plots.

The fitted calibration (what `--calibration FILE` applies) is importable from here.
"""

from judge.calibration.fitted import (
    EPS,
    FORMAT,
    MIN_ITEMS,
    TIE_TOLERANCE,
    Calibration,
    CalibrationError,
    FitData,
    ProbabilityMap,
    brier,
    choose_map,
    fit_map,
    load_calibration,
    load_for,
    log_loss,
    precision_curve,
    principle_weights,
    save,
)

__all__ = [
    "EPS",
    "FORMAT",
    "MIN_ITEMS",
    "TIE_TOLERANCE",
    "Calibration",
    "CalibrationError",
    "FitData",
    "ProbabilityMap",
    "brier",
    "choose_map",
    "fit_map",
    "load_calibration",
    "load_for",
    "log_loss",
    "precision_curve",
    "principle_weights",
    "save",
]
