"""Files only their owner may read: the panel's credentials (the RunPod key, the replica's
keys). Written atomically and 0600 from the first byte in a 0700 directory; read only when
no one else could have written or swapped them."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def read_private(path: Path, follow_links: bool = False, limit: int = 1024) -> str | None:
    """The text of ``path``, or None when it is missing or open to other users.

    The panel's own files are never links (one could point them at a file someone else
    controls); a file the user names may be one, e.g. a mounted secret.
    """
    try:
        fd = os.open(path, os.O_RDONLY | (0 if follow_links else os.O_NOFOLLOW))
    except OSError:
        return None
    try:
        if os.fstat(fd).st_mode & 0o077:
            return None  # someone loosened it: do not trust what others could swap
        with os.fdopen(fd, "r", encoding="utf-8") as handle:
            fd = -1
            return handle.read(limit)
    except (OSError, UnicodeDecodeError):
        return None
    finally:
        if fd >= 0:
            os.close(fd)


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically with ``text``, durable once this returns."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def remove_private(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
