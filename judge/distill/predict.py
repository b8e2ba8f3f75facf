"""P(keep) from a fastText model as datatrove reads it: predict(line, k=-1)'s keep value.

Kept light (numpy only, fastText passed in) so that worker processes import little.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

KEEP = "__label__keep"  # judge.distill.labels.KEEP, repeated to keep this module light


def keep_probabilities(model: Any, lines: Sequence[str]) -> list[float]:
    """P(keep) for each line (already made by text.model_input: no newline in it)."""
    if not lines:
        return []
    labels, probs = model.predict(list(lines), k=-1)
    out = []
    for names, values in zip(labels, probs, strict=True):
        p = 0.0
        for name, value in zip(names, values, strict=True):
            if name == KEEP:
                p = float(value)
                break
        # Not clipped: fastText adds 1e-5 to each probability, so a value may pass 1 by a hair;
        # datatrove compares that very value with its threshold, and so do we.
        out.append(p)
    return out
