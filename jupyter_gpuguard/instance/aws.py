"""AWS EC2 instance metadata (IMDSv2, IMDSv1 where its token cannot be had): instance type,
region, spot or not, spot interruptions."""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import datetime, timezone

from .cloud import CannotTell, MetadataClient, Unknown, probe_reason, summary
from .http import ProbeError, Response, fetch
from .model import InstanceInfo, PreemptionNotice

TOKEN_PATH = "/latest/api/token"
META_DATA = "/latest/meta-data/"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
TOKEN_TTL_SECONDS = 21600
TOKEN_RENEW_MARGIN_SECONDS = 60.0

_TOKEN = re.compile(r"[A-Za-z0-9+/=_.-]{16,1024}")
_INSTANCE_TYPE = re.compile(r"[a-z][a-z0-9-]*\.[a-z0-9-]+")
_REGION = re.compile(r"[a-z]{2}(?:-[a-z0-9]+)+")
_LIFE_CYCLE = {"spot": True, "on-demand": False, "scheduled": False}
_LIFE_CYCLE_VALUE = re.compile("|".join(_LIFE_CYCLE))
_ACTION = re.compile(r"[a-z][a-z-]{0,31}")


def _status_reason(status: int) -> Unknown:
    return Unknown(f"answered HTTP {status}", foreign=400 <= status < 500)


def _text(answer: Response | Unknown, pattern: re.Pattern[str]) -> str | Unknown:
    if isinstance(answer, Unknown):
        return answer
    if answer.status != 200:
        return _status_reason(answer.status)
    value = answer.text.strip()
    if not pattern.fullmatch(value):
        return Unknown("answered with an unreadable value", foreign=True)
    return value


def _iso_utc(value: object) -> str | None:
    """An ISO 8601 time such as "2026-11-26T19:02:00Z" as "2026-11-26T19:02:00+00:00"."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text[-1] in "Zz":
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def _instance_action_notice(body: bytes) -> PreemptionNotice:
    """The notice for a 200 answer on spot/instance-action: AWS has scheduled an action."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return PreemptionNotice(None, "AWS spot interruption notice (details could not be read)")
    action = data.get("action")
    what = action if isinstance(action, str) and _ACTION.fullmatch(action) else "unknown action"
    deadline = _iso_utc(data.get("time"))
    if deadline is None:
        what += "; time could not be read"
    return PreemptionNotice(deadline, f"AWS spot interruption notice ({what})")


