"""Kernels of the Jupyter server under test: sessions through REST, cells through a client."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Callable
from typing import Any

from jupyter_gpuguard.server.kernel_link import own_client


async def open_notebook(jp_fetch: Any, path: str) -> tuple[str, str]:
    """Start a kernel for ``path`` the way JupyterLab does; returns (session id, kernel id)."""
    body = {"path": path, "name": os.path.basename(path), "type": "notebook"}
    body["kernel"] = {"name": "python3"}
    response = await jp_fetch("api", "sessions", method="POST", body=json.dumps(body))
    session = json.loads(response.body)
    return session["id"], session["kernel"]["id"]


async def run(server_app: Any, kernel_id: str, code: str, timeout: float = 60) -> str:
    """Execute a cell as a user would (with history); return stdout, raise on error."""
    client = own_client(server_app.kernel_manager.get_kernel(kernel_id))
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=timeout)
        out: list[str] = []
        errors: list[str] = []

        def hook(message: dict[str, Any]) -> None:
            content = message["content"]
            if message["msg_type"] == "stream":
                out.append(content["text"])
            elif message["msg_type"] == "error":
                errors.append("\n".join(content["traceback"]))

        reply = await client.execute_interactive(code, timeout=timeout, output_hook=hook)
    finally:
        client.stop_channels()
    if reply["content"]["status"] != "ok":
        raise AssertionError(f"cell failed:\n{code}\n{''.join(errors)}")
    return "".join(out)


def start_cell(server_app: Any, kernel_id: str, code: str) -> Any:
    """Send a cell without waiting for it: the kernel stays busy while it runs."""
    client = own_client(server_app.kernel_manager.get_kernel(kernel_id))
    client.start_channels()
    client.execute(code)
    return client


async def until(condition: Callable[[], Any], timeout: float = 30.0, step: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(step)


def kill_kernel(server_app: Any, kernel_id: str) -> None:
    """SIGKILL the kernel process: no cleanup runs, as when the machine vanishes."""
    pid = server_app.kernel_manager.get_kernel(kernel_id).provisioner.pid
    os.kill(pid, signal.SIGKILL)
