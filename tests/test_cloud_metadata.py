"""AWS, Google Cloud and Azure metadata clients against faithful fakes on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import pytest
import tornado.web

from jupyter_gpuguard.instance.aws import AwsMetadata
from jupyter_gpuguard.instance.azure import AzureMetadata
from jupyter_gpuguard.instance.cloud import MetadataClient
from jupyter_gpuguard.instance.gcp import GcpMetadata
from jupyter_gpuguard.instance.http import fetch
from jupyter_gpuguard.instance.model import InstanceInfo, PreemptionNotice
from tests.fakes import aws_imds, azure_imds, gcp_metadata
from tests.fakes.aws_imds import FakeAws
from tests.fakes.azure_imds import FakeAzure
from tests.fakes.gcp_metadata import FakeGcp
from tests.fakes.server import (
    closed_port_url,
    http_error,
    make_plain_app,
    malformed,
    missing,
    serve,
    slow,
)

T = 0.3
"""Per-request timeout the clients get in these tests."""
BOUND = 2 * T + 0.3
"""The longest detect() may take when one answer is slow: two round trips, some slack."""
POLL = 0.05

R = TypeVar("R")
F = TypeVar("F", FakeAws, FakeGcp, FakeAzure)


async def timed(awaitable: Awaitable[R]) -> tuple[R, float]:
    started = time.monotonic()
    result = await awaitable
    return result, time.monotonic() - started


async def not_done_after(task: asyncio.Task[Any], seconds: float) -> None:
    await asyncio.sleep(seconds)
    assert not task.done(), task


def assert_about_30s_from_now(deadline: str | None) -> None:
    assert deadline is not None
    moment = datetime.fromisoformat(deadline)
    assert moment.utcoffset() == timedelta(0)
    expected = datetime.now(timezone.utc) + timedelta(seconds=30)
    assert abs((moment - expected).total_seconds()) < 3


CLIENTS: dict[type[Any], type[MetadataClient]] = {
    FakeAws: AwsMetadata,
    FakeGcp: GcpMetadata,
    FakeAzure: AzureMetadata,
}
"""The client of the cloud each fake plays."""


@asynccontextmanager
async def served(fake: F) -> AsyncIterator[F]:
    """Serve a fake on 127.0.0.1 for the length of the block; sets its base_url."""
    make_app: Callable[[Any], tornado.web.Application] = {
        FakeAws: aws_imds.make_app,
        FakeGcp: gcp_metadata.make_app,
        FakeAzure: azure_imds.make_app,
    }[type(fake)]
    async with serve(make_app(fake)) as url:
        fake.base_url = url
        yield fake


async def detected(fake: FakeAws | FakeGcp | FakeAzure) -> InstanceInfo | None:
    """What the fake's cloud client detects against it; fails if that takes BOUND or longer."""
    async with served(fake):
        info, seconds = await timed(CLIENTS[type(fake)](fake.base_url, timeout=T).detect())
    assert seconds < BOUND
    return info


