"""`judge label` as a real subprocess for the server and browser tests, and an input maker."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"  # Debian's package; Playwright drives it, nothing is downloaded
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

XSS = (
    "Here is the answer.\n\n<script>window.__pwned = 1</script>\n"
    '<img src=x onerror="window.__pwned = 2">\n\n'
    "```html\n<script>window.__pwned = 3</script>\n```\n\n"
    "[click](javascript:window.__pwned=4) and **bold** `<b>code</b>`"
)


def pair_rows(n: int = 10, *, xss_at: int | None = None) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        a = f"Answer A{i}: a **long** and careful reply.\n\n```python\nprint({i})\n```"
        b = f"Answer B{i}: short."
        if i == xss_at:
            a = XSS
        rows.append({"id": f"p{i}", "prompt": f"Question {i}?", "response_a": a, "response_b": b})
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


class Server:
    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        self.proc = proc
        self.url = url
        self.stderr = ""

    def post(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            self.url + "api/" + action,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            result: dict[str, Any] = json.loads(response.read())
            return result

    def state(self, page: str = "t") -> dict[str, Any]:
        return self.post("state", {"page": page})

    def stop(self) -> tuple[int, str]:
        """Ctrl-C, as a person stops it: (exit code, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=60)
        self.stderr += err
        return self.proc.returncode, self.stderr


@contextmanager
def label_server(*args: str, cwd: Path | None = None) -> Iterator[Server]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "judge", "label", *args, "--no-browser", "--port", "0"],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    seen = ""
    deadline = time.monotonic() + 120
    url = None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen += line
        m = re.search(r"open (http://\S+)", line)
        if m:
            url = m.group(1)
            break
    if url is None:
        proc.kill()
        raise AssertionError(f"judge label did not start:\n{seen}{proc.stderr.read()}")
    server = Server(proc, url)
    server.stderr = seen
    try:
        yield server
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
