"""A preemption notice snapshots every kernel at once, busy ones included."""

from __future__ import annotations

import json
import time

import pytest

from jupyter_gpuguard.snapshot import Store
from tests.conftest import entered
from tests.fakes import aws_imds
from tests.fakes.aws_imds import FakeAws
from tests.fakes.server import closed_port_url, serve
from tests.helpers.server_kernels import open_notebook, run, start_cell, until
from tests.test_scheduler import attached, become_idle


@pytest.fixture
def aws(jp_asyncio_loop):
    fake = FakeAws(instance_type="g5.xlarge", life_cycle="spot")
    for url in entered(jp_asyncio_loop, serve(aws_imds.make_app(fake))):
        fake.base_url = url
        yield fake


@pytest.fixture
def jp_server_config(aws, tmp_path):
    closed = closed_port_url()
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_gpuguard": True}},
        "GpuGuard": {
            "provider": "aws",
            "aws_metadata_url": aws.base_url,
            "gcp_metadata_url": closed,
            "azure_metadata_url": closed,
            "notice_poll_interval": 0.1,
            "nvml": False,
            "snapshot_dir": str(tmp_path / "store"),
            "snapshot_interval": 0,
            "scheduler_tick": 0.1,
        },
    }


async def test_every_kernel_is_snapshotted_when_a_notice_arrives(
    aws, jp_fetch, jp_serverapp, tmp_path
):
    kernels = {}
    for name in ("idle.ipynb", "training.ipynb"):
        _session, kernel_id = await open_notebook(jp_fetch, name)
        await become_idle(jp_serverapp, kernel_id)
        await attached(jp_serverapp, kernel_id)
        kernels[name] = kernel_id
    await run(jp_serverapp, kernels["idle.ipynb"], "ready = 'yes'")
    training = start_cell(
        jp_serverapp,
        kernels["training.ipynb"],
        "import time\nepoch = 0\nfor epoch in range(1, 100):\n    time.sleep(0.1)",
    )
    try:
        manager = jp_serverapp.kernel_manager
        await until(lambda: manager.get_kernel(kernels["training.ipynb"]).execution_state == "busy")
        aws.interrupt(time="2026-11-26T19:02:00Z")
        noticed = time.monotonic()
        store = Store(tmp_path / "store")
        await until(lambda: len(store.list()) == 2, timeout=30)
        took = time.monotonic() - noticed
        still_busy = manager.get_kernel(kernels["training.ipynb"]).execution_state == "busy"
    finally:
        training.stop_channels()
    assert still_busy, "the training cell should still be running: the snapshot did not wait"
    assert took < 10
    by_notebook = {info.notebook: info for info in store.list()}
    assert set(by_notebook) == {"idle.ipynb", "training.ipynb"}
    assert store.load(by_notebook["idle.ipynb"].id).variables["ready"] == "yes"
    assert 1 <= store.load(by_notebook["training.ipynb"].id).variables["epoch"] < 99

    async def finished():
        status = json.loads((await jp_fetch("gpuguard", "status")).body)
        emergency = status["emergency"]
        return emergency if emergency and emergency["finished"] else None

    emergency = await until(finished)
    assert emergency["reason"].startswith("preemption notice (AWS")
    assert {r["error"] for r in emergency["kernels"].values()} == {None}
