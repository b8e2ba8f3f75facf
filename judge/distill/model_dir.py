"""MODEL_DIR: the classifier `judge distill` writes and `judge filter --classifier` reads.

  model.bin    the fastText model (load it with fasttext.load_model, datatrove, NeMo Curator)
  meta.json    what made it: the constitution (name, sha256), the judge model, the label rule,
               the held-out metrics, the fastText settings, the text normalisation
  report.md    the same for people

meta.json is written last, so a directory without it is an unfinished one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from judge.errors import InputError

MODEL_FILE = "model.bin"
META_FILE = "meta.json"
REPORT_FILE = "report.md"
FORMAT = "judge-distill"
VERSION = 1


@dataclass(frozen=True)
class ModelDir:
    path: str
    meta: dict[str, Any]

    @property
    def model_path(self) -> str:
        return os.path.join(self.path, MODEL_FILE)

    @property
    def newline_replacement(self) -> str:
        return str(self.meta["text"]["newline_replacement"])


def save(path: str, model: Any, meta: dict[str, Any], report: str) -> ModelDir:
    os.makedirs(path, exist_ok=True)
    meta_path = os.path.join(path, META_FILE)
    if os.path.exists(meta_path):
        os.remove(meta_path)  # an interrupted overwrite must not look finished
    _atomic(os.path.join(path, MODEL_FILE), lambda tmp: model.save_model(tmp))
    _atomic(os.path.join(path, REPORT_FILE), lambda tmp: _write_text(tmp, report))
    full = {"format": FORMAT, "version": VERSION, **meta}
    _atomic(meta_path, lambda tmp: _write_text(tmp, json.dumps(full, indent=2) + "\n"))
    return ModelDir(path, full)


def _write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def _atomic(path: str, write: Any) -> None:
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load(path: str) -> ModelDir:
    """Read MODEL_DIR's meta.json and check the model is there; errors say what to do."""
    meta_path = os.path.join(path, META_FILE)
    if not os.path.isdir(path):
        raise InputError("no such model directory: make one with judge distill", where=path)
    if not os.path.isfile(meta_path):
        raise InputError(
            f"no {META_FILE}: not a finished judge distill model directory; run judge distill "
            "again",
            where=path,
        )
    try:
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError) as exc:
        raise InputError(f"unreadable {META_FILE} ({exc})", where=path) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise InputError(f"{META_FILE} was not written by judge distill", where=path)
    if not isinstance(meta.get("version"), int) or meta["version"] > VERSION:
        raise InputError(
            f"model directory version {meta.get('version')!r} is newer than this judge reads "
            f"({VERSION}); upgrade judge",
            where=path,
        )
    if not os.path.isfile(os.path.join(path, MODEL_FILE)):
        raise InputError(f"{MODEL_FILE} is missing; run judge distill again", where=path)
    return ModelDir(path, meta)


def _constitution(meta: dict[str, Any]) -> str:
    c = meta["constitution"]
    if not c.get("sha256"):
        # Scores not made by judge (human labels, another tool): no constitution to name.
        return "no constitution (the scores' rows carry no judge.constitution)"
    return f"constitution `{c.get('name')}` sha256 `{c['sha256']}`"


def report_markdown(meta: dict[str, Any]) -> str:
    """report.md: the run, the label rule and the held-out agreement with the judge."""
    m = meta["metrics"]
    data = meta["data"]
    ft = meta["fasttext"]
    lines = [
        f"# Classifier distilled from {meta['constitution'].get('name') or 'a judge'}",
        "",
        f"- Scored input: `{data['input']}` ({data['judged']} judged rows; "
        f"{data['unjudged']} unjudged and {data['empty']} empty rows skipped)",
        f"- Judge: {', '.join(meta['judge_models']) or 'unknown'}; {_constitution(meta)}",
        f"- Label rule: {meta['label_rule_text']}; {data['keep']} keep, {data['drop']} drop",
        f"- Split: {data['train']} training rows, {data['held_out']} held out "
        f"(seed {meta['split']['seed']}, fraction {meta['split']['held_out']:g})",
        f"- fastText: lr {ft['lr']:g}, epoch {ft['epoch']}, dim {ft['dim']}, word n-grams "
        f"{ft['word_ngrams']}, bucket {ft['bucket']}, threads {ft['threads']}, seed {ft['seed']}"
        f" ({meta['training']['attempts']} attempt(s))",
        f"- Text fed to fastText: `{meta['text']['normalisation']}` with newline_replacement "
        f"{meta['text']['newline_replacement']!r}",
        "",
        "## Agreement with the judge on the held-out rows",
        "",
        f"At P(keep) >= {m['min_prob']:g}: precision {_f(m['precision'])}, recall "
        f"{_f(m['recall'])}, F1 {_f(m['f1'])} (keeping every row: F1 "
        f"{_f(m.get('keep_all_f1'))}); ROC AUC {_f(m['roc_auc'])}; Spearman between "
        f"P(keep) and the judge's score {_f(m['spearman'])} (n = {m['n']}, judge kept "
        f"{m['judge_kept']}).",
        "",
        "| P(keep) >= | kept | precision | recall |",
        "|---|---|---|---|",
    ]
    for row in m["thresholds"]:
        lines.append(
            f"| {row['min_prob']:.1f} | {row['kept']:.1%} | {_f(row['precision'])} | "
            f"{_f(row['recall'])} |"
        )
    lines += [
        "",
        "## Use",
        "",
        f"    judge filter INPUT --classifier {meta.get('model_dir', 'MODEL_DIR')} "
        f"--min-prob {m['min_prob']:g} -o kept.jsonl",
        "",
        'datatrove: `FastTextClassifierFilter("MODEL_DIR/model.bin", keep_labels=[("keep", '
        f"{m['min_prob']:g})], newline_replacement={meta['text']['newline_replacement']!r})`.",
        "",
    ]
    return "\n".join(lines)


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"
