"""SIGTERM, which container platforms send before they stop a pod, snapshots every kernel."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

from jupyter_gpuguard.snapshot import Store
from tests.server_process import api, free_port, open_kernel, wait


def test_sigterm_snapshots_every_kernel_before_the_server_stops(tmp_path: Path):
    store_dir, runtime = tmp_path / "store", tmp_path / "runtime"
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RUNPOD_")},
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
    }
    command = [
        sys.executable, "-m", "jupyter_server", f"--port={port}", "--no-browser",
        "--ServerApp.ip=127.0.0.1", "--ServerApp.allow_root=True",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}",
        "--GpuGuard.provider=local", "--GpuGuard.nvml=False",
        f"--GpuGuard.snapshot_dir={store_dir}", "--GpuGuard.snapshot_interval=0",
        "--GpuGuard.scheduler_tick=0.1",
    ]  # fmt: skip
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait(lambda: api(base, token, "/api/status"))
        kernel_id, client = open_kernel(base, token, runtime, "pod.ipynb")
        reply = client.execute_interactive("checkpoint = {'epoch': 12, 'loss': 0.25}", timeout=60)
        assert reply["content"]["status"] == "ok"
        client.stop_channels()

        def is_attached():
            kernels = api(base, token, "/gpuguard/status")["kernels"]
            return any(k["kernel_id"] == kernel_id and k["attached"] for k in kernels)

        wait(is_attached)
        assert Store(store_dir).list() == []
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
        log.close()
    output = (tmp_path / "server.log").read_text()
    assert "SIGTERM: snapshotting every kernel" in output
    [info] = Store(store_dir).list()
    assert info.notebook == "pod.ipynb"
    assert Store(store_dir).load(info.id).variables["checkpoint"] == {"epoch": 12, "loss": 0.25}
