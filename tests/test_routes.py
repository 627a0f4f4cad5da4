from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest
from tornado.httpclient import AsyncHTTPClient

from tests.fakes.runpod_graphql import pod
from tests.fakes.server import closed_port_url
from tests.helpers.machines import SPOT

KEYS = {
    "provider",
    "instance_type",
    "gpu_name",
    "gpu_count",
    "gpu_memory_gb",
    "region",
    "interruptible",
    "price_per_hour",
    "on_demand_price_per_hour",
    "currency",
    "price_source",
    "uptime_seconds",
    "session_cost",
    "preemption_notice",
    "detail",
}


@pytest.fixture
def gpuguard_settings():
    return {}


@pytest.fixture
def jp_server_config(gpuguard_settings):
    unreachable = closed_port_url()
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_gpuguard": True}},
        "GpuGuard": {
            "aws_metadata_url": unreachable,
            "gcp_metadata_url": unreachable,
            "azure_metadata_url": unreachable,
            "nvml": False,
            **gpuguard_settings,
        },
    }


async def instance(jp_fetch, wait=True, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        response = await jp_fetch("gpuguard", "instance")
        assert response.code == 200
        body = json.loads(response.body)
        if not wait or not body["detecting"] or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("gpuguard_settings", [{"provider": "manual", "manual_instance": SPOT}])
async def test_manual_spot_instance(jp_fetch, gpuguard_settings):
    body = await instance(jp_fetch)
    assert set(body) >= KEYS
    assert body["provider"] == "manual"
    assert body["interruptible"] is True
    assert body["price_per_hour"] == 0.23
    assert body["on_demand_price_per_hour"] == 0.49
    assert body["gpu_name"] == "RTX A6000"
    assert body["currency"] == "USD"
    assert body["preemption_notice"] is None
    assert body["session_cost_basis"] == "since the Jupyter server started"
    assert body["uptime_seconds"] is None
    # the cost grows with time at the configured price
    first = body["session_cost"]
    await asyncio.sleep(0.3)
    second = (await instance(jp_fetch))["session_cost"]
    assert second > first
    assert second - first == pytest.approx(0.23 * 0.3 / 3600, rel=0.5)


async def test_laptop_is_reported_as_local_within_a_second(jp_fetch):
    started = time.monotonic()
    body = await instance(jp_fetch, timeout=3.0)
    assert time.monotonic() - started < 1.5
    assert body["detecting"] is False
    assert body["provider"] == "local"
    assert body["price_per_hour"] is None
    assert body["session_cost"] is None
    assert body["detail"] == "Local machine, no hourly price (no cloud metadata service answered)."


async def test_requests_without_a_token_are_refused(jp_fetch, jp_base_url, jp_http_port):
    await jp_fetch("gpuguard", "instance")
    client = AsyncHTTPClient()
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}gpuguard/instance"
    for headers in ({}, {"Authorization": "token wrong"}):
        response = await client.fetch(url, headers=headers, raise_error=False)
        assert response.code == 403, headers
        assert b"price_per_hour" not in (response.body or b"")


@pytest.fixture
def runpod_key(runpod_api):
    return runpod_api.api_key


@pytest.fixture
def on_runpod_pod(runpod_api, runpod_key, monkeypatch):
    """Environment of a RunPod pod, set before the server starts detecting."""
    monkeypatch.setenv("RUNPOD_POD_ID", "abc123xyz")
    monkeypatch.setenv("RUNPOD_API_KEY", runpod_key)
    runpod_api.pods["abc123xyz"] = pod("abc123xyz")
    return runpod_api


async def test_runpod_spot_pod_through_the_route(on_runpod_pod, jp_fetch):
    body = await instance(jp_fetch, timeout=10)
    assert body["provider"] == "runpod"
    assert body["interruptible"] is True
    assert body["price_per_hour"] == 0.23
    assert body["on_demand_price_per_hour"] == 0.49
    assert body["session_cost_basis"] == "since the pod started (RunPod uptime)"
    assert body["session_cost"] == pytest.approx(0.23 * 2, rel=0.01)
    assert on_runpod_pod.api_key not in json.dumps(body)


@pytest.mark.parametrize("runpod_key", ["rp_rejected_secret_42"])
async def test_rejected_runpod_key_never_reaches_the_browser_or_the_log(
    on_runpod_pod, runpod_key, jp_fetch, caplog
):
    caplog.set_level(logging.DEBUG)
    body = await instance(jp_fetch, timeout=10)
    assert body["provider"] == "runpod"
    assert body["interruptible"] is None
    assert "rejected the API key" in body["detail"]
    assert runpod_key not in json.dumps(body)
    assert "rejected the API key" in caplog.text
    assert runpod_key not in caplog.text
