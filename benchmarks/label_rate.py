"""Decisions a second that `judge label`'s server acknowledges, with a labels file that already
holds N rows (issue 21, section 5: every decision used to rewrite and fsync the whole file).

    python benchmarks/label_rate.py --rows 1200 10000 --decisions 200 [--out results.json]

It starts `judge label` (the `judge` that PYTHONPATH gives) on N + decisions pairwise items, with
the first N already labelled in the file, and times `decisions` POSTs of /api/decide in a row,
as a page does (each answer carries the next item). Loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        result: dict[str, Any] = json.loads(response.read())
        return result


def _state(base: str) -> dict[str, Any]:
    try:
        return _post(base + "api/state", {"page": "bench"})
    except urllib.error.HTTPError as err:  # a server from before the state was a POST
        if err.code not in (404, 405):
            raise
        with urllib.request.urlopen(base + "api/state?page=bench", timeout=60) as r:
            result: dict[str, Any] = json.loads(r.read())
            return result


def measure(rows: int, decisions: int, folder: Path) -> float:
    items = folder / f"items-{rows}.jsonl"
    labels = folder / f"labels-{rows}.jsonl"
    with items.open("w") as f:
        for i in range(rows + decisions):
            f.write(
                json.dumps({"id": f"i{i}", "prompt": f"q{i}", "response_a": "a", "response_b": "b"})
            )
            f.write("\n")
    with labels.open("w") as f:
        for i in range(rows):
            row = {"id": f"i{i}", "prompt": f"q{i}", "response_a": "a", "response_b": "b"}
            f.write(json.dumps({**row, "preference": "a", "annotator": "bench"}) + "\n")
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "judge", "label", str(items), "-o", str(labels)),
            *("--annotator", "bench", "--no-browser", "--port", "0"),
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stderr is not None
    base = None
    for line in proc.stderr:
        m = re.search(r"open (http://\S+)", line)
        if m:
            base = m.group(1)
            break
    try:
        assert base is not None, "judge label did not start"
        item = _state(base)["item"]
        start = time.perf_counter()
        for _ in range(decisions):
            body = {"page": "bench", "id": item["id"], "choice": "left", "seconds": 1}
            item = _post(base + "api/decide", body)["item"]
        rate = decisions / (time.perf_counter() - start)
    finally:
        proc.kill()
        proc.wait()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[10, 1200, 10000])
    parser.add_argument("--decisions", type=int, default=200)
    parser.add_argument("--out", help="write the results (JSON) here")
    parser.add_argument("--code", default="", help="what code was measured (a commit), recorded")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rates = {str(n): round(measure(n, args.decisions, Path(tmp)), 1) for n in args.rows}
    result = {
        "code": args.code,
        "load_average": round(os.getloadavg()[0], 1),
        "decisions": args.decisions,
        "decisions_per_second": rates,
    }
    print(json.dumps(result))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
