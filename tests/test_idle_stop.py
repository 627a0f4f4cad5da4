"""Idle stop on a real Jupyter server with real kernels: the countdown, what resets it, the
snapshots first, and the stop only once every snapshot committed (RunPod's podStop on the
loopback GraphQL fake, or c.GpuGuard.idle_stop_command)."""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
from datetime import datetime

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_gpuguard.snapshot import Store
from tests.fakes.runpod_graphql import VOLUME, pod
from tests.helpers.machines import SPOT
from tests.helpers.server_config import local_server_config
from tests.helpers.server_kernels import open_notebook, run, start_cell, until

THIS_POD = "abc123xyz"


@pytest.fixture
def idle_settings():
    # Off at start: each test turns it on once its kernels are ready, as the panel does.
    return {"idle_stop_after": None}


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "stopped.txt"


@pytest.fixture
def jp_server_config(store_dir, idle_settings, marker, tmp_path):
    config = local_server_config(
        store_dir,
        snapshot_interval=0,
        scheduler_tick=0.2,
        idle_check_interval=0.2,
        idle_warn_before=300.0,
        runpod_key_file=str(tmp_path / "no-key"),
        **idle_settings,
    )
    config["ServerApp"]["jpserver_extensions"]["jupyter_server_terminals"] = True
    return config


async def turn_on(jp_fetch, seconds):
    body = json.dumps({"stop_after": seconds})
    await jp_fetch("gpuguard", "idle", "settings", method="POST", body=body)


def tracker(server_app):
    return server_app.web_app.settings["gpuguard_idle"]


async def idle_state(jp_fetch):
    return json.loads((await jp_fetch("gpuguard", "idle")).body)


async def kernel_ready(server_app, jp_fetch, notebook, code):
    """A notebook's kernel, set up for snapshots, that ran ``code``."""
    _session, kernel_id = await open_notebook(jp_fetch, notebook)
    await run(server_app, kernel_id, code)
    scheduler = server_app.web_app.settings["gpuguard_scheduler"]

    def attached():
        state = scheduler.kernels.get(kernel_id)
        return state is not None and state.attached_pid is not None

    await until(attached, timeout=60)
    return kernel_id


# ---- RunPod: podStop for this pod, after the snapshots --------------------------------


@pytest.fixture
def on_pod(runpod_api, monkeypatch):
    monkeypatch.setenv("RUNPOD_API_KEY", runpod_api.api_key)
    monkeypatch.setenv("RUNPOD_POD_ID", THIS_POD)
    runpod_api.pods[THIS_POD] = pod(THIS_POD, volumeInGb=20, networkVolumeId=VOLUME["id"])
    runpod_api.pods["otherpod42"] = pod("otherpod42")
    return runpod_api


@pytest.fixture
def pod_server_config(on_pod, jp_server_config):
    jp_server_config["GpuGuard"]["provider"] = "runpod"
    return jp_server_config


async def test_idle_pod_counts_down_snapshots_every_kernel_then_stops(
    pod_server_config, on_pod, jp_fetch, jp_serverapp, store_dir
):
    seen_at_stop: list[list[str]] = []
    on_pod.on_stop = lambda _pod_id: seen_at_stop.append([i.id for i in Store(store_dir).list()])
    first = await kernel_ready(jp_serverapp, jp_fetch, "train.ipynb", "weights = [1, 2, 3]")
    second = await kernel_ready(jp_serverapp, jp_fetch, "eval.ipynb", "scores = {'f1': 0.9}")
    await turn_on(jp_fetch, 3)

    states = []

    async def stopped():
        state = await idle_state(jp_fetch)
        states.append(state)
        return state["last_stop"] if state["phase"] == "stopped" else None

    last_stop = await until(stopped, timeout=90, step=0.2)
    assert last_stop["ok"], last_stop
    counting = [s for s in states if s["phase"] == "warning"]
    assert counting, "no countdown was shown before the stop"
    assert all(0 <= s["seconds_left"] <= 3.0 for s in counting)
    assert counting[0]["action"] == "runpod"
    assert THIS_POD in counting[0]["action_text"]
    assert counting[0]["price_per_hour"] == 0.23  # the pod's costPerHr, from the detector

    assert on_pod.stopped == [THIS_POD]  # this pod, and no other
    assert on_pod.pods[THIS_POD]["desiredStatus"] == "EXITED"
    assert on_pod.pods["otherpod42"]["desiredStatus"] == "RUNNING"
    # When podStop arrived, both kernels' snapshots were already committed in the store.
    [present] = seen_at_stop
    snapshots = last_stop["snapshots"]["kernels"]
    assert set(snapshots) == {first, second}
    assert {r["snapshot"] for r in snapshots.values()} <= set(present)
    store = Store(store_dir)
    assert store.load(snapshots[first]["snapshot"]).variables["weights"] == [1, 2, 3]
    assert store.load(snapshots[second]["snapshot"]).variables["scores"] == {"f1": 0.9}

    # What the stopped pod still costs: its 20 GB volume and the 100 GB network volume.
    cost = (await idle_state(jp_fetch))["stopped_cost"]
    assert cost["volume_gb"] == 20 and cost["network_volume_gb"] == VOLUME["size"]
    assert cost["per_month"] == pytest.approx(20 * 0.20 + 100 * 0.07)


