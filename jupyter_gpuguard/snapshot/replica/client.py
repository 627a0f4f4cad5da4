"""The S3 client of a replica: obstore, imported on first use (``jupyter-gpuguard[s3]``), one
prefix of one bucket, bounded timeouts, and each failure a typed error.

Credentials come from the standard AWS chain: given ones (the panel's), else the
environment (read by obstore), else the static keys of a profile in ``~/.aws/credentials``
or ``~/.aws/config`` (read here: obstore reads no AWS files), else a web identity, the
container's or the instance profile's role (obstore asks the metadata service).
"""

from __future__ import annotations

import configparser
import os
import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import (
    ObjectMissing,
    ReplicaConfigError,
    ReplicaDamaged,
    ReplicaError,
    ReplicaNotInstalled,
    ReplicaNotS3,
    classify,
    s3_code,
)

DEFAULT_REGION = "us-east-1"
# S3's rules for a bucket name, loosely: older buckets may have capitals, and RunPod's are
# volume ids.
_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-_]{1,62}")
# A name no snapshot, chunk or marker has: a bucket answers 404 for it.
_PROBE = ".gpuguard-probe-"


@dataclass(frozen=True)
class Credentials:
    """Keys given explicitly (from the panel); never shown in a repr."""

    access_key_id: str = field(repr=False)
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Timeouts:
    """How long the client waits, so that nothing hangs on a dead or slow endpoint."""

    connect: float = 5.0
    request: float = 120.0  # one chunk (4 MiB at most) on a slow link, or one listing page
    retries: int = 3  # of a connection error, a 5xx or a timeout
    total: float = 60.0  # all the tries of one request


