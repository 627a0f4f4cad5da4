"""The RunPod routes of a real Jupyter server, against a GraphQL server on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import os
import shlex
import stat

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from jupyter_gpuguard.pods.start_command import STORE_ON_VOLUME, start_command
from jupyter_gpuguard.snapshot import Store
from tests.fakes.runpod_graphql import A6000, VOLUME, pod
from tests.helpers.server_config import local_server_config
from tests.helpers.server_kernels import open_notebook, run

THIS_POD = "abc123xyz"
EVIL = '"}) { id } mutation { podTerminate(input: {podId: "abc123xyz"}) } #\\\n'


@pytest.fixture
def key_file(tmp_path):
    return tmp_path / "secrets" / "runpod-api-key"


@pytest.fixture
def jp_server_config(store_dir, key_file, runpod_api):
    return local_server_config(
        store_dir,
        snapshot_interval=0,
        scheduler_tick=0.2,
        runpod_key_file=str(key_file),
        pod_image="runpod/pytorch:test",
    )


@pytest.fixture
def answers():
    """Every body a route answered in the test: none may hold the key."""
    return []


@pytest.fixture
def call(jp_fetch, answers, runpod_api):
    async def call(*parts, method="GET", body=None):
        kwargs = {"method": method}
        if body is None and method in ("POST", "PUT"):
            body = {}
        if body is not None:
            kwargs["body"] = body if isinstance(body, str) else json.dumps(body)
        try:
            response = await jp_fetch("gpuguard", "runpod", *parts, **kwargs)
            code, raw = response.code, response.body
        except HTTPClientError as err:
            code, raw = err.code, err.response.body
        answers.append(raw)
        assert runpod_api.api_key.encode() not in (raw or b"")
        return code, json.loads(raw) if raw else None

    return call


@pytest.fixture
def with_key(runpod_api, monkeypatch):
    monkeypatch.setenv("RUNPOD_API_KEY", runpod_api.api_key)
    return runpod_api


@pytest.fixture
def on_pod(with_key, monkeypatch):
    monkeypatch.setenv("RUNPOD_POD_ID", THIS_POD)
    monkeypatch.setenv("RUNPOD_DC_ID", "EU-RO-1")
    with_key.pods[THIS_POD] = pod(THIS_POD, networkVolumeId=VOLUME["id"])
    return with_key


async def test_without_a_key_every_route_explains_how_to_set_one(call, runpod_api):
    for parts in (("gpu-types",), ("volumes",), ("pods",)):
        code, body = await call(*parts)
        assert code == 409, parts
        assert body["reason"] == "no-key"
        assert "runpod.io/console/user/settings" in body["message"]
    code, body = await call("pods", method="POST", body={"name": "x", "gpu_type_id": "y"})
    assert (code, body["reason"]) == (409, "no-key")
    code, body = await call("key")
    assert body == {"configured": False, "source": None, "source_text": None}
    assert runpod_api.received == []


async def test_set_check_and_forget_the_key_from_the_panel(call, runpod_api, key_file, caplog):
    caplog.set_level(logging.DEBUG)
    code, body = await call("key", method="PUT", body={"key": "short"})
    assert code == 400
    assert "not a RunPod API key" in body["message"]
    code, body = await call("key", method="PUT", body={"key": "rp_wrong_but_well_formed"})
    assert code == 400
    assert body["message"] == "RunPod rejected this key; it was not saved."
    assert not key_file.exists()
    code, body = await call("key", method="PUT", body="not json")
    assert code == 400

    code, body = await call("key", method="PUT", body={"key": runpod_api.api_key})
    assert code == 200
    assert body["configured"] is True
    assert body["source"] == "panel"
    assert body["checked"] is True
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(key_file.parent).st_mode) == 0o700
    assert key_file.read_text().strip() == runpod_api.api_key

    code, body = await call("volumes")
    assert code == 200
    assert body["volumes"][0]["id"] == VOLUME["id"]

    code, body = await call("key", method="DELETE")
    assert body["configured"] is False
    assert body["removed"] is True
    assert not key_file.exists()
    assert runpod_api.api_key not in caplog.text


async def test_a_loosened_key_file_is_not_used(call, runpod_api, key_file):
    await call("key", method="PUT", body={"key": runpod_api.api_key})
    os.chmod(key_file, 0o644)
    code, body = await call("key")
    assert body["configured"] is False


async def test_launch_from_the_form_then_stop_and_terminate(call, with_key):
    env = {"JUPYTER_PASSWORD": EVIL, "NOTE": "line one\nline two"}
    code, body = await call(
        "pods",
        method="POST",
        body={
            "name": EVIL,
            "gpu_type_id": "NVIDIA RTX A6000",
            "gpu_count": 1,
            "cloud_type": "SECURE",
            "network_volume_id": VOLUME["id"],
            "container_disk_gb": 40,
            "env": env,
        },
    )
    assert code == 201, body
    pod_id = body["pod"]["id"]
    assert body["url"] == f"https://{pod_id}-8888.proxy.runpod.net"
    assert body["spec"]["env"] == ["JUPYTER_PASSWORD", "NOTE"]  # names only, never values
    assert EVIL not in json.dumps(body["spec"]["env"])
    launched = with_key.launched[0]
    assert launched["name"] == EVIL
    assert {e["key"]: e["value"] for e in launched["env"]} == env
    assert launched["imageName"] == "runpod/pytorch:test"
    assert launched["volumeMountPath"] == "/workspace"
    assert launched["dataCenterId"] == "EU-RO-1"  # the volume's, or it could not mount

    code, listed = await call("pods")
    assert [p["id"] for p in listed["pods"]] == [pod_id]
    assert listed["pods"][0]["name"] == EVIL
    assert listed["balance"] == 25.0
    code, one = await call("pods", pod_id)
    assert one["status"] == "starting"

    code, stopped = await call("pods", pod_id, "stop", method="POST")
    assert (code, stopped["status"]) == (200, "stopped")
    code, gone = await call("pods", pod_id, method="DELETE")
    assert (code, gone["status"]) == (200, "terminated")
    code, body = await call("pods", pod_id, method="DELETE")
    assert code == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{", "not valid JSON"),
        ("[1]", "must be a JSON object"),
        ({"name": "x", "gpu_type_id": "y", "gpu_count": "2"}, "gpu_count"),
        ({"name": "x", "gpu_type_id": "y", "network_volume_id": "vol_nope"}, "no network volume"),
        ({"name": "x", "gpu_type_id": "y", "extra": 1}, "Unknown field"),
    ],
)
async def test_malformed_launches_get_a_400(call, with_key, body, message):
    code, answer = await call("pods", method="POST", body=body)
    assert code == 400
    assert message in answer["message"]
    assert with_key.launched == []


async def test_refusals_from_runpod_come_back_in_words(call, with_key):
    with_key.launch_error = "There are no longer any instances available."
    code, body = await call("pods", method="POST", body={"name": "x", "gpu_type_id": "y"})
    assert (code, body["reason"]) == (409, "no-gpus")
    with_key.launch_error = "Your balance is insufficient"
    code, body = await call("pods", method="POST", body={"name": "x", "gpu_type_id": "y"})
    assert (code, body["reason"]) == (409, "balance")
    assert "runpod.io/console/user/billing" in body["message"]


async def test_gpu_types_route(call, with_key):
    code, body = await call("gpu-types")
    assert code == 200
    names = [t["name"] for t in body["gpu_types"]]
    assert names == ["RTX A6000", "H100 SXM"]  # cheapest first


async def test_this_pod_cannot_be_stopped_or_terminated_from_itself(call, on_pod):
    for method, parts in (("POST", (THIS_POD, "stop")), ("DELETE", (THIS_POD,))):
        code, body = await call("pods", *parts, method=method)
        assert code == 409
    assert THIS_POD in on_pod.pods
    assert on_pod.pods[THIS_POD]["desiredStatus"] == "RUNNING"


async def test_launch_defaults_follow_this_pod(call, on_pod):
    code, body = await call("launch-defaults")
    assert code == 200
    assert body["this_pod"] == THIS_POD
    assert body["gpu_type_id"] == "NVIDIA RTX A6000"
    assert body["network_volume_id"] == VOLUME["id"]
    assert body["image"].startswith("runpod/pytorch:2.4.0")
    assert body["interruptible"] is True
    assert "s3cret" not in json.dumps(body)  # this pod's env stays on the server


async def test_move_session_snapshots_then_launches_a_pod_like_this_one(
    call, on_pod, jp_fetch, jp_serverapp, store_dir
):
    _session, kernel_id = await open_notebook(jp_fetch, "train.ipynb")
    await run(jp_serverapp, kernel_id, "weights = list(range(1000))")
    code, body = await call("move-session", method="POST", body={})
    assert code == 201, body
    new_id = body["pod"]["id"]
    assert body["url"] == f"https://{new_id}-8888.proxy.runpod.net"
    assert body["from_pod"] == THIS_POD
    snapshot_id = body["snapshots"][kernel_id]["snapshot"]
    saved = Store(path=store_dir).get(snapshot_id)
    assert saved.kernel_id == kernel_id
    assert [v.name for v in saved.variables] == ["weights"]

    launched = on_pod.launched[0]
    assert launched["gpuTypeId"] == "NVIDIA RTX A6000"
    assert launched["gpuCount"] == 1
    assert launched["imageName"] == on_pod.pods[THIS_POD]["imageName"]
    assert launched["networkVolumeId"] == VOLUME["id"]
    assert launched["volumeMountPath"] == "/workspace"
    assert launched["cloudType"] == "SECURE"
    env = {e["key"]: e["value"] for e in launched["env"]}
    assert env["JUPYTER_PASSWORD"] == "s3cret"  # the same login works on the new pod
    assert env["GPUGUARD_MOVED_FROM"] == THIS_POD
    assert not any(name.startswith("RUNPOD_") for name in env)
    assert on_pod.pods[new_id]["podType"] == "RESERVED"
    # a move shows its progress where it was asked for, not as every browser's emergency
    status = json.loads((await jp_fetch("gpuguard", "status")).body)
    assert status["emergency"] is None


async def test_move_session_needs_a_runpod_pod_and_a_volume(call, with_key, monkeypatch):
    code, body = await call("move-session", method="POST", body={})
    assert (code, body["reason"]) == (409, "not-on-runpod")
    monkeypatch.setenv("RUNPOD_POD_ID", THIS_POD)
    monkeypatch.setenv("RUNPOD_DC_ID", "US-TX-3")  # no volume there
    with_key.pods[THIS_POD] = pod(THIS_POD)
    code, body = await call("move-session", method="POST", body={})
    assert code == 400
    assert "network volume is unknown" in body["message"]
    code, body = await call("move-session", method="POST", body={"bogus": 1})
    assert code == 400
    code, body = await call("move-session", method="POST", body={"allow_failed_snapshots": "yes"})
    assert (code, body["message"]) == (400, "allow_failed_snapshots must be true or false.")
    assert with_key.launched == []


@pytest.mark.parametrize("depth", [10_000, 100])
async def test_deeply_nested_bodies_get_a_400(call, on_pod, key_file, caplog, depth):
    deep = "[" * depth + "]" * depth
    for parts, method, body in (
        (("key",), "PUT", '{"key": ' + deep + "}"),
        (("pods",), "POST", '{"name": "x", "gpu_type_id": "y", "env": {"A": ' + deep + "}}"),
        (("move-session",), "POST", '{"name": ' + deep + "}"),
    ):
        code, answer = await call(*parts, method=method, body=body)
        assert code == 400, (parts, answer)
        assert "nests too deep" in answer["message"]
    assert "RecursionError" not in caplog.text
    assert on_pod.launched == []
    assert not key_file.exists()


async def test_pod_routes_need_a_login(jp_fetch, jp_base_url, jp_http_port):
    await jp_fetch("gpuguard", "instance")
    client = AsyncHTTPClient()
    for path in ("key", "gpu-types", "volumes", "pods", "launch-defaults"):
        url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}gpuguard/runpod/{path}"
        response = await client.fetch(url, raise_error=False)
        assert response.code == 403, path
    for path, method in (("pods", "POST"), ("move-session", "POST"), ("key", "PUT")):
        url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}gpuguard/runpod/{path}"
        response = await client.fetch(url, method=method, body="{}", raise_error=False)
        assert response.code == 403, path


def _config(jp_serverapp):
    return jp_serverapp.web_app.settings["gpuguard_scheduler"].config


async def test_a_launched_pod_starts_with_the_extension(call, with_key):
    code, defaults = await call("launch-defaults")
    default = start_command(STORE_ON_VOLUME, "/start.sh")  # the store here is not on a volume
    assert defaults["start_command"] == default
    body = {"name": "x", "gpu_type_id": "NVIDIA RTX A6000"}
    code, answer = await call("pods", method="POST", body=body)
    assert code == 201, answer
    assert with_key.launched[0]["dockerArgs"] == default
    assert "jupyter-gpuguard==" in default and "/workspace/.gpuguard/wheels" in default

    typed = "bash -c 'echo hi && /start.sh'"
    code, answer = await call("pods", method="POST", body={**body, "start_command": typed})
    assert code == 201, answer
    assert with_key.launched[1]["dockerArgs"] == typed
    for bad, message in (("bash -c 'a\nb'", "one line"), (7, "must be text")):
        code, answer = await call("pods", method="POST", body={**body, "start_command": bad})
        assert (code, answer["reason"]) == (400, "invalid")
        assert message in answer["message"]
    assert len(with_key.launched) == 2


async def test_a_custom_image_start_is_used(call, with_key, jp_serverapp):
    _config(jp_serverapp).pod_start_command = "'/opt/my image/run.sh' --port 8888"
    code, answer = await call("pods", method="POST", body={"name": "x", "gpu_type_id": A6000["id"]})
    args = with_key.launched[0]["dockerArgs"]
    script = shlex.split(args)[2]
    assert "exec '/opt/my image/run.sh' --port 8888;" in script
    assert args == start_command(STORE_ON_VOLUME, "'/opt/my image/run.sh' --port 8888")

    _config(jp_serverapp).pod_start_command = "'/opt/unclosed"
    code, answer = await call("pods", method="POST", body={"name": "x", "gpu_type_id": A6000["id"]})
    assert code == 400
    assert "c.GpuGuard.pod_start_command" in answer["message"]
    assert len(with_key.launched) == 1


async def test_a_moved_session_starts_with_the_extension_and_its_notebooks(
    call, on_pod, jp_fetch, jp_serverapp, monkeypatch
):
    for path in ("train.ipynb", "sub dir/eval.ipynb"):
        _session, kernel_id = await open_notebook(jp_fetch, path)
        await run(jp_serverapp, kernel_id, "x = 1")
    await open_notebook(jp_fetch, "empty.ipynb")  # nothing to save: not offered there
    code, body = await call("move-session", method="POST", body={"allow_failed_snapshots": True})
    assert code == 201, body
    launched = on_pod.launched[0]
    assert launched["dockerArgs"] == start_command(STORE_ON_VOLUME, "/start.sh")
    env = {e["key"]: e["value"] for e in launched["env"]}
    assert json.loads(env["GPUGUARD_RESTORE_NOTEBOOKS"]) == ["sub dir/eval.ipynb", "train.ipynb"]
    assert body["notebooks"] == ["sub dir/eval.ipynb", "train.ipynb"]

    # on the new pod, its frontend asks which notebooks to open
    monkeypatch.setenv("GPUGUARD_MOVED_FROM", env["GPUGUARD_MOVED_FROM"])
    monkeypatch.setenv("GPUGUARD_RESTORE_NOTEBOOKS", env["GPUGUARD_RESTORE_NOTEBOOKS"])
    code, moved = await call("moved")
    assert moved == {"from_pod": THIS_POD, "notebooks": ["sub dir/eval.ipynb", "train.ipynb"]}


async def test_nothing_was_moved_here(call, monkeypatch):
    code, moved = await call("moved")
    assert (code, moved) == (200, {"from_pod": None, "notebooks": []})
    monkeypatch.setenv("GPUGUARD_RESTORE_NOTEBOOKS", "{not json")
    code, moved = await call("moved")
    assert moved["notebooks"] == []


async def test_save_this_pod_as_a_template(call, on_pod):
    code, body = await call("templates", method="POST", body={"name": "after a spot loss"})
    assert code == 201, body
    saved = on_pod.templates[0]
    this = on_pod.pods[THIS_POD]
    assert saved["name"] == "after a spot loss"
    assert saved["imageName"] == this["imageName"]
    assert saved["ports"] == this["ports"]
    assert saved["containerDiskInGb"] == this["containerDiskInGb"]
    assert saved["volumeInGb"] == this["volumeInGb"]
    assert saved["volumeMountPath"] == "/workspace"
    assert saved["dockerArgs"] == start_command(STORE_ON_VOLUME, "/start.sh")
    assert saved["isServerless"] is False
    assert saved["env"] == []  # this pod's secrets stay out of a template
    assert "jupyter-gpuguard" in saved["readme"]
    assert body["template"]["id"] == "tpl0001"
    assert body["template"]["image"] == this["imageName"]
    assert body["url"] == "https://www.runpod.io/console/user/templates"


async def test_a_template_off_runpod_uses_the_settings(call, with_key):
    body = {"name": EVIL, "container_disk_gb": 30, "env": {"HF_HOME": "/workspace/hf"}}
    code, answer = await call("templates", method="POST", body=body)
    assert code == 201, answer
    saved = with_key.templates[0]
    assert saved["name"] == EVIL.strip()
    assert saved["imageName"] == "runpod/pytorch:test"
    assert saved["ports"] == "8888/http,22/tcp"
    assert (saved["containerDiskInGb"], saved["volumeInGb"]) == (30, 20)
    assert saved["env"] == [{"key": "HF_HOME", "value": "/workspace/hf"}]
    assert answer["template"]["env"] == ["HF_HOME"]


async def test_a_template_name_runpod_refuses_is_explained(call, with_key):
    code, _ = await call("templates", method="POST", body={"name": "gpuguard"})
    assert code == 201
    code, answer = await call("templates", method="POST", body={"name": "gpuguard"})
    assert (code, answer["reason"]) == (409, "template-name")
    assert (
        "RunPod refused the template name 'gpuguard': Template name must be unique."
        in (answer["message"])
    )
    with_key.template_error = f"Invalid name for key {with_key.api_key}"
    code, answer = await call("templates", method="POST", body={"name": "other"})
    assert (code, answer["reason"]) == (409, "template-name")
    assert with_key.api_key not in answer["message"]  # scrubbed, as every answer is checked
    with_key.template_error = "Something broke"
    code, answer = await call("templates", method="POST", body={"name": "other"})
    assert (code, answer["reason"]) == (502, "runpod-error")
    assert "Could not save the template: RunPod said: Something broke" in answer["message"]
    assert len(with_key.templates) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "name is required"),
        ({"name": "   "}, "must not be blank"),
        ({"name": "t", "image": "not an image!"}, "image must be"),
        ({"name": "t", "ports": "8888"}, "ports must look like"),
        ({"name": "t", "volume_gb": -1}, "volume_gb must be"),
        ({"name": "t", "start_command": "a\tb"}, "one line"),
        ({"name": "t", "env": {"1X": "y"}}, "env name"),
        ({"name": "t", "isServerless": True}, "Unknown field"),
    ],
)
async def test_malformed_templates_get_a_400(call, with_key, body, message):
    code, answer = await call("templates", method="POST", body=body)
    assert (code, answer["reason"]) == (400, "invalid")
    assert message in answer["message"]
    assert with_key.templates == []
    assert with_key.received == []  # refused before any RunPod call


async def test_a_template_needs_a_key(call, runpod_api):
    code, answer = await call("templates", method="POST", body={"name": "t"})
    assert (code, answer["reason"]) == (409, "no-key")
