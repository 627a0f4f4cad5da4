"""Kernels the server starts can be snapshotted mid-cell from their first second.

Each kernel here is busy before the scheduler could set it up by an execute request (Run
All, a script on the REST API, a restart followed by Run All): the snapshot must go through
the control socket the kernel opened as it started.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpec
from tornado.httpclient import HTTPClientError

from jupyter_gpuguard.server.launch import EXTENSION_ARGUMENT, interpreter_command, is_own_python
from jupyter_gpuguard.snapshot import Store
from tests.helpers.server_config import local_server_config
from tests.helpers.server_kernels import open_notebook, run, start_cell, until

LONG_CELL = "import time\nx = 41\nprint('ready', flush=True)\ntime.sleep(60)\nx = 42"
WRAPPED = "from ipykernel.kernelapp import launch_new_instance as main; main()"


@pytest.fixture
def tick():
    return 3600.0  # the scheduler looks once, before any kernel exists


@pytest.fixture
def jp_server_config(store_dir, tick, other_python_spec):
    return local_server_config(store_dir, snapshot_interval=0, scheduler_tick=tick)


@pytest.fixture
def other_python_spec(jp_kernel_dir, tmp_path):
    """An ipykernel spec of another Python path (another environment, as the server sees it),
    there before the server starts."""
    other = tmp_path / "env" / "bin" / "python3"
    other.parent.mkdir(parents=True, exist_ok=True)
    other.symlink_to(sys.executable)
    spec = Path(jp_kernel_dir) / "other"
    spec.mkdir(parents=True, exist_ok=True)
    argv = [str(other), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    body = {"argv": argv, "display_name": "Other Python", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(body))
    return "other"


@pytest.fixture
def wrapped_python_spec(jp_kernel_dir):
    """A Python kernel started without ``-m ipykernel``: launched as it is, unchanged."""
    spec = Path(jp_kernel_dir) / "wrapped"
    spec.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-c", WRAPPED, "-f", "{connection_file}"]
    body = {"argv": argv, "display_name": "Wrapped Python", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(body))
    return "wrapped"


async def start_kernel(jp_fetch, name: str = "python3") -> str:
    """POST /api/kernels, as a script or papermill's server mode does: no session, no client."""
    response = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": name}))
    return json.loads(response.body)["id"]


async def run_all(server_app, kernel_id: str, code: str = LONG_CELL):
    """Send a long cell at once and wait until it has defined ``x`` and the server has seen
    the kernel busy."""
    client = start_cell(server_app, kernel_id, code)
    deadline = time.monotonic() + 60
    while True:
        assert time.monotonic() < deadline, "the cell never started"
        message = await client.get_iopub_msg(timeout=60)
        if message["msg_type"] == "stream" and "ready" in message["content"]["text"]:
            break
    kernel = server_app.kernel_manager.get_kernel(kernel_id)
    await until(lambda: kernel.execution_state == "busy", timeout=30)
    return client


async def snapshot_mid_cell(jp_fetch, server_app, kernel_id: str) -> dict:
    """Run the long cell, snapshot in the middle of it; the snapshot's info."""
    client = await run_all(server_app, kernel_id)
    try:
        code, answer, took = await snapshot_now(jp_fetch, kernel_id)
        still_busy = server_app.kernel_manager.get_kernel(kernel_id).execution_state == "busy"
    finally:
        client.stop_channels()
    assert code == 201, answer
    assert took < 5, f"the snapshot took {took:.1f} s"
    assert still_busy, "the cell should still run: the snapshot must not wait for it"
    return answer


async def snapshot_now(jp_fetch, kernel_id: str) -> tuple[int, dict, float]:
    started = time.monotonic()
    body = json.dumps({"kernel_id": kernel_id})
    try:
        response = await jp_fetch("gpuguard", "snapshots", method="POST", body=body)
        code, answer = response.code, json.loads(response.body)
    except HTTPClientError as err:
        code, answer = err.code, json.loads(err.response.body)
    return code, answer, time.monotonic() - started


def command_line(server_app, kernel_id: str) -> list[str]:
    pid = server_app.kernel_manager.get_kernel(kernel_id).provisioner.pid
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def environment(server_app, kernel_id: str) -> dict[str, str]:
    pid = server_app.kernel_manager.get_kernel(kernel_id).provisioner.pid
    pairs = Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0")
    return dict(pair.split("=", 1) for pair in pairs if "=" in pair)


async def test_a_kernel_busy_from_its_start_is_snapshotted_mid_cell(
    jp_fetch, jp_serverapp, store_dir
):
    kernel_id = await start_kernel(jp_fetch)
    answer = await snapshot_mid_cell(jp_fetch, jp_serverapp, kernel_id)
    assert Store(store_dir).load(answer["id"]).variables["x"] == 41
    assert EXTENSION_ARGUMENT in command_line(jp_serverapp, kernel_id)


