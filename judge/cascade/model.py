"""A cascade of judges with a guaranteed agreement level (Jung, Brahman and Choi, "Trust or
Escalate", ICLR 2025): cascade.json, and how its thresholds are chosen on human labels.

An item goes to the first judge; the judge is trusted when its confidence is >= its threshold,
else the item goes on to the next judge; when the last judge is not confident either, the item is
abstained (left unjudged). Each judge's threshold is chosen by fixed-sequence testing with an exact
binomial test (judge.calibration.guarantees) on the labelled items that reach it, so that its
agreement with people on the items it decides is >= the target with probability >= 1 - delta_j.

Splitting delta: a union bound, delta_j = delta / (number of judges). With probability >= 1 - delta
every judge's promise holds at once, and then the agreement on all decided items (a mixture of the
judges' decided items) is >= the target too. The paper tests each judge at the same level on the
items that reach it; the union bound is the conservative reading, valid whatever the dependence.

A judge whose threshold cannot be certified (too few items reach it, or it does not agree enough
even when most confident) gets no threshold: it is never trusted, and a run skips it (no call).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from judge.calibration.guarantees import choose_threshold
from judge.errors import InputError
from judge.io.tempfiles import write_text_atomic

VERSION = 1
DELTA_SPLIT = "union bound: delta / number of judges, for each judge"
ABSTAINED = "abstained: no judge confident"


@dataclass(frozen=True)
class CascadeJudge:
    """How to reach one judge of the cascade (the fields of a panel's judge spec)."""

    name: str
    model: str
    base_url: str | None = None
    api_key_env: str | None = None
    prices: dict[str, float] | None = None  # USD per 1M tokens: {"input": ..., "output": ...}


@dataclass(frozen=True)
class Stage:
    """One judge of the cascade and what its threshold gave on the labels it was chosen on."""

    judge: CascadeJudge
    threshold: float | None  # trusted when confidence >= this; None: never trusted (skipped)
    reach: float  # share of all labelled items that reach this judge
    coverage: float  # share of all labelled items this judge decides
    n: int  # labelled items it decides
    agreed: int
    p_value: float | None
    delta: float  # this judge's share of delta
    cost_per_item: float | None  # USD per item it judges (None: no price known)

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.n if self.n else None


@dataclass(frozen=True)
class Cascade:
    """cascade.json: the judges in order, their thresholds, and what to expect of them."""

    stages: tuple[Stage, ...]
    target: float
    delta: float
    mode: str  # "score": a confidence per verdict; "compare": per comparison in both orders
    kind: str  # the labels it was fitted on: "absolute" | "pairwise"
    constitution: dict[str, Any] = field(default_factory=dict)
    items: int = 0  # labelled items it was fitted on

    @property
    def coverage(self) -> float:
        return sum(s.coverage for s in self.stages)

    @property
    def agreement(self) -> float | None:
        n = sum(s.n for s in self.stages)
        return sum(s.agreed for s in self.stages) / n if n else None

    @property
    def cost_per_item(self) -> float | None:
        """Expected USD per item: each judge's cost times the share of items that reach it
        (judges without a threshold are skipped, so they cost nothing)."""
        total = 0.0
        for s in self.stages:
            if s.threshold is None or s.reach == 0:
                continue
            if s.cost_per_item is None:
                return None
            total += s.reach * s.cost_per_item
        return total

    @property
    def trusted(self) -> tuple[Stage, ...]:
        """The stages a run calls: those with a threshold."""
        return tuple(s for s in self.stages if s.threshold is not None)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "method": "Trust or Escalate (Jung, Brahman, Choi 2025): fixed-sequence testing, "
            "exact binomial test",
            "target_agreement": self.target,
            "delta": self.delta,
            "delta_split": DELTA_SPLIT,
            "mode": self.mode,
            "kind": self.kind,
            "constitution": self.constitution,
            "items": self.items,
            "judges": [asdict(s.judge) for s in self.stages],
            "stages": [
                {
                    "judge": s.judge.name,
                    **{k: v for k, v in asdict(s).items() if k != "judge"},
                    "agreement": s.agreement,
                }
                for s in self.stages
            ],
            "coverage": self.coverage,
            "expected_agreement": self.agreement,
            "cost_per_item": self.cost_per_item,
        }


