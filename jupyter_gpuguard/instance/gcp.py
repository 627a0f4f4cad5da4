"""Google Cloud metadata server: machine type, zone, Spot/preemptible, preemption notices."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

from .cloud import (
    MIN_POLL_SECONDS,
    CannotTell,
    MetadataClient,
    Unknown,
    backoff,
    probe_reason,
    summary,
)
from .http import ProbeError, Response, fetch
from .model import InstanceInfo, PreemptionNotice

V1 = "/computeMetadata/v1/"
FLAVOR_HEADER = "Metadata-Flavor"
FLAVOR = "Google"
PREEMPTION_WARNING_SECONDS = 30
LONG_POLL_SECONDS = 60
LONG_POLL_GRACE_SECONDS = 5.0

_MACHINE_TYPE = re.compile(r"(?:projects/[^/]+/machineTypes/)?([a-z0-9][a-z0-9-]*)")
_ZONE = re.compile(r"(?:projects/[^/]+/zones/)?([a-z0-9]+(?:-[a-z0-9]+)+)")
_BOOLEAN = re.compile(r"(TRUE|FALSE)", re.IGNORECASE)
_MODEL = re.compile(r"([A-Z][A-Z_]*)")


def _value(answer: Response | Unknown, pattern: re.Pattern[str]) -> str | Unknown:
    """The first group of ``pattern`` matched against the whole answer."""
    if isinstance(answer, Unknown):
        return answer
    if answer.status != 200:
        return Unknown(f"answered HTTP {answer.status}")
    match = pattern.fullmatch(answer.text.strip())
    if match is None:
        return Unknown("answered with an unreadable value")
    return match.group(1)


def _preemption_notice() -> PreemptionNotice:
    """Google Cloud stops a preempted VM 30 s after it sets instance/preempted."""
    deadline = datetime.now(timezone.utc) + timedelta(seconds=PREEMPTION_WARNING_SECONDS)
    return PreemptionNotice(
        deadline.isoformat(timespec="seconds"), "Google Cloud preemption notice"
    )


class GcpMetadata(MetadataClient):
    provider = "gcp"
    cloud = "Google Cloud"
    label = "Google Cloud preemption"
    long_poll_seconds: int = LONG_POLL_SECONDS
    """How long one wait_for_change request on instance/preempted may wait for a change."""

    # ---- detection ---------------------------------------------------------------------
    async def _detect(self) -> InstanceInfo | None:
        """The VM's facts, or None when no answer carries ``Metadata-Flavor: Google``."""
        answers = await asyncio.gather(
            self._get("instance/machine-type"),
            self._get("instance/zone"),
            self._get("instance/scheduling/preemptible"),
            self._get("instance/scheduling/provisioning-model"),
        )
        if not any(isinstance(answer, Response) for answer in answers):
            return None
        machine_type = _value(answers[0], _MACHINE_TYPE)
        zone = _value(answers[1], _ZONE)
        preemptible = _value(answers[2], _BOOLEAN)
        model = _value(answers[3], _MODEL)

        info = InstanceInfo(provider="gcp")
        problems = []
        if isinstance(machine_type, Unknown):
            problems.append(f"the machine type (instance/machine-type {machine_type.reason})")
        else:
            info.instance_type = machine_type
        if isinstance(zone, Unknown):
            problems.append(f"the zone (instance/zone {zone.reason})")
        else:
            info.region = zone
        is_preemptible = None if isinstance(preemptible, Unknown) else preemptible == "TRUE"
        is_spot = None if isinstance(model, Unknown) else model == "SPOT"
        if is_preemptible or is_spot:
            info.interruptible = True
        elif is_preemptible is False and is_spot is False:
            info.interruptible = False
        else:
            if isinstance(preemptible, Unknown):
                problems.append(
                    "whether this is a preemptible VM "
                    f"(instance/scheduling/preemptible {preemptible.reason})"
                )
            if isinstance(model, Unknown):
                problems.append(
                    "whether this is a Spot VM "
                    f"(instance/scheduling/provisioning-model {model.reason})"
                )
        kind = "VM"
        if is_spot:
            kind = "Spot VM"
        elif is_preemptible:
            kind = "preemptible VM"
        elif info.interruptible is False:
            kind = "standard VM"
        info.detail = " ".join(
            [
                summary(f"Google Cloud {kind}", info),
                *(f"Google Cloud metadata did not say {problem}." for problem in problems),
            ]
        )
        return info

    # ---- preemption notices --------------------------------------------------------------
    async def _read_notice(self) -> PreemptionNotice | None:
        """One look at instance/preempted; None when it is FALSE."""
        preempted, _etag = await self._read_preempted()
        return _preemption_notice() if preempted else None

    async def wait_notice(self, poll_interval: float = 5.0) -> PreemptionNotice:
        """Long-poll instance/preempted until it turns TRUE; errors are retried with backoff.

        The first request reads the value and its ETag; later ones wait for a change from that
        ETag. Where the server answers without an ETag, or at once, this polls every
        ``poll_interval`` seconds instead.
        """
        interval = max(poll_interval, MIN_POLL_SECONDS)
        loop = asyncio.get_running_loop()
        etag: str | None = None
        failures = 0
        while True:
            started = loop.time()
            try:
                preempted, etag_now = await self._read_preempted(etag)
            except Exception as err:
                failures += 1
                self._log_failure(err, failures)
                await asyncio.sleep(backoff(interval, failures))
                continue
            if preempted:
                return _preemption_notice()
            failures = 0
            waited = loop.time() - started
            if etag_now is None:  # no ETag, so no long polls: plain polling
                await asyncio.sleep(interval)
            elif etag is not None and waited < interval:  # a long poll that came back early
                await asyncio.sleep(interval - waited)
            etag = etag_now

    async def _read_preempted(self, last_etag: str | None = None) -> tuple[bool, str | None]:
        """instance/preempted and its ETag; with ``last_etag``, wait for it to change first."""
        path = "instance/preempted"
        timeout = self.timeout
        if last_etag is not None:
            query = {
                "wait_for_change": "true",
                "timeout_sec": str(self.long_poll_seconds),
                "last_etag": last_etag,
            }
            path += "?" + urlencode(query)
            timeout = self.long_poll_seconds + LONG_POLL_GRACE_SECONDS
        answer = await self._get(path, timeout)
        if isinstance(answer, Unknown):
            raise CannotTell(f"instance/preempted {answer.reason}")
        value = _value(answer, _BOOLEAN)
        if isinstance(value, Unknown):
            raise CannotTell(f"instance/preempted {value.reason}")
        return value.upper() == "TRUE", answer.header("ETag") or None

    async def _get(self, path: str, timeout: float | None = None) -> Response | Unknown:
        """GET an entry; an answer without ``Metadata-Flavor: Google`` is not Google's."""
        try:
            answer = await fetch(
                self.base_url + V1 + path,
                headers={FLAVOR_HEADER: FLAVOR},
                timeout=timeout if timeout is not None else self.timeout,
                connect_timeout=self.timeout,
            )
        except ProbeError as err:
            return Unknown(probe_reason(err, timeout if timeout is not None else self.timeout))
        if (answer.header(FLAVOR_HEADER) or "").strip() != FLAVOR:
            return Unknown(f"answered without the {FLAVOR_HEADER}: {FLAVOR} header")
        return answer
