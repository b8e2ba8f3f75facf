"""A local Ray cluster on 127.0.0.1 for the tests and benchmarks/ray_throughput.py.

`ray start --head` with its own temporary folder; stopped by ending the processes whose command
line names that folder (by pid), never with `ray stop`, which would end every Ray cluster of the
user on the machine. A watchdog stops it too when the process that started it is killed (pytest
ended by a timeout): a cluster left running would be joined by a later `--ray auto`.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from judge.ray import local

RAY_ENV = local.RAY_ENV


def ray_env() -> dict[str, str]:
    """The environment of Ray processes and of the judge commands that join them."""
    return local.ray_env()


@contextmanager
def local_cluster(cpus: int = 2, folder: str | None = None) -> Iterator[str]:
    """Start a head node with `cpus` CPUs in `folder` (default: a new one); yields its address
    (127.0.0.1:PORT)."""
    # A short folder: Ray's socket paths must fit in 107 characters.
    folder = folder or tempfile.mkdtemp(prefix="jr", dir="/tmp")
    local.watchdog(folder)
    port = local.free_port()
    ray = str(Path(sys.executable).parent / "ray")
    cmd = [ray, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port)]
    cmd += ["--num-cpus", str(cpus), "--temp-dir", folder, "--include-dashboard=false"]
    cmd += ["--disable-usage-stats"]
    try:
        subprocess.run(cmd, check=True, capture_output=True, env=ray_env(), timeout=180)
        yield f"127.0.0.1:{port}"
    finally:
        local.stop(folder)
