"""The snapshot scheduler with a real Jupyter server and real kernels."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from jupyter_gpuguard.server.kernel_link import own_client
from jupyter_gpuguard.snapshot import Store
from tests.helpers.server_config import local_server_config
from tests.helpers.server_kernels import open_notebook, run, start_cell, until


@pytest.fixture
def gpuguard_settings():
    return {}


@pytest.fixture
def jp_server_config(store_dir, gpuguard_settings):
    settings = {"snapshot_interval": 1.0, "scheduler_tick": 0.1, **gpuguard_settings}
    return local_server_config(store_dir, **settings)


def scheduler_of(server_app):
    return server_app.web_app.settings["gpuguard_scheduler"]


async def become_idle(server_app, kernel_id):
    """What JupyterLab does on opening a notebook: kernel_info requests, no cell, repeated
    until the server has seen the kernel's status (its iopub subscription can miss the first
    messages of a fresh kernel, which is why JupyterLab nudges too)."""
    kernel = server_app.kernel_manager.get_kernel(kernel_id)
    client = own_client(kernel)
    client.start_channels()
    try:
        deadline = time.monotonic() + 60
        while kernel.execution_state != "idle":
            assert time.monotonic() < deadline, "the server never saw the kernel idle"
            await client.wait_for_ready(timeout=60)
            await asyncio.sleep(0.2)
    finally:
        client.stop_channels()


async def attached(server_app, kernel_id):
    """Wait until the scheduler has set up snapshots in the kernel."""

    def ready():
        state = scheduler_of(server_app).kernels.get(kernel_id)
        return state is not None and state.attached_pid is not None

    await until(ready, timeout=60)


def snapshots(store_dir, notebook):
    return Store(store_dir).list(notebook=notebook)


async def test_no_snapshot_while_nothing_ran_then_one_after_a_cell(
    jp_fetch, jp_serverapp, store_dir
):
    _session, kernel_id = await open_notebook(jp_fetch, "quiet.ipynb")
    await become_idle(jp_serverapp, kernel_id)
    await attached(jp_serverapp, kernel_id)
    await asyncio.sleep(2.5)  # the 1 s interval passed twice over
    assert snapshots(store_dir, "quiet.ipynb") == []

    await run(jp_serverapp, kernel_id, "x = 1")
    [info] = await until(lambda: snapshots(store_dir, "quiet.ipynb"), timeout=60)
    assert [v.name for v in info.variables] == ["x"]
    await asyncio.sleep(2.5)  # nothing ran since: no second snapshot
    assert len(snapshots(store_dir, "quiet.ipynb")) == 1


async def test_a_busy_kernel_is_left_alone_until_its_cell_ends(jp_fetch, jp_serverapp, store_dir):
    _session, kernel_id = await open_notebook(jp_fetch, "busy.ipynb")
    await become_idle(jp_serverapp, kernel_id)
    await attached(jp_serverapp, kernel_id)
    client = start_cell(jp_serverapp, kernel_id, "import time\ny = 1\ntime.sleep(4)\ny = 2")
    try:
        manager = jp_serverapp.kernel_manager
        await until(lambda: manager.get_kernel(kernel_id).execution_state == "busy")
        started = time.monotonic()
        while manager.get_kernel(kernel_id).execution_state == "busy":
            state = scheduler_of(jp_serverapp).kernels[kernel_id]
            assert state.busy_with is None, "work was sent to a busy kernel"
            assert snapshots(store_dir, "busy.ipynb") == []
            assert time.monotonic() - started < 20
            await asyncio.sleep(0.05)
        infos = await until(lambda: snapshots(store_dir, "busy.ipynb"), timeout=60)
    finally:
        client.stop_channels()
    loaded = Store(store_dir).load(infos[-1].id)
    assert loaded.variables["y"] == 2  # taken after the cell, not in the middle of it


@pytest.mark.parametrize("gpuguard_settings", [{"snapshot_interval": 0, "scrub_interval": 0.5}])
async def test_the_background_check_removes_a_damaged_chunk_and_the_next_snapshot_mends_it(
    jp_fetch, jp_serverapp, store_dir
):
    _session, kernel_id = await open_notebook(jp_fetch, "scrub.ipynb")
    await run(jp_serverapp, kernel_id, "import numpy as np\nweights = np.arange(1_000_000.0)")
    scheduler = scheduler_of(jp_serverapp)
    first = await scheduler.snapshot(kernel_id)
    store = Store(store_dir)
    manifest = store._manifest(first.id)
    group = next(g for g in manifest["groups"] if "weights" in g["names"])
    chunk = group["buffers"][0][0][0]
    path = store.chunk_path(chunk)
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    path.write_bytes(bytes(data))

    report = await until(
        lambda: (
            scheduler.upkeep.last_scrub
            if (scheduler.upkeep.last_scrub or {}).get("removed")
            else None
        ),
        timeout=30,
    )
    assert report["removed"] == [chunk]
    assert report["snapshots"] == [first.id]
    assert not path.exists()
    status = json.loads((await jp_fetch("gpuguard", "status")).body)
    assert status["scrub"]["removed"] == [chunk]

    await run(jp_serverapp, kernel_id, "steps = 1")  # something ran: the next snapshot is due
    await scheduler.snapshot(kernel_id)
    assert store.verify().ok
    result = store.load(first.id)
    assert result.failed == []
    assert float(result.variables["weights"].sum()) == float(sum(range(1_000_000)))


@pytest.mark.parametrize("gpuguard_settings", [{"snapshot_interval": None}])
async def test_on_a_local_machine_the_interval_says_so(jp_fetch, jp_serverapp):
    deadline = time.monotonic() + 30
    while True:
        instance = json.loads((await jp_fetch("gpuguard", "instance")).body)
        status = json.loads((await jp_fetch("gpuguard", "status")).body)
        if instance["interruptible"] is False or time.monotonic() > deadline:
            break  # detection has finished
        await asyncio.sleep(0.1)
    assert instance["provider"] == "local"
    assert status["interval_seconds"] == 1800.0
    assert status["interval_reason"].startswith("local machine: ")
    assert "on-demand" not in status["interval_reason"]
