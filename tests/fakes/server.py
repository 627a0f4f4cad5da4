"""Serve a fake on 127.0.0.1 for one test, and the failure modes the fakes share."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

import tornado.web
from tornado.httpserver import HTTPServer
from tornado.httputil import responses

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Failure:
    """How one path of a fake misbehaves. The delay comes first, then the rest."""

    status: int | None = None
    """Answer with this HTTP status and a short error text."""
    delay: float = 0.0
    """Seconds to wait before answering (a slow service)."""
    body: bytes | None = None
    """Answer HTTP 200 with this body instead of the real one (a malformed answer)."""
    missing: bool = False
    """Answer as the real service does for an entry that does not exist."""


def http_error(status: int = 500) -> Failure:
    return Failure(status=status)


def slow(seconds: float = 5.0) -> Failure:
    return Failure(delay=seconds)


def malformed(body: bytes = b"<html><body>\x00\xff Service Unavailable</body></html>") -> Failure:
    return Failure(body=body)


def missing() -> Failure:
    return Failure(missing=True)


async def pause(handler: tornado.web.RequestHandler, seconds: float) -> None:
    """Sleep like a slow service, but wake at once when the fake shuts down."""
    stopping: asyncio.Event | None = handler.settings.get("stopping")
    if stopping is None:
        await asyncio.sleep(seconds)
        return
    with suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)


async def misbehave(handler: tornado.web.RequestHandler, failure: Failure | None) -> bool:
    """Apply ``failure``'s delay, status or body; True when it has answered the request."""
    if failure is None:
        return False
    if failure.delay:
        await pause(handler, failure.delay)
    if failure.status is not None:
        handler.set_status(failure.status)
        handler.finish(f"{failure.status} {responses.get(failure.status, 'Error')}\n")
        return True
    if failure.body is not None:
        handler.set_status(200)
        handler.finish(failure.body)
        return True
    return False


def is_stopping(handler: tornado.web.RequestHandler) -> bool:
    stopping: asyncio.Event | None = handler.settings.get("stopping")
    return stopping is not None and stopping.is_set()


@asynccontextmanager
async def serve(app: tornado.web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on a free port of 127.0.0.1; yields the base URL, without a trailing slash.

    On exit, slow answers and long polls still in progress wake up and the server closes.
    """
    stopping = asyncio.Event()
    app.settings["stopping"] = stopping
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    sock.listen(128)
    sock.setblocking(False)
    server = HTTPServer(app)
    server.add_sockets([sock])
    try:
        yield f"http://{HOST}:{sock.getsockname()[1]}"
    finally:
        server.stop()
        stopping.set()
        await asyncio.sleep(0)
        await server.close_all_connections()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 that nothing listens on: connections are refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
    return f"http://{HOST}:{port}"


class PlainHandler(tornado.web.RequestHandler):
    """An ordinary web server: a small HTML page for any path and method, no cloud headers."""

    SUPPORTED_METHODS = ("GET", "PUT", "POST", "HEAD")

    def check_xsrf_cookie(self) -> None:
        return None

    def _page(self) -> None:
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish("<html><body><h1>It works!</h1></body></html>\n")

    def get(self, _path: str) -> None:
        self._page()

    def put(self, _path: str) -> None:
        self._page()

    def post(self, _path: str) -> None:
        self._page()

    def head(self, _path: str) -> None:
        self._page()


def make_plain_app() -> tornado.web.Application:
    return tornado.web.Application([(r"/(.*)", PlainHandler)])
