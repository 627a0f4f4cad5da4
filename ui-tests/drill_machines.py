"""The lost-machine drill: machine A works and dies, machine B restores with nothing set up.

Machine A is a Jupyter server of this environment whose root stands for RunPod's ``/``: the
volume is ``<root>/workspace`` and the store ``<volume>/.gpuguard``. It runs a notebook,
snapshots it through the REST API, writes the wheelhouse to the volume, and is SIGKILLed
whole, server and kernels. Machine B is a fresh virtual environment with JupyterLab only,
another HOME and another root (the volume itself, as when a user starts ``jupyter lab`` in
``/workspace``): it installs jupyter-gpuguard from the volume's wheelhouse with ``--no-index``
and serves on PORT for the Galata test ``drill.spec.ts``, which opens the notebook and
restores it with one click.

    python drill_machines.py PORT

What the test needs to know (the notebook's name, when B's server started, how long each
step took) is written to ``$TMPDIR/gpuguard-drill/drill.json``. Nothing reaches beyond
127.0.0.1; the package index is only asked for JupyterLab itself, as a pod image has it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

STATE = Path(tempfile.gettempdir()) / "gpuguard-drill"
NOTEBOOK = "drill.ipynb"
CELLS = [
    "import dataclasses",
    "@dataclasses.dataclass\nclass Run:\n    name: str\n    losses: list",
    "history = [Run('warmup', [0.9, 0.7]), Run('main', [0.5, 0.31])]\n"
    "best = min(history, key=lambda run: run.losses[-1])",
    "blob = bytes(range(256)) * 40_000  # 10 MB to carry across",
]
# what machine B's test prints after the restore
CHECK = "print(best is history[1], isinstance(best, Run), best.name, len(blob))"
CLOSED = "http://127.0.0.1:9"
MACHINE_SETTINGS = [
    f"--GpuGuard.aws_metadata_url={CLOSED}",
    f"--GpuGuard.gcp_metadata_url={CLOSED}",
    f"--GpuGuard.azure_metadata_url={CLOSED}",
    "--GpuGuard.nvml=False",
]


def log(message: str) -> None:
    print(f"[drill] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def notebook_json() -> dict[str, Any]:
    return {
        "cells": [
            {"cell_type": "code", "metadata": {}, "source": source, "outputs": [],
             "execution_count": None}
            for source in CELLS
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }  # fmt: skip


class Server:
    """A Jupyter server with a token, asked over REST."""

    def __init__(
        self,
        command: list[str],
        env: dict[str, str],
        port: int,
        cwd: Path,
        token: str,
        own_session: bool,
    ) -> None:
        self.port = port
        self.token = token
        # Machine A gets a session of its own, to be killed whole; machine B stays in this
        # process group, so that whoever stops the drill stops B too.
        self.process = subprocess.Popen(
            [*command, f"--port={port}", f"--IdentityProvider.token={token}"],
            env=env,
            cwd=cwd,
            start_new_session=own_session,
        )

    def call(self, method: str, path: str, body: Any = None, timeout: float = 60) -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            text = answer.read()
        return json.loads(text) if text else None

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}")
            try:
                self.call("GET", "api/status", timeout=2)
                return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("the server did not answer in time")

    def kill_everything(self) -> None:
        """SIGKILL the server and every process under it: the machine is gone."""
        for pid in [*_descendants(self.process.pid), self.process.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
        self.process.wait()


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def run_cells(runtime_dir: Path, kernel_id: str) -> None:
    from jupyter_client import BlockingKernelClient

    client = BlockingKernelClient(connection_file=str(runtime_dir / f"kernel-{kernel_id}.json"))
    client.load_connection_file()
    # no heartbeat: on a busy machine a late beat would read as a dead kernel
    client.start_channels(hb=False)
    try:
        client.wait_for_ready(timeout=60)
        for source in CELLS:
            reply = client.execute_interactive(source, timeout=60)
            if reply["content"]["status"] != "ok":
                raise RuntimeError(f"cell failed on machine A: {source!r}")
    finally:
        client.stop_channels()


def machine_a(base: Path, volume: Path, store: Path, timings: dict[str, float]) -> str:
    started = time.monotonic()
    root, home, runtime = base / "rootA", base / "homeA", base / "runtimeA"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "JUPYTER_RUNTIME_DIR": str(runtime)}
    env.pop("GPUGUARD_STORE", None)
    server = Server(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--ServerApp.allow_root=True",
         f"--ServerApp.root_dir={root}", f"--GpuGuard.snapshot_dir={store}",
         "--GpuGuard.snapshot_interval=0", *MACHINE_SETTINGS],
        env, free_port(), root, os.urandom(12).hex(), own_session=True,
    )  # fmt: skip
    try:
        server.wait_ready()
        session = server.call(
            "POST",
            "api/sessions",
            {"path": f"workspace/{NOTEBOOK}", "name": NOTEBOOK, "type": "notebook",
             "kernel": {"name": "python3"}},
        )  # fmt: skip
        kernel_id = session["kernel"]["id"]
        run_cells(runtime, kernel_id)
        snapshot = server.call("POST", "gpuguard/snapshots", {"kernel_id": kernel_id}, 120)
        log(f"machine A saved snapshot {snapshot['id']}")
        wheels = store / "wheels"
        subprocess.run(
            [sys.executable, "-m", "jupyter_gpuguard.cli", "wheelhouse", "--dir", str(wheels)],
            env=env,
            check=True,
        )
        timings["machine_a_s"] = time.monotonic() - started
        return str(snapshot["id"])
    finally:
        server.kill_everything()
        log("machine A is gone (server and kernels SIGKILLed)")


def machine_b(base: Path, volume: Path, store: Path, port: int, timings: dict[str, float]):
    home, venv = base / "homeB", base / "venvB"
    home.mkdir()
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "jupyterlab"], check=True)  # what a pod image already has
    timings["jupyterlab_install_s"] = time.monotonic() - started
    started = time.monotonic()
    subprocess.run(
        [*pip, "--no-index", "--find-links", str(store / "wheels"), "jupyter-gpuguard"],
        check=True,
    )
    timings["gpuguard_install_s"] = time.monotonic() - started
    config = base / "drill_b_config.py"
    config.write_text(
        "from jupyterlab.galata import configure_jupyter_server\nconfigure_jupyter_server(c)\n"
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("GPUGUARD_STORE", "PYTHONPATH", "JUPYTER_PATH", "JUPYTER_CONFIG_DIR")
    }
    # on a pod the store is found at /workspace/.gpuguard; here the volume is elsewhere
    env.update(HOME=str(home), GPUGUARD_STORE=str(store))
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    timings["b_server_started"] = time.time()
    server = Server(
        [str(venv / "bin" / "jupyter"), "lab", "--no-browser", f"--config={config}",
         "--ServerApp.allow_root=True", f"--ServerApp.root_dir={volume}", *MACHINE_SETTINGS],
        env, port, volume, "", own_session=False,  # Galata's browser comes without a token
    )  # fmt: skip
    return server


def main() -> int:
    port = int(sys.argv[1])
    shutil.rmtree(STATE, ignore_errors=True)
    STATE.mkdir(mode=0o700)
    base = Path(tempfile.mkdtemp(prefix="gpuguard-drill-"))
    volume = base / "rootA" / "workspace"
    volume.mkdir(parents=True)
    store = volume / ".gpuguard"
    (volume / NOTEBOOK).write_text(json.dumps(notebook_json(), indent=1))
    timings: dict[str, float] = {}
    server = None
    try:
        snapshot_id = machine_a(base, volume, store, timings)
        server = machine_b(base, volume, store, port, timings)
        (STATE / "drill.json").write_text(
            json.dumps({"notebook": NOTEBOOK, "snapshot": snapshot_id, "check": CHECK,
                        **timings})
        )  # fmt: skip
        log(f"machine B serves on {port}: {json.dumps(timings)}")

        def stop(_signum: int, _frame: Any) -> None:
            raise SystemExit(0)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        return server.process.wait()
    finally:
        if server is not None and server.process.poll() is None:
            server.kill_everything()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
