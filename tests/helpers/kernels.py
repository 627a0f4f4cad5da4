"""Real ipykernels for tests, through jupyter_client."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from jupyter_client.manager import KernelManager


class Kernel:
    def __init__(self, manager: KernelManager) -> None:
        self.manager = manager
        self.client = manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def run(self, code: str, timeout: float = 120) -> str:
        """Execute ``code``; return its stdout; raise with the traceback if it failed."""
        out: list[str] = []
        errors: list[str] = []

        def hook(message: dict[str, Any]) -> None:
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                (out if content["name"] == "stdout" else errors).append(content["text"])
            elif kind == "error":
                errors.append("\n".join(content["traceback"]))
            elif kind in ("execute_result", "display_data"):
                out.append(content["data"].get("text/plain", ""))

        reply = self.client.execute_interactive(code, timeout=timeout, output_hook=hook)
        if reply["content"]["status"] != "ok":
            raise AssertionError(f"cell failed:\n{code}\n{''.join(errors)}")
        return "".join(out)

    def value(self, expression: str) -> Any:
        """The JSON value of ``expression`` evaluated in the kernel."""
        text = self.run(f"import json as _j; print(_j.dumps({expression}))")
        return json.loads(text.strip().splitlines()[-1])

    def pid(self) -> int:
        return int(self.value("__import__('os').getpid()"))

    def kill(self) -> None:
        """SIGKILL, as when a spot instance disappears: no cleanup runs in the kernel."""
        os.kill(self.pid(), signal.SIGKILL)

    def close(self) -> None:
        self.client.stop_channels()
        if self.manager.has_kernel:
            self.manager.shutdown_kernel(now=True)


@contextmanager
def kernel(env: dict[str, str] | None = None) -> Iterator[Kernel]:
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(env={**os.environ, **(env or {})})
    started = Kernel(manager)
    try:
        yield started
    finally:
        started.close()
