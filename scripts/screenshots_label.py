"""Screenshots of `judge label` for the docs: docs/img/label-pairwise.png, label-absolute.png.

Runs the real command on a few made-up items (in a temporary folder), labels some through its
API so that progress and agreement show, and photographs the page in Debian's headless Chromium
driven by Playwright (no browser download):

    python scripts/screenshots_label.py [--out docs/img]
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

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
        rows.append(
            {
                "id": f"q{i}",
                "prompt": f"Question {i}",
                "response_a": f"Answer {i} (a)",
                "response_b": f"Answer {i} (b)",
            }
        )
    return rows


def absolute_items() -> list[dict[str, Any]]:
    rows = [{"id": "csv", "prompt": QUESTION, "response": GOOD}]
    rows += [{"id": f"q{i}", "prompt": f"Question {i}", "response": f"A{i}"} for i in range(1, 25)]
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def start(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "judge", "label", *args, "--no-browser", "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        m = re.search(r"open (http://\S+)", line)
        if m:
            return proc, m.group(1)
    raise SystemExit(f"judge label did not start (exit {proc.wait()})")


def post(url: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url + "api/" + action,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as r:
        result: dict[str, Any] = json.loads(r.read())
        return result


def prelabel(args: list[str], n: int, choices: list[str], seconds: float) -> None:
    """Label items q1..qn through the API, then stop (a restart forgets which page held what,
    so the page photographed next shows the first item, csv)."""
    proc, url = start(*args)
    for i in range(1, n + 1):
        body = {"page": "api", "id": f"q{i}", "choice": choices[i % len(choices)]}
        post(url, "decide", {**body, "seconds": seconds + i % 5})
    proc.send_signal(signal.SIGINT)
    proc.wait()


def shoot(browser: Any, url: str, path: Path, height: int) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": height}, device_scale_factor=1)
    page.on("pageerror", lambda e: print("page error:", e, file=sys.stderr))
    page.goto(url)
    page.wait_for_selector('body[data-item-id="csv"]', state="attached")
    page.screenshot(path=str(path))
    page.close()
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "docs" / "img"))
    out = Path(parser.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        folder = Path(tmp)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pairs = write_jsonl(folder / "pairs.jsonl", pair_items())
        ann, bob = folder / "ann.jsonl", folder / "bob.jsonl"
        prelabel([str(pairs), "-o", str(ann), "--annotator", "ann"], 12, ["left", "right"], 9.0)
        bob_args = [str(pairs), "-o", str(bob), "--annotator", "bob", "--other", str(ann)]
        prelabel(bob_args, 9, ["left", "right", "left", "tie"], 11.0)
        proc, url = start(*bob_args)
        try:
            shoot(browser, url, out / "label-pairwise.png", 900)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait()

        rated = write_jsonl(folder / "rated.jsonl", absolute_items())
        constitution = str(ROOT / "constitutions" / "code-answers.md")
        rated_args = [str(rated), "-o", str(folder / "r.jsonl"), "-c", constitution]
        rated_args += ["--annotator", "ann"]
        prelabel(rated_args, 5, ["4", "2", "5", "3"], 14.0)
        proc, url = start(*rated_args)
        try:
            shoot(browser, url, out / "label-absolute.png", 900)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait()
        browser.close()


if __name__ == "__main__":
    main()
