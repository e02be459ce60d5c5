"""The on-disk cache: content-addressed keys, atomic writes, a lock between processes.

Every cache of hwgen (synthesis results, multiplier counts, simulator builds) follows the same
three rules:

- a key is the SHA-256 of everything the cached value depends on (tool versions included),
  serialized as sorted JSON, so that a changed input is a new key and never a stale hit;
- a file is written to a temporary name in its own folder and renamed over the final name
  (``os.replace``, atomic on POSIX and Windows): a reader sees the old file or the new one,
  never half of one, even when the writer is killed;
- a process about to compute what another may be computing takes :func:`locked` on a file
  next to it, then looks in the cache again.
"""

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

__all__ = ["content_key", "write_atomic", "read_json", "locked"]


def content_key(fields):
    """Hex SHA-256 of ``fields`` (a JSON-serializable dict) as ``json.dumps(fields,
    sort_keys=True)`` writes it."""
    blob = json.dumps(fields, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def write_atomic(path, data):
    """Write ``data`` (``str`` or ``bytes``) to ``path`` all at once: to a temporary file in
    the same folder (created if missing), flushed to disk, then renamed over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_json(path):
    """The JSON value in ``path``, or ``None`` when the file is missing or not JSON (a
    damaged entry is recomputed, never trusted)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def locked(path):
    """Hold an exclusive lock on the file ``path`` (created, with its folder, if missing)
    for the ``with`` block; another process asking for it waits. Without ``fcntl`` (not
    POSIX) nothing is locked."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no locking
        yield
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