def save(cascade: Cascade, path: str | Path) -> None:
    write_text_atomic(path, json.dumps(cascade.to_json(), indent=2) + "\n")


def load(path: str | Path) -> Cascade:
    """cascade.json as `judge calibrate --escalate-to` wrote it; InputError (exit 2) naming
    the problem otherwise."""
    where = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read the cascade: {exc.strerror}", where) from exc
    except ValueError as exc:
        raise InputError(
            f"not JSON ({exc}); give the cascade.json judge calibrate wrote", where
        ) from None
    try:
        judges = {j["name"]: CascadeJudge(**j) for j in data["judges"]}
        stages = tuple(
            Stage(judge=judges[s["judge"]], **{k: s[k] for k in _STAGE_KEYS})
            for s in data["stages"]
        )
        cascade = Cascade(
            stages,
            float(data["target_agreement"]),
            float(data["delta"]),
            str(data["mode"]),
            str(data["kind"]),
            dict(data.get("constitution") or {}),
            int(data.get("items", 0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(
            f"not a cascade.json ({type(exc).__name__}: {exc}); make one with judge calibrate "
            "LABELS -m CHEAP {opt:escalate_to} STRONG {opt:target_agreement} A {opt:delta} D",
            where,
        ) from exc
    if not cascade.trusted:
        raise InputError("no judge of this cascade has a threshold: it would decide nothing", where)
    return cascade


_STAGE_KEYS = ("threshold", "reach", "coverage", "n", "agreed", "p_value", "delta", "cost_per_item")


@dataclass(frozen=True)
class JudgeRecord:
    """One judge's verdicts on the labelled items, as the fit reads them (None: unjudged)."""

    judge: CascadeJudge
    confidence: Sequence[float | None]
    agreed: Sequence[bool | None]
    cost_per_item: float | None


def fit(
    records: Sequence[JudgeRecord],
    *,
    target: float,
    delta: float,
    mode: str,
    kind: str,
    constitution: dict[str, Any] | None = None,
    steps: int = 10,
) -> Cascade:
    """Thresholds for the judges in order, each on the labelled items the judges before it
    escalated. An item a judge could not judge (or judged with no confidence) escalates."""
    if not records:
        raise ValueError("a cascade needs at least one judge")
    total = len(records[0].confidence)
    share = delta / len(records)
    reaching = list(range(total))
    stages = []
    for rec in records:
        usable = [
            i for i in reaching if rec.confidence[i] is not None and rec.agreed[i] is not None
        ]
        conf = [float(rec.confidence[i] or 0.0) for i in usable]
        agree = [bool(rec.agreed[i]) for i in usable]
        # The first test keeps the most confident 1/steps of the items (at least n_min): a
        # first test on a dozen items would end the walk on one unlucky error.
        first = math.ceil(len(usable) / steps)
        t = choose_threshold(conf, agree, target=target, delta=share, steps=steps, start=first)
        decided = (
            set()
            if t is None
            else {i for i, c in zip(usable, conf, strict=True) if c >= t.confidence}
        )
        stages.append(
            Stage(
                judge=rec.judge,
                threshold=None if t is None else t.confidence,
                reach=len(reaching) / total if total else 0.0,
                coverage=len(decided) / total if total else 0.0,
                n=len(decided),
                agreed=sum(bool(rec.agreed[i]) for i in decided),
                p_value=None if t is None else t.p_value,
                delta=share,
                cost_per_item=rec.cost_per_item,
            )
        )
        reaching = [i for i in reaching if i not in decided]
    return Cascade(tuple(stages), target, delta, mode, kind, constitution or {}, total)


def curve(
    records: Sequence[JudgeRecord], *, delta: float, mode: str, kind: str, targets: Sequence[float]
) -> list[dict[str, Any]]:
    """The cascade fitted at each target agreement: (target, coverage, agreement on decided
    items, cost per item), for the cost-vs-agreement figure."""
    out = []
    for target in targets:
        c = fit(records, target=target, delta=delta, mode=mode, kind=kind)
        out.append(
            {
                "target": target,
                "coverage": c.coverage,
                "agreement": c.agreement,
                "cost_per_item": c.cost_per_item,
            }
        )
    return out
