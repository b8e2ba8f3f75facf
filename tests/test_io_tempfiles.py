"""judge.io writers: hidden temp files that killed runs leave are removed by the next writer,
and only those (never a live process's, another host's, another output's, or a moved-aside
dataset)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from judge.io import open_writer, read_rows, write_rows
from judge.io.tempfiles import _host, _temp_name, pid_alive

pytestmark = pytest.mark.skipif(
    os.name == "nt", reason="on Windows no pid can be checked safely, so nothing is removed"
)

ROWS: list[dict[str, Any]] = [
    {"id": "a1", "prompt": "héllo", "response": "r", "scores": {"x": 1}},
    {"id": "a2", "prompt": "p", "response": "s", "scores": {"x": 2}},
]
FORMATS = ["o.jsonl", "o.json", "o.csv", "o.parquet", "ds"]


def rows_of(path: str | Path) -> list[dict[str, Any]]:
    return [row for _, row in read_rows(str(path))]


def written_cleanly(tmp_path: Path, name: str) -> Path:
    """ROWS written to `name` in a folder with no temp files, to compare outputs with."""
    (tmp_path / "clean").mkdir()
    write_rows(str(tmp_path / "clean" / name), ROWS)
    return tmp_path / "clean" / name


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    for _ in range(5):
        child = subprocess.Popen(["true"])
        child.wait()
        if not pid_alive(child.pid):  # not reused already
            return child.pid
    raise AssertionError("every exited child's pid was taken again at once")


@pytest.fixture
def live_pid() -> Iterator[int]:
    child = subprocess.Popen(["sleep", "60"])
    try:
        yield child.pid
    finally:
        child.kill()
        child.wait()


def temp_of(out: Path, pid: int, suffix: str = ".tmp") -> Path:
    """The name a writer with this pid on this host would use for `out`."""
    ours = _temp_name(str(out), suffix)
    name = Path(ours).name.replace(f".{_host()}.{os.getpid()}.", f".{_host()}.{pid}.", 1)
    assert name != Path(ours).name
    return out.parent / name


def leave_temps(out: Path, pid: int) -> list[Path]:
    """What a writer killed at any moment can leave: the spool and the converted output."""
    made = []
    for suffix in (".tmp", ".csv.tmp", ".parquet.tmp"):
        path = temp_of(out, pid, suffix)
        path.write_text('{"half": "writ')
        made.append(path)
    folder = temp_of(out, pid, ".dataset.tmp")
    (folder / "saved").mkdir(parents=True)
    (folder / "data.arrow").write_bytes(b"\x00" * 10)
    made.append(folder)
    return made


@pytest.mark.parametrize("name", FORMATS)
def test_dead_writers_temps_are_removed_and_output_is_unchanged(tmp_path: Path, name: str) -> None:
    clean = written_cleanly(tmp_path, name)
    out = tmp_path / "dirty" / name
    out.parent.mkdir()
    stale = leave_temps(out, dead_pid())
    assert all(path.exists() for path in stale)
    write_rows(str(out), ROWS)
    assert os.listdir(out.parent) == [name]
    assert rows_of(out) == rows_of(clean)
    if name in ("o.jsonl", "o.json", "o.csv"):
        assert out.read_bytes() == clean.read_bytes()


@pytest.mark.parametrize("name", FORMATS)
def test_live_process_temps_are_kept(tmp_path: Path, live_pid: int, name: str) -> None:
    clean = written_cleanly(tmp_path, name)
    out = tmp_path / "dirty" / name
    out.parent.mkdir()
    kept = leave_temps(out, live_pid)
    write_rows(str(out), ROWS)
    assert all(path.exists() for path in kept)
    assert (kept[-1] / "data.arrow").exists()
    assert sorted(os.listdir(out.parent)) == sorted([name, *(path.name for path in kept)])
    assert rows_of(out) == rows_of(clean)


def test_a_live_writer_in_this_process_keeps_its_temp(tmp_path: Path) -> None:
    out = str(tmp_path / "o.jsonl")
    first = open_writer(out)
    first.write({"id": "first"})
    write_rows(out, ROWS)  # a second writer to the same output, same pid
    assert rows_of(out) == ROWS
    first.close()  # its temp file is still there to be moved into place
    assert rows_of(out) == [{"id": "first"}]
    assert os.listdir(tmp_path) == ["o.jsonl"]


def test_files_that_are_not_this_outputs_dead_temps_are_kept(tmp_path: Path) -> None:
    pid = dead_pid()
    out = tmp_path / "o.jsonl"
    others = [
        temp_of(tmp_path / "other.jsonl", pid),  # another output's
        tmp_path / f".o.jsonl.some-other-host.{pid}.0123abcd.tmp",  # pids there mean nothing
        temp_of(tmp_path / "ds", pid, ".old"),  # a previous dataset moved aside: its only copy
        tmp_path / f".o.jsonl.{_host()}.{pid}.0123abcd.tmp.bak",  # not a name we make
        tmp_path / "o.jsonl.bak",
    ]
    for path in others:
        path.write_text("keep me")
    write_rows(str(out), ROWS)
    assert all(path.read_text() == "keep me" for path in others)
    assert rows_of(out) == ROWS


def testpid_alive() -> None:
    assert pid_alive(os.getpid())
    assert not pid_alive(dead_pid())
    assert pid_alive(0)  # never a writer's pid: when in doubt, alive
    assert pid_alive(2**80)


KILLED_WRITER = """
import sys, time
from judge.io import open_writer
writer = open_writer(sys.argv[1])
writer.write({"id": "from the killed run"})
print("ready", flush=True)
time.sleep(60)
"""


def test_run_killed_with_sigkill_then_written_again(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(out)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
    finally:
        child.kill()  # SIGKILL: no cleanup runs in the child
        child.wait()
    [left] = os.listdir(tmp_path)  # the killed run's spool
    assert re.fullmatch(rf"\.out\.jsonl\.{_host()}\.{child.pid}\.[0-9a-f]{{8}}\.tmp", left)
    write_rows(str(out), ROWS)
    assert os.listdir(tmp_path) == ["out.jsonl"]
    assert rows_of(out) == ROWS


# -- every file judge writes in place goes through the same helper ---------------------------------


def test_write_text_atomic_sweeps_dead_writers_and_leaves_nothing_on_failure(
    tmp_path: Path, live_pid: int
) -> None:
    from judge.io import atomic_path, write_text_atomic

    out = tmp_path / "notes" / "a.md"  # the folder is made
    write_text_atomic(out, "first\n")
    dead, live = temp_of(out, dead_pid()), temp_of(out, live_pid)
    dead.write_text("half"), live.write_text("busy")
    write_text_atomic(str(out), "héllo\n")
    assert out.read_bytes() == "héllo\n".encode()
    assert sorted(os.listdir(out.parent)) == sorted(["a.md", live.name])
    with pytest.raises(RuntimeError), atomic_path(out) as tmp:
        Path(tmp).write_text("half")
        raise RuntimeError("killed half way")
    assert out.read_text() == "héllo\n" and sorted(os.listdir(out.parent)) == sorted(
        ["a.md", live.name]
    )


def test_calibration_meta_empty_pairs_and_report_files_sweep_dead_temps(tmp_path: Path) -> None:
    """What used to be written with its own `NAME.PID.tmp` now shares the helper (and sweep)."""
    import pyarrow as pa

    from judge.calibration import Calibration, ProbabilityMap, save
    from judge.calibration.report import write_json
    from judge.tasks.pairs.rows import write_empty
    from judge.tasks.revise import write_meta

    pid = dead_pid()
    targets = {
        "calibration.json": lambda p: save(
            Calibration("absolute", "score", ProbabilityMap("logistic", coef=1.0), 10, "m", {}), p
        ),
        "report.json": lambda p: write_json(p, {"n": 1}),
        "rows.jsonl.meta.json": lambda p: write_meta(str(p).removesuffix(".meta.json"), {}),
        "empty.parquet": lambda p: write_empty(str(p), pa.schema([("prompt", pa.string())])),
        "empty.csv": lambda p: write_empty(str(p), pa.schema([("prompt", pa.string())])),
    }
    for name, write in targets.items():
        out = tmp_path / name
        stale = temp_of(out, pid)
        stale.write_text("half")
        write(out)
        assert out.exists() and not stale.exists(), name
    assert sorted(os.listdir(tmp_path)) == sorted(targets)
    assert (tmp_path / "empty.csv").read_text() == "prompt\n"


def test_work_folders_sit_next_to_their_output_and_are_swept(tmp_path: Path) -> None:
    from judge.io.tempfiles import remove_work_folder, work_folder

    out = tmp_path / "kept.jsonl"
    stale = temp_of(out, dead_pid(), ".spool.tmp")
    (stale / "x").mkdir(parents=True)
    folder = work_folder(str(out), ".spool.tmp")
    assert not stale.exists()
    assert re.fullmatch(
        rf"\.kept\.jsonl\.{_host()}\.{os.getpid()}\.[0-9a-f]{{8}}\.spool\.tmp", Path(folder).name
    )
    assert Path(folder).parent == tmp_path
    remove_work_folder(folder)
    assert os.listdir(tmp_path) == []
    elsewhere = work_folder(None, ".spool.tmp")  # stdout: the system's temporary folder
    assert Path(elsewhere).parent != tmp_path and Path(elsewhere).is_dir()
    remove_work_folder(elsewhere)
    assert not Path(elsewhere).exists()
