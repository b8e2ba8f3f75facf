"""Throughput of `judge filter --classifier` against raw fastText `predict` on the same texts.

    python benchmarks/classifier_throughput.py             # 50,000 documents of 500 words
    python benchmarks/classifier_throughput.py --quick     # 1,000 documents (CI smoke test)

The documents are generated (seeded): 500 words each drawn from a Zipf-like vocabulary of
20,000 words plus a "good" and a "spam" vocabulary that decide their quality. A classifier is
distilled from them with `judge distill` (scores from the share of good words). Then, side by
side and interleaved, `--rounds` times each:
- raw fastText, 1 core: one process, the texts in memory, predicted in batches of 64 texts,
  `model.predict(texts, k=-1)` a batch (judge filter predicts the same batches of 64, one
  `predict` call each: the two do the same work a call);
- raw fastText, all cores: one process a core (forked, texts and model already in memory),
  predicting shares of 64 texts (a `predict` call each) handed out as they free up; the time is
  from the first share handed out to the last done;
- `judge filter docs.jsonl --classifier MODEL_DIR --min-prob 0.5 -o kept.jsonl`, a fresh
  process, with `--processes 1` and with one process a core: wall time of the whole command
  (start-up, reading the JSON Lines, writing the kept rows included).
The best round of each is kept (the machine is shared: the best is the least disturbed), and
the ratios end to end / raw at 1 core and at all cores; the ratio within each round (raw and
judge run one after the other) is given too. `judge filter`'s start-up (about a second on a
loaded machine: Python, numpy, the CLI) is part of its time, which is why the default is 50,000
documents, a few seconds of work, not 1,000. The load average (os.getloadavg) before
and after is in the results, as other programs on the machine slow every figure down.
The cost sheet line: CPU core-hours to filter 10^12 tokens at the 1-core end-to-end rate,
assuming 1.3 tokens a word.

Results: a table on stdout, and benchmarks/results/classifier_throughput.json (or --out FILE).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "classifier_throughput.json"
WORDS = 500
TARGET = 0.6  # end to end / raw, the target
# texts a raw predict call gets: judge filter's batch (judge.distill.classify.BATCH), the same work
# a call on both sides
RAW_SHARE = 64
TOKENS_PER_WORD = 1.3  # English text in a BPE tokenizer, roughly: for the cost sheet only

_texts: list[str] = []  # the raw workers' texts, inherited through fork
_model: Any = None


def documents(n: int, seed: int = 0) -> list[tuple[str, float]]:
    """(text, score): text from a shared vocabulary plus good or spam words; score = good share."""
    rng = random.Random(seed)
    common = [f"w{i}" for i in range(20_000)]
    weights = [1 / (i + 1) for i in range(len(common))]
    good = [f"good{i}" for i in range(2_000)]
    spam = [f"spam{i}" for i in range(2_000)]
    out = []
    for _ in range(n):
        quality = rng.random()
        words = rng.choices(common, weights, k=WORDS)
        for i in rng.sample(range(WORDS), WORDS // 5):
            words[i] = rng.choice(good) if rng.random() < quality else rng.choice(spam)
        text = " ".join(words)
        # paragraphs, as real documents have (datatrove's newline handling applies)
        text = text.replace(" w1 ", "\nw1 ", 3)
        out.append((text, round(quality, 4)))
    return out


def _raw_share(bounds: tuple[int, int]) -> None:
    """Predict texts [start, end) in batches of RAW_SHARE, one predict call a batch."""
    for at in range(bounds[0], bounds[1], RAW_SHARE):
        batch = _texts[at : min(at + RAW_SHARE, bounds[1])]
        _model.predict([text.strip().replace("\n", "") for text in batch], k=-1)


def raw(model_path: str, texts: list[str], processes: int) -> float:
    """Documents a second of bare fastText predict over `texts` with `processes` processes."""
    global _texts, _model
    import fasttext

    _texts, _model = texts, fasttext.load_model(model_path)
    n = len(texts)
    if processes == 1:
        start = time.perf_counter()
        _raw_share((0, n))
        return n / (time.perf_counter() - start)
    # Shares of 64 texts handed out as workers free up (as judge filter does), so that one
    # process slowed down by the machine's other programs does not hold the rest back.
    shares = [(i, min(i + RAW_SHARE, n)) for i in range(0, n, RAW_SHARE)]
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        pool.map(_raw_share, shares[:processes])  # the workers are up before the clock starts
        start = time.perf_counter()
        for _ in pool.imap_unordered(_raw_share, shares):
            pass
        return n / (time.perf_counter() - start)


def end_to_end(model_dir: str, docs: str, processes: int, out: str) -> float:
    cmd = [sys.executable, "-m", "judge", "filter", docs, "--classifier", model_dir]
    cmd += ["--min-prob", "0.5", "--processes", str(processes), "-o", out]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    seconds = time.perf_counter() - start
    with open(docs, "rb") as f:
        return sum(1 for _ in f) / seconds


def commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def judge_batch() -> int:
    from judge.distill.classify import BATCH

    return BATCH


def usable_cores() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return cores or 1


def write_docs(path: str, docs: list[tuple[str, float]], ids: Iterable[int]) -> str:
    """The documents `ids` as JSON Lines rows {id, text}; returns the path."""
    with open(path, "w", encoding="utf-8") as f:
        for i in ids:
            f.write(json.dumps({"id": i, "text": docs[i][0]}) + "\n")
    return path


def train_classifier(folder: str) -> tuple[str, Any]:
    """`judge distill` on 4,000 scored documents of another seed: (MODEL_DIR, what it made)."""
    from judge.distill import DistillOptions, choose_rule, distill

    scored = os.path.join(folder, "scored.jsonl")
    with open(scored, "w", encoding="utf-8") as f:
        for text, score in documents(4_000, seed=1):
            f.write(json.dumps({"text": text, "score": score}) + "\n")
    model_dir = os.path.join(folder, "model")
    made = distill(scored, model_dir, DistillOptions(rule=choose_rule(min_score=0.5)))
    return model_dir, made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 documents, 1 round")
    parser.add_argument("--docs", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    args = parser.parse_args()
    n, rounds = (1_000, 1) if args.quick else (args.docs, args.rounds)
    cores = usable_cores()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        docs = documents(n)
        docs_path = write_docs(os.path.join(tmp, "docs.jsonl"), docs, range(n))
        model_dir, made = train_classifier(tmp)
        texts = [t for t, _ in docs]
        out = os.path.join(tmp, "kept.jsonl")
        best: dict[str, float] = {}
        runs: dict[str, list[float]] = {}
        for _ in range(rounds):
            for name, run in (
                ("raw_1", lambda: raw(made.model_path, texts, 1)),
                ("judge_1", lambda: end_to_end(model_dir, docs_path, 1, out)),
                ("raw_all", lambda: raw(made.model_path, texts, cores)),
                ("judge_all", lambda: end_to_end(model_dir, docs_path, cores, out)),
            ):
                rate = run()
                runs.setdefault(name, []).append(round(rate, 1))
                best[name] = max(best.get(name, 0.0), rate)
    load_after = os.getloadavg()
    ratio_1 = best["judge_1"] / best["raw_1"]
    ratio_all = best["judge_all"] / best["raw_all"]
    result = {
        "command": "python benchmarks/classifier_throughput.py"
        + (" --quick" if args.quick else ""),
        "commit": commit(),
        "documents": n,
        "words_per_document": WORDS,
        "rounds": rounds,
        "raw_batch": RAW_SHARE,
        "judge_batch": judge_batch(),
        "cores": cores,
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],
        "docs_per_second": {k: round(v, 1) for k, v in best.items()},
        "all_rounds": runs,
        "ratio_1_core_by_round": [
            round(j / r, 3) for j, r in zip(runs["judge_1"], runs["raw_1"], strict=True)
        ],
        "ratio_all_cores_by_round": [
            round(j / r, 3) for j, r in zip(runs["judge_all"], runs["raw_all"], strict=True)
        ],
        "ratio_1_core": round(ratio_1, 3),
        "ratio_all_cores": round(ratio_all, 3),
        "target": TARGET,
        "held_out_f1": made.meta["metrics"]["f1"],
        # the cost sheet: CPU core-hours for 10^12 tokens at judge filter's 1-core rate
        "tokens_per_word_assumed": TOKENS_PER_WORD,
        "core_hours_per_trillion_tokens": round(
            1e12 / (best["judge_1"] * WORDS * TOKENS_PER_WORD) / 3600, 1
        ),
    }
    print(
        f"{n} documents of {WORDS} words; {cores} cores; load average {load_before} before, "
        f"{load_after} after"
    )
    print("                     1 core     all cores")
    for what, a, b in (
        ("raw fastText", "raw_1", "raw_all"),
        ("judge filter", "judge_1", "judge_all"),
    ):
        print(f"{what:<16} {best[a]:>10,.0f}/s {best[b]:>10,.0f}/s")
    print(f"{'ratio':<16} {ratio_1:>12.2f} {ratio_all:>12.2f}   (target >= {TARGET})")
    print(f"core-hours per 10^12 tokens: {result['core_hours_per_trillion_tokens']:,}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
