"""What the AWS, Google Cloud and Azure metadata clients share: detection and notice polling."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass

from .http import ProbeError
from .model import InstanceInfo, PreemptionNotice

MAX_BACKOFF_SECONDS = 60.0
"""The longest wait between failed notice checks (unless the poll interval is longer)."""
MIN_POLL_SECONDS = 0.05
"""The shortest poll interval wait_notice() accepts."""


@dataclass(frozen=True)
class Unknown:
    """Why an entry gave no usable value, worded to follow the entry's name."""

    reason: str
    foreign: bool = False
    """The answer speaks against this being the cloud at all (a 4xx, something unreadable)."""


class CannotTell(Exception):
    """A notice check got no usable answer; not a notice."""


def probe_reason(err: ProbeError, timeout: float) -> str:
    """Why a request that failed with ``err`` gave no answer, worded to follow its name."""
    if "timeout" in str(err).lower():
        return f"did not answer within {timeout:g} s"
    return "could not be reached"


def summary(kind: str, info: InstanceInfo) -> str:
    """The sentence that opens a detail, e.g. "AWS spot instance g5.xlarge in eu-west-1."."""
    text = kind
    if info.instance_type:
        text += f" {info.instance_type}"
    if info.region:
        text += f" in {info.region}"
    return text + "."


def backoff(interval: float, failures: int) -> float:
    """The wait before the next check after ``failures`` failed checks in a row."""
    if failures == 0:
        return interval
    return min(max(MAX_BACKOFF_SECONDS, interval), interval * 2 ** min(failures - 1, 16))


class MetadataClient(ABC):
    """A client of one cloud's instance metadata service.

    Subclasses set the class attributes and implement ``_detect()`` and ``_read_notice()``.
    """

    provider: str
    """The cloud's ``InstanceInfo.provider``, such as "aws"."""
    cloud: str
    """The cloud's name in log messages, such as "AWS"."""
    label: str
    """What a notice check looks at, in log messages, such as "AWS spot notice"."""

    def __init__(self, base_url: str, timeout: float = 1.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    @property
    def _log(self) -> logging.Logger:
        """The logger of the module that defines the client's class."""
        return logging.getLogger(type(self).__module__)

    # ---- detection ---------------------------------------------------------------------
    async def detect(self) -> InstanceInfo | None:
        """The instance's facts, or None when this is not the cloud; never raises."""
        try:
            return await self._detect()
        except Exception:  # never take the caller down; CancelledError still escapes
            self._log.exception("%s metadata detection failed", self.cloud)
            return None

    @abstractmethod
    async def _detect(self) -> InstanceInfo | None:
        """The instance's facts, or None when the answers are not this cloud's."""

    # ---- preemption notices --------------------------------------------------------------
    async def check_notice(self) -> PreemptionNotice | None:
        """One look for a notice; None when there is no notice or no usable answer."""
        try:
            return await self._read_notice()
        except CannotTell as err:
            self._log.debug("%s check: %s", self.label, err)
        except Exception:
            self._log.exception("%s check failed", self.label)
        return None

    async def wait_notice(self, poll_interval: float = 5.0) -> PreemptionNotice:
        """Poll until a notice appears; failed checks are retried with backoff."""
        interval = max(poll_interval, MIN_POLL_SECONDS)
        failures = 0
        while True:
            try:
                notice = await self._read_notice()
            except Exception as err:
                failures += 1
                self._log_failure(err, failures)
            else:
                if notice is not None:
                    return notice
                failures = 0
            await asyncio.sleep(backoff(interval, failures))

    @abstractmethod
    async def _read_notice(self) -> PreemptionNotice | None:
        """The notice, None when there is none, or CannotTell when the answer is no use."""

    def _log_failure(self, err: Exception, failures: int) -> None:
        """Log the failed check ``err``, the ``failures``-th in a row; call it in ``except``."""
        if isinstance(err, CannotTell):
            self._log.debug("%s check failed (%d in a row): %s", self.label, failures, err)
        else:
            self._log.exception("%s check failed", self.label)
