"""A calibration applied to preference pairs: which kind fits which mode, and its columns."""

from __future__ import annotations

from typing import Any

from judge.calibration import Calibration, CalibrationError


def check_calibration(calibration: Calibration, mode: str) -> None:
    """A calibration must map what this mode produces; say which one to use if not."""
    where = calibration.where
    if calibration.kind == "pairwise" and calibration.input == "p_a" and mode != "compare":
        raise CalibrationError(
            f"{where} maps comparison probabilities (judge calibrate {{opt:mode}} compare): use it "
            "with {opt:mode} compare, or calibrate with {opt:mode} score for score-mode pairs"
        )
    if calibration.kind == "pairwise" and calibration.input != "p_a" and mode == "compare":
        raise CalibrationError(
            f"{where} maps score differences (judge calibrate {{opt:mode}} score): use it with "
            "{opt:mode} score, or calibrate with {opt:mode} compare for compare-mode pairs"
        )
    if calibration.kind != "pairwise" and mode == "compare":
        raise CalibrationError(
            f"{where} maps absolute scores, which {{opt:mode}} compare does not produce: use "
            "{opt:mode} score, or a calibration fitted on pairwise labels with {opt:mode} compare"
        )


def calibration_columns(calibration: Calibration | None) -> list[str]:
    if calibration is None:
        return []
    if calibration.kind == "pairwise":
        return ["p_calibrated"]
    return ["p_good_chosen", "p_good_rejected"]


def calibrated(calibration: Calibration, row: dict[str, Any]) -> dict[str, float | None]:
    """P(a human prefers the chosen one) for pairwise calibrations; P(a human rates each
    response good) for absolute ones."""
    if calibration.kind == "pairwise":
        if calibration.input == "p_a":
            return {"p_calibrated": calibration.apply_pair(p_a=row["p_chosen"])}
        return {
            "p_calibrated": calibration.apply_pair(
                score_a=row["score_chosen"], score_b=row["score_rejected"]
            )
        }
    return {
        "p_good_chosen": calibration.apply_score(row["score_chosen"]),
        "p_good_rejected": calibration.apply_score(row["score_rejected"]),
    }


def describe_calibration(calibration: Calibration) -> str:
    """One line for the rows and the card."""
    what = "score differences" if calibration.input == "margin" else calibration.input
    return (
        f"{calibration.where}: {calibration.kind}, maps {what} with a {calibration.map.method} "
        f"fit on {calibration.n} labels (judge {calibration.model})"
    )
