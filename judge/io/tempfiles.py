"""Hidden temporary files next to an output, and removing those that killed runs left behind.

A writer works in `.NAME.HOST.PID.RANDOM.tmp` next to the output NAME (and converts it into
`...csv.tmp`, `...parquet.tmp` or a `...dataset.tmp` folder), so that moving the result into
place is atomic; work folders that belong to an output (`judge filter --keep-top`'s spool,
`judge pairs --push-to-hub`'s staged dataset) are `...spool.tmp` and `...stage.tmp` next to it.
Every file judge writes goes this way: `write_text_atomic` for text, `atomic_path` for the
rest. A run killed with SIGKILL cannot remove these; the next writer to the same output removes
those whose process is gone. The host is in the name because a pid means nothing
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
import tempfile
from collections.abc import Iterator

_log = logging.getLogger(__name__)

# What a killed writer leaves. Not `.old`: that is a previous dataset output moved aside just
# before the new one replaces it, and after a kill at that moment it is the only copy.
_TEMP_SUFFIX = r"(?:\.csv|\.parquet|\.dataset|\.spool|\.stage)?\.tmp"


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
        if match is None or pid_alive(int(match.group(1))):
            continue
        _log.info("removing %s, left by a killed writer (pid %s)", entry.path, match.group(1))
        # Cleaning up is a courtesy: a failure here must not stop the write.
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.remove(entry.path)


def pid_alive(pid: int) -> bool:
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


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = ".tmp") -> Iterator[str]:
    """A hidden temporary name next to `path` to write to; moved into place when the block ends
    without an error, removed when it raises. Temp files of killed writers of `path` go first."""
    target = os.fspath(path)
    parent = os.path.dirname(target)
    if parent:
        os.makedirs(parent, exist_ok=True)
    _remove_stale_temps(target)
    tmp = _temp_name(target, suffix)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        _remove(tmp)
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write a UTF-8 text file atomically: readers see the old file or the new, never half."""
    with atomic_path(path) as tmp, open(tmp, "x", encoding="utf-8", newline="\n") as f:
        f.write(text)


def replace_folder(folder: str, target: str) -> None:
    """Move the finished `folder` to `target`, replacing a folder there. A folder cannot be
    replaced atomically: the old one is moved aside (`.old`, never swept: after a kill at that
    moment it is the only copy), the new one moved in, then the old one dropped."""
    if not os.path.exists(target):
        os.rename(folder, target)
        return
    old = _temp_name(target, ".old")
    os.rename(target, old)
    try:
        os.rename(folder, target)
    except OSError:
        os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def work_folder(output: str | None, suffix: str) -> str:
    """A new hidden folder next to `output` for work files that belong to it (`suffix`:
    ".spool.tmp" or ".stage.tmp"), so that the next writer of `output` removes it if this
    process is killed; with no output file (stdout), one in the system's temporary folder.
    The caller removes it (remove_work_folder)."""
    if output is None or output == "-":
        return tempfile.mkdtemp(prefix="judge-")
    target = output.rstrip("/" + os.sep) or output
    parent = os.path.dirname(os.path.abspath(target))
    os.makedirs(parent, exist_ok=True)
    _remove_stale_temps(target)
    folder = _temp_name(target, suffix)
    os.mkdir(folder)
    return folder


def remove_work_folder(folder: str) -> None:
    shutil.rmtree(folder, ignore_errors=True)
