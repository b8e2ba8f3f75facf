"""TRL's DPOTrainer trains on what `judge pairs` writes for multi-turn conversations, in the
conversational and the standard form: run in TRL's own venv (JUDGE_TRL_PYTHON: a python with
trl, transformers and torch; skipped without it), as the datatrove check is."""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import datasets
import pytest

from judge.testing import FakeBackend
from tests.test_conversation_pairs import CONTEXT
from tests.test_pairs_cli import invoke, judge, write_jsonl

__all__ = ["judge"]  # the fixture, used by name

SCRIPT = Path(__file__).with_name("trl_dpo.py")


@pytest.mark.parametrize("form", ["conversational", "standard"])
def test_dpo_trainer_trains_on_multi_turn_pairs(
    tmp_path: Path, constitution_file: Path, judge: FakeBackend, form: str
) -> None:
    python = os.environ.get("JUDGE_TRL_PYTHON")
    rows = [
        {"id": "a", "messages": CONTEXT, "responses": ["good q=5", "mid q=3", "bad q=1"]},
        {"id": "b", "messages": [*CONTEXT, {"role": "assistant", "content": "fine q=4"}]},
        {"id": "c", "messages": [*CONTEXT, {"role": "assistant", "content": "poor q=2"}]},
    ]
    out = tmp_path / "pairs"
    args = ["-c", constitution_file, "-m", "fake/judge", "--strategy", "all", "--format", form]
    result = invoke(write_jsonl(tmp_path / "in.jsonl", rows), *args, "-o", out)
    assert result.exit_code == 0, result.output
    ds = datasets.load_from_disk(str(out))
    assert len(ds) == 4  # three pairs of row a's responses, one of rows b and c
    prompt = ds[0]["prompt"]
    assert prompt == CONTEXT if form == "conversational" else prompt.endswith("Assistant:\n\n")
    if not python:
        pytest.skip("set JUDGE_TRL_PYTHON to a python that has trl installed")
    env = {"PATH": os.environ.get("PATH", ""), "HF_HUB_OFFLINE": "1", "HOME": str(tmp_path)}
    proc = subprocess.run(
        [python, str(SCRIPT), str(out)], capture_output=True, text=True, timeout=600, env=env
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    done = json.loads(proc.stdout.strip().splitlines()[-1])
    assert done["steps"] == 2 and done["rows"] == 4 and math.isfinite(done["loss"])
