"""`judge distill`: train a fastText classifier to mimic a judge's verdicts.

Streaming: the scored input is read once; each judged row's model text goes to a temporary file
(one line a row) and only its score stays in memory (8 bytes). The labels (which keep-top can
only decide at the end), the seeded split, the training file and the held-out file are then made
from that temporary file, so memory stays flat whatever the input size.
"""

from __future__ import annotations

import math
import os
import tempfile
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from judge.distill import model_dir
from judge.distill.evaluate import agreement
from judge.distill.labels import DROP, KEEP, LabelRule, keep_labels
from judge.distill.predict import keep_probabilities
from judge.distill.quality import build_problem, quality_problem, refuse
from judge.distill.text import NORMALISATION, PROMPT_SEPARATOR, candidate_text, model_input
from judge.distill.train import FastTextSettings, auto_bucket, auto_epochs, train
from judge.errors import ConfigError, InputError
from judge.io import FieldMap, check_writable, describe, iter_candidates

MIN_CLASS = 5  # training rows of each label below which the classifier cannot learn the rule
PREDICT_BATCH = 512


@dataclass
class DistillOptions:
    rule: LabelRule
    fields: FieldMap = field(default_factory=FieldMap)
    held_out: float = 0.2
    seed: int = 0
    min_prob: float = 0.5  # the threshold the held-out precision, recall and F1 are taken at
    newline_replacement: str = ""
    min_class: int = MIN_CLASS
    score_field: str = "score"  # e.g. a human label, to train on people's verdicts instead
    force: bool = False  # write a classifier that fails the quality checks (quality.py)
    fasttext: FastTextSettings = field(default_factory=FastTextSettings)


@dataclass
class _Pass:
    """What the read of the scored input gathers besides the texts."""

    scores: array = field(default_factory=lambda: array("d"))
    unjudged: int = 0
    empty: int = 0
    constitutions: dict[str, str] = field(default_factory=dict)  # sha256 -> name
    models: list[str] = field(default_factory=list)


def distill(
    scored_path: str,
    out_dir: str,
    options: DistillOptions,
    *,
    train_fn: Callable[..., Any] | None = None,
) -> model_dir.ModelDir:
    """Train, evaluate on the held-out rows, and write MODEL_DIR (see model_dir)."""
    if not 0 <= options.held_out < 1:
        raise ConfigError(f"{{opt:held_out}} is a fraction in [0, 1), got {options.held_out}")
    check_writable(out_dir, folder=True)  # before the training, not after
    build, mixed = build_problem()
    if mixed and not options.force:
        raise ConfigError(f"{build}; or give {{opt:force}} to train with it anyway")
    with tempfile.TemporaryDirectory(prefix=".judge-distill-") as tmp:
        texts_path = os.path.join(tmp, "texts.txt")
        seen = _read(scored_path, options, texts_path)
        scores = np.frombuffer(seen.scores, dtype=float)
        keep = keep_labels(scores, options.rule)
        held = np.random.default_rng(options.seed).random(len(scores)) < options.held_out
        _check_classes(keep, held, options, scored_path)
        train_path = os.path.join(tmp, "train.txt")
        held_path = os.path.join(tmp, "held_out.txt")
        _split(texts_path, keep, held, train_path, held_path)
        settings = options.fasttext
        if settings.epoch is None:
            settings = replace(settings, epoch=auto_epochs(int((~held).sum())))
        if settings.bucket is None:
            settings = replace(settings, bucket=auto_bucket(_words(train_path)))
        model, used, attempts = train(train_path, settings, train_fn=train_fn)
        prob = _predict_file(model, held_path)
    metrics = agreement(keep[held], prob, scores[held], options.min_prob)
    problem = quality_problem(metrics)
    if problem is not None and not options.force:
        raise refuse(problem, build if mixed else None)
    meta = _meta(scored_path, out_dir, options, seen, keep, held, used, attempts, metrics)
    meta["warnings"] = [w for w in (build, problem and f"kept with --force: {problem}") if w]
    return model_dir.save(out_dir, model, meta, model_dir.report_markdown(meta))


def _words(path: str) -> int:
    """Words of a fastText training file, labels left out."""
    with open(path, encoding="utf-8") as f:
        return sum(max(0, len(line.split()) - 1) for line in f)


