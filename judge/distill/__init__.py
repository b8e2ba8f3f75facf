"""Distilling a judge into a fastText classifier (`judge distill`) and the files it writes.

Modules: text (the exact text fastText reads), labels (verdict -> label rule), train (fastText,
seeded, NaN retry), predict (P(keep)), evaluate (held-out agreement with the judge), model_dir
(MODEL_DIR: model.bin, meta.json, report.md), run (the whole command).
"""

from __future__ import annotations

from judge.distill.labels import DROP, KEEP, LabelRule, choose_rule
from judge.distill.model_dir import ModelDir
from judge.distill.run import DistillOptions, distill
from judge.distill.train import FastTextSettings

__all__ = [
    "DROP",
    "KEEP",
    "DistillOptions",
    "FastTextSettings",
    "LabelRule",
    "ModelDir",
    "choose_rule",
    "distill",
]