# ---- every cloud ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fake", "expected"),
    [
        pytest.param(
            FakeAws(failures={"/latest/meta-data/instance-life-cycle": http_error(500)}),
            InstanceInfo(
                provider="aws",
                instance_type="p4d.24xlarge",
                region="us-east-1",
                interruptible=None,
                detail="AWS instance p4d.24xlarge in us-east-1. AWS metadata did not say whether "
                "this is a spot instance (instance-life-cycle answered HTTP 500).",
            ),
            id="aws-life-cycle-500",
        ),
        pytest.param(
            FakeAws(failures={"/latest/meta-data/placement/region": slow(5)}),
            InstanceInfo(
                provider="aws",
                instance_type="p4d.24xlarge",
                region=None,
                interruptible=False,
                detail="AWS on-demand instance p4d.24xlarge. AWS metadata did not say the region "
                "(placement/region did not answer within 0.3 s).",
            ),
            id="aws-slow-region",
        ),
        pytest.param(
            FakeAws(
                failures={
                    "/latest/meta-data/instance-type": malformed(),
                    "/latest/meta-data/instance-life-cycle": missing(),
                }
            ),
            InstanceInfo(
                provider="aws",
                region="us-east-1",
                detail="AWS instance in us-east-1. "
                "AWS metadata did not say the instance type (instance-type answered with an "
                "unreadable value). "
                "AWS metadata did not say whether this is a spot instance (instance-life-cycle "
                "answered HTTP 404).",
            ),
            id="aws-malformed-type-missing-life-cycle",
        ),
        pytest.param(
            FakeGcp(failures={"instance/scheduling/preemptible": http_error(500)}),
            InstanceInfo(
                provider="gcp",
                instance_type="a2-highgpu-1g",
                region="us-central1-a",
                interruptible=None,
                detail="Google Cloud VM a2-highgpu-1g in us-central1-a. Google Cloud metadata did "
                "not say whether this is a preemptible VM (instance/scheduling/preemptible "
                "answered HTTP 500).",
            ),
            id="gcp-preemptible-500",
        ),
        pytest.param(  # one clear answer is enough
            FakeGcp(
                provisioning_model="SPOT",
                failures={"instance/scheduling/preemptible": http_error(500)},
            ),
            InstanceInfo(
                provider="gcp",
                instance_type="a2-highgpu-1g",
                region="us-central1-a",
                interruptible=True,
                detail="Google Cloud Spot VM a2-highgpu-1g in us-central1-a.",
            ),
            id="gcp-preemptible-500-but-spot",
        ),
        pytest.param(
            FakeGcp(failures={"instance/machine-type": slow(5)}),
            InstanceInfo(
                provider="gcp",
                region="us-central1-a",
                interruptible=False,
                detail="Google Cloud standard VM in us-central1-a. Google Cloud metadata did not "
                "say the machine type (instance/machine-type did not answer within 0.3 s).",
            ),
            id="gcp-slow-machine-type",
        ),
        pytest.param(
            FakeGcp(
                failures={
                    "instance/zone": malformed(),
                    "instance/scheduling/provisioning-model": missing(),
                }
            ),
            InstanceInfo(
                provider="gcp",
                instance_type="a2-highgpu-1g",
                detail="Google Cloud VM a2-highgpu-1g. "
                "Google Cloud metadata did not say the zone (instance/zone answered with an "
                "unreadable value). "
                "Google Cloud metadata did not say whether this is a Spot VM "
                "(instance/scheduling/provisioning-model answered HTTP 404).",
            ),
            id="gcp-malformed-zone-missing-provisioning-model",
        ),
        pytest.param(
            FakeAzure(missing_fields={"priority", "vmSize"}),
            InstanceInfo(
                provider="azure",
                region="eastus",
                detail="Azure VM in eastus. "
                "Azure metadata did not say the VM size (compute.vmSize is missing). "
                "Azure metadata did not say whether this is a Spot VM "
                "(compute.priority is missing).",
            ),
            id="azure-missing-fields",
        ),
    ],
)
async def test_detect_says_what_it_could_not_read(fake, expected):
    assert await detected(fake) == expected


@pytest.mark.parametrize(
    ("client", "other_clouds"),
    [
        (AwsMetadata, (FakeGcp, FakeAzure)),
        (GcpMetadata, (FakeAws, FakeAzure)),
        (AzureMetadata, (FakeAws, FakeGcp)),
    ],
    ids=["aws", "gcp", "azure"],
)
async def test_detect_against_other_clouds_and_nothing(client, other_clouds):
    first, second = (fake_class() for fake_class in other_clouds)
    async with served(first), served(second), serve(make_plain_app()) as plain:
        for url in (first.base_url, second.base_url, plain):
            assert await client(url, timeout=T).detect() is None, url
        info, seconds = await timed(client(closed_port_url(), timeout=T).detect())
        assert info is None
        assert seconds < T


