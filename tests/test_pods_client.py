"""The RunPod pod client against a GraphQL server on 127.0.0.1 that parses every query."""

from __future__ import annotations

import graphql
import pytest

from jupyter_gpuguard.pods import graphql as literals
from jupyter_gpuguard.pods.client import PodError, RunPodClient
from jupyter_gpuguard.pods.key import ApiKey
from jupyter_gpuguard.pods.spec import LaunchDefaults, LaunchSpec, SpecError
from tests.fakes.runpod_graphql import SCHEMA_SDL, VOLUME, pod

DEFAULTS = LaunchDefaults("runpod/pytorch:2.4.0", "8888/http,22/tcp")
NASTY = [
    'a"b',
    "back\\slash\\",
    "new\nline\r\ttab",
    '"}) { id } mutation { podTerminate(input: {podId: "abc123xyz"}) }',
    '\\"}) { id } mutation {',
    "unicode é ✓ 😀 and \u2028",
    "\x00\x01 control",
    "{{ RUNPOD_SECRET_x }}",
]


def client(fake, key=None) -> RunPodClient:
    return RunPodClient(fake.api_key if key is None else key, timeout=5, launch_timeout=5)


def spec(**fields) -> LaunchSpec:
    body = {"name": "on-demand", "gpu_type_id": "NVIDIA RTX A6000", **fields}
    return LaunchSpec.from_json(body, DEFAULTS)


@pytest.mark.parametrize("text", NASTY)
def test_string_literals_parse_back_to_the_same_text(text):
    document = graphql.parse(f"query {{ f(a: {literals.string(text)}) }}")
    argument = document.definitions[0].selection_set.selections[0].arguments[0]
    assert argument.value.value == text


def test_values_that_cannot_be_sent_are_refused():
    with pytest.raises(literals.LiteralError, match="surrogate"):
        literals.string("\ud800")
    with pytest.raises(literals.LiteralError, match="not one of"):
        literals.Enum("SECURE) { id } #", frozenset({"SECURE"}))
    with pytest.raises(literals.LiteralError, match="field name"):
        literals.input_object({"name: 1) { id } #": "x"})
    with pytest.raises(literals.LiteralError):
        literals.literal(1.5)  # type: ignore[arg-type]


async def test_hostile_name_and_env_land_as_plain_strings(runpod_api):
    runpod_api.pods["abc123xyz"] = pod("abc123xyz")
    env = {f"VAR_{i}": text for i, text in enumerate(NASTY)}
    launched = await client(runpod_api).launch(spec(name=NASTY[3], env=env))
    assert len(runpod_api.launched) == 1
    received = runpod_api.launched[0]
    assert received["name"] == NASTY[3]
    assert {e["key"]: e["value"] for e in received["env"]} == env
    # the injected terminate never ran: the pod it names is still there
    assert "abc123xyz" in runpod_api.pods
    assert launched["name"] == NASTY[3]
    assert "podTerminate" not in runpod_api.received[-1]["query"].split("podFindAndDeploy")[0]


async def test_launch_is_on_demand_with_the_volume_at_workspace(runpod_api):
    launched = await client(runpod_api).launch(
        spec(gpu_count=2, network_volume_id=VOLUME["id"], data_center_id="EU-RO-1")
    )
    received = runpod_api.launched[0]
    assert received["volumeMountPath"] == "/workspace"
    assert received["networkVolumeId"] == VOLUME["id"]
    assert received["dataCenterId"] == "EU-RO-1"
    assert received["cloudType"] == "SECURE"
    assert received["gpuCount"] == 2
    assert received["imageName"] == "runpod/pytorch:2.4.0"
    assert received["ports"] == "8888/http,22/tcp"
    assert "podRentInterruptable" not in runpod_api.received[-1]["query"]
    assert launched["id"] == "newpod0001"
    assert launched["status"] == "starting"
    assert launched["interruptible"] is False
    assert launched["cost_per_hour"] == pytest.approx(2 * 0.76)
    assert launched["url"] == "https://newpod0001-8888.proxy.runpod.net"


async def test_gpu_types_volumes_and_pods(runpod_api):
    runpod_api.pods["abc123xyz"] = pod("abc123xyz")
    api = client(runpod_api)
    types = {t["id"]: t for t in await api.gpu_types()}
    a6000 = types["NVIDIA RTX A6000"]
    assert a6000["name"] == "RTX A6000"
    assert a6000["memory_gb"] == 48
    assert (a6000["secure_price"], a6000["community_price"]) == (0.76, 0.49)
    assert (a6000["secure_spot_price"], a6000["community_spot_price"]) == (0.39, 0.25)
    assert a6000["stock"] == "high"
    h100 = types["NVIDIA H100 80GB HBM3"]
    assert h100["secure_spot_price"] is None
    assert h100["community_cloud"] is False
    assert await api.volumes() == [
        {"id": "vol_abc123", "name": "notebooks", "size_gb": 100, "data_center": "EU-RO-1"}
    ]
    listed = await api.pods()
    assert listed["balance"] == 25.0
    [summary] = listed["pods"]
    assert summary["id"] == "abc123xyz"
    assert summary["status"] == "running"
    assert summary["interruptible"] is True
    assert summary["gpu"] == "RTX A6000"
    assert summary["cost_per_hour"] == 0.23


