"""The kernel's end of the control socket: answered line by line from a thread of its own,
so that a request does not wait for the running cell, and only for this user's processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import control

REQUEST_READ_SECONDS = 10.0


def bind(path: str) -> socket.socket:
    """A listening Unix socket at ``path``, made 0600 whatever the umask, in a directory that
    must be private to this user (``ControlSocketError`` if it is not)."""
    control.private_directory(Path(path).parent)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        listener.bind(path)
    finally:
        os.umask(old_umask)
    listener.listen(4)
    return listener


def serve(listener: socket.socket, answer: Callable[[str], dict[str, Any]]) -> None:
    """Answer each request line of this user's processes with ``answer(line)``, sent back as
    one JSON line, from a thread of its own until ``listener`` is closed."""
    threading.Thread(
        target=_serve, args=(listener, answer), name="gpuguard-control", daemon=True
    ).start()


def _serve(listener: socket.socket, answer: Callable[[str], dict[str, Any]]) -> None:
    while True:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        with connection:
            try:
                control.check_peer(connection)
            except (control.ControlSocketError, OSError):
                continue  # another user: not a byte read, not a byte answered
            try:
                # A peer that never sends its line must not hold up the next request.
                connection.settimeout(REQUEST_READ_SECONDS)
                line = connection.makefile("r").readline().strip()
                reply = answer(line)
                connection.sendall(json.dumps(reply).encode() + b"\n")
            except OSError:
                continue