# ---- AWS ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("life_cycle", "interruptible"),
    [("on-demand", False), ("spot", True), ("scheduled", False)],
)
async def test_aws_detects_instance(life_cycle, interruptible):
    fake = FakeAws(life_cycle=life_cycle, instance_type="g5.xlarge", region="eu-west-1")
    assert await detected(fake) == InstanceInfo(
        provider="aws",
        instance_type="g5.xlarge",
        region="eu-west-1",
        interruptible=interruptible,
        detail=f"AWS {life_cycle} instance g5.xlarge in eu-west-1.",
    )


async def test_aws_fake_speaks_imdsv2():
    async with served(FakeAws()) as aws:
        token_url = aws.base_url + "/latest/api/token"
        assert (await fetch(token_url, method="PUT")).status == 400
        assert (await fetch(aws.base_url + "/latest/meta-data/instance-type")).status == 401
        answer = await fetch(
            token_url, method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}
        )
        assert answer.status == 200
        assert answer.header("X-aws-ec2-metadata-token-ttl-seconds") == "60"
        read = await fetch(
            aws.base_url + "/latest/meta-data/instance-type",
            headers={"X-aws-ec2-metadata-token": answer.text},
        )
        assert (read.status, read.text) == (200, "p4d.24xlarge")
        wrong = await fetch(
            aws.base_url + "/latest/meta-data/instance-type",
            headers={"X-aws-ec2-metadata-token": "AQAEAnot-a-token-at-all"},
        )
        assert wrong.status == 401


async def test_aws_reuses_token_and_renews_it_after_expiry():
    async with served(FakeAws()) as aws:
        meta = AwsMetadata(aws.base_url, timeout=T)
        await meta.detect()
        await meta.detect()
        assert aws.tokens_issued == 1
        assert [m for m, _ in aws.requests].count("PUT") == 1

        aws.expire_tokens()
        info = await meta.detect()
        assert info is not None
        assert (info.instance_type, info.interruptible) == ("p4d.24xlarge", False)
        assert aws.tokens_issued == 2  # three GETs met 401 at once; one new token serves them all

        aws.expire_tokens()
        aws.interrupt("terminate", "2026-11-26T19:02:00Z")
        notice = await meta.check_notice()
        assert notice == PreemptionNotice(
            "2026-11-26T19:02:00+00:00", "AWS spot interruption notice (terminate)"
        )
        assert aws.tokens_issued == 3


async def test_aws_failing_token_means_not_aws():
    async with served(FakeAws()) as aws:
        aws.failures["/latest/api/token"] = http_error(403)
        assert await AwsMetadata(aws.base_url, timeout=T).detect() is None
        assert ("GET", "/latest/meta-data/instance-type") not in aws.requests


async def test_aws_token_lost_in_a_container_falls_back_to_imdsv1():
    """The token's answer never arrives (hop limit 1 in a container); plain GETs do."""
    async with served(FakeAws(life_cycle="spot", imdsv1=True)) as aws:
        aws.failures["/latest/api/token"] = slow(5)
        meta = AwsMetadata(aws.base_url, timeout=T)
        info, seconds = await timed(meta.detect())
        assert seconds < 2 * BOUND
        assert info is not None
        assert (info.provider, info.instance_type, info.interruptible) == (
            "aws",
            "p4d.24xlarge",
            True,
        )
        aws.interrupt("stop", "2026-11-26T19:02:00Z")
        notice = await meta.check_notice()
        assert notice == PreemptionNotice(
            "2026-11-26T19:02:00+00:00", "AWS spot interruption notice (stop)"
        )
        assert [m for m, _ in aws.requests].count("PUT") == 1  # no token asked for again


async def test_aws_token_lost_and_imdsv2_required_says_how_to_fix_it():
    async with served(FakeAws()) as aws:
        aws.failures["/latest/api/token"] = slow(5)
        info, seconds = await timed(AwsMetadata(aws.base_url, timeout=T).detect())
        assert seconds < 2 * BOUND
        assert info is not None
        assert info.provider == "aws"
        assert info.interruptible is None
        assert "--http-put-response-hop-limit 2" in info.detail