async def test_stop_and_terminate(runpod_api):
    api = client(runpod_api)
    launched = await api.launch(spec())
    assert (await api.stop(launched["id"]))["status"] == "stopped"
    assert runpod_api.pods[launched["id"]]["desiredStatus"] == "EXITED"
    assert (await api.terminate(launched["id"]))["status"] == "terminated"
    assert launched["id"] not in runpod_api.pods
    with pytest.raises(PodError) as raised:
        await api.terminate(launched["id"])
    assert raised.value.reason == "not-found"
    with pytest.raises(PodError) as raised:
        await api.stop('abc"}) { id }')
    assert raised.value.reason == "invalid"
    assert raised.value.status == 400


@pytest.mark.parametrize(
    ("said", "reason", "words"),
    [
        (
            "There are no longer any instances available with the requested specifications. "
            "Please refresh and try again.",
            "no-gpus",
            "no GPUs of that type free",
        ),
        ("Insufficient balance: you need at least $1.00", "balance", "balance is too low"),
        ("Something new went wrong", "runpod-error", "RunPod said: Something new went wrong"),
    ],
)
async def test_runpod_errors_in_words_a_user_understands(runpod_api, said, reason, words):
    runpod_api.launch_error = said
    with pytest.raises(PodError) as raised:
        await client(runpod_api).launch(spec())
    assert raised.value.reason == reason
    assert words in str(raised.value)
    assert runpod_api.api_key not in str(raised.value)


async def test_a_rejected_or_missing_key(runpod_api):
    with pytest.raises(PodError) as raised:
        await client(runpod_api, key="rp_wrong_key_000").gpu_types()
    assert raised.value.reason == "key-rejected"
    with pytest.raises(PodError) as raised:
        await client(runpod_api, key="").gpu_types()
    assert raised.value.reason == "no-key"
    assert "runpod.io/console/user/settings" in str(raised.value)
    assert runpod_api.received == []  # nothing was sent without a key


async def test_unreachable_api_is_reported_not_raised_raw(runpod_api, monkeypatch):
    from tests.fakes.server import closed_port_url

    monkeypatch.setenv("RUNPOD_API_BASE_URL", closed_port_url())
    with pytest.raises(PodError) as raised:
        await client(runpod_api).volumes()
    assert raised.value.reason == "unreachable"
    assert raised.value.status == 502
    runpod_api.delay = 3
    monkeypatch.setenv("RUNPOD_API_BASE_URL", runpod_api.base_url)
    with pytest.raises(PodError) as raised:
        await RunPodClient(runpod_api.api_key, timeout=0.3).volumes()
    assert "did not answer within 0.3 s" in str(raised.value)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": ""}, "name is required"),
        ({"gpu_type_id": None}, "gpu_type_id is required"),
        ({"gpu_count": "2"}, "gpu_count must be a whole number"),
        ({"gpu_count": 0}, "gpu_count must be a whole number"),
        ({"gpu_count": True}, "gpu_count must be a whole number"),
        ({"cloud_type": "SECURE) {"}, "cloud_type must be"),
        ({"image": "runpod/pytorch:1 --privileged"}, "image must be"),
        ({"ports": "8888/http; rm -rf"}, "ports must look like"),
        ({"network_volume_id": 'vol"}'}, "network_volume_id must be a RunPod id"),
        ({"env": {"BAD NAME": "x"}}, "env name"),
        ({"env": {"OK": 3}}, "env OK must be text"),
        ({"env": ["A=B"]}, "env must be an object"),
        ({"surprise": 1}, "Unknown field"),
        ({"name": "x" * 192}, "longer than 191"),
        ({"network_volume_id": "vol_1", "cloud_type": "COMMUNITY"}, "secure cloud"),
        ({"name": "\ud800"}, "surrogate"),
    ],
)
def test_launch_requests_are_checked(fields, message):
    with pytest.raises(SpecError, match=message):
        spec(**fields)


async def test_a_schema_without_the_optional_fields_costs_only_those(runpod_api):
    sdl = SCHEMA_SDL.replace("  clientBalance: Float\n", "").replace(
        "type LowestPrice { stockStatus: String }", "type LowestPrice { minimumBidPrice: Float }"
    )
    runpod_api.schema = graphql.build_schema(sdl)
    runpod_api.pods["abc123xyz"] = pod("abc123xyz")
    api = client(runpod_api)
    types = await api.gpu_types()
    assert [t["id"] for t in types] == ["NVIDIA RTX A6000", "NVIDIA H100 80GB HBM3"]
    assert all(t["stock"] is None for t in types)
    listed = await api.pods()
    assert listed["balance"] is None
    assert [p["id"] for p in listed["pods"]] == ["abc123xyz"]
    # other RunPod errors are not retried
    runpod_api.graphql_error = "Something else"
    runpod_api.received.clear()
    with pytest.raises(PodError):
        await api.gpu_types()
    assert len(runpod_api.received) == 1


def test_the_client_never_shows_its_key():
    shown = RunPodClient("rp_secret_key_0123456789", timeout=5)
    assert "rp_secret" not in repr(shown) and "rp_secret" not in str(shown)
    key = ApiKey("rp_secret_key_0123456789", "panel")
    assert "rp_secret" not in repr(key)
