"""What the store reads back is trusted only once checked: files opened as they are checked,
values checked before they name a file or size a read.

Everything is opened without following links, from directories opened the same way from the
checked store root, and the opened file itself is checked (``fstat``): ours, a plain file or
directory, writable by nobody else. A check by path and an open by path are two lookups that
a rename from a writable parent can tell apart; one open cannot be.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from .model import SnapshotError, StoreSecurityError


def shown(value: object) -> str:
    """``value`` for a message: text and numbers shortened, anything else by its type alone
    (the repr of a structure nested thousands deep would itself fail)."""
    if isinstance(value, (str, bytes)):
        return repr(value[:80])
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return repr(value) if value.bit_length() < 128 else "a very large int"
    return f"a {type(value).__name__}"


def is_count(value: object, limit: int | None = None) -> bool:
    """A non-negative int (bool is not a count), at most ``limit``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return False
    return limit is None or value <= limit


def refuse_stat(info: os.stat_result, path: Path | str, directory: bool) -> None:
    """Raise StoreSecurityError unless ``info`` is a directory (or a plain file) of ours that
    nobody else can write."""
    if directory and not stat.S_ISDIR(info.st_mode):
        raise StoreSecurityError(f"Refusing to read {path}: it is not a directory.")
    if not directory and not stat.S_ISREG(info.st_mode):
        raise StoreSecurityError(f"Refusing to read {path}: it is not a regular file.")
    if info.st_uid != os.getuid():
        raise StoreSecurityError(
            f"Refusing to read {path}: it belongs to another user (uid {info.st_uid})."
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        fix = "chmod 700 on the store" if directory else "chmod 600 on it"
        raise StoreSecurityError(
            f"Refusing to read {path}: other users can write to it "
            f"(mode {stat.S_IMODE(info.st_mode):o}); run {fix}."
        )


def trusted(info: os.stat_result) -> bool:
    try:
        refuse_stat(info, "", directory=False)
    except StoreSecurityError:
        return False
    return True


def check_private(path: Path, root: Path) -> None:
    """Refuse anything another user could have written: unpickling it would run their code.

    The store ``root`` may be reached through a link (the user's choice of path); nothing
    inside it may be a link.
    """
    try:
        info = os.stat(path) if Path(path) == root else os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        raise StoreSecurityError(f"Refusing to read {path}: it is a symbolic link.")
    refuse_stat(info, path, directory=stat.S_ISDIR(info.st_mode))


def _refuse_link(err: OSError, dir_fd: int, name: str, path: Path) -> None:
    """Turn the error of an ``O_NOFOLLOW`` open into the reason it was refused, if it was."""
    if err.errno not in (errno.ELOOP, errno.ENOTDIR):
        return
    with contextlib.suppress(OSError):
        if stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
            raise StoreSecurityError(f"Refusing to read {path}: it is a symbolic link.") from None
    if err.errno == errno.ENOTDIR:
        raise StoreSecurityError(f"Refusing to read {path}: it is not a directory.") from None


def open_dir(dir_fd: int | None, name: str | Path, path: Path) -> int:
    """Open and check one directory: the store root by its path (a link there is the user's
    choice), anything inside it by name from its checked parent, never through a link."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
    try:
        if dir_fd is None:
            fd = os.open(name, flags)
        else:
            fd = os.open(name, flags | os.O_NOFOLLOW, dir_fd=dir_fd)
    except FileNotFoundError:
        raise
    except OSError as err:
        if dir_fd is not None:
            _refuse_link(err, dir_fd, str(name), path)
        if err.errno == errno.ENOTDIR:
            raise SnapshotError(f"the snapshot store at {path} is not a directory") from None
        raise SnapshotError(f"cannot read {path}: {err.strerror or err}") from err
    try:
        refuse_stat(os.fstat(fd), path, directory=True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_file(dir_fd: int, name: str, path: Path) -> tuple[int, os.stat_result]:
    """Open and check one file in a checked directory, never through a link; O_NONBLOCK so
    that a FIFO planted under the name is refused rather than waited on."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError as err:
        _refuse_link(err, dir_fd, name, path)
        raise
    try:
        info = os.fstat(fd)
        refuse_stat(info, path, directory=False)
    except BaseException:
        os.close(fd)
        raise
    return fd, info


@contextlib.contextmanager
def open_dirs(root: Path, *names: str) -> Iterator[list[int | None]]:
    """The named directories of the store at ``root`` (``snapshots``, ``chunks``), each
    opened from the checked root without following links and checked; None for one that
    does not exist, all None when the store does not."""
    opened: list[int] = []
    try:
        try:
            root_fd = open_dir(None, root, root)
        except FileNotFoundError:
            found: list[int | None] = [None] * len(names)
        else:
            opened.append(root_fd)
            found = []
            for name in names:
                try:
                    fd = open_dir(root_fd, name, root / name)
                except FileNotFoundError:
                    found.append(None)
                    continue
                opened.append(fd)
                found.append(fd)
        yield found
    finally:
        for fd in opened:
            os.close(fd)