async def test_a_service_that_swallows_the_token_request_is_not_aws():
    seen: list[str] = []

    class Silent(tornado.web.RequestHandler):
        async def put(self, _path: str) -> None:
            await asyncio.sleep(5)

        def get(self, path: str) -> None:
            seen.append(path)
            self.set_status(404)
            self.finish("not here")

        def check_xsrf_cookie(self) -> None:
            return None

    async with serve(tornado.web.Application([(r"/(.*)", Silent)])) as url:
        assert await AwsMetadata(url, timeout=T).detect() is None
    assert seen == ["latest/meta-data/instance-type"]


async def test_aws_notices():
    async with served(FakeAws()) as aws:
        meta = AwsMetadata(aws.base_url, timeout=T)
        assert await meta.check_notice() is None

        aws.failures["/latest/meta-data/spot/instance-action"] = http_error(500)
        assert await meta.check_notice() is None

        aws.failures["/latest/meta-data/spot/instance-action"] = malformed(b"{oops")
        assert await meta.check_notice() == PreemptionNotice(
            None, "AWS spot interruption notice (details could not be read)"
        )

        del aws.failures["/latest/meta-data/spot/instance-action"]
        aws.interrupt("hibernate", "soon")
        assert await meta.check_notice() == PreemptionNotice(
            None, "AWS spot interruption notice (hibernate; time could not be read)"
        )
        aws.interrupt("stop", "2026-11-26T19:02:00.000Z")
        assert await meta.check_notice() == PreemptionNotice(
            "2026-11-26T19:02:00+00:00", "AWS spot interruption notice (stop)"
        )


async def test_aws_wait_notice_sees_interruption():
    async with served(FakeAws()) as aws:
        meta = AwsMetadata(aws.base_url, timeout=T)
        task = asyncio.ensure_future(meta.wait_notice(POLL))
        await not_done_after(task, 0.3)
        polls = aws.requests.count(("GET", "/latest/meta-data/spot/instance-action"))
        assert polls >= 3
        aws.interrupt("terminate", "2026-11-26T19:04:00Z")
        notice = await asyncio.wait_for(task, 1)
        assert notice == PreemptionNotice(
            "2026-11-26T19:04:00+00:00", "AWS spot interruption notice (terminate)"
        )


async def test_aws_wait_notice_retries_errors_and_can_be_cancelled():
    async with served(FakeAws()) as aws:
        aws.failures["/latest/meta-data/spot/instance-action"] = http_error(500)
        meta = AwsMetadata(aws.base_url, timeout=T)
        task = asyncio.ensure_future(meta.wait_notice(POLL))
        await not_done_after(task, 0.4)
        assert aws.requests.count(("GET", "/latest/meta-data/spot/instance-action")) >= 2
        del aws.failures["/latest/meta-data/spot/instance-action"]
        aws.interrupt()
        assert (await asyncio.wait_for(task, 2)).deadline == "2026-11-26T19:02:00+00:00"

        waiting = asyncio.ensure_future(AwsMetadata(closed_port_url(), timeout=T).wait_notice(POLL))
        await not_done_after(waiting, 0.2)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting


# ---- Google Cloud --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("preemptible", "model", "interruptible", "kind"),
    [
        (False, "STANDARD", False, "standard VM"),
        (False, "SPOT", True, "Spot VM"),
        (True, "STANDARD", True, "preemptible VM"),
    ],
)
async def test_gcp_detects_vm(preemptible, model, interruptible, kind):
    fake = FakeGcp(
        preemptible=preemptible,
        provisioning_model=model,
        machine_type="g2-standard-8",
        zone="europe-west4-b",
    )
    assert await detected(fake) == InstanceInfo(
        provider="gcp",
        instance_type="g2-standard-8",
        region="europe-west4-b",
        interruptible=interruptible,
        detail=f"Google Cloud {kind} g2-standard-8 in europe-west4-b.",
    )


