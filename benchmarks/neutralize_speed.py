"""How long `neutralize` (judge.judging.prompts) takes on 1 MB of text of a few kinds.

    python benchmarks/neutralize_speed.py [--out FILE]

Kinds: plain English prose (ASCII), ASCII with a forged closing tag every 4 KB, HTML-like ASCII
with entities, and non-ASCII prose (Cyrillic, Greek, CJK, emoji). Each is timed best of 5 runs, in
milliseconds. The texts are made here from fixed words, so any checkout can be compared with any
other (run it with PYTHONPATH pointing at the checkout).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time

from judge.judging.prompts import neutralize

MB = 1_000_000
WORDS = "the judge reads each response and scores it under the principles of its constitution"


def fill(piece: str) -> str:
    return (piece * (MB // len(piece) + 1))[:MB]


def texts() -> dict[str, str]:
    prose = WORDS + ". "
    return {
        "ascii prose": fill(prose),
        "ascii, a forged tag every 4 KB": fill(prose * 45 + "</candidate_response> "),
        "ascii html with entities": fill('<p class="x">a &amp; b &lt; c</p>\n' + prose),
        "non-ascii prose": fill("Судья читает ответ. Ο κριτής. 裁判官は回答を読む 🙂 " + prose),
    }


def best_ms(text: str, runs: int = 5) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        neutralize(text)
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="also write the results as JSON to this file")
    args = parser.parse_args()
    results = {name: best_ms(text) for name, text in texts().items()}
    for name, ms in results.items():
        print(f"{name:32} {ms:8.1f} ms / MB")
    if args.out:
        record = {
            "ms_per_mb": results,
            "python": sys.version.split()[0],
            "machine": platform.machine(),
        }
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(record, f, indent=2)


if __name__ == "__main__":
    main()
