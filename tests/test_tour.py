"""The README's "A five-minute tour" runs as written, in order, on the embedded model, in minutes.

Its commands are read from README.md (every `judge ...` line of the section's bash blocks, but
those of blocks marked "needs a real model") and run one after the other through a shell, in a
folder holding the clone's examples and constitutions, with a fresh cache.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp", reason="the embedded judge needs the `local` extra")
pytestmark = [pytest.mark.embedded, pytest.mark.slow, pytest.mark.timeout(2400)]

ROOT = Path(__file__).parent.parent
# The whole tour's CPU time on the embedded model (the commands' processes, user + system): what
# it costs CI, and a measure that a busy machine does not stretch as it does the wall time (a
# tour that took 3 minutes on a quiet machine took 15 with five other developers' work on it).
TOUR_CPU_SECONDS = 300
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


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


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
    timings = []
    for command in tour_commands():
        begun, cpu = time.monotonic(), _children_cpu()
        done = subprocess.run(
            command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True
        )
        timings.append((time.monotonic() - begun, _children_cpu() - cpu, command[:90]))
        assert done.returncode == 0, f"{command}\n{done.stderr}"
        assert "Traceback" not in done.stderr, done.stderr
    print("\n".join(f"{wall:7.1f} s wall {cpu:7.1f} s CPU  {c}" for wall, cpu, c in timings))
    cpu = sum(t[1] for t in timings)
    assert cpu < TOUR_CPU_SECONDS, f"the tour took {cpu:.0f} s of CPU: {timings}"
    # What the next steps read is there.
    assert (tmp_path / "tour" / "scored.jsonl").is_file()
    assert (tmp_path / "tour" / "pairs" / "README.md").is_file()  # the dataset card
    assert (tmp_path / "tour" / "xstest-report" / "report.md").is_file()