async def test_gcp_fake_requires_flavor_header():
    async with served(FakeGcp()) as gcp:
        url = gcp.base_url + "/computeMetadata/v1/instance/zone"
        refused = await fetch(url)
        assert refused.status == 403
        answer = await fetch(url, headers={"Metadata-Flavor": "Google"})
        assert (answer.status, answer.text) == (200, "projects/123456789012/zones/us-central1-a")
        assert answer.header("Metadata-Flavor") == "Google"


async def test_gcp_notices():
    async with served(FakeGcp()) as gcp:
        meta = GcpMetadata(gcp.base_url, timeout=T)
        assert await meta.check_notice() is None
        gcp.failures["instance/preempted"] = http_error(500)
        assert await meta.check_notice() is None
        gcp.failures["instance/preempted"] = malformed()
        assert await meta.check_notice() is None
        del gcp.failures["instance/preempted"]
        gcp.preempt()
        notice = await meta.check_notice()
        assert notice is not None
        assert notice.source == "Google Cloud preemption notice"
        assert_about_30s_from_now(notice.deadline)


async def test_gcp_wait_notice_long_polls():
    async with served(FakeGcp()) as gcp:
        meta = GcpMetadata(gcp.base_url, timeout=T)
        task = asyncio.ensure_future(meta.wait_notice(POLL))
        await not_done_after(task, 0.5)  # longer than the request timeout: a long poll waits
        polls = [uri for uri in gcp.requests if "/instance/preempted" in uri]
        assert polls == [
            "/computeMetadata/v1/instance/preempted",
            "/computeMetadata/v1/instance/preempted?wait_for_change=true&timeout_sec=60"
            f"&last_etag={gcp_metadata.etag('FALSE')}",
        ]
        gcp.preempt()
        notice, seconds = await timed(asyncio.wait_for(task, 1))
        assert seconds < 0.5
        assert notice.source == "Google Cloud preemption notice"
        assert_about_30s_from_now(notice.deadline)


async def test_gcp_wait_notice_renews_long_polls():
    async with served(FakeGcp()) as gcp:
        meta = GcpMetadata(gcp.base_url, timeout=T)
        meta.long_poll_seconds = 1
        task = asyncio.ensure_future(meta.wait_notice(POLL))
        await not_done_after(task, 1.3)
        long_polls = [uri for uri in gcp.requests if "wait_for_change=true" in uri]
        assert long_polls == 2 * [
            "/computeMetadata/v1/instance/preempted?wait_for_change=true&timeout_sec=1"
            f"&last_etag={gcp_metadata.etag('FALSE')}"
        ]
        gcp.preempt()
        notice, seconds = await timed(asyncio.wait_for(task, 1))
        assert seconds < 0.5
        assert notice.source == "Google Cloud preemption notice"


async def test_gcp_wait_notice_retries_errors():
    async with served(FakeGcp()) as gcp:
        gcp.failures["instance/preempted"] = http_error(503)
        meta = GcpMetadata(gcp.base_url, timeout=T)
        task = asyncio.ensure_future(meta.wait_notice(POLL))
        await not_done_after(task, 0.4)
        assert len([uri for uri in gcp.requests if "/instance/preempted" in uri]) >= 3
        del gcp.failures["instance/preempted"]
        gcp.preempt()
        notice = await asyncio.wait_for(task, 2)
        assert notice.source == "Google Cloud preemption notice"
        assert_about_30s_from_now(notice.deadline)


# ---- Azure ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("priority", "interruptible", "kind"),
    [("Regular", False, "regular VM"), ("Spot", True, "Spot VM"), ("Low", True, "Spot VM")],
)
async def test_azure_detects_vm(priority, interruptible, kind):
    fake = FakeAzure(priority=priority, location="westeurope")
    assert await detected(fake) == InstanceInfo(
        provider="azure",
        instance_type="Standard_NC24ads_A100_v4",
        region="westeurope",
        interruptible=interruptible,
        detail=f"Azure {kind} Standard_NC24ads_A100_v4 in westeurope.",
    )


