"""A Ray cluster of the run's own, for `--ray auto` when none is running, that never outlives it.

`ray.init()` would start one inside the driver, and a driver killed with -9 left it running: the
DashboardAgent and RuntimeEnvAgent ignore SIGTERM and outlive the raylet. Instead the head node
is started with `ray start` in a temporary folder of its own, in a session of its own, and a small
watchdog process (also in its own session, so Ctrl-C and a kill of the driver's group do not
reach it) waits for the driver's pid to end, then ends every process whose command line names
that folder (SIGTERM, then SIGKILL) and removes the folder. A driver that exits normally stops
the cluster itself (atexit), at once. Never `ray stop`, which ends every Ray cluster of the user.

    python -m judge.ray.local DRIVER_PID FOLDER      # the watchdog (started by start())
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from judge.errors import ConfigError

POLL = 0.5  # seconds between the watchdog's looks at the driver
# No usage statistics; no token authentication (Ray >= 2.5x turns it on for new clusters and
# writes ~/.ray/auth_token): this cluster listens on 127.0.0.1 only.
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


def ray_env() -> dict[str, str]:
    """The environment of a cluster of our own: no RAY_ADDRESS, so it joins nothing else."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    return {**env, **RAY_ENV}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(cpus: int | None = None) -> str:
    """Start a head node on 127.0.0.1 that ends with this process; its address (host:port)."""
    # A short folder: Ray's socket paths must fit in 107 characters.
    base = os.environ.get("RAY_TMPDIR") or ("/tmp" if os.path.isdir("/tmp") else None)
    folder = tempfile.mkdtemp(prefix="jr", dir=base)
    watchdog(folder)
    atexit.register(stop, folder)
    port = free_port()
    ray = shutil.which("ray", path=str(Path(sys.executable).parent)) or "ray"
    cmd = [ray, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port)]
    cmd += ["--temp-dir", folder, "--include-dashboard=false", "--disable-usage-stats"]
    if cpus is not None:
        cmd += ["--num-cpus", str(cpus)]
    try:
        subprocess.run(
            cmd, check=True, capture_output=True, env=ray_env(), timeout=300, start_new_session=True
        )
    except (OSError, subprocess.SubprocessError) as exc:
        stop(folder)
        detail = getattr(exc, "stderr", b"") or b""
        lines = detail.decode("utf-8", "replace").strip().splitlines() if detail else []
        why = f"{exc}: {lines[-1]}" if lines else str(exc)
        raise ConfigError(
            f"{{opt:ray}} auto: could not start a local Ray cluster ({why})"
        ) from None
    return f"127.0.0.1:{port}"


def watchdog(folder: str) -> None:
    """Stop the cluster in `folder` once this process has ended, however it ends (kill -9 too):
    the watchdog process, in a session of its own."""
    subprocess.Popen(
        [sys.executable, "-m", "judge.ray.local", str(os.getpid()), folder],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


def pids_of(folder: str) -> list[int]:
    """The processes whose command line names `folder` (this one and its watchdog aside)."""
    own = {os.getpid()}
    found: list[int] = []
    if os.path.isdir("/proc"):
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in own:
                continue
            with contextlib.suppress(OSError), open(f"/proc/{entry}/cmdline", "rb") as f:
                if folder.encode() in f.read():
                    found.append(int(entry))
        return found
    done = subprocess.run(["pgrep", "-f", folder], capture_output=True, text=True, check=False)
    return [int(p) for p in done.stdout.split() if p.isdigit() and int(p) not in own]


def stop(folder: str) -> None:
    """End the cluster's processes (those naming `folder`): SIGTERM, then SIGKILL; remove it."""
    for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
        pids = [p for p in pids_of(folder) if not _is_watchdog(p, folder)]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while pids and time.monotonic() < deadline and _alive(pids):
            time.sleep(0.1)
    shutil.rmtree(folder, ignore_errors=True)


def _alive(pids: list[int]) -> bool:
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        except PermissionError:
            return True
        if not _zombie(pid):
            return True
    return False


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[-1].split()[0] == b"Z"
    except OSError:
        return False


def _is_watchdog(pid: int, folder: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"judge.ray.local" in f.read()
    except OSError:
        return False


def watch(driver: int, folder: str) -> None:
    """Wait for the driver to end, then stop its cluster."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while _alive([driver]):
        time.sleep(POLL)
    stop(folder)


if __name__ == "__main__":
    watch(int(sys.argv[1]), sys.argv[2])
