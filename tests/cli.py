"""Run `python -m judge ...` as a user would: a real process, its output as text.

done = judge("score", "in.jsonl", "-c", "c.md", env={"OPENAI_API_KEY": "sk-test"})
assert done.returncode == 0, done.stderr
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def judge(
    *args: str,
    env: Mapping[str, str] | None = None,
    base_env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float = 180,
) -> subprocess.CompletedProcess[str]:
    """`judge ARGS` in a subprocess that imports this tree's `judge` (PYTHONPATH, unless the
    environment sets it): its environment is `base_env` (default: this process's) plus `env`."""
    environment = {**(os.environ if base_env is None else base_env), **(env or {})}
    environment.setdefault("PYTHONPATH", str(ROOT))  # Ray's environment names its own
    return subprocess.run(
        [sys.executable, "-m", "judge", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        cwd=cwd,
    )