async def test_azure_fake_requires_metadata_header():
    async with served(FakeAzure()) as azure:
        url = azure.base_url + "/metadata/instance"
        versioned = url + "?api-version=2021-02-01"
        assert (await fetch(versioned)).status == 400
        assert (await fetch(url, headers={"Metadata": "true"})).status == 400
        answer = await fetch(versioned, headers={"Metadata": "true"})
        assert answer.status == 200
        assert json.loads(answer.body)["compute"]["vmSize"] == "Standard_NC24ads_A100_v4"


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (http_error(500), "answered HTTP 500"),
        (slow(5), "did not answer within 0.3 s"),
        (malformed(), "answered with something that is not JSON"),
    ],
)
async def test_azure_instance_metadata_fails(failure, reason):
    assert await detected(FakeAzure(failures={"/metadata/instance": failure})) == InstanceInfo(
        provider="azure",
        detail=f"Azure VM. Azure metadata did not describe this VM (metadata/instance {reason}).",
    )


async def test_azure_notices():
    async with served(FakeAzure()) as azure:
        meta = AzureMetadata(azure.base_url, timeout=T)
        assert await meta.check_notice() is None
        azure.schedule("Reboot", "Mon, 19 Sep 2016 18:29:47 GMT")
        azure.schedule("Freeze", "Mon, 19 Sep 2016 18:29:47 GMT")
        assert await meta.check_notice() is None

        azure.failures["/metadata/scheduledevents"] = http_error(500)
        assert await meta.check_notice() is None
        azure.failures["/metadata/scheduledevents"] = malformed()
        assert await meta.check_notice() is None
        del azure.failures["/metadata/scheduledevents"]

        azure.schedule("Terminate", "Tue, 20 Sep 2016 08:00:00 GMT")
        assert await meta.check_notice() == PreemptionNotice(
            "2016-09-20T08:00:00+00:00", "Azure scheduled termination notice (Terminate)"
        )
        azure.schedule("Preempt", "Mon, 19 Sep 2016 18:29:47 GMT")
        assert await meta.check_notice() == PreemptionNotice(
            "2016-09-19T18:29:47+00:00", "Azure Spot eviction notice (Preempt)"
        )
        azure.events.clear()
        azure.schedule("Preempt", "")
        assert await meta.check_notice() == PreemptionNotice(
            None, "Azure Spot eviction notice (Preempt)"
        )


async def test_azure_ignores_events_for_other_vms_once_it_knows_its_name():
    async with served(FakeAzure()) as azure:
        azure.schedule("Preempt", "Mon, 19 Sep 2016 18:29:47 GMT", resources=["other-vm"])
        meta = AzureMetadata(azure.base_url, timeout=T)
        await meta.detect()
        assert await meta.check_notice() is None
        azure.schedule("Preempt", "Mon, 19 Sep 2016 18:35:00 GMT", resources=["GPU-VM-1"])
        assert await meta.check_notice() == PreemptionNotice(
            "2016-09-19T18:35:00+00:00", "Azure Spot eviction notice (Preempt)"
        )


async def test_azure_wait_notice_sees_eviction_after_errors():
    async with served(FakeAzure()) as azure:
        azure.failures["/metadata/scheduledevents"] = slow(5)
        meta = AzureMetadata(azure.base_url, timeout=T)
        task = asyncio.ensure_future(meta.wait_notice(POLL))
        await not_done_after(task, 0.5)
        del azure.failures["/metadata/scheduledevents"]
        await not_done_after(task, 0.3)
        azure.schedule("Preempt", "Thu, 26 Nov 2026 19:02:00 GMT")
        notice = await asyncio.wait_for(task, 2)
        assert notice == PreemptionNotice(
            "2026-11-26T19:02:00+00:00", "Azure Spot eviction notice (Preempt)"
        )
