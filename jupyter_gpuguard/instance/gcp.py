"""Google Cloud metadata server: machine type, zone, Spot/preemptible, preemption notices."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

from .http import ProbeError, Response, fetch
from .model import InstanceInfo, PreemptionNotice

log = logging.getLogger(__name__)

V1 = "/computeMetadata/v1/"
FLAVOR_HEADER = "Metadata-Flavor"
FLAVOR = "Google"
PREEMPTION_WARNING_SECONDS = 30
LONG_POLL_SECONDS = 60
LONG_POLL_GRACE_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 60.0
MIN_POLL_SECONDS = 0.05

_MACHINE_TYPE = re.compile(r"(?:projects/[^/]+/machineTypes/)?([a-z0-9][a-z0-9-]*)")
_ZONE = re.compile(r"(?:projects/[^/]+/zones/)?([a-z0-9]+(?:-[a-z0-9]+)+)")
_BOOLEAN = re.compile(r"(TRUE|FALSE)", re.IGNORECASE)
_MODEL = re.compile(r"([A-Z][A-Z_]*)")


@dataclass(frozen=True)
class _Unknown:
    """Why an entry gave no usable value, worded to follow the entry's name."""

    reason: str


class _CannotTell(Exception):
    """A notice check got no usable answer; not a notice."""


def _probe_reason(err: ProbeError, timeout: float) -> str:
    if "timeout" in str(err).lower():
        return f"did not answer within {timeout:g} s"
    return "could not be reached"


def _value(answer: Response | _Unknown, pattern: re.Pattern[str]) -> str | _Unknown:
    """The first group of ``pattern`` matched against the whole answer."""
    if isinstance(answer, _Unknown):
        return answer
    if answer.status == 404:
        return _Unknown("has no such entry (HTTP 404)")
    if answer.status != 200:
        return _Unknown(f"answered HTTP {answer.status}")
    match = pattern.fullmatch(answer.text.strip())
    if match is None:
        return _Unknown("answered with an unreadable value")
    return match.group(1)


def _backoff(interval: float, failures: int) -> float:
    if failures == 0:
        return interval
    return min(max(MAX_BACKOFF_SECONDS, interval), interval * 2 ** min(failures - 1, 16))


def preemption_notice() -> PreemptionNotice:
    """Google Cloud stops a preempted VM 30 s after it sets instance/preempted."""
    deadline = datetime.now(timezone.utc) + timedelta(seconds=PREEMPTION_WARNING_SECONDS)
    return PreemptionNotice(
        deadline.isoformat(timespec="seconds"), "Google Cloud preemption notice"
    )


class GcpMetadata:
    provider = "gcp"
    long_poll_seconds: int = LONG_POLL_SECONDS
    """How long one wait_for_change request on instance/preempted may wait for a change."""

    def __init__(self, base_url: str, timeout: float = 1.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    # ---- detection ---------------------------------------------------------------------
    async def detect(self) -> InstanceInfo | None:
        """The VM's facts, or None when no answer carries ``Metadata-Flavor: Google``."""
        try:
            return await self._detect()
        except Exception:  # never take the caller down; CancelledError still escapes
            log.exception("Google Cloud metadata detection failed")
            return None

    async def _detect(self) -> InstanceInfo | None:
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
        if isinstance(machine_type, _Unknown):
            problems.append(f"the machine type (instance/machine-type {machine_type.reason})")
        else:
            info.instance_type = machine_type
        if isinstance(zone, _Unknown):
            problems.append(f"the zone (instance/zone {zone.reason})")
        else:
            info.region = zone
        is_preemptible = None if isinstance(preemptible, _Unknown) else preemptible == "TRUE"
        is_spot = None if isinstance(model, _Unknown) else model == "SPOT"
        if is_preemptible or is_spot:
            info.interruptible = True
        elif is_preemptible is False and is_spot is False:
            info.interruptible = False
        else:
            if isinstance(preemptible, _Unknown):
                problems.append(
                    "whether this is a preemptible VM "
                    f"(instance/scheduling/preemptible {preemptible.reason})"
                )
            if isinstance(model, _Unknown):
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
                _summary(kind, info),
                *(f"Google Cloud metadata did not say {problem}." for problem in problems),
            ]
        )
        return info

    # ---- preemption notices --------------------------------------------------------------
    async def check_notice(self) -> PreemptionNotice | None:
        """One look at instance/preempted; None when it is FALSE or gave no answer."""
        try:
            preempted, _etag = await self._read_preempted()
        except _CannotTell as err:
            log.debug("Google Cloud preemption check: %s", err)
            return None
        except Exception:
            log.exception("Google Cloud preemption check failed")
            return None
        return preemption_notice() if preempted else None

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
            except _CannotTell as err:
                failures += 1
                log.debug("Google Cloud preemption check failed (%d in a row): %s", failures, err)
                await asyncio.sleep(_backoff(interval, failures))
                continue
            except Exception:
                failures += 1
                log.exception("Google Cloud preemption check failed")
                await asyncio.sleep(_backoff(interval, failures))
                continue
            if preempted:
                return preemption_notice()
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
        if isinstance(answer, _Unknown):
            raise _CannotTell(f"instance/preempted {answer.reason}")
        value = _value(answer, _BOOLEAN)
        if isinstance(value, _Unknown):
            raise _CannotTell(f"instance/preempted {value.reason}")
        return value.upper() == "TRUE", answer.header("ETag") or None

    async def _get(self, path: str, timeout: float | None = None) -> Response | _Unknown:
        """GET an entry; an answer without ``Metadata-Flavor: Google`` is not Google's."""
        try:
            answer = await fetch(
                self.base_url + V1 + path,
                headers={FLAVOR_HEADER: FLAVOR},
                timeout=timeout if timeout is not None else self.timeout,
                connect_timeout=self.timeout,
            )
        except ProbeError as err:
            return _Unknown(_probe_reason(err, timeout if timeout is not None else self.timeout))
        if (answer.header(FLAVOR_HEADER) or "").strip() != FLAVOR:
            return _Unknown(f"answered without the {FLAVOR_HEADER}: {FLAVOR} header")
        return answer


def _summary(kind: str, info: InstanceInfo) -> str:
    text = f"Google Cloud {kind}"
    if info.instance_type:
        text += f" {info.instance_type}"
    if info.region:
        text += f" in {info.region}"
    return text + "."
