"""The embedded model's life in a process: Ctrl-C stops a generation at once, and a script that
used it exits without a traceback from Llama.__del__."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp", reason="the embedded judge needs the `local` extra")
pytestmark = [pytest.mark.embedded, pytest.mark.slow]

ROOT = Path(__file__).parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def test_ctrl_c_stops_the_embedded_generation_at_once(tmp_path: Path) -> None:
    # Long answers to write: a generation of the embedded model takes 20 s or more here, so
    # the interrupt lands in the middle of one (the old code waited for it to end).
    rows = [
        {"id": f"r{i}", "prompt": f"Tell me a long story number {i}.", "response": "Once " * 300}
        for i in range(12)  # more than a fast machine judges in the 12 s before the interrupt
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    cache = tmp_path / "cache.sqlite"
    cmd = [sys.executable, "-m", "judge", "score", str(src), "-o", str(tmp_path / "out.jsonl")]
    cmd += ["-c", str(ROOT / "constitutions/helpful-honest-harmless.md"), "--cache", str(cache)]
    cmd += ["--rationale", "full"]
    log = tmp_path / "stderr.txt"
    with log.open("w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=ENV)
        time.sleep(12)  # start-up and the model's load take a few seconds; then it generates
        assert proc.poll() is None, log.read_text()
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
        took = time.monotonic() - sent
    stderr = log.read_text()
    assert code == 130, stderr
    assert "interrupted; run the same command again to resume" in stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    assert took < 4.0, f"{took:.1f} s from Ctrl-C to exit"


def test_a_script_that_used_the_embedded_model_exits_clean(tmp_path: Path) -> None:
    script = tmp_path / "use.py"
    script.write_text(
        "import judge\n"
        f"c = judge.load_constitution({str(ROOT / 'constitutions/helpful-honest-harmless.md')!r})\n"
        "s = judge.Settings(use_cache=False)\n"
        "r = judge.score([{'prompt': '2+2?', 'response': '4'}], c, settings=s,\n"
        "                options=judge.ScoreOptions(rationale='none'))\n"
        "print(r[0].verdict is not None)\n",
        encoding="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=ENV
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "True"
    assert proc.stderr == "", proc.stderr
