"""Which replica this server uses: the one set from the panel (kept in a private file with
its keys, if any), else ``c.GpuGuard.snapshot_replica`` with ``s3_endpoint_url`` and
``s3_region``. The keys stay server side: ``describe`` never shows them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...config import GpuGuard
from ...private_files import read_private, remove_private, write_private
from .client import Credentials, Location
from .errors import ReplicaConfigError

SOURCES = {
    "panel": "set from the panel",
    "setting": "c.GpuGuard.snapshot_replica",
}
_MAX_FIELD = 2048


@dataclass(frozen=True)
class ReplicaSettings:
    url: str
    endpoint_url: str | None = None
    region: str | None = None
    credentials: Credentials | None = field(default=None, repr=False)
    source: str = "setting"  # a key of SOURCES

    def describe(self) -> dict[str, Any]:
        """What the browser may know: where, and whether keys were given, never which."""
        return {
            "url": self.url,
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "source": self.source,
            "source_text": SOURCES[self.source],
            "credentials": "panel" if self.credentials else "aws-chain",
        }

    def to_file(self) -> str:
        keys = self.credentials
        return json.dumps(
            {
                "url": self.url,
                "endpoint_url": self.endpoint_url,
                "region": self.region,
                "access_key_id": keys.access_key_id if keys else None,
                "secret_access_key": keys.secret_access_key if keys else None,
                "session_token": keys.session_token if keys else None,
            }
        )


def _text(fields: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = fields.get(name)
    if value is None or value == "":
        if required:
            raise ReplicaConfigError(f"{name} is required")
        return None
    if not isinstance(value, str) or len(value) > _MAX_FIELD or value != value.strip():
        raise ReplicaConfigError(f"{name} must be a string without surrounding spaces")
    return value


def parse(fields: dict[str, Any], source: str = "panel") -> ReplicaSettings:
    """Settings from the panel's form (or the file that keeps them); ReplicaConfigError
    names the field that is wrong, without echoing a key."""
    url = _text(fields, "url", required=True)
    assert url is not None
    Location.parse(url)  # refuses what is not s3://bucket/prefix
    endpoint = _text(fields, "endpoint_url")
    if endpoint is not None and not endpoint.startswith(("http://", "https://")):
        raise ReplicaConfigError("endpoint_url must start with http:// or https://")
    key_id = _text(fields, "access_key_id")
    secret = _text(fields, "secret_access_key")
    if bool(key_id) != bool(secret):
        raise ReplicaConfigError(
            "give both the access key id and the secret access key, or neither"
        )
    keys = (
        Credentials(key_id, secret, _text(fields, "session_token")) if key_id and secret else None
    )
    return ReplicaSettings(url, endpoint, _text(fields, "region"), keys, source)


def settings_file(config: GpuGuard) -> Path:
    return settings_file_at(config.replica_settings_file)


def settings_file_at(named: str | None) -> Path:
    """The panel's settings file: ``named`` (c.GpuGuard.replica_settings_file), else the
    default one."""
    if named:
        return Path(named).expanduser()
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "gpuguard-secrets" / "replica.json"


def saved(path: Path) -> ReplicaSettings | None:
    """The panel's settings in ``path``; None when there are none, or when the file is open to
    other users or is not ours (a swapped file could point uploads elsewhere)."""
    text = read_private(path, limit=64 * 1024)
    if not text:
        return None
    try:
        fields = json.loads(text)
        return parse(fields, "panel") if isinstance(fields, dict) else None
    except (ValueError, ReplicaConfigError):
        return None


def save(path: Path, settings: ReplicaSettings) -> None:
    write_private(path, settings.to_file())


def forget(path: Path) -> bool:
    return remove_private(path)


def configured(config: GpuGuard) -> ReplicaSettings | None:
    """The replica in use: the panel's, else the configuration's, else None (no replica)."""
    panel = saved(settings_file(config))
    if panel is not None:
        return panel
    if not config.snapshot_replica:
        return None
    return ReplicaSettings(
        config.snapshot_replica,
        config.s3_endpoint_url or None,
        config.s3_region or None,
        None,
        "setting",
    )
