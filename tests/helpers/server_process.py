"""A `jupyter server` in its own process, driven over HTTP and a kernel's connection file.

Used by tests that need the real process (signals) and by the benchmarks.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jupyter_client.blocking import BlockingKernelClient


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def api(base: str, token: str, path: str, body: dict | None = None, timeout: float = 60) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{base}{path}",
        data=data,
        method="POST" if body is not None else "GET",
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return json.loads(answer.read())


def wait(condition: Callable[[], Any], timeout: float = 120.0, step: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not met in time")


def open_kernel(
    base: str, token: str, runtime: Path, notebook: str
) -> tuple[str, BlockingKernelClient]:
    """Start a kernel for ``notebook`` through the sessions API and connect a client to it."""
    body = {"path": notebook, "type": "notebook", "name": notebook}
    body["kernel"] = {"name": "python3"}
    kernel_id = api(base, token, "/api/sessions", body)["kernel"]["id"]
    client = BlockingKernelClient(connection_file=str(runtime / f"kernel-{kernel_id}.json"))
    client.load_connection_file()
    client.start_channels()

    def ready() -> bool:
        try:
            client.wait_for_ready(timeout=10)
        except RuntimeError:  # the heartbeat is not up yet
            return False
        return True

    wait(ready)
    return kernel_id, client
