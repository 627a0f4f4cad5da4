"""SIGTERM, which container platforms send before they stop a pod, snapshots every kernel."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from jupyter_client.blocking import BlockingKernelClient

from jupyter_gpuguard.snapshot import Store
from tests.helpers.server_process import api, free_port, open_kernel, wait


@dataclass
class Server:
    base: str
    token: str
    runtime: Path
    process: subprocess.Popen
    log: Path

    def stop(self) -> str:
        """SIGTERM; the server's log once it has exited."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)
        return self.log.read_text()


@contextmanager
def jupyter_server(
    tmp_path: Path, store_dir: Path, *settings: str, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """A server on ``tmp_path``; ``settings``: more command-line options, ``env``: more
    environment."""
    runtime = tmp_path / "runtime"
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RUNPOD_")},
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        **(env or {}),
    }
    command = [
        sys.executable, "-m", "jupyter_server", f"--port={port}", "--no-browser",
        "--ServerApp.ip=127.0.0.1", "--ServerApp.allow_root=True",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}",
        "--GpuGuard.provider=local", "--GpuGuard.nvml=False",
        f"--GpuGuard.snapshot_dir={store_dir}", "--GpuGuard.snapshot_interval=0",
        "--GpuGuard.scheduler_tick=0.1", *settings,
    ]  # fmt: skip
    log_path = tmp_path / "server.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait(lambda: api(base, token, "/api/status"))
        yield Server(base, token, runtime, process, log_path)
    finally:
        if process.poll() is None:
            process.kill()
        log.close()


def test_sigterm_snapshots_every_kernel_before_the_server_stops(tmp_path: Path):
    store_dir = tmp_path / "store"
    with jupyter_server(tmp_path, store_dir) as server:
        kernel_id, client = open_kernel(server.base, server.token, server.runtime, "pod.ipynb")
        reply = client.execute_interactive("checkpoint = {'epoch': 12, 'loss': 0.25}", timeout=60)
        assert reply["content"]["status"] == "ok"
        client.stop_channels()

        def is_attached():
            kernels = api(server.base, server.token, "/gpuguard/status")["kernels"]
            return any(k["kernel_id"] == kernel_id and k["attached"] for k in kernels)

        wait(is_attached)
        assert Store(store_dir).list() == []
        output = server.stop()
    assert "SIGTERM: snapshotting every kernel" in output
    [info] = Store(store_dir).list()
    assert info.notebook == "pod.ipynb"
    assert Store(store_dir).load(info.id).variables["checkpoint"] == {"epoch": 12, "loss": 0.25}


def test_sigterm_during_a_cell_that_began_with_the_kernel_saves_it(tmp_path: Path):
    """A script started the kernel on the REST API and ran a long cell at once: no client
    of the server's, and never an idle moment to set the kernel up by an execute."""
    store_dir = tmp_path / "store"
    with jupyter_server(tmp_path, store_dir) as server:
        kernel_id = api(server.base, server.token, "/api/kernels", {"name": "python3"})["id"]
        client = BlockingKernelClient(
            connection_file=str(server.runtime / f"kernel-{kernel_id}.json")
        )
        client.load_connection_file()
        client.start_channels()
        try:
            client.execute(
                "import time\ncheckpoint = {'epoch': 3}\nprint('ready', flush=True)\n"
                "time.sleep(120)\ncheckpoint = {'epoch': 4}"
            )
            deadline = time.monotonic() + 60
            while True:
                assert time.monotonic() < deadline, "the cell never started"
                message = client.get_iopub_msg(timeout=60)
                if message["msg_type"] == "stream" and "ready" in message["content"]["text"]:
                    break
            output = server.stop()
        finally:
            client.stop_channels()
    took = re.search(r"SIGTERM: snapshotted 1 of 1 kernels in ([0-9.]+) s", output)
    assert took, output[-3000:]
    assert float(took.group(1)) < 5
    [info] = Store(store_dir).list()
    assert Store(store_dir).load(info.id).variables["checkpoint"] == {"epoch": 3}
