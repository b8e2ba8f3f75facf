"""What a --ray worker is sent is a typed job that imports no click and no judge.cli."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

from judge.cli.flags import score_job
from judge.tasks.filter import FilterTask

ROOT = Path(__file__).parent.parent

WORKER = """
import pickle, sys
job = pickle.load(sys.stdin.buffer)
task = job.task(sys.argv[1])
print(type(task).__name__, task.rule.min_score)
print(sorted(m for m in sys.modules if m == "click" or m.startswith("judge.cli")))
"""


def test_a_worker_builds_the_task_without_the_cli(constitution_file: Path, tmp_path: Path) -> None:
    kw = {
        "constitution_path": str(constitution_file),
        "calibration_path": None,
        "force": False,
        "model": ("openai/gpt-4o-mini",),
        "base_url": "http://127.0.0.1:9/v1",
        "concurrency": 4,
        "rpm": None,
        "tpm": None,
        "max_retries": 2,
        "timeout": 5.0,
        "cache_path": str(tmp_path / "c.sqlite"),
        "no_cache": False,
        "max_cost": None,
        "prices": None,
        "dry_run": True,
        "per_principle": False,
        "max_chars": 1000,
        "no_logprobs": False,
        "rationale": "full",
        "prompt_field": "prompt",
        "response_field": "response",
        "responses_field": "responses",
        "text_field": "text",
    }
    job = score_job(kw, FilterTask)
    from judge.tasks.filter import Rule

    job.extra = {"rule": Rule(min_score=0.5)}
    shard = tmp_path / "shard.jsonl"
    shard.write_text('{"prompt": "p", "response": "r"}\n')
    done = subprocess.run(
        [sys.executable, "-c", WORKER, str(shard)],
        input=pickle.dumps(job),
        capture_output=True,
        check=True,
        cwd=ROOT,
    )
    assert done.stdout.decode().splitlines() == ["FilterTask 0.5", "[]"]