async def test_a_key_runpod_refuses_stops_nothing_and_says_so(
    pod_server_config, on_pod, jp_fetch, jp_serverapp
):
    on_pod.stop_error = "Unauthorized: this key cannot act on pod abc123xyz"
    await kernel_ready(jp_serverapp, jp_fetch, "train.ipynb", "x = 1")
    await turn_on(jp_fetch, 2)

    async def refused():
        state = await idle_state(jp_fetch)
        return state["last_stop"]

    last_stop = await until(refused, timeout=90, step=0.2)
    assert last_stop["ok"] is False
    assert "may not be allowed to stop this pod" in last_stop["message"]
    assert "RUNPOD_API_KEY environment variable" in last_stop["message"]
    assert on_pod.api_key not in json.dumps(last_stop)
    assert on_pod.stopped == []
    assert (await idle_state(jp_fetch))["phase"] != "stopped"


async def test_a_failed_snapshot_stops_nothing(
    pod_server_config, on_pod, jp_fetch, jp_serverapp, store_dir
):
    await kernel_ready(jp_serverapp, jp_fetch, "train.ipynb", "x = 1")
    # A store whose snapshots folder is a file: the kernel cannot commit a snapshot there.
    store_dir.mkdir(mode=0o700)
    blocker = store_dir / "snapshots"
    blocker.write_text("not a folder")
    try:
        await turn_on(jp_fetch, 2)

        async def failed():
            return (await idle_state(jp_fetch))["last_stop"]

        last_stop = await until(failed, timeout=90, step=0.2)
    finally:
        blocker.unlink()
    assert last_stop["ok"] is False
    assert "a snapshot failed" in last_stop["message"]
    assert "train.ipynb" in last_stop["message"]
    assert on_pod.stopped == []
    assert not any("podStop" in r["query"] for r in on_pod.received)


# ---- elsewhere: c.GpuGuard.idle_stop_command -------------------------------------------


@pytest.fixture
def command_settings(marker, store_dir, jp_server_config):
    # The command lists the committed snapshots: the marker shows what existed when it ran.
    listing = f"import os; print(sorted(os.listdir({str(store_dir / 'snapshots')!r})))"
    command = (
        f"{shlex.quote(sys.executable)} -c {shlex.quote(listing)} > {shlex.quote(str(marker))}"
    )
    settings = {"provider": "manual", "manual_instance": SPOT, "idle_stop_command": command}
    jp_server_config["GpuGuard"].update(settings)  # before the server starts
    return settings


async def test_the_stop_command_runs_only_after_the_snapshots(
    command_settings, jp_fetch, jp_serverapp, marker, store_dir
):
    kernel_id = await kernel_ready(jp_serverapp, jp_fetch, "nb.ipynb", "model = 'trained'")
    await turn_on(jp_fetch, 4)

    async def counting():
        state = await idle_state(jp_fetch)
        return state if state["phase"] == "warning" else None

    state = await until(counting, timeout=60, step=0.1)
    assert state["action"] == "command"
    assert not marker.exists()
    assert not Store(store_dir).list()

    async def stopped():
        return (await idle_state(jp_fetch))["phase"] == "stopped"

    await until(stopped, timeout=90, step=0.2)
    [info] = Store(store_dir).list()
    assert info.kernel_id == kernel_id
    assert f"{info.id}.json" in marker.read_text()
    state = await idle_state(jp_fetch)
    assert state["last_stop"]["ok"]
    # $0.23/h idle: the cost drawn is the idle time at that price
    assert state["idle_cost"] == pytest.approx(0.23 * state["idle_seconds"] / 3600, abs=1e-3)


