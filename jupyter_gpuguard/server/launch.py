"""Kernels this server starts load the kernel side as they start.

Set-up by an execute request waits behind the cells queued before it: a kernel kept busy
from its start (Run All, papermill, a script on the REST API) would never be set up, and a
preemption notice would find nothing to talk to. A kernel started with IPKernelApp's
``extra_extensions`` loads the kernel side before it reads its first message, and that opens
the control socket, which answers while a cell runs.

jupyter_server has no launch hook; ``pre_start_kernel`` is where the multi-kernel manager
builds each kernel's manager from the launch arguments, which it takes as a dict to change.
Restarts reuse a kernel's launch arguments, so a restarted kernel loads it too. Only
ipykernel kernels of a Python known to have jupyter-gpuguard are changed: other kernels
start as they always did, and are set up by the silent execute when idle, or not at all.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sys
from typing import Any

from . import kernel_link
from .kernel_link import KernelLinkError

EXTENSION_ARGUMENT = "--IPKernelApp.extra_extensions=jupyter_gpuguard"
IPYKERNEL_MODULES = ("ipykernel_launcher", "ipykernel")
PROBE = (
    "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('jupyter_gpuguard') else 3)"
)
PROBE_TIMEOUT = 60.0
# What jupyter_client runs as the server's own interpreter (format_kernel_cmd).
OWN_PYTHON_NAMES = {
    "python",
    f"python{sys.version_info[0]}",
    f"python{sys.version_info[0]}.{sys.version_info[1]}",
}


def interpreter_command(spec: Any) -> tuple[str, ...] | None:
    """What runs before ``-m ipykernel`` in a Python kernel spec (a Python, maybe behind a
    wrapper such as ``conda run``); None for any other kernel."""
    if (getattr(spec, "language", "") or "").lower() != "python":
        return None
    argv = list(getattr(spec, "argv", None) or [])
    for index, argument in enumerate(argv[:-1]):
        if argument == "-m" and argv[index + 1] in IPYKERNEL_MODULES and index > 0:
            command = [_expand(part, spec) for part in argv[:index]]
            if command[0] in OWN_PYTHON_NAMES:
                command[0] = sys.executable
            return tuple(command) if all("{" not in part for part in command) else None
    return None


def _expand(part: str, spec: Any) -> str:
    resource_dir = getattr(spec, "resource_dir", "") or ""
    return part.replace("{prefix}", sys.prefix).replace("{resource_dir}", resource_dir)


def is_own_python(command: tuple[str, ...]) -> bool:
    """The server's own interpreter, run plainly: jupyter-gpuguard is there. Flags such as
    ``-I`` or ``-S`` change what it can import, and a wrapper runs something else: for those
    the probe finds out."""
    if len(command) != 1:
        return False
    found = shutil.which(command[0]) or command[0]
    # No symlinks resolved: a virtualenv's python links to the base one, whose packages differ.
    return os.path.normpath(os.path.abspath(found)) == os.path.normpath(sys.executable)


class KernelLauncher:
    """Adds the kernel side to the launch of every kernel that can load it."""

    def __init__(self, server_app: Any, store_path: str, log: logging.Logger | None = None) -> None:
        self.server_app = server_app
        self.store_path = store_path
        self.log = log or logging.getLogger("jupyter_gpuguard")
        self.armed: set[str] = set()
        self._have_it: set[tuple[str, ...]] = set()
        self._probes: dict[tuple[str, ...], asyncio.Task[None]] = {}
        self._installed_on: Any = None
        self._probes_started: asyncio.Future[None] | None = None

    # ---- the hook ------------------------------------------------------------------------
    def install(self) -> None:
        manager = self.server_app.kernel_manager
        original = getattr(manager, "pre_start_kernel", None)
        if original is None:  # a gateway's kernels start elsewhere
            return

        def pre_start_kernel(kernel_name: str | None, kwargs: dict[str, Any]) -> Any:
            km, name, kernel_id = original(kernel_name, kwargs)
            try:
                self.arm(km, kernel_id, kwargs)
            except Exception:  # never keep a kernel from starting
                self.log.exception("jupyter_gpuguard: could not prepare kernel %s", kernel_id)
            return km, name, kernel_id

        manager.pre_start_kernel = pre_start_kernel
        self._installed_on = manager

    def uninstall(self) -> None:
        if self._installed_on is not None:
            vars(self._installed_on).pop("pre_start_kernel", None)
            self._installed_on = None
        for task in [self._probes_started, *self._probes.values()]:
            if task is not None:
                task.cancel()

    def arm(self, km: Any, kernel_id: str, kwargs: dict[str, Any]) -> bool:
        """Change ``kwargs`` so that the kernel loads the kernel side; False if it cannot."""
        try:
            spec = km.kernel_spec
        except Exception:  # no such kernel spec: the start fails on its own, with its message
            return False
        command = interpreter_command(spec)
        if command is None or not self.has_kernel_side(command, spec):
            return False
        try:
            control = kernel_link.control_socket_path(self.server_app.runtime_dir, kernel_id)
        except KernelLinkError as err:
            self.log.warning("jupyter_gpuguard: kernel %s: %s", kernel_id, err)
            return False
        env = dict(kwargs["env"]) if "env" in kwargs else dict(os.environ)
        env["GPUGUARD_CONTROL_SOCKET"] = control
        env["GPUGUARD_STORE"] = self.store_path
        kwargs["env"] = env
        kwargs["extra_arguments"] = [*kwargs.get("extra_arguments", []), EXTENSION_ARGUMENT]
        self.armed.add(kernel_id)
        return True

    def forget(self, kernel_id: str) -> None:
        self.armed.discard(kernel_id)

    # ---- which Pythons have jupyter-gpuguard ---------------------------------------------
    def has_kernel_side(self, command: tuple[str, ...], spec: Any) -> bool:
        """Known from the server's own interpreter or an earlier probe. An unknown Python is
        probed in the background, for its next kernel: a launch never waits on the probe."""
        if is_own_python(command) or command in self._have_it:
            return True
        self.probe(command, getattr(spec, "env", None) or {})
        return False

    def probe(self, command: tuple[str, ...], spec_env: dict[str, str]) -> asyncio.Task[None]:
        """Find out in the background whether ``command`` can import jupyter-gpuguard."""
        task = self._probes.get(command)
        if task is None or task.done():
            # Called on the server's loop: from a kernel's start, or once the server runs.
            task = self._probes[command] = asyncio.ensure_future(self._probe(command, spec_env))
        return task

    def probe_kernel_specs(self) -> None:
        """Probe each kernel spec's Python once the server runs, so that even the first kernel
        of another environment loads the kernel side."""
        self._probes_started = asyncio.ensure_future(self._probe_kernel_specs())

    async def _probe_kernel_specs(self) -> None:
        # Listing specs can be slow (some spec managers ask conda): off the server's loop.
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(None, self._spec_interpreters)
        for command, env in found:
            if not is_own_python(command) and command not in self._have_it:
                self.probe(command, env)

    def _spec_interpreters(self) -> list[tuple[tuple[str, ...], dict[str, str]]]:
        manager = self.server_app.kernel_spec_manager
        try:
            names = list(manager.get_all_specs())
        except Exception:
            return []
        found = []
        for name in names:
            try:
                spec = manager.get_kernel_spec(name)
            except Exception:
                continue
            command = interpreter_command(spec)
            if command is not None:
                found.append((command, dict(spec.env or {})))
        return found

    async def _probe(self, command: tuple[str, ...], spec_env: dict[str, str]) -> None:
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                "-c",
                PROBE,
                env={**os.environ, **spec_env},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
        except OSError:
            return
        try:
            code = await asyncio.wait_for(process.wait(), PROBE_TIMEOUT)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()
            return
        # Only a yes is kept: it may be installed before the next kernel starts.
        if code == 0:
            self._have_it.add(command)
