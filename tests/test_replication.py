"""The server uploads each committed snapshot to the replica in the background, and a new
machine with an empty disk restores from the bucket alone."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_gpuguard.snapshot import Store
from tests.fakes.server import closed_port_url
from tests.helpers.machines import SPOT
from tests.helpers.s3_server import KEYS, S3Server, moto_server, web_server
from tests.helpers.server_config import local_server_config
from tests.helpers.server_kernels import open_notebook, run, until
from tests.helpers.server_process import api, open_kernel, wait
from tests.test_sigterm import jupyter_server

pytest_plugins = ["tests.helpers.s3_server"]  # its fixtures: s3, clean_aws, aws_keys
pytest.importorskip("obstore")

NOTEBOOK = "train.ipynb"


@pytest.fixture
def bucket(s3: S3Server) -> str:
    return s3.new_bucket()


@pytest.fixture
def jp_server_config(store_dir: Path, s3: S3Server, bucket: str, aws_keys: None, tmp_path: Path):
    return local_server_config(
        store_dir,
        snapshot_interval=0,
        scheduler_tick=0.2,
        snapshot_replica=f"s3://{bucket}/team/gpuguard",
        s3_endpoint_url=s3.url,
        replica_settings_file=str(tmp_path / "secrets" / "replica.json"),
    )


def keys_in(s3: S3Server, bucket: str) -> list[str]:
    listing = s3.client().list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listing.get("Contents", []))


async def get_json(jp_fetch: Any, *parts: str, **kwargs: Any) -> Any:
    response = await jp_fetch("gpuguard", *parts, **kwargs)
    return json.loads(response.body)


async def refused(jp_fetch: Any, *parts: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(HTTPClientError) as raised:
        await jp_fetch("gpuguard", *parts, **kwargs)
    return raised.value.code, json.loads(raised.value.response.body)


async def replica_status(jp_fetch: Any) -> dict[str, Any]:
    return await get_json(jp_fetch, "replica")


async def test_a_committed_snapshot_is_uploaded_and_listed_where_it_lives(
    jp_fetch, jp_serverapp, s3, bucket
):
    _session, kernel_id = await open_notebook(jp_fetch, NOTEBOOK)
    await run(jp_serverapp, kernel_id, "import numpy as np\nweights = np.arange(1000.0)")
    info = await get_json(
        jp_fetch, "snapshots", method="POST", body=json.dumps({"kernel_id": kernel_id})
    )

    async def uploaded() -> dict[str, Any] | None:
        status = await replica_status(jp_fetch)
        last = status.get("last_upload") or {}
        return status if last.get("id") == info["id"] and not status["pending"] else None

    status = await until(uploaded, timeout=60)
    assert status["state"] == "ok", status
    assert status["url"] == f"s3://{bucket}/team/gpuguard"
    assert status["source"] == "setting"
    assert status["bytes_left"] == 0 and status["behind_seconds"] == 0
    assert status["last_upload"]["bytes"] >= 8000  # the array's bytes went up
    assert status["last_upload"]["lag_seconds"] >= 0
    keys = keys_in(s3, bucket)
    assert f"team/gpuguard/snapshots/{info['id']}.json" in keys
    assert any(k.startswith("team/gpuguard/chunks/") for k in keys)

    [listed] = await get_json(jp_fetch, "snapshots", params={"notebook": NOTEBOOK})
    assert listed["id"] == info["id"]
    assert listed["where"] == ["disk", "replica"]
    whole = await get_json(jp_fetch, "status")
    assert whole["replica"]["state"] == "ok"
    assert "testing-secret" not in json.dumps(whole)


def test_machine_b_with_an_empty_disk_restores_from_the_bucket_alone(
    tmp_path: Path, s3: S3Server, bucket: str
):
    """The lost-machine drill: A snapshots and dies with its disk; B shares nothing with A
    but the bucket."""
    replica = (
        f"--GpuGuard.snapshot_replica=s3://{bucket}/drill",
        f"--GpuGuard.s3_endpoint_url={s3.url}",
    )
    env = {**KEYS, "AWS_METADATA_ENDPOINT": closed_port_url()}
    # B is a new machine from the same image: the notebook at the same place, nothing else
    machine = tmp_path / "machine"

    def new_disk() -> Path:
        shutil.rmtree(machine, ignore_errors=True)
        machine.mkdir()
        (machine / NOTEBOOK).write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4}))
        return machine

    machine_a = new_disk()
    with jupyter_server(machine_a, machine_a / "store", *replica, env=env) as a:
        kernel_id, client = open_kernel(a.base, a.token, a.runtime, NOTEBOOK)
        try:
            code = "import numpy as np\nmodel = {'w': np.ones(4096), 'epoch': 7}\nalias = model"
            reply = client.execute_interactive(code, timeout=60)
        finally:
            client.stop_channels()
        assert reply["content"]["status"] == "ok"
        taken = api(a.base, a.token, "/gpuguard/snapshots", {"kernel_id": kernel_id})

        def uploaded() -> bool:
            last = api(a.base, a.token, "/gpuguard/replica").get("last_upload") or {}
            return last.get("id") == taken["id"]

        wait(uploaded, timeout=60)
        a.process.kill()  # the machine is gone, and its disk with it
        a.process.wait(timeout=30)

    machine_b = new_disk()
    with jupyter_server(machine_b, machine_b / "store", *replica, env=env) as b:
        listed = api(b.base, b.token, f"/gpuguard/snapshots?notebook={NOTEBOOK}")
        assert [(s["id"], s["where"]) for s in listed] == [(taken["id"], ["replica"])]
        assert Store(machine_b / "store").list() == []
        kernel_id, client = open_kernel(b.base, b.token, b.runtime, NOTEBOOK)
        try:
            report = api(
                b.base, b.token, f"/gpuguard/snapshots/{taken['id']}/restore",
                {"kernel_id": kernel_id},
            )  # fmt: skip
            assert report["restored"] == ["alias", "model"]
            out: list[str] = []
            client.execute_interactive(
                "print(model['epoch'], float(model['w'].sum()), alias is model)",
                timeout=60,
                output_hook=lambda m: out.append(m["content"].get("text", "")),
            )
        finally:
            client.stop_channels()
        assert "".join(out).strip() == "7 4096.0 True"
        # now on both tiers: pulled into B's disk, verified by hash on the way
        listed = api(b.base, b.token, f"/gpuguard/snapshots?notebook={NOTEBOOK}")
        assert listed[0]["where"] == ["disk", "replica"]


def test_sigterm_uploads_the_last_snapshots_before_the_server_stops(
    tmp_path: Path, s3: S3Server, bucket: str
):
    replica = (
        f"--GpuGuard.snapshot_replica=s3://{bucket}",
        f"--GpuGuard.s3_endpoint_url={s3.url}",
    )
    env = {**KEYS, "AWS_METADATA_ENDPOINT": closed_port_url()}
    with jupyter_server(tmp_path, tmp_path / "store", *replica, env=env) as server:
        kernel_id, client = open_kernel(server.base, server.token, server.runtime, "pod.ipynb")
        try:
            client.execute_interactive("state = list(range(100))", timeout=60)
        finally:
            client.stop_channels()

        def attached() -> bool:
            kernels = api(server.base, server.token, "/gpuguard/status")["kernels"]
            return any(k["kernel_id"] == kernel_id and k["attached"] for k in kernels)

        wait(attached)
        wait(lambda: api(server.base, server.token, "/gpuguard/replica")["state"] == "ok")
        assert [k for k in keys_in(s3, bucket) if k.startswith("snapshots/")] == []
        output = server.stop()
    [info] = Store(tmp_path / "store").list()
    assert f"snapshots/{info.id}.json" in keys_in(s3, bucket), output


@pytest.fixture
def failing_endpoint(request: pytest.FixtureRequest, s3: S3Server) -> Any:
    kind = request.param
    if kind == "unreachable":
        yield closed_port_url(), "s3://replica", "unreachable"
    elif kind == "garbage":
        with web_server() as url:
            yield url, "s3://replica", "not-s3"
    elif kind == "credentials":
        # moto checks keys after its first action (which makes the bucket)
        with moto_server(INITIAL_NO_AUTH_ACTION_COUNT="1") as checking:
            yield checking.url, f"s3://{checking.new_bucket()}", "credentials"
    else:
        yield s3.url, "s3://no-such-bucket-here", "no-bucket"


@pytest.mark.parametrize(
    "failing_endpoint", ["unreachable", "garbage", "credentials", "no-bucket"], indirect=True
)
async def test_a_replica_that_fails_says_why_and_keeps_the_local_snapshots(
    jp_fetch, jp_serverapp, failing_endpoint, store_dir, tmp_path
):
    endpoint, url, reason = failing_endpoint
    code, body = await refused(
        jp_fetch, "replica", method="PUT", body=json.dumps({"url": url, "endpoint_url": endpoint})
    )
    assert (code, body["reason"]) == (400, reason), body
    assert body["message"]
    assert not (tmp_path / "secrets" / "replica.json").exists()  # nothing saved

    # the same bucket from the configuration: the status says why, snapshots go on locally
    jp_serverapp.web_app.settings["gpuguard_scheduler"].config.snapshot_replica = url
    jp_serverapp.web_app.settings["gpuguard_scheduler"].config.s3_endpoint_url = endpoint
    replication = jp_serverapp.web_app.settings["gpuguard_scheduler"].replication
    replication.reconfigure()
    _session, kernel_id = await open_notebook(jp_fetch, NOTEBOOK)
    await run(jp_serverapp, kernel_id, "kept = 41 + 1")
    started = time.monotonic()
    info = await get_json(
        jp_fetch, "snapshots", method="POST", body=json.dumps({"kernel_id": kernel_id})
    )

    async def failed() -> dict[str, Any] | None:
        status = await replica_status(jp_fetch)
        return status if status["state"] == "error" else None

    try:
        status = await until(failed, timeout=20)
    except AssertionError:
        raise AssertionError(await replica_status(jp_fetch)) from None
    assert status["error"]["reason"] == reason
    assert status["pending"] >= 1  # still to upload, once the replica works
    listed = await get_json(jp_fetch, "snapshots", params={"notebook": NOTEBOOK})
    assert [(s["id"], s["where"]) for s in listed] == [(info["id"], ["disk"])]
    assert time.monotonic() - started < 60  # the listing did not wait on the replica for long
    assert Store(store_dir).load(info["id"]).variables["kept"] == 42


async def test_replica_settings_from_the_panel_are_checked_kept_private_and_never_shown(
    jp_fetch, jp_serverapp, s3, tmp_path, clean_aws
):
    other = s3.new_bucket()
    code, body = await refused(jp_fetch, "replica", method="PUT", body=json.dumps({"url": "x"}))
    assert (code, body["reason"]) == (400, "config")
    code, body = await refused(
        jp_fetch,
        "replica",
        method="PUT",
        body=json.dumps({"url": f"s3://{other}", "access_key_id": "AKIA-ONLY"}),
    )
    assert (code, body["reason"]) == (400, "config")
    code, body = await refused(
        jp_fetch, "replica", method="PUT", body=json.dumps({"url": f"s3://{other}", "x": 1})
    )
    assert code == 400

    secret = "panel-secret-" + os.urandom(4).hex()
    answer = await get_json(
        jp_fetch,
        "replica",
        method="PUT",
        body=json.dumps(
            {
                "url": f"s3://{other}/p",
                "endpoint_url": s3.url,
                "access_key_id": "panel-key-id",
                "secret_access_key": secret,
            }
        ),
    )
    assert answer["source"] == "panel" and answer["credentials"] == "panel"
    assert answer["url"] == f"s3://{other}/p"
    saved = tmp_path / "secrets" / "replica.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert stat.S_IMODE(saved.parent.stat().st_mode) == 0o700
    assert secret in saved.read_text()
    for shown in (await replica_status(jp_fetch), await get_json(jp_fetch, "status")):
        assert secret not in json.dumps(shown) and "panel-key-id" not in json.dumps(shown)

    async def ready() -> bool:
        return (await replica_status(jp_fetch))["state"] == "ok"

    await until(ready, timeout=60)

    forgotten = await get_json(jp_fetch, "replica", method="DELETE")
    assert not saved.exists()
    assert forgotten["source"] == "setting"  # back to the configuration's replica


@pytest.fixture
def idle_machine(jp_server_config: dict[str, Any], tmp_path: Path) -> Path:
    """A manual machine whose idle stop runs a command that leaves a marker (named before
    the server's fixtures, so that it changes the settings the server starts with)."""
    marker = tmp_path / "stopped.txt"
    jp_server_config["GpuGuard"].update(
        provider="manual",
        manual_instance=SPOT,
        idle_check_interval=0.2,
        idle_snapshot_timeout=60.0,
        idle_stop_command=f"touch {shlex.quote(str(marker))}",
    )
    return marker


async def idle_stop_soon(jp_fetch: Any, jp_serverapp: Any) -> dict[str, Any]:
    _session, kernel_id = await open_notebook(jp_fetch, NOTEBOOK)
    await run(jp_serverapp, kernel_id, "model = list(range(50))")
    scheduler = jp_serverapp.web_app.settings["gpuguard_scheduler"]
    await until(lambda: getattr(scheduler.kernels.get(kernel_id), "attached_pid", None), 60)
    body = json.dumps({"stop_after": 2})
    await jp_fetch("gpuguard", "idle", "settings", method="POST", body=body)

    async def tried() -> dict[str, Any] | None:
        return (await get_json(jp_fetch, "idle"))["last_stop"]

    return await until(tried, timeout=120, step=0.2)


async def test_an_idle_stop_waits_for_the_replica_then_stops(
    idle_machine, jp_fetch, jp_serverapp, s3, bucket
):
    last_stop = await idle_stop_soon(jp_fetch, jp_serverapp)
    assert last_stop["ok"], last_stop
    assert idle_machine.exists()
    [snapshot_id] = [r["snapshot"] for r in last_stop["snapshots"]["kernels"].values()]
    assert f"team/gpuguard/snapshots/{snapshot_id}.json" in keys_in(s3, bucket)
    assert last_stop["snapshots"]["replica"]["done"] is True


async def test_an_idle_stop_with_a_replica_out_of_reach_stops_nothing(
    idle_machine, jp_fetch, jp_serverapp, store_dir
):
    scheduler = jp_serverapp.web_app.settings["gpuguard_scheduler"]
    scheduler.config.s3_endpoint_url = closed_port_url()
    scheduler.replication.reconfigure()
    last_stop = await idle_stop_soon(jp_fetch, jp_serverapp)
    assert last_stop["ok"] is False
    assert "did not reach the replica" in last_stop["message"], last_stop
    assert not idle_machine.exists()
    assert Store(store_dir).list()  # the snapshot is kept here, to upload later