async def test_the_stop_waits_for_the_before_stop_hooks(
    command_settings, jp_fetch, jp_serverapp, marker, store_dir
):
    """Where the replica upload waits: after every snapshot committed, before the stop."""
    seen = []

    async def upload(run):
        await asyncio.sleep(0.5)
        committed = {i.id for i in Store(store_dir).list()}
        seen.append(
            (marker.exists(), {r["snapshot"] for r in run["kernels"].values()} <= committed)
        )

    tracker(jp_serverapp).before_stop.append(upload)
    await kernel_ready(jp_serverapp, jp_fetch, "nb.ipynb", "model = 'trained'")
    await turn_on(jp_fetch, 2)

    async def stopped():
        return (await idle_state(jp_fetch))["phase"] == "stopped"

    await until(stopped, timeout=90, step=0.2)
    assert seen == [(False, True)]
    assert marker.exists()


async def test_a_failed_before_stop_hook_stops_nothing(
    command_settings, jp_fetch, jp_serverapp, marker
):
    async def upload(run):
        raise RuntimeError("the replica upload failed: the bucket is gone")

    tracker(jp_serverapp).before_stop.append(upload)
    await kernel_ready(jp_serverapp, jp_fetch, "nb.ipynb", "x = 1")
    await turn_on(jp_fetch, 2)

    async def refused():
        return (await idle_state(jp_fetch))["last_stop"]

    last_stop = await until(refused, timeout=90, step=0.2)
    assert last_stop["ok"] is False
    assert "the bucket is gone" in last_stop["message"]
    assert not marker.exists()


async def test_with_no_way_to_stop_nothing_is_touched(jp_fetch, jp_serverapp, store_dir, marker):
    await kernel_ready(jp_serverapp, jp_fetch, "nb.ipynb", "x = 1")
    await turn_on(jp_fetch, 1)
    await asyncio.sleep(3)
    state = await idle_state(jp_fetch)
    assert state["enabled"] and state["action"] == "none"
    assert "idle_stop_command" in state["action_text"]
    assert state["seconds_left"] is None and state["last_stop"] is None
    assert Store(store_dir).list() == []


# ---- what resets the countdown -----------------------------------------------------------


