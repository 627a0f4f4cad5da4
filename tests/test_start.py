"""Cloud detection runs in the background: a metadata service that hangs delays nothing."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import tornado.web

from tests.fakes.server import pause, serve


class HangingHandler(tornado.web.RequestHandler):
    async def get(self, _path: str) -> None:
        await pause(self, 10)

    put = get


@pytest.fixture
async def hanging_metadata():
    async with serve(tornado.web.Application([(r"/(.*)", HangingHandler)])) as url:
        yield url


@pytest.fixture
def jp_server_config(hanging_metadata):
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_gpuguard": True}},
        "GpuGuard": {
            "aws_metadata_url": hanging_metadata,
            "gcp_metadata_url": hanging_metadata,
            "azure_metadata_url": hanging_metadata,
            "detect_timeout": 1.0,
            "nvml": False,
        },
    }


async def test_hanging_metadata_service_delays_neither_start_nor_route(jp_fetch):
    started = time.monotonic()
    first = await jp_fetch("gpuguard", "instance")
    assert time.monotonic() - started < 0.5
    assert json.loads(first.body)["detecting"] is True

    while json.loads((await jp_fetch("gpuguard", "instance")).body)["detecting"]:
        assert time.monotonic() - started < 3, "detection did not give up in time"
        await asyncio.sleep(0.05)
    body = json.loads((await jp_fetch("gpuguard", "instance")).body)
    assert body["provider"] == "local"
    assert 0.9 < time.monotonic() - started < 2.0