@dataclass(frozen=True)
class Location:
    """``s3://bucket/prefix``."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> Location:
        parts = urlsplit(url)
        prefix = parts.path.strip("/")
        # the address is not echoed: one typed as s3://KEY:SECRET@bucket would show the keys
        if (
            parts.scheme != "s3"
            or not _BUCKET.fullmatch(parts.netloc or "")
            or parts.query
            or parts.fragment
        ):
            raise ReplicaConfigError("the replica's address is not of the form s3://bucket/prefix")
        if prefix and any(part in ("", ".", "..") for part in prefix.split("/")):
            raise ReplicaConfigError("the replica's prefix has an empty, . or .. part")
        return cls(parts.netloc, prefix)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"


@dataclass(frozen=True)
class ObjectInfo:
    key: str  # below the replica's prefix
    size: int
    modified: datetime  # the service's clock


def shown_endpoint(endpoint_url: str | None, region: str) -> str:
    """The endpoint for a message: scheme, host and port alone."""
    if not endpoint_url:
        return f"S3 ({region})"
    parts = urlsplit(endpoint_url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def profile_settings(
    environ: Mapping[str, str] | None = None,
) -> tuple[Credentials | None, str | None]:
    """(the static keys, the region) of the AWS profile (``AWS_PROFILE``, else ``default``)
    in the shared credentials and config files, each None where they say nothing."""
    env = os.environ if environ is None else environ
    profile = env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "default"
    home = Path(env.get("HOME") or Path.home())
    credentials_file = env.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials"
    config_file = env.get("AWS_CONFIG_FILE") or home / ".aws" / "config"
    keys: Credentials | None = None
    region = None
    for path, section in (
        (credentials_file, profile),
        (config_file, profile if profile == "default" else f"profile {profile}"),
    ):
        parser = configparser.RawConfigParser()
        try:
            parser.read(Path(path).expanduser(), encoding="utf-8")
        except (OSError, configparser.Error, UnicodeDecodeError):
            continue  # an unreadable file: as if it said nothing
        if not parser.has_section(section):
            continue
        values = parser[section]
        key_id, secret = values.get("aws_access_key_id"), values.get("aws_secret_access_key")
        if keys is None and key_id and secret:
            keys = Credentials(key_id, secret, values.get("aws_session_token") or None)
        region = region or values.get("region") or None
    return keys, region


def _obstore() -> Any:
    try:
        import obstore
        import obstore.store
    except ImportError:
        raise ReplicaNotInstalled(
            "a replica on S3 needs the obstore package: pip install 'jupyter-gpuguard[s3]'"
        ) from None
    return obstore


class Bucket:
    """One prefix of one bucket; every call raises a ReplicaError, never the client's own."""

    def __init__(
        self,
        location: Location,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        credentials: Credentials | None = None,
        timeouts: Timeouts | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        self.location = location
        timeouts = timeouts or Timeouts()
        profile_keys, profile_region = profile_settings(env)
        self.region = (
            region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or profile_region
        ) or DEFAULT_REGION
        self.endpoint = shown_endpoint(endpoint_url, self.region)
        if credentials is None and not env.get("AWS_ACCESS_KEY_ID"):
            credentials = profile_keys
        self._obs = _obstore()
        options: dict[str, Any] = {
            "connect_timeout": timedelta(seconds=timeouts.connect),
            "timeout": timedelta(seconds=timeouts.request),
        }
        config: dict[str, Any] = {"region": self.region}
        if endpoint_url:
            scheme = urlsplit(endpoint_url).scheme
            if scheme not in ("http", "https"):
                raise ReplicaConfigError(f"the S3 endpoint {self.endpoint} is not an http(s) URL")
            config["endpoint"] = endpoint_url
            options["allow_http"] = scheme == "http"
        provider = None
        if credentials is not None:
            keys = credentials  # the secret stays in this closure, out of any config or repr

            def provider() -> dict[str, Any]:
                return {
                    "access_key_id": keys.access_key_id,
                    "secret_access_key": keys.secret_access_key,
                    "token": keys.session_token,
                    "expires_at": None,
                }

        try:
            self._store = self._obs.store.S3Store(
                location.bucket,
                prefix=location.prefix or None,
                client_options=options,
                retry_config={
                    "max_retries": timeouts.retries,
                    "retry_timeout": timedelta(seconds=timeouts.total),
                    "backoff": {
                        "init_backoff": timedelta(milliseconds=100),
                        "max_backoff": timedelta(seconds=5),
                        "base": 2,
                    },
                },
                credential_provider=provider,
                **config,
            )
        except Exception as err:
            raise ReplicaConfigError(
                f"the settings of {location} cannot be used: {type(err).__name__}"
            ) from None

    def __repr__(self) -> str:
        return f"Bucket({str(self.location)!r}, {self.endpoint!r})"

    def _failed(self, err: BaseException) -> ReplicaError:
        return classify(err, str(self.location), self.endpoint)

    def put(self, key: str, data: bytes | memoryview) -> None:
        """One PutObject (all our objects are far under its 5 GB limit, and RunPod's 500 MB)."""
        try:
            self._obs.put(self._store, key, data, use_multipart=False)
        except Exception as err:
            raise self._failed(err) from None

    def get(self, key: str, limit: int) -> bytes:
        """The object's bytes; ObjectMissing when it is not there; ReplicaDamaged when it is
        larger than ``limit``, before reading it."""
        try:
            result = self._obs.get(self._store, key)
            if result.meta["size"] > limit:
                raise ReplicaDamaged(f"{key} on {self.location} is larger than it can be")
            data = bytes(result.bytes())
        except ReplicaError:
            raise
        except Exception as err:
            raise self._failed(err) from None
        if len(data) > limit:
            raise ReplicaDamaged(f"{key} on {self.location} is larger than it can be")
        return data

    def head(self, key: str) -> ObjectInfo | None:
        try:
            meta = self._obs.head(self._store, key)
        except Exception as err:
            failure = self._failed(err)
            if isinstance(failure, ObjectMissing):
                return None
            raise failure from None
        return ObjectInfo(key, meta["size"], meta["last_modified"])

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``: ListObjectsV2, a page of 1000 at a
        time (obstore follows the continuation tokens)."""
        try:
            for page in self._obs.list(self._store, prefix=prefix, chunk_size=1000):
                for meta in page:
                    yield ObjectInfo(meta["path"], meta["size"], meta["last_modified"])
        except Exception as err:
            raise self._failed(err) from None

    def delete(self, key: str) -> None:
        """One DeleteObject: RunPod's S3 API has no DeleteObjects."""
        try:
            self._obs.delete(self._store, key)
        except Exception as err:
            failure = self._failed(err)
            if not isinstance(failure, ObjectMissing):
                raise failure from None

    def probe(self) -> None:
        """Raise unless the endpoint answers a GET for an absent key as S3 does (404 with
        NoSuchKey): one that answers anything with a web page lists as an empty bucket."""
        try:
            self._obs.get(self._store, _PROBE + secrets.token_hex(8)).bytes()
        except Exception as err:
            failure = self._failed(err)
            if not isinstance(failure, ObjectMissing):
                raise failure from None
            if s3_code(err) == "NoSuchKey":
                return
        raise ReplicaNotS3(
            f"{self.endpoint} does not answer as an S3 service does (for {self.location}): "
            "is the endpoint URL right?"
        )
