from __future__ import annotations

import time
from pathlib import Path

import pytest

from jupyter_gpuguard.instance import runpod
from jupyter_gpuguard.pods.key import resolve_api_key
from tests.fakes.runpod_graphql import pod

POD_ID = "abc123xyz"


async def detect(fake, key=None, timeout=3.0):
    return await runpod.detect(POD_ID, fake.api_key if key is None else key, timeout)


async def test_spot_pod_reports_price_saving_and_gpu(runpod_api):
    runpod_api.pods[POD_ID] = pod(POD_ID)
    info = await detect(runpod_api)
    assert info.provider == "runpod"
    assert info.interruptible is True
    assert info.price_per_hour == 0.23
    # the cheaper of RunPod's two on-demand prices for the A6000
    assert info.on_demand_price_per_hour == 0.49
    assert info.gpu_name == "RTX A6000"
    assert info.gpu_count == 1
    assert info.gpu_memory_gb == 48
    assert info.uptime_seconds == 7200
    assert info.instance_type == "training-pod"
    assert info.detail == f"RunPod spot pod {POD_ID}."
    query = runpod_api.received[0]["query"]
    assert f'podId: "{POD_ID}"' in query


async def test_on_demand_price_scales_with_gpu_count(runpod_api):
    runpod_api.pods[POD_ID] = pod(POD_ID, podType="BID", gpuCount=4, costPerHr=1.2)
    info = await detect(runpod_api)
    assert info.interruptible is True
    assert info.on_demand_price_per_hour == pytest.approx(4 * 0.49)


async def test_reserved_pod_is_on_demand(runpod_api):
    runpod_api.pods[POD_ID] = pod(POD_ID, podType="RESERVED", costPerHr=0.49)
    info = await detect(runpod_api)
    assert info.interruptible is False
    assert info.price_per_hour == 0.49
    assert info.on_demand_price_per_hour == 0.49
    assert "on-demand" in info.detail


async def test_zero_cost_and_uptime_are_unknown_not_zero(runpod_api):
    runpod_api.pods[POD_ID] = pod(POD_ID, costPerHr=0, uptimeSeconds=0)
    info = await detect(runpod_api)
    assert info.price_per_hour is None
    assert info.uptime_seconds is None
    assert "costPerHr was 0" in info.detail


async def test_unknown_pod_type_is_unknown(runpod_api):
    runpod_api.pods[POD_ID] = pod(POD_ID, podType="SOMETHING_NEW", machine=None)
    info = await detect(runpod_api)
    assert info.interruptible is None
    assert info.gpu_name is None
    assert "whether it is spot" in info.detail


async def test_missing_pod(runpod_api):
    info = await detect(runpod_api)
    assert info.price_per_hour is None
    assert "knows no pod" in info.detail


async def test_wrong_key_is_reported_without_the_key(runpod_api):
    runpod_api.pods[POD_ID] = pod(POD_ID)
    wrong = "rp_wrong_secret_987654"
    info = await detect(runpod_api, key=wrong)
    assert info.interruptible is None
    assert "rejected the API key" in info.detail
    assert wrong not in str(info.to_json())


async def test_no_key_says_how_to_set_one(runpod_api):
    info = await runpod.detect(POD_ID, "", 1.0)
    assert "RUNPOD_API_KEY" in info.detail
    assert runpod_api.received == []


async def test_slow_api_gives_up_in_time(runpod_api):
    runpod_api.pods[POD_ID] = pod(POD_ID)
    runpod_api.delay = 3
    started = time.monotonic()
    info = await detect(runpod_api, timeout=0.5)
    assert time.monotonic() - started < 1.5
    assert "did not answer within 0.5 s" in info.detail
    assert info.price_per_hour is None


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ({"http_status": 500}, "not JSON"),
        ({"raw_body": b"<html>oops</html>"}, "not JSON"),
        ({"graphql_error": "Something went wrong"}, "RunPod API error: Something went wrong"),
        ({"raw_body": b'{"data": {"pod": "not an object"}}'}, "knows no pod"),
        ({"raw_body": b'{"data": null}'}, "without data"),
    ],
)
async def test_bad_answers_become_unknown(runpod_api, setup, expected):
    runpod_api.pods[POD_ID] = pod(POD_ID)
    for name, value in setup.items():
        setattr(runpod_api, name, value)
    info = await detect(runpod_api)
    assert info.price_per_hour is None
    assert info.interruptible is None
    assert expected in info.detail


async def test_unreachable_api(monkeypatch):
    from tests.fakes.server import closed_port_url

    monkeypatch.setenv("RUNPOD_API_BASE_URL", closed_port_url())
    info = await runpod.detect(POD_ID, "rp_key_abcdef", 2.0)
    assert "unreachable" in info.detail
    assert "rp_key_abcdef" not in info.detail


def test_pod_id_is_validated_before_it_reaches_a_query():
    with pytest.raises(runpod.RunPodError, match="not a valid pod id"):
        runpod.pod_query('x"}) { id } mutation {')


async def test_invalid_pod_id_env_is_reported(runpod_api):
    info = await runpod.detect('bad"id', runpod_api.api_key, 1.0)
    assert "not a valid pod id" in info.detail
    assert runpod_api.received == []


def test_key_resolution_order(monkeypatch, tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text('[default]\napi_key = "from-file"\n')
    assert resolve_api_key("", config) == "from-file"
    monkeypatch.setenv("RUNPOD_API_KEY", "from-env")
    assert resolve_api_key("", config) == "from-env"
    assert resolve_api_key("from-setting", config) == "from-setting"
    monkeypatch.delenv("RUNPOD_API_KEY")
    config.write_text("not [valid toml")
    assert resolve_api_key("", config) == ""
    assert resolve_api_key("", tmp_path / "missing.toml") == ""
