from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.runpod_graphql import FakeRunPod, make_app
from tests.fakes.server import closed_port_url, serve

pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture
async def runpod_api(monkeypatch) -> AsyncIterator[FakeRunPod]:
    fake = FakeRunPod()
    async with serve(make_app(fake)) as url:
        fake.base_url = url
        monkeypatch.setenv("RUNPOD_API_BASE_URL", url)
        yield fake


@pytest.fixture(autouse=True)
def _no_real_clouds(monkeypatch, tmp_path) -> None:
    """No test may reach a real cloud or read the developer's RunPod credentials."""
    monkeypatch.delenv("RUNPOD_POD_ID", raising=False)
    monkeypatch.delenv("RUNPOD_API_KEY", raising=False)
    monkeypatch.setenv("RUNPOD_API_BASE_URL", closed_port_url())
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
