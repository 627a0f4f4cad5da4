"""Azure Instance Metadata Service: VM size, location, Spot or not, and eviction notices.

Notices come from Scheduled Events. A ``Preempt`` event (Spot eviction) is a notice; so is a
``Terminate`` event, because the VM and the work on it go away all the same. ``Reboot``,
``Redeploy`` and ``Freeze`` are maintenance the VM survives, so they are not notices. Events
that name other VMs (an availability set or scale set shares one event document) are ignored
once detect() has read this VM's name.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Any

from .cloud import CannotTell, MetadataClient, Unknown, probe_reason, summary
from .http import ProbeError, Response, fetch
from .model import InstanceInfo, PreemptionNotice

INSTANCE_PATH = "/metadata/instance?api-version=2021-02-01"
EVENTS_PATH = "/metadata/scheduledevents?api-version=2020-07-01"
VERSIONS_PATH = "/metadata/versions"
HEADERS = {"Metadata": "true"}

_VM_SIZE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_LOCATION = re.compile(r"[a-z0-9]+")
# "Low" is the priority's name for Spot VMs in older deployments; regular VMs created without
# an explicit priority report "".
_PRIORITY = {"spot": True, "low": True, "regular": False, "": False}
_SOURCES = {
    "Preempt": "Azure Spot eviction notice (Preempt)",
    "Terminate": "Azure scheduled termination notice (Terminate)",
}


def _json(answer: Response | Unknown) -> Any:
    """The JSON body of a 200 answer, or Unknown."""
    if isinstance(answer, Unknown):
        return answer
    if answer.status != 200:
        return Unknown(f"answered HTTP {answer.status}")
    try:
        return json.loads(answer.body)
    except ValueError:
        return Unknown("answered with something that is not JSON")


def _field(compute: dict[str, Any], key: str, pattern: re.Pattern[str]) -> str | Unknown:
    value = compute.get(key)
    if value is None:
        return Unknown(f"compute.{key} is missing")
    if not isinstance(value, str) or not pattern.fullmatch(value):
        return Unknown(f"compute.{key} could not be read")
    return value


def _iso_utc(value: object) -> str | None:
    """An HTTP date such as "Mon, 19 Sep 2016 18:29:47 GMT" as "2016-09-19T18:29:47+00:00"."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def _notice_from_events(document: Any, vm_name: str | None = None) -> PreemptionNotice | None:
    """The notice in a Scheduled Events document: Preempt first, then Terminate."""
    if not isinstance(document, dict) or not isinstance(document.get("Events"), list):
        raise CannotTell("scheduledevents answered without an Events list")
    found: dict[str, dict[str, Any]] = {}
    for event in document["Events"]:
        if not isinstance(event, dict) or event.get("EventType") not in _SOURCES:
            continue
        if not _concerns(event, vm_name):
            continue
        found.setdefault(event["EventType"], event)
    for event_type, source in _SOURCES.items():
        if event_type in found:
            return PreemptionNotice(_iso_utc(found[event_type].get("NotBefore")), source)
    return None


def _concerns(event: dict[str, Any], vm_name: str | None) -> bool:
    """False for an event whose Resources list names other VMs only."""
    resources = event.get("Resources")
    if not vm_name or not isinstance(resources, list) or not resources:
        return True
    return vm_name.casefold() in {str(name).casefold() for name in resources}


class AzureMetadata(MetadataClient):
    provider = "azure"
    cloud = "Azure"
    label = "Azure scheduled events"

    def __init__(self, base_url: str, timeout: float = 1.0) -> None:
        super().__init__(base_url, timeout)
        self._vm_name: str | None = None

    # ---- detection ---------------------------------------------------------------------
    async def _detect(self) -> InstanceInfo | None:
        """The VM's facts, or None when neither metadata/instance nor metadata/versions
        answers as Azure does."""
        instance_answer, versions_answer = await asyncio.gather(
            self._get(INSTANCE_PATH), self._get(VERSIONS_PATH)
        )
        document = _json(instance_answer)
        compute: dict[str, Any] | Unknown
        if isinstance(document, Unknown):
            compute = document
        elif isinstance(document, dict) and isinstance(document.get("compute"), dict):
            compute = document["compute"]
        else:
            compute = Unknown("answered without a compute section")
        if isinstance(compute, Unknown) and not _lists_versions(_json(versions_answer)):
            return None

        info = InstanceInfo(provider="azure")
        if isinstance(compute, Unknown):
            info.detail = (
                f"Azure VM. Azure metadata did not describe this VM "
                f"(metadata/instance {compute.reason})."
            )
            return info
        name = compute.get("name")
        if isinstance(name, str) and name:
            self._vm_name = name
        vm_size = _field(compute, "vmSize", _VM_SIZE)
        priority = compute.get("priority")
        location = _field(compute, "location", _LOCATION)
        problems = []
        if isinstance(vm_size, Unknown):
            problems.append(f"the VM size ({vm_size.reason})")
        else:
            info.instance_type = vm_size
        if isinstance(priority, str) and priority.strip().lower() in _PRIORITY:
            info.interruptible = _PRIORITY[priority.strip().lower()]
        else:
            state = "is missing" if priority is None else "could not be read"
            problems.append(f"whether this is a Spot VM (compute.priority {state})")
        if isinstance(location, Unknown):
            problems.append(f"the location ({location.reason})")
        else:
            info.region = location
        info.detail = " ".join(
            [_summary(info), *(f"Azure metadata did not say {problem}." for problem in problems)]
        )
        return info

    # ---- preemption notices --------------------------------------------------------------
    async def _read_notice(self) -> PreemptionNotice | None:
        """One look at Scheduled Events; None when there is no notice.

        Azure answers the very first Scheduled Events request of a VM slowly (it switches
        the service on), so wait_notice() sees early timeouts, and simply retries them.
        """
        document = _json(await self._get(EVENTS_PATH))
        if isinstance(document, Unknown):
            raise CannotTell(f"metadata/scheduledevents {document.reason}")
        return _notice_from_events(document, self._vm_name)

    async def _get(self, path: str) -> Response | Unknown:
        try:
            return await fetch(self.base_url + path, headers=HEADERS, timeout=self.timeout)
        except ProbeError as err:
            return Unknown(probe_reason(err, self.timeout))


def _lists_versions(document: Any) -> bool:
    """True for metadata/versions' answer: {"apiVersions": ["2017-03-01", ...]}."""
    return (
        isinstance(document, dict)
        and isinstance(document.get("apiVersions"), list)
        and bool(document["apiVersions"])
        and all(isinstance(version, str) for version in document["apiVersions"])
    )


def _summary(info: InstanceInfo) -> str:
    kind = {True: "Spot VM", False: "regular VM", None: "VM"}[info.interruptible]
    return summary(f"Azure {kind}", info)
