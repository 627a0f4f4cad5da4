"""Cloud detection runs in the background: a metadata service that hangs delays nothing."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import tornado.web

from tests.conftest import entered
from tests.fakes.server import pause, serve


class HangingHandler(tornado.web.RequestHandler):
    async def get(self, _path: str) -> None:
        await pause(self, 10)

    put = get


@pytest.fixture
def hanging_metadata(jp_asyncio_loop):
    yield from entered(
        jp_asyncio_loop, serve(tornado.web.Application([(r"/(.*)", HangingHandler)]))
    )


@pytest.fixture
def jp_server_config(hanging_metadata):
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_gpuguard": True}},
        "GpuGuard": {
            "aws_metadata_url": hanging_metadata,
            "gcp_metadata_url": hanging_metadata,
            "azure_metadata_url": hanging_metadata,
            "detect_timeout": 3.0,
            "nvml": False,
        },
    }


async def test_hanging_metadata_service_delays_neither_start_nor_route(jp_fetch):
    started = time.monotonic()
    first = await jp_fetch("gpuguard", "instance")
    assert time.monotonic() - started < 0.5
    assert json.loads(first.body)["detecting"] is True, first.body

    while json.loads((await jp_fetch("gpuguard", "instance")).body)["detecting"]:
        assert time.monotonic() - started < 4.5, "detection did not give up in time"
        await asyncio.sleep(0.05)
    body = json.loads((await jp_fetch("gpuguard", "instance")).body)
    assert body["provider"] == "local"
    assert time.monotonic() - started > 1.5, "gave up before the metadata timeout"
