"""What a preemption would cost now, from a real server's kernels and snapshots."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.helpers.server_config import local_server_config
from tests.helpers.server_kernels import open_notebook, run


@pytest.fixture
def jp_server_config(store_dir):
    return local_server_config(store_dir, snapshot_interval=0, scheduler_tick=0.2)


async def get(jp_fetch, *parts):
    return json.loads((await jp_fetch("gpuguard", *parts)).body)


async def test_the_risk_line_counts_unsaved_work_and_what_rebuilding_would_rerun(
    jp_fetch, jp_serverapp
):
    _session, kernel_id = await open_notebook(jp_fetch, "train.ipynb")
    await run(jp_serverapp, kernel_id, "base = 10")
    slow = "import time\ntime.sleep(1.5)\nstream = (base + i for i in range(3))"
    await run(jp_serverapp, kernel_id, slow)
    await run(jp_serverapp, kernel_id, "import socket\nsock = socket.socket()")
    await run(jp_serverapp, kernel_id, "kept = [1, 2, 3]")

    risk = await get(jp_fetch, "risk")
    [kernel] = risk["kernels"]
    assert kernel["kernel_id"] == kernel_id and kernel["last_snapshot_at"] is None
    assert risk["unsnapshotted"] == 1

    body = json.dumps({"kernel_id": kernel_id})
    info = json.loads((await jp_fetch("gpuguard", "snapshots", method="POST", body=body)).body)
    assert {s["name"] for s in info["skipped"]} == {"stream", "sock"}
    risk = await get(jp_fetch, "risk")
    assert risk["work_seconds"] == 0.0  # nothing ran since the snapshot
    assert risk["rebuild_variables"] == 2
    assert risk["rebuild_cells"] == 2
    # the cells' recorded run times: the sleeping one took 1.5 s
    assert 1.5 <= risk["rebuild_seconds"] < 10
    assert risk["lost_variables"] == 0
    [kernel] = risk["kernels"]
    assert sorted(kernel["rebuild"]["variables"]) == ["sock", "stream"]

    await asyncio.sleep(1.5)
    await run(jp_serverapp, kernel_id, "more = 1")
    risk = await get(jp_fetch, "risk")
    assert risk["work_seconds"] >= 1.5  # work since the last snapshot, up to the last cell
