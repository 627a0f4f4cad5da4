"""The detection chain against loopback servers that speak each cloud's protocol."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone

from jupyter_gpuguard.config import GpuGuard
from jupyter_gpuguard.instance.detector import InstanceDetector
from jupyter_gpuguard.instance.prices import lookup
from tests.fakes.aws_imds import FakeAws
from tests.fakes.azure_imds import FakeAzure
from tests.fakes.gcp_metadata import FakeGcp
from tests.fakes.server import closed_port_url
from tests.test_cloud_metadata import served


def settings(**overrides) -> GpuGuard:
    closed = closed_port_url()
    values = {
        "aws_metadata_url": closed,
        "gcp_metadata_url": closed,
        "azure_metadata_url": closed,
        "nvml": False,
        "notice_poll_interval": 0.05,
        **overrides,
    }
    return GpuGuard(**values)


async def detected(config: GpuGuard) -> dict:
    """One detection with ``config``: the answer the instance route would give."""
    detector = InstanceDetector(config)
    try:
        await detector.refresh()
        return detector.current()
    finally:
        await detector.stop()


async def wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_aws_spot_without_a_published_spot_price():
    async with served(FakeAws(instance_type="g5.xlarge", life_cycle="spot")) as aws:
        info = await detected(settings(aws_metadata_url=aws.base_url))
    row = lookup("aws", "g5.xlarge", "us-east-1")
    assert row is not None
    assert info["provider"] == "aws"
    assert info["interruptible"] is True
    assert info["instance_type"] == "g5.xlarge"
    assert info["gpu_name"] == row.gpu_name == "NVIDIA A10G"
    assert info["on_demand_price_per_hour"] == row.on_demand
    assert info["price_per_hour"] is None
    assert info["session_cost"] is None
    assert "c.GpuGuard.prices" in info["detail"]


async def test_price_override_gives_the_spot_price_and_a_ticking_cost():
    async with served(FakeAws(instance_type="g5.xlarge", life_cycle="spot")) as aws:
        config = settings(aws_metadata_url=aws.base_url, prices={"aws:g5.xlarge": {"spot": 0.45}})
        info = await detected(config)
    assert info["price_per_hour"] == 0.45
    assert info["session_cost_basis"] == "since the instance booted (system uptime)"
    assert info["session_cost"] == round(0.45 * info["uptime_seconds"] / 3600, 6)


async def test_gcp_spot_uses_the_published_spot_price():
    fake = FakeGcp(machine_type="a2-highgpu-1g", provisioning_model="SPOT")
    async with served(fake) as gcp:
        info = await detected(settings(gcp_metadata_url=gcp.base_url))
    row = lookup("gcp", "a2-highgpu-1g", "us-central1-a")
    assert row is not None and row.spot is not None
    assert info["provider"] == "gcp"
    assert info["interruptible"] is True
    assert info["price_per_hour"] == row.spot
    assert info["on_demand_price_per_hour"] == row.on_demand
    assert info["gpu_count"] == 1


async def test_azure_on_demand_price():
    async with served(FakeAzure(vm_size="Standard_NC24ads_A100_v4")) as azure:
        info = await detected(settings(azure_metadata_url=azure.base_url))
    row = lookup("azure", "Standard_NC24ads_A100_v4", "eastus")
    assert row is not None
    assert info["provider"] == "azure"
    assert info["interruptible"] is False
    assert info["price_per_hour"] == row.on_demand
    assert info["preemption_notice"] is None


async def test_aws_notice_reaches_the_answer_and_the_listeners():
    async with served(FakeAws(instance_type="g5.xlarge", life_cycle="spot")) as aws:
        detector = InstanceDetector(settings(aws_metadata_url=aws.base_url))
        heard = []
        detector.add_notice_listener(heard.append)
        detector.start()
        try:
            await detector.wait_detected(5)
            assert detector.current()["preemption_notice"] is None
            aws.interrupt(time="2026-11-26T19:02:00Z")
            await wait_for(lambda: heard)
            notice = detector.current()["preemption_notice"]
        finally:
            await detector.stop()
    assert notice["deadline"] == "2026-11-26T19:02:00+00:00"
    assert "AWS" in notice["source"]
    assert heard[0].deadline == notice["deadline"]


async def test_gcp_preemption_notice_gives_thirty_seconds():
    fake = FakeGcp(machine_type="g2-standard-8", preemptible=True)
    async with served(fake) as gcp:
        detector = InstanceDetector(settings(gcp_metadata_url=gcp.base_url))
        detector.start()
        try:
            await detector.wait_detected(5)
            gcp.preempt()
            await wait_for(lambda: detector.current()["preemption_notice"] is not None)
            notice = detector.current()["preemption_notice"]
        finally:
            await detector.stop()
    left = datetime.fromisoformat(notice["deadline"]) - datetime.now(timezone.utc)
    assert 20 < left.total_seconds() <= 31


async def test_azure_preempt_event_is_a_notice():
    async with served(FakeAzure(priority="Spot")) as azure:
        detector = InstanceDetector(settings(azure_metadata_url=azure.base_url))
        detector.start()
        try:
            await detector.wait_detected(5)
            azure.schedule("Preempt", not_before="Thu, 26 Nov 2026 19:02:00 GMT")
            await wait_for(lambda: detector.current()["preemption_notice"] is not None)
            notice = detector.current()["preemption_notice"]
        finally:
            await detector.stop()
    assert notice["deadline"] == "2026-11-26T19:02:00+00:00"


async def test_on_demand_instances_are_not_watched():
    async with served(FakeAws(instance_type="g5.xlarge", life_cycle="on-demand")) as aws:
        detector = InstanceDetector(settings(aws_metadata_url=aws.base_url))
        detector.start()
        try:
            await detector.wait_detected(5)
            await asyncio.sleep(0.3)
        finally:
            await detector.stop()
    assert not any("instance-action" in path for _method, path in aws.requests)


async def test_nothing_answers_means_local_within_the_deadline():
    detector = InstanceDetector(settings(detect_timeout=0.5))
    started = time.monotonic()
    await detector.refresh()
    assert time.monotonic() - started < 1.0
    info = detector.current()
    assert info["provider"] == "local"
    assert info["price_per_hour"] is None
    assert info["interruptible"] is False


async def test_named_cloud_that_does_not_answer_says_so():
    detector = InstanceDetector(settings(provider="aws", detect_timeout=0.3))
    await detector.refresh()
    info = detector.current()
    assert info["provider"] == "aws"
    assert info["interruptible"] is None
    assert "did not answer" in info["detail"]


async def test_bad_price_override_makes_the_price_unknown_with_the_reason():
    async with served(FakeAws(instance_type="g5.xlarge", life_cycle="on-demand")) as aws:
        config = settings(aws_metadata_url=aws.base_url, prices={"aws:g5.xlarge": {"spot": "x"}})
        info = await detected(config)
    assert info["price_per_hour"] is None
    assert "aws:g5.xlarge" in info["detail"]
