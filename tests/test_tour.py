"""The README's "A five-minute tour" runs as written, in order, on the embedded model, in minutes.

Its commands are read from README.md (every `judge ...` line of the section's bash blocks, but
those of blocks marked "needs a real model") and run one after the other through a shell, in a
folder holding the clone's examples and constitutions, with a fresh cache.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp", reason="the embedded judge needs the `local` extra")
pytestmark = [pytest.mark.embedded, pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).parent.parent
# The whole tour on the embedded model: about 3 minutes on a quiet 2-core machine; the margin is
# for a busy one (CI shares it).
TOUR_SECONDS = 480
REAL_MODEL = "# needs a real model"


def tour_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## A five-minute tour", 1)[1].split("\n## ", 1)[0]
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", section, re.DOTALL):
        if block.startswith(REAL_MODEL):
            continue
        commands += [line for line in block.splitlines() if line.startswith("judge ")]
    return commands


def test_the_tour_is_read_from_the_readme() -> None:
    commands = tour_commands()
    assert len(commands) >= 7
    outputs = [c for c in commands if " -o " in c]
    assert all(" -o tour/" in c for c in outputs), outputs  # one folder .gitignore covers
    assert "tour/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()


def test_the_tour_runs_as_written_in_order(tmp_path: Path) -> None:
    for folder in ("examples", "constitutions"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    bin_dir = tmp_path / "bin"  # `judge` on PATH: this interpreter with this tree's package
    bin_dir.mkdir()
    (bin_dir / "judge").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m judge "$@"\n')
    (bin_dir / "judge").chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "JUDGE_CACHE": str(tmp_path / "cache.sqlite"),
    }
    for key in ("JUDGE_MODEL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "JUDGE_BASE_URL"):
        env.pop(key, None)
    started = time.monotonic()
    timings = []
    for command in tour_commands():
        begun = time.monotonic()
        done = subprocess.run(
            command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True
        )
        timings.append((round(time.monotonic() - begun, 1), command[:90]))
        assert done.returncode == 0, f"{command}\n{done.stderr}"
        assert "Traceback" not in done.stderr, done.stderr
    took = time.monotonic() - started
    print("\n".join(f"{s:7.1f} s  {c}" for s, c in timings))
    assert took < TOUR_SECONDS, f"the tour took {took:.0f} s: {timings}"
    # What the next steps read is there.
    assert (tmp_path / "tour" / "scored.jsonl").is_file()
    assert (tmp_path / "tour" / "pairs" / "README.md").is_file()  # the dataset card
    assert (tmp_path / "tour" / "xstest-report" / "report.md").is_file()
