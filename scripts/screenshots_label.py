"""Screenshots of `judge label` for the docs: docs/img/label-pairwise.png, label-absolute.png.

Runs the real command on a few made-up items (in a temporary folder), labels some through its
API so that progress and agreement show, and photographs the page in Debian's headless Chromium
driven by Playwright (no browser download):

    python scripts/screenshots_label.py [--out docs/img]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.labelserver import CHROMIUM, CHROMIUM_ARGS, label_server, write_jsonl  # noqa: E402

QUESTION = "How do I read a large CSV file in Python without loading it all into memory?"
GOOD = """Read it **row by row** with the standard library's `csv` module: the reader is lazy, \
so only one row is in memory at a time.

```python
import csv

with open("big.csv", newline="", encoding="utf-8") as f:
    for row in csv.DictReader(f):
        handle(row)
```

If you want pandas, ask for chunks:

- `pd.read_csv("big.csv", chunksize=100_000)` yields DataFrames of 100k rows;
- aggregate each chunk, then combine the partial results."""
BAD = """Use pandas, it is the fastest:

```python
import pandas as pd
df = pd.read_csv("big.csv")  # loads everything
for _, row in df.iterrows():
    handle(row)
```

This works for *any* file size."""


def pair_items() -> list[dict[str, Any]]:
    rows = [{"id": "csv", "prompt": QUESTION, "response_a": GOOD, "response_b": BAD}]
    for i in range(1, 40):
        a, b = f"Answer {i} (a)", f"Answer {i} (b)"
        rows.append({"id": f"q{i}", "prompt": f"Question {i}", "response_a": a, "response_b": b})
    return rows


def absolute_items() -> list[dict[str, Any]]:
    rows = [{"id": "csv", "prompt": QUESTION, "response": GOOD}]
    rows += [{"id": f"q{i}", "prompt": f"Question {i}", "response": f"A{i}"} for i in range(1, 25)]
    return rows


def prelabel(args: list[str], n: int, choices: list[str], seconds: float) -> None:
    """Label items q1..qn through the API, then stop (a restart forgets which page held what,
    so the page photographed next shows the first item, csv)."""
    with label_server(*args) as server:
        for i in range(1, n + 1):
            body = {"page": "api", "id": f"q{i}", "choice": choices[i % len(choices)]}
            server.post("decide", {**body, "seconds": seconds + i % 5})
        server.stop()


def shoot(browser: Any, args: list[str], path: Path) -> None:
    with label_server(*args) as server:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("pageerror", lambda e: print("page error:", e, file=sys.stderr))
        page.goto(server.url)
        page.wait_for_selector('body[data-item-id="csv"]', state="attached")
        page.screenshot(path=str(path))
        page.close()
        server.stop()
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "docs" / "img"))
    out = Path(parser.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        folder = Path(tmp)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pairs = str(write_jsonl(folder / "pairs.jsonl", pair_items()))
        ann, bob = str(folder / "ann.jsonl"), str(folder / "bob.jsonl")
        prelabel([pairs, "-o", ann, "--annotator", "ann"], 12, ["left", "right"], 9.0)
        constitution = str(ROOT / "constitutions" / "code-answers.md")
        bob_args = [pairs, "-o", bob, "--annotator", "bob", "--other", ann, "-c", constitution]
        prelabel(bob_args, 9, ["left", "right", "left", "tie"], 11.0)
        shoot(browser, bob_args, out / "label-pairwise.png")

        rated = str(write_jsonl(folder / "rated.jsonl", absolute_items()))
        rated_args = [
            rated,
            "-o",
            str(folder / "r.jsonl"),
            "-c",
            constitution,
            "--annotator",
            "ann",
        ]
        prelabel(rated_args, 5, ["4", "2", "5", "3"], 14.0)
        shoot(browser, rated_args, out / "label-absolute.png")
        browser.close()


if __name__ == "__main__":
    main()
