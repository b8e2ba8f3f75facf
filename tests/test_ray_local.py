"""`--ray auto` with no cluster running starts one of its own that never outlives the driver:
not after a normal exit, not after kill -9 (issue 21, section 6). A real local Ray cluster."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from judge.ray import local
from tests.fakes import FakeOpenAIServer

pytest.importorskip("ray")
pytestmark = [
    pytest.mark.ray,
    pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc to find the processes"),
]


@pytest.fixture
def ray_tmp() -> Iterator[str]:
    """RAY_TMPDIR for one driver: every process of the cluster it starts names this folder
    (short: Ray's socket paths must fit in 107 characters). Whatever is left is ended after."""
    folder = tempfile.mkdtemp(prefix="jt", dir="/tmp")
    try:
        yield folder
    finally:
        local.stop(folder)


def shards(tmp_path: Path, n: int) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a", "b"):
        with (folder / f"{name}.jsonl").open("w") as f:
            for i in range(n):
                f.write(json.dumps({"id": f"{name}{i}", "prompt": "q", "response": f"r{i}"}) + "\n")
    return folder


def start(
    tmp_path: Path, folder: str, server: FakeOpenAIServer, constitution: Path
) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(RAY_TMPDIR=folder, OPENAI_API_KEY="sk-test", RAY_USAGE_STATS_ENABLED="0")
    args = ["score", "in", "-c", str(constitution), "-m", "openai/test"]
    args += ["--base-url", server.base_url, "--no-cache", "-o", "out", "--ray", "auto"]
    return subprocess.Popen(
        [sys.executable, "-m", "judge", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def ray_processes(folder: str) -> list[str]:
    """Command lines of the cluster's processes (the watchdog aside)."""
    found = []
    for pid in local.pids_of(folder):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "judge.ray.local" not in cmdline and not local._zombie(pid):
            found.append(cmdline[:120])
    return found


def wait_until_gone(folder: str, seconds: float) -> list[str]:
    deadline = time.monotonic() + seconds
    while (left := ray_processes(folder)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


def test_kill_9_of_the_driver_leaves_no_ray_process(
    tmp_path: Path, constitution_file: Path, ray_tmp: str
) -> None:
    shards(tmp_path, 300)
    with FakeOpenAIServer(latency=0.3) as server:
        driver = start(tmp_path, ray_tmp, server, constitution_file)
        deadline = time.monotonic() + 240
        while server.count < 10 and time.monotonic() < deadline and driver.poll() is None:
            time.sleep(0.2)  # the cluster is up and its workers are judging
        assert driver.poll() is None, driver.communicate()[1]
        assert any("raylet" in c for c in ray_processes(ray_tmp))
        driver.send_signal(signal.SIGKILL)
        driver.communicate(timeout=30)
        left = wait_until_gone(ray_tmp, 30)
    assert left == [], left
    # The cluster's own folder is removed too, by the watchdog once the processes have ended:
    # removing a Ray session's files can take a moment after the last process is gone.
    deadline = time.monotonic() + 30
    while any(Path(ray_tmp).iterdir()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(Path(ray_tmp).iterdir()), list(Path(ray_tmp).iterdir())


def test_a_normal_exit_leaves_no_ray_process(
    tmp_path: Path, constitution_file: Path, ray_tmp: str
) -> None:
    shards(tmp_path, 5)
    with FakeOpenAIServer() as server:
        driver = start(tmp_path, ray_tmp, server, constitution_file)
        _, err = driver.communicate(timeout=300)
    assert driver.returncode == 0, err
    assert "scored 10 candidates" in err
    assert ray_processes(ray_tmp) == []  # stopped before the command returned


def test_the_tests_own_cluster_ends_when_pytest_is_killed(ray_tmp: str) -> None:
    """tests/ray_cluster.local_cluster: a pytest killed by a timeout must not leave its cluster
    running (a later `--ray auto` on the machine would join it)."""
    code = (
        "import sys, time\n"
        "from tests.ray_cluster import local_cluster\n"
        "with local_cluster(1, sys.argv[1]) as address:\n"
        "    print(address, flush=True)\n"
        "    time.sleep(600)\n"
    )
    root = str(Path(__file__).resolve().parent.parent)
    holder = subprocess.Popen(
        [sys.executable, "-c", code, ray_tmp],
        cwd=root,
        env={**os.environ, "PYTHONPATH": root},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().startswith("127.0.0.1:")
    assert any("raylet" in c for c in ray_processes(ray_tmp))
    holder.kill()
    holder.wait(timeout=30)
    assert wait_until_gone(ray_tmp, 30) == []
