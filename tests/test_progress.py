"""Progress on stderr: in completion order, with the total, a sane rate and the time left, and
plain lines when stderr is a file (CI, nohup), through a real subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from judge.cli.progress import Progress, duration, progress_line
from judge.engine.stats import RunStats
from tests.fakes import FakeOpenAIServer, Reply, auto_reply

ROOT = Path(__file__).parent.parent


def test_a_log_shows_progress_in_completion_order_with_total_rate_and_eta(
    tmp_path: Path, constitution_file: Path
) -> None:
    # The first candidate takes 6 s, the others 0.3 s: in input order nothing would be shown
    # until the first finished; in completion order the log counts the others meanwhile.
    def handler(body: dict[str, Any]) -> Any:
        slow = "FIRST" in json.dumps(body["messages"])
        return Reply(auto_reply(body), delay=6.0 if slow else 0.3)

    rows = [{"id": 0, "prompt": "q", "response": "FIRST"}]
    rows += [{"id": i, "prompt": f"q{i}", "response": f"a{i}"} for i in range(1, 10)]
    # Lists of responses: counted candidate by candidate for the total.
    rows.append({"id": 10, "prompt": "many", "responses": ["x", "y"]})
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    log = tmp_path / "stderr.log"
    with FakeOpenAIServer(handler=handler) as server, log.open("w") as err:
        cmd = [sys.executable, "-m", "judge", "score", str(src), "-c", str(constitution_file)]
        cmd += ["-m", "openai/test", "--base-url", server.base_url, "--no-cache"]
        cmd += ["--concurrency", "2", "-o", str(tmp_path / "out.jsonl")]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_API_KEY": "sk-test"}
        env["JUDGE_PROGRESS_EVERY"] = "1"
        proc = subprocess.run(cmd, stderr=err, text=True, timeout=120, env=env)
    text = log.read_text()
    assert proc.returncode == 0, text
    lines = [line for line in text.splitlines() if re.match(r"judge: \d+/12 items", line)]
    assert lines, text
    counts = [int(re.match(r"judge: (\d+)/", line)[1]) for line in lines]  # type: ignore[index]
    summary_at = next(i for i, line in enumerate(text.splitlines()) if "scored 12" in line)
    before_first = [c for c in counts[:summary_at] if 0 < c < 12]
    assert before_first, f"no count while the first item was still judged: {text}"
    assert counts == sorted(counts)
    for line in lines:
        rate = re.search(r"([\d.]+) item/s", line)
        if rate:
            assert float(rate[1]) < 20, line  # never the rate of a first instant
    assert any("left" in line for line in lines), text


def test_a_plain_line_needs_no_answer_to_show_life(monkeypatch: Any, capsys: Any) -> None:
    monkeypatch.setenv("JUDGE_PROGRESS_EVERY", "0.1")
    progress = Progress(quiet=False, unit="item")
    progress.tty = False
    stats = RunStats(total=40)
    stats.started -= 5
    progress(stats)  # the start: nothing yet
    time.sleep(0.15)  # time passes without an answer
    progress(stats)
    err = capsys.readouterr().err
    assert err.startswith("judge: 0/40 items (0%) in 5 s;"), err
    assert "item/s" not in err  # no rate before a first answer


def test_progress_line_and_duration() -> None:
    stats = RunStats(total=7)
    stats.finished, stats.finished_failed = 3, 1
    stats.started -= 33
    line = progress_line(stats, "item")
    assert line.startswith("judge: 3/7 items (43%) in 33 s, 11 s/item, about 44 s left; ")
    stats.started -= -30  # 3 s: a rate
    assert "1.0 item/s, about 4 s left" in progress_line(stats, "item")
    assert "1 failed" in line
    assert duration(59.4) == "59 s" and duration(185) == "3 min 05 s"
    assert duration(7620) == "2 h 07 min"
