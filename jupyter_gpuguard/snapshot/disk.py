"""The store's disk I/O: durable and direct writes, private directories, work on a few
threads. Nothing here knows chunks or manifests."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import mmap
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

WRITER_THREADS = max(2, min(4, os.cpu_count() or 2))
DIRECT_ALIGNMENT = 4096
_DIRECT_IO = {"supported": hasattr(os, "O_DIRECT")}
_BOUNCE = threading.local()
T = TypeVar("T")
R = TypeVar("R")


def parallel_map(function: Callable[[T], R], items: Sequence[T], threads: int) -> list[R]:
    """``[function(item) for item in items]`` on a few threads, in order.

    Plain threads and a lock created here, not concurrent.futures: this runs in a forked
    child, where a lock some other thread of the parent held at the fork would stay locked.
    """
    results: list[Any] = [None] * len(items)
    errors: list[BaseException] = []
    next_index = iter(range(len(items)))
    lock = threading.Lock()

    def work() -> None:
        while not errors:
            with lock:
                index = next(next_index, None)
            if index is None:
                return
            try:
                results[index] = function(items[index])
            except BaseException as err:
                errors.append(err)

    workers = [threading.Thread(target=work, daemon=True) for _ in range(min(threads, len(items)))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]
    return results


def explain_write_error(err: OSError, path: Path) -> str:
    """Why writing the store at ``path`` failed, in the user's words."""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the snapshot store at {path} is full ({err.strerror})"
    if err.errno == errno.EFBIG:
        return f"a file in the snapshot store at {path} exceeds the size limit ({err.strerror})"
    if err.errno == errno.EROFS:
        return f"the snapshot store at {path} is on a read-only file system"
    if err.errno in (errno.EACCES, errno.EPERM):
        return f"no permission to write the snapshot store at {path}"
    return f"cannot write the snapshot store at {path}: {err.strerror or err}"


def open_for_writing(path: Path, direct: bool) -> int:
    """A new private file, with O_DIRECT where the file system takes it."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    if direct and _DIRECT_IO["supported"]:
        try:
            return os.open(path, flags | os.O_DIRECT, 0o600)
        except OSError as err:
            if err.errno != errno.EINVAL:  # EINVAL: this file system has no direct I/O
                raise
            _DIRECT_IO["supported"] = False
    return os.open(path, flags, 0o600)


def is_direct(fd: int) -> bool:
    return bool(_DIRECT_IO["supported"] and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT)


def bounce_buffer(size: int) -> memoryview:
    """A page-aligned buffer of this thread of at least ``size`` bytes (anonymous memory is
    page-aligned), made once and reused: direct writes then need no fresh memory."""
    buffer = getattr(_BOUNCE, "view", None)
    if buffer is None or buffer.nbytes < size:
        _BOUNCE.memory = mmap.mmap(-1, size)
        buffer = _BOUNCE.view = memoryview(_BOUNCE.memory)
    return buffer


@contextlib.contextmanager
def kept_or_removed(fd: int, temp: Path) -> Iterator[None]:
    """Close ``fd``, a new file ``temp``, after the body; remove ``temp`` too if it fails, so
    that no partial file stays behind."""
    try:
        yield
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    os.close(fd)


def write_all(fd: int, view: memoryview) -> None:
    """Write all of ``view``: a full disk can accept part of a write."""
    while view.nbytes:
        view = view[os.write(fd, view) :]


def start_writeback(fd: int) -> None:
    """Ask the kernel to write the file out now (and to drop clean pages from the cache)."""
    if hasattr(os, "posix_fadvise"):
        with contextlib.suppress(OSError):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_private_dirs(path: Path) -> None:
    """``mkdir -p`` where every directory made is 0700 whatever the umask; existing ones
    are left as they are."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        return
    except FileNotFoundError:
        if path.parent == path:
            raise
        make_private_dirs(path.parent)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            return
    tighten(path)


def tighten(path: Path, follow: bool = False) -> None:
    """chmod 700 the directory at ``path``; what a link there points to only if ``follow``."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
    try:
        fd = os.open(path, flags if follow else flags | os.O_NOFOLLOW)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.ENOTDIR):
            return  # a link or a file: readers refuse it, with a message saying which
        raise
    try:
        os.fchmod(fd, 0o700)
    finally:
        os.close(fd)


def read_at_most(fd: int, limit: int) -> bytes:
    parts = []
    while limit > 0:
        data = os.read(fd, min(limit, 1 << 20))
        if not data:
            break
        parts.append(data)
        limit -= len(data)
    return b"".join(parts)


def fill(handle: Any, view: memoryview) -> int:
    """Read into ``view`` until it is full or the file ends; answers the bytes read."""
    got = 0
    while got < view.nbytes:
        count = handle.readinto(view[got:])
        if not count:
            break
        got += count
    return got