async def test_every_kind_of_activity_resets_the_countdown(
    command_settings,
    jp_fetch,
    jp_serverapp,
    jp_ws_fetch,
    tmp_path,
    marker,
):
    kernel_id = await kernel_ready(jp_serverapp, jp_fetch, "nb.ipynb", "x = 1")
    await turn_on(jp_fetch, 600)

    async def resets(action, words):
        await asyncio.sleep(0.5)
        before = await idle_state(jp_fetch)
        await action()

        async def moved():
            state = await idle_state(jp_fetch)
            if state["idle_since"] > before["idle_since"] and words in state["last_activity"]:
                return state
            return None

        after = await until(moved, timeout=30, step=0.1)
        assert after["seconds_left"] > before["seconds_left"]
        return after

    async def settled():
        before = await idle_state(jp_fetch)
        await asyncio.sleep(1.0)
        return (
            before if (await idle_state(jp_fetch))["idle_since"] == before["idle_since"] else None
        )

    async def server_last_activity():
        status = json.loads((await jp_fetch("api", "status")).body)
        return datetime.fromisoformat(status["last_activity"].replace("Z", "+00:00")).timestamp()

    # An open tab polling our routes is not activity, for us or for jupyter_server.
    quiet = await until(settled, timeout=30)
    server_quiet = await server_last_activity()
    for _ in range(10):
        await idle_state(jp_fetch)
        await jp_fetch("gpuguard", "risk")
        await jp_fetch("gpuguard", "status")
        await asyncio.sleep(0.1)
    assert (await idle_state(jp_fetch))["idle_since"] == quiet["idle_since"]
    assert await server_last_activity() == server_quiet

    async def a_cell():
        await run(jp_serverapp, kernel_id, "y = 2")

    await resets(a_cell, "a cell ran")

    client = None

    async def a_busy_kernel():
        nonlocal client
        client = start_cell(jp_serverapp, kernel_id, "import time; time.sleep(3)")

    busy = await resets(a_busy_kernel, "running a cell")
    assert busy["active_now"]

    async def cell_ended():
        return not (await idle_state(jp_fetch))["active_now"]

    await until(cell_ended, timeout=30)
    client.stop_channels()

    async def a_saved_file():
        body = {"type": "file", "format": "text", "content": "notes"}
        await jp_fetch("api", "contents", "notes.txt", method="PUT", body=json.dumps(body))

    await resets(a_saved_file, "a file was saved (notes.txt)")

    async def terminal_input():
        answer = await jp_fetch("api", "terminals", method="POST", body="{}")
        name = json.loads(answer.body)["name"]
        socket = await jp_ws_fetch("terminals", "websocket", name)
        socket.write_message(json.dumps(["stdin", "echo hello\r"]))
        await asyncio.sleep(0.5)
        socket.close()

    await resets(terminal_input, "a terminal was used")

    idle = tracker(jp_serverapp)
    idle.gpu_reader = lambda: [1.0, 2.5]  # below idle_gpu_percent: still idle
    await asyncio.sleep(1.0)
    still = await idle_state(jp_fetch)
    assert still["gpu_utilisation"] == [1.0, 2.5]
    assert "GPU" not in still["last_activity"]

    async def gpu_busy():
        idle.gpu_reader = lambda: [1.0, 63.0]

    busy_gpu = await resets(gpu_busy, "GPU 1 is at 63% utilisation")
    # jupyter_server's own answers agree: its idle shutdown waits, and /api/status's
    # last_activity is never older than our idle since.
    assert await server_last_activity() >= busy_gpu["idle_since"] - 0.001
    assert any(
        ext.current_activity()
        for apps in jp_serverapp.extension_manager.extension_apps.values()
        for ext in apps
    )
    idle.gpu_reader = lambda: [0.0, 0.0]
    await asyncio.sleep(1.0)
    assert not tracker(jp_serverapp).current_activity()

    async def keep_running():
        await jp_fetch("gpuguard", "idle", "keep-running", method="POST", body="{}")

    await resets(keep_running, "Keep running")
    assert not marker.exists()


# ---- the panel's setting ------------------------------------------------------------------


async def test_the_panel_turns_idle_stop_on_and_off(command_settings, jp_fetch, jp_serverapp):
    state = await idle_state(jp_fetch)
    assert state["phase"] == "off" and not state["enabled"]

    async def post(body):
        try:
            answer = await jp_fetch(
                "gpuguard", "idle", "settings", method="POST", body=json.dumps(body)
            )
            return answer.code, json.loads(answer.body)
        except HTTPClientError as err:
            return err.code, json.loads(err.response.body)

    code, state = await post({"stop_after": 1800})
    assert code == 200 and state["enabled"] and state["setting_source"] == "panel"
    assert state["stop_after"] == 1800
    assert 1790 < state["seconds_left"] <= 1800  # counted from the choice, not from before
    for bad in ({}, {"stop_after": "1h"}, {"stop_after": -5}, {"stop_after": True}, []):
        code, answer = await post(bad)
        assert code == 400, bad
        assert "stop_after" in answer["message"] or "JSON object" in answer["message"]
    assert (await idle_state(jp_fetch))["stop_after"] == 1800  # refused bodies change nothing
    code, state = await post({"stop_after": None})
    assert code == 200 and state["phase"] == "off"


@pytest.mark.parametrize("idle_settings", [{"idle_stop_after": -5.0}, {"idle_stop_after": 0.0}])
async def test_a_setting_of_zero_or_less_is_off(command_settings, jp_fetch, marker):
    await asyncio.sleep(1.0)
    state = await idle_state(jp_fetch)
    assert state["phase"] == "off" and not state["enabled"]
    assert state["last_stop"] is None and not marker.exists()
