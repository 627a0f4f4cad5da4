"""A Google Cloud metadata server on 127.0.0.1 for tests.

Like the real one, it answers 403 to requests without ``Metadata-Flavor: Google``, sets that
header on every answer, gives each value an ETag, and supports ``wait_for_change`` long polls.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field

import tornado.web

from .server import Failure, is_stopping, misbehave

V1 = "/computeMetadata/v1/"
MAX_WAIT_SECONDS = 3600.0


def etag(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


@dataclass
class FakeGcp:
    machine_type: str = "a2-highgpu-1g"
    zone: str = "us-central1-a"
    project_number: str = "123456789012"
    preemptible: bool = False
    provisioning_model: str = "STANDARD"
    """"STANDARD" or "SPOT"."""
    preempted: bool = False
    failures: dict[str, Failure] = field(default_factory=dict)
    """Per path below /computeMetadata/v1/, e.g. "instance/machine-type"."""
    requests: list[str] = field(default_factory=list)
    """Path and query of every request, in order."""
    base_url: str = ""
    """Set by the test once the fake is served."""
    _changed: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)

    def preempt(self) -> None:
        """Set instance/preempted to TRUE and wake every wait_for_change long poll on it."""
        self.preempted = True
        self.changed()

    def changed(self) -> None:
        """Wake the long polls after a test changed a value directly, to re-check their ETag."""
        self._changed.set()
        self._changed = asyncio.Event()

    def values(self) -> dict[str, str]:
        return {
            "instance/id": "4520031799277581759",
            "instance/machine-type": f"projects/{self.project_number}/machineTypes/"
            f"{self.machine_type}",
            "instance/zone": f"projects/{self.project_number}/zones/{self.zone}",
            "instance/scheduling/preemptible": "TRUE" if self.preemptible else "FALSE",
            "instance/scheduling/provisioning-model": self.provisioning_model,
            "instance/scheduling/on-host-maintenance": "TERMINATE",
            "instance/preempted": "TRUE" if self.preempted else "FALSE",
            "project/numeric-project-id": self.project_number,
        }


class MetadataHandler(tornado.web.RequestHandler):
    def initialize(self, fake: FakeGcp) -> None:
        self.fake = fake

    def set_default_headers(self) -> None:
        self.set_header("Metadata-Flavor", "Google")
        self.set_header("Server", "Metadata Server for VM")
        self.set_header("Content-Type", "application/text")

    def _error(self, status: int, text: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(text)

    async def get(self, _path: str) -> None:
        fake = self.fake
        fake.requests.append(self.request.uri or "")
        if self.request.headers.get("Metadata-Flavor") != "Google":
            self._error(403, "Missing required header: Metadata-Flavor\n")
            return
        if "X-Forwarded-For" in self.request.headers:
            self._error(403, "Forbidden\n")
            return
        path = self.request.path
        key = path.removeprefix(V1) if path.startswith(V1) else None
        failure = fake.failures.get(key or "")
        if await misbehave(self, failure):
            return
        if key is None or key not in fake.values() or (failure is not None and failure.missing):
            self._error(404, "Not Found\n")
            return
        if self.get_query_argument("wait_for_change", "false").lower() == "true":
            await self._wait_for_change(key)
            if is_stopping(self):
                return
        value = fake.values()[key]
        self.set_header("ETag", etag(value))
        self.finish(value)

    async def _wait_for_change(self, key: str) -> None:
        """Block until the value's ETag differs from last_etag, or timeout_sec passes."""
        last = self.get_query_argument("last_etag", None)
        if last is None:
            last = etag(self.fake.values()[key])
        try:
            timeout = min(float(self.get_query_argument("timeout_sec", "")), MAX_WAIT_SECONDS)
        except ValueError:
            timeout = MAX_WAIT_SECONDS
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        stopping: asyncio.Event | None = self.settings.get("stopping")
        while etag(self.fake.values()[key]) == last and not is_stopping(self):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            waiters = {asyncio.ensure_future(self.fake._changed.wait())}
            if stopping is not None:
                waiters.add(asyncio.ensure_future(stopping.wait()))
            try:
                await asyncio.wait(waiters, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()


def make_app(fake: FakeGcp) -> tornado.web.Application:
    return tornado.web.Application([(r"/(.*)", MetadataHandler, {"fake": fake})])
