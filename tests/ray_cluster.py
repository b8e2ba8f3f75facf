"""A local Ray cluster on 127.0.0.1 for the tests and benchmarks/ray_throughput.py.

`ray start --head` with its own temporary folder; stopped by ending the processes whose command
line names that folder (by pid), never with `ray stop`, which would end every Ray cluster of the
user on the machine.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# No RAY_ADDRESS, so nothing joins another cluster; no token authentication (Ray >= 2.5x turns
# it on for new clusters and writes ~/.ray/auth_token): these clusters listen on 127.0.0.1 only.
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


def ray_env() -> dict[str, str]:
    """The environment of Ray processes and of the judge commands that join them."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    return {**env, **RAY_ENV}


@contextmanager
def local_cluster(cpus: int = 2) -> Iterator[str]:
    """Start a head node with `cpus` CPUs; yields its address (127.0.0.1:PORT)."""
    # A short folder: Ray's socket paths must fit in 107 characters.
    folder = tempfile.mkdtemp(prefix="jr", dir="/tmp")
    port = free_port()
    ray = str(Path(sys.executable).parent / "ray")
    cmd = [ray, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port)]
    cmd += ["--num-cpus", str(cpus), "--temp-dir", folder, "--include-dashboard=false"]
    cmd += ["--disable-usage-stats"]
    try:
        subprocess.run(cmd, check=True, capture_output=True, env=ray_env(), timeout=180)
        yield f"127.0.0.1:{port}"
    finally:
        stop(folder)


def _pids_of(folder: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if folder.encode() in cmdline:
            pids.append(int(entry))
    return pids


def stop(folder: str) -> None:
    """End the cluster's processes (those naming `folder`): SIGTERM, then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 2.0)):
        pids = _pids_of(folder)
        for pid in pids:
            with suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while pids and time.monotonic() < deadline and _pids_of(folder):
            time.sleep(0.1)
    subprocess.run(["rm", "-rf", folder], check=False)
