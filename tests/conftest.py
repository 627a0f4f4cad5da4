"""Shared fixtures.

Async tests run on pytest-jupyter's event loop (``jp_asyncio_loop``), the loop the Jupyter
server under test serves on; fixtures that need the loop enter their async context on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from typing import TypeVar

import pytest

from tests.fakes.runpod_graphql import FakeRunPod, make_app
from tests.fakes.server import closed_port_url, serve

pytest_plugins = ["pytest_jupyter.jupyter_server"]

T = TypeVar("T")


def entered(
    loop: asyncio.AbstractEventLoop, manager: AbstractAsyncContextManager[T]
) -> Iterator[T]:
    """Enter an async context manager on ``loop`` for the length of a fixture."""
    value = loop.run_until_complete(manager.__aenter__())
    try:
        yield value
    finally:
        loop.run_until_complete(manager.__aexit__(None, None, None))


@pytest.fixture
def store_dir(tmp_path):
    """A snapshot store of the test's own, not yet made: the store makes it private."""
    return tmp_path / "store"


@pytest.fixture
def runpod_api(jp_asyncio_loop, monkeypatch) -> Iterator[FakeRunPod]:
    fake = FakeRunPod()

    async def running() -> AsyncIterator[FakeRunPod]:
        async with serve(make_app(fake)) as url:
            fake.base_url = url
            monkeypatch.setenv("RUNPOD_API_BASE_URL", url)
            yield fake

    from contextlib import asynccontextmanager

    yield from entered(jp_asyncio_loop, asynccontextmanager(running)())


@pytest.fixture(autouse=True)
def _no_real_clouds(monkeypatch, tmp_path) -> None:
    """No test may reach a real cloud or read the developer's RunPod credentials."""
    monkeypatch.delenv("RUNPOD_POD_ID", raising=False)
    monkeypatch.delenv("RUNPOD_API_KEY", raising=False)
    monkeypatch.setenv("RUNPOD_API_BASE_URL", closed_port_url())
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
