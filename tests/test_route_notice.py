"""A spot instance on AWS seen through the server: the notice reaches the route at once."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.conftest import entered
from tests.fakes import aws_imds
from tests.fakes.aws_imds import FakeAws
from tests.fakes.server import closed_port_url, serve


@pytest.fixture
def aws(jp_asyncio_loop):
    fake = FakeAws(instance_type="p4d.24xlarge", life_cycle="spot", region="us-east-1")
    for url in entered(jp_asyncio_loop, serve(aws_imds.make_app(fake))):
        fake.base_url = url
        yield fake


@pytest.fixture
def jp_server_config(aws):
    closed = closed_port_url()
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_gpuguard": True}},
        "GpuGuard": {
            "aws_metadata_url": aws.base_url,
            "gcp_metadata_url": closed,
            "azure_metadata_url": closed,
            "notice_poll_interval": 0.1,
            "prices": {"aws:p4d.24xlarge": {"spot": 12.5}},
            "nvml": False,
        },
    }


async def get_instance(jp_fetch):
    return json.loads((await jp_fetch("gpuguard", "instance")).body)


async def test_spot_notice_appears_in_the_route(aws, jp_fetch):
    deadline = time.monotonic() + 5
    while (body := await get_instance(jp_fetch))["detecting"]:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert body["provider"] == "aws"
    assert body["instance_type"] == "p4d.24xlarge"
    assert body["interruptible"] is True
    assert body["price_per_hour"] == 12.5
    assert body["gpu_count"] == 8
    assert body["preemption_notice"] is None

    aws.interrupt(action="stop", time="2026-11-26T19:02:00Z")
    while (body := await get_instance(jp_fetch))["preemption_notice"] is None:
        assert time.monotonic() < deadline + 5, "the notice never reached the route"
        await asyncio.sleep(0.05)
    assert body["preemption_notice"]["deadline"] == "2026-11-26T19:02:00+00:00"
    assert "stop" in body["preemption_notice"]["source"]
