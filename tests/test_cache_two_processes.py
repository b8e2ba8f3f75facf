"""Two `judge score` processes share one cache file at the same time (SQLite WAL + busy timeout),
and pay once for each item: a call claims its key in the cache, the other process waits for it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from judge.engine.cache import Cache
from tests.fakes import FakeOpenAIServer, HandlerResult, auto_reply

N = 90
A_ITEMS = list(range(0, 60))  # process A alone judges 0-29
B_ITEMS = list(reversed(range(30, N)))  # process B alone judges 60-89; 30-59 are shared
ITEM = re.compile(r"answer (\d+)")


def write_jsonl(path: Path, items: list[int]) -> Path:
    rows = [{"id": i, "prompt": f"question {i}", "response": f"answer {i}"} for i in items]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def calls_made(stderr: str) -> int:
    """The model calls a run made, from its summary ("N calls, M from cache")."""
    found = re.findall(r"(\d+) calls?, \d+ from cache", stderr)
    assert found, stderr
    return int(found[-1])


class BothRunning:
    """Holds every request until each process has sent one, so the two runs surely overlap."""

    def __init__(self) -> None:
        self.a = threading.Event()
        self.b = threading.Event()

    def __call__(self, body: dict[str, Any]) -> HandlerResult:
        found = ITEM.findall(json.dumps(body.get("messages")))
        item = int(found[-1]) if found else -1
        if item < 30:
            self.a.set()
        elif item >= 60:
            self.b.set()
        self.a.wait(60)
        self.b.wait(60)
        return auto_reply(body)


def test_two_processes_share_one_cache(tmp_path: Path, constitution_file: Path) -> None:
    cache = tmp_path / "shared.sqlite"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    gate = BothRunning()
    with FakeOpenAIServer(handler=gate, latency=0.01) as server:

        def judge(name: str, items: list[int]) -> subprocess.Popen[str]:
            src = write_jsonl(tmp_path / f"{name}.jsonl", items)
            args = [
                sys.executable,
                "-m",
                "judge",
                "score",
                str(src),
                "-c",
                str(constitution_file),
                "-m",
                "openai/test",
                "--base-url",
                server.base_url,
                "--concurrency",
                "4",
                "--cache",
                str(cache),
                "-o",
                str(tmp_path / f"{name}.out.jsonl"),
            ]
            return subprocess.Popen(
                args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
            )

        procs = {"a": judge("a", A_ITEMS), "b": judge("b", B_ITEMS)}
        errors = {name: p.communicate(timeout=120)[1] for name, p in procs.items()}
        paid = server.answered
        server_count = server.count
        both_ran = gate.a.is_set() and gate.b.is_set()

        # A third run over everything finds every verdict in the cache.
        union = write_jsonl(tmp_path / "all.jsonl", list(range(N)))
        again = subprocess.run(
            [
                sys.executable,
                "-m",
                "judge",
                "score",
                str(union),
                "-c",
                str(constitution_file),
                "-m",
                "openai/test",
                "--base-url",
                server.base_url,
                "--cache",
                str(cache),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        paid_again = server.answered - paid

    assert both_ran
    calls = {name: calls_made(errors[name]) for name in procs}
    for name, items in (("a", A_ITEMS), ("b", B_ITEMS)):
        assert procs[name].returncode == 0, errors[name]
        out = [json.loads(line) for line in (tmp_path / f"{name}.out.jsonl").open()]
        assert [r["id"] for r in out] == items  # complete, in input order
        assert all(r["score"] is not None for r in out)
        assert f"{len(items)} judged" in errors[name]
    # Every verdict once: one row per request key, and one model call per item in total, counted
    # at the server (without claims, the 30 shared items were often paid twice).
    assert len(Cache(cache)) == N
    assert paid == N and server_count == N
    assert calls["a"] + calls["b"] == N
    assert again.returncode == 0, again.stderr
    assert paid_again == 0 and f"{N} from cache" in again.stderr
    assert len(again.stdout.splitlines()) == N
