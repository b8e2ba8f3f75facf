"""The per-request code in our delimiter names (`<candidate_response_3f9a61c2>`).

Data cannot close a section whose closing tag it cannot predict. The code must be unpredictable
to whoever wrote the data, yet the same every time the same request is made: the cache is keyed
by the rendered request, so a code drawn at random on each run would make every cached verdict a
miss (and a resumed run would pay again). So the code is an HMAC of the request's data sections
under a secret key of this installation: the same data gives the same code here, and without the
key no author of data can compute it.

The key is 32 random bytes in `delimiter.key` beside the default cache file (`$JUDGE_CACHE`'s
folder, else `$XDG_CACHE_HOME/judge`, else `~/.cache/judge`), made on first use, readable by the
owner only: it lives and dies with the cache whose keys depend on it (a CI job that keeps the cache
folder keeps both). `$JUDGE_DELIMITER_KEY` (hex) overrides it, for machines that share a cache.
Where the folder cannot be written, a key for this process alone is used: prompts are then stable
within the run only.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from judge.engine.cache import default_path

KEY_FILE = "delimiter.key"
_PROCESS_KEY = secrets.token_bytes(32)
NONCE_HEX = 8  # 32 bits: one guess in four billion, and a forged tag is defanged anyway


def key_path() -> Path:
    return default_path().parent / KEY_FILE


def _write_new(path: Path, key: bytes) -> None:
    """Create `path` (FileExistsError if it is there), readable by the owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key.hex() + "\n")


@lru_cache(maxsize=8)
def _key_at(path: Path) -> bytes:
    try:
        return bytes.fromhex(path.read_text("ascii").strip())
    except (OSError, ValueError):
        pass
    key = secrets.token_bytes(32)
    temp = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole under a name of its own, then linked into place: a process starting at
        # the same moment sees no key file or a complete one, never one half written (it then
        # used a key of its own, and its prompts, hence its cache keys, differed).
        _write_new(temp, key)
        try:
            os.link(temp, path)
        except FileExistsError:
            raise
        except OSError:  # a filesystem without hard links: written in place, as before
            _write_new(path, key)
        return key
    except FileExistsError:  # another process made it first: use theirs
        try:
            return bytes.fromhex(path.read_text("ascii").strip())
        except (OSError, ValueError):
            return _PROCESS_KEY
    except OSError:
        return _PROCESS_KEY
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()


def secret_key() -> bytes:
    env = os.environ.get("JUDGE_DELIMITER_KEY", "").strip()
    if env:
        try:
            return bytes.fromhex(env)
        except ValueError:
            return env.encode("utf-8")
    return _key_at(key_path())


def request_nonce(sections: Iterable[tuple[str, str]]) -> str:
    """The code for a request whose data sections are `(tag, text)` pairs, in order."""
    mac = hmac.new(secret_key(), digestmod=hashlib.sha256)
    for tag, text in sections:
        for part in (tag, text):
            data = part.encode("utf-8", "surrogatepass")  # a lone surrogate is data too
            mac.update(len(data).to_bytes(8, "big") + data)
    return mac.hexdigest()[:NONCE_HEX]