async def test_a_restarted_kernel_busy_at_once_is_snapshotted_mid_cell(
    jp_fetch, jp_serverapp, store_dir
):
    _session, kernel_id = await open_notebook(jp_fetch, "restart.ipynb")
    await run(jp_serverapp, kernel_id, "y = 1")
    code, _answer, _took = await snapshot_now(jp_fetch, kernel_id)
    assert code == 201
    scheduler = jp_serverapp.web_app.settings["gpuguard_scheduler"]
    before = scheduler.kernels[kernel_id].attached_pid
    await jp_fetch("api", "kernels", kernel_id, "restart", method="POST", body="{}")
    answer = await snapshot_mid_cell(jp_fetch, jp_serverapp, kernel_id)  # Run All at once
    assert answer["notebook"] == "restart.ipynb"
    assert scheduler.kernels[kernel_id].attached_pid not in (None, before)
    assert Store(store_dir).load(answer["id"]).variables == {"x": 41}


@pytest.mark.parametrize("tick", [0.1])
async def test_the_scheduler_sets_up_a_busy_kernel_without_queueing_behind_it(
    jp_fetch, jp_serverapp
):
    _session, kernel_id = await open_notebook(jp_fetch, "run-all.ipynb")
    client = await run_all(jp_serverapp, kernel_id)
    try:

        async def attached_while_busy():
            status = json.loads((await jp_fetch("gpuguard", "status")).body)
            [kernel] = [k for k in status["kernels"] if k["kernel_id"] == kernel_id]
            return kernel["attached"] and kernel["state"] == "busy"

        await until(attached_while_busy, timeout=10)
    finally:
        client.stop_channels()


async def test_a_python_kernel_not_started_by_ipykernel_module_is_left_unchanged(
    jp_fetch, jp_serverapp, store_dir, wrapped_python_spec
):
    kernel_id = await start_kernel(jp_fetch, wrapped_python_spec)
    argv = command_line(jp_serverapp, kernel_id)
    assert EXTENSION_ARGUMENT not in argv and WRAPPED in argv
    assert "GPUGUARD_CONTROL_SOCKET" not in environment(jp_serverapp, kernel_id)
    client = await run_all(jp_serverapp, kernel_id)
    try:
        code, answer, took = await snapshot_now(jp_fetch, kernel_id)
    finally:
        client.stop_channels()
    # Without the kernel side loaded at its start, a busy kernel cannot be set up: the
    # answer comes at once, not after the execute request's wait.
    assert code == 409
    assert "busy before it could be set up" in answer["message"]
    assert took < 3, f"the refusal took {took:.1f} s"


async def test_a_python_kernel_without_the_kernel_side_is_set_up_when_idle(
    jp_fetch, jp_serverapp, store_dir, wrapped_python_spec
):
    kernel_id = await start_kernel(jp_fetch, wrapped_python_spec)
    await run(jp_serverapp, kernel_id, "x = 41")
    kernel = jp_serverapp.kernel_manager.get_kernel(kernel_id)
    await until(lambda: kernel.execution_state == "idle", timeout=30)
    code, answer, _took = await snapshot_now(jp_fetch, kernel_id)
    assert code == 201, answer
    assert Store(store_dir).load(answer["id"]).variables["x"] == 41


async def test_other_kernels_start_exactly_as_their_spec_says(jp_fetch, jp_serverapp):
    kernel_id = await start_kernel(jp_fetch, "echo")  # pytest-jupyter's echo kernel
    argv = command_line(jp_serverapp, kernel_id)
    assert EXTENSION_ARGUMENT not in argv
    assert "GPUGUARD_CONTROL_SOCKET" not in environment(jp_serverapp, kernel_id)
    code, answer, _took = await snapshot_now(jp_fetch, kernel_id)
    assert code == 409
    assert "snapshots need a Python kernel" in answer["message"]


async def test_a_kernel_of_another_python_with_the_package_is_ready_from_its_start(
    jp_fetch, jp_serverapp, store_dir, other_python_spec
):
    launcher = jp_serverapp.web_app.settings["gpuguard_scheduler"].launcher
    spec = jp_serverapp.kernel_spec_manager.get_kernel_spec(other_python_spec)
    command = interpreter_command(spec)
    assert command is not None and not is_own_python(command)
    await launcher.probe(command, {})  # probed since the server started: this only waits
    kernel_id = await start_kernel(jp_fetch, other_python_spec)
    assert EXTENSION_ARGUMENT in command_line(jp_serverapp, kernel_id)
    answer = await snapshot_mid_cell(jp_fetch, jp_serverapp, kernel_id)
    assert Store(store_dir).load(answer["id"]).variables["x"] == 41


async def test_a_python_that_cannot_import_the_package_is_not_given_it(jp_serverapp):
    launcher = jp_serverapp.web_app.settings["gpuguard_scheduler"].launcher
    # -I -S: no site-packages and no PYTHONPATH, so no jupyter_gpuguard.
    argv = [sys.executable, "-I", "-S", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec = KernelSpec(argv=argv, language="python", display_name="Bare")
    command = interpreter_command(spec)
    assert command == (sys.executable, "-I", "-S")
    assert not launcher.has_kernel_side(command, spec)  # unknown yet: probed meanwhile
    await launcher.probe(command, {})
    assert not launcher.has_kernel_side(command, spec)
