"""Helpers shared by the drills: inputs, the judge command, and reading its output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CONSTITUTION = ROOT / "constitutions" / "helpful-honest-harmless.md"


def rows(n: int, tag: str = "") -> list[dict[str, Any]]:
    return [
        {"id": i, "prompt": f"Question {i}{tag}: what is {i} + {i}?", "response": f"It is {2 * i}."}
        for i in range(n)
    ]


def write_jsonl(path: Path, data: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in data), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def env() -> dict[str, str]:
    """The environment of a judge subprocess: this checkout first, no keys, no JUDGE_* leaks."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "JUDGE_"))}
    clean["PYTHONPATH"] = str(ROOT)
    return clean


def score_cmd(src: Path | str, base_url: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "judge", "score", str(src), "-c", str(CONSTITUTION),
        "-m", "openai/drill", "--base-url", base_url, "-q", *extra,
    ]  # fmt: skip


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str
    wall: float

    @property
    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.stderr + self.stdout

    @property
    def message(self) -> str:
        """The last line judge wrote on stderr (its error or its summary)."""
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return lines[-1] if lines else ""


def run(cmd: list[str], timeout: float = 300, stdin: bytes | None = None) -> Ran:
    import time

    started = time.monotonic()
    proc = subprocess.run(
        cmd, capture_output=True, timeout=timeout, env=env(), cwd=ROOT, input=stdin
    )
    return Ran(
        proc.returncode,
        proc.stdout.decode("utf-8", errors="replace"),
        proc.stderr.decode("utf-8", errors="replace"),
        time.monotonic() - started,
    )