class AwsMetadata(MetadataClient):
    provider = "aws"
    cloud = "AWS"
    label = "AWS spot notice"

    def __init__(self, base_url: str, timeout: float = 1.0) -> None:
        super().__init__(base_url, timeout)
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()
        self._without_token = False  # IMDSv1: the token's answer cannot reach us

    # ---- detection ---------------------------------------------------------------------
    async def _detect(self) -> InstanceInfo | None:
        """The instance's facts, or None when this is not AWS (nothing answers the token PUT)."""
        token = await self._session_token()
        if isinstance(token, Unknown):
            if not token.reason.startswith("did not answer"):
                return None
            # In a container on EC2, the token's answer is dropped at the default hop limit
            # of 1 while plain GETs still arrive: IMDSv1 answers when the instance allows it.
            fallback = await self._without_token_probe()
            if fallback is not True:
                return fallback
        answers = await asyncio.gather(
            self._get("instance-type"),
            self._get("instance-life-cycle"),
            self._get("placement/region"),
        )
        instance_type = _text(answers[0], _INSTANCE_TYPE)
        life_cycle = _text(answers[1], _LIFE_CYCLE_VALUE)
        region = _text(answers[2], _REGION)
        values = (instance_type, life_cycle, region)
        if all(isinstance(value, Unknown) and value.foreign for value in values):
            return None  # a token, but none of EC2's entries: some other service

        info = InstanceInfo(provider="aws")
        kind = ""
        problems = []
        if isinstance(instance_type, Unknown):
            problems.append(f"the instance type (instance-type {instance_type.reason})")
        else:
            info.instance_type = instance_type
        if isinstance(life_cycle, Unknown):
            problems.append(
                f"whether this is a spot instance (instance-life-cycle {life_cycle.reason})"
            )
        else:
            info.interruptible = _LIFE_CYCLE[life_cycle]
            kind = f"{life_cycle} "
        if isinstance(region, Unknown):
            problems.append(f"the region (placement/region {region.reason})")
        else:
            info.region = region
        info.detail = " ".join(
            [
                summary(f"AWS {kind}instance", info),
                *(f"AWS metadata did not say {problem}." for problem in problems),
            ]
        )
        return info

    async def _without_token_probe(self) -> bool | InstanceInfo | None:
        """True to go on without a token (IMDSv1), the explanation when IMDSv2 is required
        but its token cannot be had here, None when this is not AWS."""
        answer = await self._get_with("instance-type", None)
        if isinstance(answer, Unknown):
            return None
        if answer.status == 200 and _INSTANCE_TYPE.fullmatch(answer.text.strip()):
            self._without_token = True
            return True
        if answer.status == 401 and (answer.header("Server") or "").startswith("EC2"):
            return InstanceInfo(
                provider="aws",
                detail=(
                    "AWS instance: its metadata service requires session tokens (IMDSv2), "
                    "and the token request got no answer. In a container, the token's answer "
                    "is dropped at the instance's default hop limit of 1: raise it with `aws "
                    "ec2 modify-instance-metadata-options --instance-id <id> "
                    "--http-put-response-hop-limit 2`."
                ),
            )
        return None

    # ---- preemption notices --------------------------------------------------------------
    async def _read_notice(self) -> PreemptionNotice | None:
        """One look at spot/instance-action: a notice once AWS schedules an interruption."""
        answer = await self._get("spot/instance-action")
        if isinstance(answer, Unknown):
            raise CannotTell(f"spot/instance-action {answer.reason}")
        if answer.status == 404:
            return None
        if answer.status != 200:
            raise CannotTell(f"spot/instance-action answered HTTP {answer.status}")
        return _instance_action_notice(answer.body)

    # ---- IMDSv2 session ------------------------------------------------------------------
    async def _session_token(self, stale: str | None = None) -> str | Unknown:
        """The cached token, or a new one when there is none, it expired, or it is ``stale``."""
        async with self._token_lock:
            now = time.monotonic()
            if self._token is not None and self._token != stale and now < self._token_expires:
                return self._token
            self._token = None
            try:
                answer = await fetch(
                    self.base_url + TOKEN_PATH,
                    method="PUT",
                    headers={TTL_HEADER: str(TOKEN_TTL_SECONDS)},
                    timeout=self.timeout,
                )
            except ProbeError as err:
                return Unknown(probe_reason(err, self.timeout))
            if answer.status != 200:
                return _status_reason(answer.status)
            token = answer.text.strip()
            if not _TOKEN.fullmatch(token):
                return Unknown("answered with something that is not a token", foreign=True)
            granted = answer.header(TTL_HEADER) or ""
            ttl = int(granted) if granted.isdigit() else TOKEN_TTL_SECONDS
            self._token = token
            ttl = min(ttl, TOKEN_TTL_SECONDS)
            self._token_expires = now + ttl - min(TOKEN_RENEW_MARGIN_SECONDS, ttl / 10)
            return token

    async def _get(self, path: str) -> Response | Unknown:
        """GET a meta-data entry with the session token; a 401 renews the token once."""
        if self._without_token:
            return await self._get_with(path, None)
        token = await self._session_token()
        answer = await self._get_with(path, token)
        if isinstance(answer, Response) and answer.status == 401 and isinstance(token, str):
            token = await self._session_token(stale=token)
            answer = await self._get_with(path, token)
        return answer

    async def _get_with(self, path: str, token: str | Unknown | None) -> Response | Unknown:
        """GET with ``token``; ``None`` sends none (IMDSv1)."""
        if isinstance(token, Unknown):
            return Unknown(f"could not be read: the token request {token.reason}")
        try:
            return await fetch(
                self.base_url + META_DATA + path,
                headers={TOKEN_HEADER: token} if token is not None else {},
                timeout=self.timeout,
            )
        except ProbeError as err:
            return Unknown(probe_reason(err, self.timeout))
