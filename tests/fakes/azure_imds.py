"""An Azure Instance Metadata Service on 127.0.0.1 for tests.

Like the real one, it answers 400 to requests without ``Metadata: true`` or without a known
``api-version``, and serves instance metadata, scheduled events and the version list.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import tornado.web

from .server import Failure, misbehave

INSTANCE_PATH = "/metadata/instance"
EVENTS_PATH = "/metadata/scheduledevents"
VERSIONS_PATH = "/metadata/versions"
API_VERSIONS = ["2019-08-01", "2020-07-01", "2020-09-01", "2021-02-01", "2021-12-13"]


@dataclass
class FakeAzure:
    vm_size: str = "Standard_NC24ads_A100_v4"
    priority: str = "Regular"
    """compute.priority: "Regular", "Spot" or the legacy "Low"."""
    location: str = "eastus"
    name: str = "gpu-vm-1"
    events: list[dict[str, Any]] = field(default_factory=list)
    incarnation: int = 1
    failures: dict[str, Failure] = field(default_factory=dict)
    """Per path: "/metadata/instance", "/metadata/scheduledevents" or "/metadata/versions"."""
    missing_fields: set[str] = field(default_factory=set)
    """Keys left out of the compute section, e.g. {"priority"}."""
    requests: list[str] = field(default_factory=list)
    """Path and query of every request, in order."""
    base_url: str = ""
    """Set by the test once the fake is served."""

    def schedule(
        self,
        event_type: str = "Preempt",
        not_before: str = "Mon, 19 Sep 2016 18:29:47 GMT",
        resources: list[str] | None = None,
    ) -> dict[str, Any]:
        """Add a scheduled event, as the platform does ahead of an eviction or maintenance."""
        event = {
            "EventId": str(uuid.uuid4()).upper(),
            "EventStatus": "Scheduled",
            "EventType": event_type,
            "ResourceType": "VirtualMachine",
            "Resources": [self.name] if resources is None else resources,
            "NotBefore": not_before,
            "Description": "",
            "EventSource": "Platform",
            "DurationInSeconds": -1,
        }
        self.events.append(event)
        self.incarnation += 1
        return event

    def instance(self) -> dict[str, Any]:
        compute: dict[str, Any] = {
            "azEnvironment": "AzurePublicCloud",
            "location": self.location,
            "name": self.name,
            "offer": "ubuntu-hpc",
            "osType": "Linux",
            "priority": self.priority,
            "provider": "Microsoft.Compute",
            "resourceGroupName": "gpu-rg",
            "subscriptionId": "00000000-0000-0000-0000-000000000000",
            "vmId": "02aab8a4-74ef-476e-8182-f6d2ba4166a6",
            "vmScaleSetName": "",
            "vmSize": self.vm_size,
            "zone": "1",
        }
        for key in self.missing_fields:
            compute.pop(key, None)
        return {
            "compute": compute,
            "network": {
                "interface": [
                    {
                        "ipv4": {"ipAddress": [{"privateIpAddress": "10.0.0.4"}]},
                        "macAddress": "000D3AF806EC",
                    }
                ]
            },
        }


class ImdsHandler(tornado.web.RequestHandler):
    def initialize(self, fake: FakeAzure) -> None:
        self.fake = fake

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Server", "Microsoft-IIS/10.0")

    def _json(self, value: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(value))

    async def get(self, _path: str) -> None:
        fake = self.fake
        path = self.request.path.rstrip("/")
        fake.requests.append(self.request.uri or "")
        if self.request.headers.get("Metadata", "").lower() != "true":
            self._json({"error": "Bad request. Required metadata header not specified"}, 400)
            return
        if "X-Forwarded-For" in self.request.headers:
            self._json({"error": "Bad request. Forwarded requests are not allowed"}, 400)
            return
        answers = {
            INSTANCE_PATH: fake.instance,
            EVENTS_PATH: lambda: {"DocumentIncarnation": fake.incarnation, "Events": fake.events},
            VERSIONS_PATH: lambda: {"apiVersions": API_VERSIONS},
        }
        if path not in answers:
            self._json({"error": "Not found"}, 404)
            return
        if path != VERSIONS_PATH:
            version = self.get_query_argument("api-version", "")
            if version not in API_VERSIONS:
                reason = "was not specified in" if not version else "is invalid for"
                self._json(
                    {
                        "error": f"Bad request. api-version {reason} the request.",
                        "newest-versions": API_VERSIONS[::-1][:3],
                    },
                    400,
                )
                return
        failure = fake.failures.get(path)
        if await misbehave(self, failure):
            return
        if failure is not None and failure.missing:
            self._json({"error": "Not found"}, 404)
            return
        self._json(answers[path]())


def make_app(fake: FakeAzure) -> tornado.web.Application:
    return tornado.web.Application([(r"/(.*)", ImdsHandler, {"fake": fake})])
