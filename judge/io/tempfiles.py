"""Hidden temporary files next to an output, and removing those that killed runs left behind.

A writer works in `.NAME.HOST.PID.RANDOM.tmp` next to the output NAME (and converts it into
`...csv.tmp`, `...parquet.tmp` or a `...dataset.tmp` folder), so that moving the result into
place is atomic. A run killed with SIGKILL cannot remove these; the next writer to the same
output removes those whose process is gone. The host is in the name because a pid means nothing
on another machine or in another container sharing the folder: their files are never touched.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import secrets
import shutil
import socket

_log = logging.getLogger(__name__)

# What a killed writer leaves. Not `.old`: that is a previous dataset output moved aside just
# before the new one replaces it, and after a kill at that moment it is the only copy.
_TEMP_SUFFIX = r"(?:\.csv|\.parquet|\.dataset)?\.tmp"


@functools.cache
def _host() -> str:
    """This machine's name, reduced to characters that are safe and unambiguous in a file name."""
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:32] or "host"


def _temp_name(path: str, suffix: str = ".tmp") -> str:
    """A hidden, unique name next to `path` (same file system, so os.replace is atomic)."""
    head, name = os.path.split(path)
    return os.path.join(head, f".{name}.{_host()}.{os.getpid()}.{secrets.token_hex(4)}{suffix}")


def _remove_stale_temps(path: str) -> None:
    """Remove the temporary files of `path` left by writers on this host that have died."""
    head, name = os.path.split(path)
    own = re.compile(re.escape(f".{name}.{_host()}.") + r"(\d+)\.[0-9a-f]{8}" + _TEMP_SUFFIX)
    try:
        entries = list(os.scandir(head or "."))
    except OSError:
        return  # no folder (or an unreadable one): the write itself will say what is wrong
    for entry in entries:
        match = own.fullmatch(entry.name)
        if match is None or _pid_alive(int(match.group(1))):
            continue
        _log.info("removing %s, left by a killed writer (pid %s)", entry.path, match.group(1))
        # Cleaning up is a courtesy: a failure here must not stop the write.
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.remove(entry.path)


def _pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host; when in doubt, it does."""
    if os.name == "nt" or pid <= 0:
        return True  # on Windows os.kill(pid, 0) would terminate the process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # PermissionError: a live process of another user
        return True
    return True


def write_text_atomic(path: str, text: str) -> None:
    """Write a text file beside its readers' view: to a hidden temp name, then moved into place
    (a crash leaves the old file or the new one, never half of one); a killed writer's temp file
    of the same path is removed first."""
    head = os.path.dirname(path)
    if head:
        os.makedirs(head, exist_ok=True)
    _remove_stale_temps(path)
    tmp = _temp_name(path)
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