def _read(path: str, options: DistillOptions, texts_path: str) -> _Pass:
    seen = _Pass()
    with open(texts_path, "w", encoding="utf-8", newline="\n") as out:
        for c in iter_candidates(path, options.fields):
            name = options.score_field
            if name not in c.row:
                raise InputError(
                    f"no {name!r} field: give the output of judge score or judge filter "
                    "(or name the field with {opt:score_field})",
                    where=describe(path, c.row_index),
                )
            value = c.row[name]
            if value is None or value == "":  # unjudged (CSV: an empty cell)
                seen.unjudged += 1
                continue
            try:
                score = float(value)  # CSV gives every value as text
            except (TypeError, ValueError):
                where = describe(path, c.row_index)
                raise InputError(f"{name!r} is {value!r}, expected a number", where) from None
            if math.isnan(score):
                seen.unjudged += 1
                continue
            line = model_input(candidate_text(c), options.newline_replacement)
            if not line.strip() or c.note == "empty response":
                seen.empty += 1
                continue
            out.write(line + "\n")
            seen.scores.append(score)
            _note_judge(seen, c.row.get("judge"))
    return seen


def _note_judge(seen: _Pass, judge: Any) -> None:
    if isinstance(judge, dict):
        constitution = judge.get("constitution")
        if isinstance(constitution, dict) and constitution.get("sha256"):
            seen.constitutions.setdefault(
                str(constitution["sha256"]), str(constitution.get("name"))
            )
        model = judge.get("model")
        if isinstance(model, str) and model not in seen.models:
            seen.models.append(model)


def _check_classes(keep: np.ndarray, held: np.ndarray, options: DistillOptions, path: str) -> None:
    if len(keep) == 0:
        raise InputError("no judged rows to learn from (every score is null)", where=path)
    kept_train = int((keep & ~held).sum())
    dropped_train = int((~keep & ~held).sum())
    if min(kept_train, dropped_train) < options.min_class:
        raise InputError(
            f"the label rule ({options.rule.text()}) leaves {kept_train} keep and "
            f"{dropped_train} drop rows to train on; each needs at least {options.min_class}: "
            "choose a rule that keeps some and drops some, or score more rows",
            where=path,
        )


def _split(
    texts_path: str, keep: np.ndarray, held: np.ndarray, train_path: str, held_path: str
) -> None:
    with (
        open(texts_path, encoding="utf-8", newline="\n") as texts,
        open(train_path, "w", encoding="utf-8", newline="\n") as tr,
        open(held_path, "w", encoding="utf-8", newline="\n") as ho,
    ):
        for i, line in enumerate(texts):
            if held[i]:
                ho.write(line)
            else:
                tr.write(f"{KEEP if keep[i] else DROP} {line}")


def _predict_file(model: Any, path: str) -> np.ndarray:
    probs: list[float] = []
    batch: list[str] = []
    with open(path, encoding="utf-8", newline="\n") as f:
        for line in f:
            batch.append(line.removesuffix("\n"))
            if len(batch) == PREDICT_BATCH:
                probs += keep_probabilities(model, batch)
                batch = []
    probs += keep_probabilities(model, batch)
    return np.asarray(probs, dtype=float)


def _meta(
    path: str,
    out_dir: str,
    options: DistillOptions,
    seen: _Pass,
    keep: np.ndarray,
    held: np.ndarray,
    used: FastTextSettings,
    attempts: int,
    metrics: dict[str, Any],
) -> dict[str, Any]:
    sha, name = next(iter(seen.constitutions.items()), (None, None))
    f = options.fields
    return {
        "model_dir": out_dir,
        "constitution": {"name": name, "sha256": sha},
        "other_constitutions": [
            {"name": n, "sha256": s} for s, n in list(seen.constitutions.items())[1:]
        ],
        "judge_models": seen.models,
        "label_rule": {**options.rule.to_json(), "score_field": options.score_field},
        "label_rule_text": options.rule.text(),
        "labels": {"keep": KEEP, "drop": DROP},
        "data": {
            "input": path,
            "judged": len(keep),
            "unjudged": seen.unjudged,
            "empty": seen.empty,
            "keep": int(keep.sum()),
            "drop": int((~keep).sum()),
            "train": int((~held).sum()),
            "held_out": int(held.sum()),
        },
        "split": {"seed": options.seed, "held_out": options.held_out},
        "metrics": metrics,
        "fasttext": used.to_json(),
        "requested_fasttext": options.fasttext.to_json(),
        "training": {"attempts": attempts},
        "text": {
            "fields": {"text": f.text, "prompt": f.prompt, "response": f.response},
            "prompt_separator": PROMPT_SEPARATOR,
            "normalisation": NORMALISATION,
            "newline_replacement": options.newline_replacement,
            "note": "documents: the text field; prompt + response: prompt, a blank line, "
            "response; then the normalisation, and nothing else (as datatrove's "
            "FastTextClassifierFilter feeds fastText)",
        },
    }
