"""Drill: a corpus of bad inputs, each run through `judge score` against a loopback server.

Each case says what the contract expects: exit 2 with a message naming the file (and line or
field) for input that cannot be read, or exit 0 with the problem noted on that item (score null,
reason in judge.error) when only one item is bad. Reported per case: exit code, the message, and
whether a traceback was printed (must never be).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.drills.common import CONSTITUTION, Ran, read_jsonl, run, score_cmd
from tests.fakes import FakeOpenAIServer

GOOD = '{"prompt": "2+2?", "response": "4"}\n'


@dataclass
class Case:
    name: str
    file: str  # file name inside the work dir ("" for no input file)
    content: bytes | None  # None: do not create the file
    expect: int  # exit code the contract asks for
    args: tuple[str, ...] = ()  # extra CLI arguments; {dir} is the work dir
    constitution: bytes | None = None  # replaces the good constitution
    stdin: bytes | None = None


def _j(*rows: Any) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def _nested(depth: int) -> bytes:
    return ('{"prompt": "p", "response": "r", "x": ' + "[" * depth + "]" * depth + "}\n").encode()


CASES: list[Case] = [
    Case("malformed JSON line", "in.jsonl", (GOOD + "{not json\n").encode(), 2),
    Case("truncated last line", "in.jsonl", (GOOD + '{"prompt": "a", "resp').encode(), 2),
    Case("line is an array, not an object", "in.jsonl", (GOOD + "[1, 2]\n").encode(), 2),
    Case("line is a bare string", "in.jsonl", b'"just a string"\n', 2),
    Case("missing response field", "in.jsonl", _j({"prompt": "only a prompt"}), 2),
    Case("wrong field names", "in.jsonl", _j({"question": "q", "answer": "a"}), 2),
    Case("response is a number", "in.jsonl", _j({"prompt": "p", "response": 42}), 2),
    Case("prompt is an object", "in.jsonl", _j({"prompt": {"a": 1}, "response": "r"}), 2),
    Case("responses is a string", "in.jsonl", _j({"prompt": "p", "responses": "r"}), 2),
    # One bad item beside a good one: noted on its row, exit 0 (a run that judged nothing at
    # all exits 1).
    Case("response is null", "in.jsonl", GOOD.encode() + _j({"prompt": "p", "response": None}), 0),
    Case("empty response", "in.jsonl", GOOD.encode() + _j({"prompt": "p", "response": ""}), 0),
    Case(
        "whitespace-only response",
        "in.jsonl",
        GOOD.encode() + _j({"prompt": "p", "response": " \n\t"}),
        0,
    ),
    Case("huge response (4 MB)", "in.jsonl", _j({"prompt": "p", "response": "word " * 800_000}), 0),
    Case("huge prompt (4 MB)", "in.jsonl", _j({"prompt": "why " * 1_000_000, "response": "r"}), 0),
    Case("empty file", "in.jsonl", b"", 2),
    Case("blank lines only", "in.jsonl", b"\n\n  \n", 2),
    Case(
        "invalid UTF-8",
        "in.jsonl",
        GOOD.encode() + b'{"prompt": "a\xff\xfe", "response": "b"}\n',
        2,
    ),
    Case("UTF-16 text", "in.jsonl", GOOD.encode("utf-16"), 2),
    Case(
        "binary file (PNG) named .jsonl",
        "in.jsonl",
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
        2,
    ),
    Case("nested too deeply", "in.jsonl", _nested(100_000), 2),
    Case("JSON file, truncated array", "in.json", b'[{"prompt": "a", "response": "b"}, {"pro', 2),
    Case("JSON file, object not array", "in.json", b'{"prompt": "a", "response": "b"}', 0),
    Case("CSV without the needed columns", "in.csv", b"question,answer\nq,a\n", 2),
    Case("CSV with an unclosed quote", "in.csv", b'prompt,response\n"a,b\n', 2),
    Case("corrupt Parquet", "in.parquet", b"PAR1" + b"\x00garbage" * 100, 2),
    Case("folder that is not a dataset", "folder", None, 2),
    Case("unknown input extension", "in.xlsx", b"PK\x03\x04 not really", 2),
    Case("no such file", "missing.jsonl", None, 2),
    Case("malformed line on stdin", "-", None, 2, stdin=(GOOD + "{oops\n").encode()),
    Case(
        "--prompt-field names a missing field",
        "in.jsonl",
        GOOD.encode(),
        2,
        args=("--prompt-field", "question"),
    ),
    Case("unsupported output extension", "in.jsonl", GOOD.encode(), 2, args=("-o", "{dir}/x.xlsx")),
    Case(
        "output in a folder not made yet (judge makes it)",
        "in.jsonl",
        GOOD.encode(),
        0,
        args=("-o", "{dir}/no/such/dir/out.jsonl"),
    ),
    Case(
        "constitution without principles",
        "in.jsonl",
        GOOD.encode(),
        2,
        constitution=b"name: x\n\nJust a preamble.\n",
    ),
    Case(
        "constitution with an empty principle",
        "in.jsonl",
        GOOD.encode(),
        2,
        constitution=b"name: x\n\n## a\n\n",
    ),
    Case(
        "constitution with a bad scale",
        "in.jsonl",
        GOOD.encode(),
        2,
        constitution=b"name: x\nscale: 5-1\n\n## a\n\nBe good.\n",
    ),
    Case(
        "constitution with a bad weight",
        "in.jsonl",
        GOOD.encode(),
        2,
        constitution=b"name: x\n\n## a\nweight: heavy\n\nBe good.\n",
    ),
    Case("binary constitution", "in.jsonl", GOOD.encode(), 2, constitution=bytes(range(256)) * 4),
    Case(
        "constitution in invalid UTF-8",
        "in.jsonl",
        GOOD.encode(),
        2,
        constitution=b"name: x\n\n## a\n\nBe good \xff.\n",
    ),
    Case(
        "constitution that is missing", "in.jsonl", GOOD.encode(), 2, args=("-c", "{dir}/none.md")
    ),
]


def drill(cases: list[Case] | None = None, in_process: bool = False) -> list[dict[str, Any]]:
    """Run every case; `in_process` uses click's test runner (fast, for CI) instead of a
    subprocess per case (what a user sees, for the figures)."""
    results = []
    with FakeOpenAIServer() as server, tempfile.TemporaryDirectory() as tmp:
        for i, case in enumerate(cases or CASES):
            work = Path(tmp) / f"case{i}"
            work.mkdir()
            results.append(_one(case, work, server.base_url, in_process))
    return results


def _one(case: Case, work: Path, base_url: str, in_process: bool) -> dict[str, Any]:
    src = "-" if case.file == "-" else str(work / case.file)
    if case.file == "folder":
        (work / "folder").mkdir()
        (work / "folder" / "notes.txt").write_text("not a dataset")
    elif case.content is not None and src != "-":
        Path(src).write_bytes(case.content)
    out = work / "out.jsonl"
    args = [a.replace("{dir}", str(work)) for a in case.args]
    cmd = score_cmd(src, base_url, "--no-cache", *([] if "-o" in args else ["-o", str(out)]), *args)
    if case.constitution is not None:
        bad = work / "constitution.md"
        bad.write_bytes(case.constitution)
        cmd[cmd.index(str(CONSTITUTION))] = str(bad)
    ran = _in_process(cmd, case.stdin) if in_process else run(cmd, stdin=case.stdin, timeout=120)
    got = read_jsonl(out) if ran.code == 0 and out.exists() else []
    return {
        "case": case.name,
        "expect": case.expect,
        "exit": ran.code,
        "ok": ran.code == case.expect and not ran.traceback,
        "traceback": ran.traceback,
        "message": ran.message[:300],
        "notes": [r["judge"]["error"] for r in got if r.get("score") is None][:2],
    }


def _in_process(cmd: list[str], stdin: bytes | None) -> Ran:
    import time
    import traceback

    from click.testing import CliRunner

    from judge.cli import main

    started = time.monotonic()
    result = CliRunner().invoke(main, cmd[3:], input=stdin)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        assert result.exc_info is not None
        stderr += "".join(traceback.format_exception(*result.exc_info))
    return Ran(result.exit_code, result.stdout, stderr, time.monotonic() - started)
