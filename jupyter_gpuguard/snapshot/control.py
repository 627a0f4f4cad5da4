"""Where a kernel's control socket lives, and who may be at either end of it.

The socket carries snapshot requests (notebook names) one way and snapshot ids the other: a
user who could bind it, or connect to it, could read the requests or have a fake snapshot
reported as saved. So it lives only in a directory that is ours and closed to everyone else,
and both ends check that the peer runs as our own user.
"""

from __future__ import annotations

import os
import socket
import stat
import struct
import tempfile
from pathlib import Path
from typing import Any

# sun_path holds 108 bytes on Linux, 104 on macOS, terminator included.
MAX_PATH_BYTES = 100
_UCRED = struct.Struct("iII")  # struct ucred: pid, uid, gid


class ControlSocketError(Exception):
    """The control socket's directory or peer cannot be trusted; the message says why."""


def check_private_directory(path: Path) -> None:
    """Raise unless ``path`` is a real directory (not a link), ours, closed to others."""
    try:
        info = os.lstat(path)
    except OSError as err:
        raise ControlSocketError(f"cannot use {path} for the snapshot channel: {err}") from None
    if stat.S_ISLNK(info.st_mode):
        raise ControlSocketError(f"{path} is a symbolic link: refusing it for the snapshot channel")
    if not stat.S_ISDIR(info.st_mode):
        raise ControlSocketError(f"{path} is not a directory: refusing it for the snapshot channel")
    if info.st_uid != os.getuid():
        raise ControlSocketError(
            f"{path} belongs to uid {info.st_uid}, not to this user ({os.getuid()}): refusing "
            "it for the snapshot channel; remove it, or point TMPDIR elsewhere"
        )
    if info.st_mode & 0o077:
        raise ControlSocketError(
            f"{path} is open to other users (mode {stat.S_IMODE(info.st_mode):04o}): refusing "
            "it for the snapshot channel; remove it, or point TMPDIR elsewhere"
        )


def is_private_directory(path: Path) -> bool:
    try:
        check_private_directory(path)
    except ControlSocketError:
        return False
    return True


def private_directory(path: Path) -> Path:
    """``path`` as a private directory: created mode 0700 when missing, checked either way."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as err:
        raise ControlSocketError(f"cannot create {path} for the snapshot channel: {err}") from None
    check_private_directory(path)
    return path


def socket_path(runtime_dir: str, kernel_id: str) -> str:
    """The control socket of ``kernel_id``: in Jupyter's runtime dir when that is private and
    short enough for a socket path, else in ``$TMPDIR/gpuguard-<uid>``, which must be ours."""
    path = os.path.join(runtime_dir, f"gpuguard-{kernel_id}.sock")
    if len(path.encode()) < MAX_PATH_BYTES and is_private_directory(Path(runtime_dir)):
        return path
    directory = private_directory(Path(tempfile.gettempdir()) / f"gpuguard-{os.getuid()}")
    path = str(directory / f"{kernel_id}.sock")
    if len(path.encode()) >= MAX_PATH_BYTES:
        raise ControlSocketError(f"{path} is too long for a socket path: set a shorter TMPDIR")
    return path


def peer_uid(sock: Any) -> int | None:
    """The uid of the process at the other end of a connected Unix socket; None where the
    system does not tell (the private directory is then the only protection)."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    _pid, uid, _gid = _UCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, option, _UCRED.size))
    return uid


def check_peer(sock: Any) -> None:
    """Raise unless the peer of ``sock`` runs as this user."""
    uid = peer_uid(sock)
    if uid is not None and uid != os.getuid():
        raise ControlSocketError(
            f"the snapshot channel's other end runs as uid {uid}, not as this user "
            f"({os.getuid()}): refused"
        )
