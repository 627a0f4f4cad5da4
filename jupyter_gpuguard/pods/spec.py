"""What a launch request may ask for, checked before anything reaches RunPod."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from . import graphql
from .start_command import StartCommandError, check_start_command

CLOUD_TYPES = frozenset({"SECURE", "COMMUNITY", "ALL"})
VOLUME_MOUNT_PATH = "/workspace"
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
PORTS = re.compile(r"^\d{1,5}/(http|tcp)(,\d{1,5}/(http|tcp)){0,9}$")
IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]{0,299}$")
RESOURCE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_ENV = 50


class SpecError(ValueError):
    """The launch request is malformed; the message names the field and the rule."""


@dataclass(frozen=True)
class LaunchDefaults:
    image: str
    ports: str
    start_command: str = ""  # RunPod's dockerArgs; empty: the image's own command


@dataclass
class LaunchSpec:
    name: str
    gpu_type_id: str
    gpu_count: int = 1
    cloud_type: str = "SECURE"
    image: str = ""
    network_volume_id: str | None = None
    data_center_id: str | None = None
    container_disk_gb: int = 50
    volume_gb: int = 0
    ports: str = "8888/http,22/tcp"
    env: dict[str, str] = field(default_factory=dict)
    start_command: str = ""

    @classmethod
    def from_json(cls, body: dict[str, Any], defaults: LaunchDefaults) -> LaunchSpec:
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(body) - known)
        if unknown:
            raise SpecError(f"Unknown field(s): {', '.join(unknown)[:200]}.")
        spec = cls(
            name=_text(body, "name", required=True, limit=191),
            gpu_type_id=_text(body, "gpu_type_id", required=True, limit=100),
            gpu_count=_integer(body, "gpu_count", 1, 1, 16),
            cloud_type=_text(body, "cloud_type", default="SECURE", limit=16).upper(),
            image=_text(body, "image", default=defaults.image, limit=300),
            network_volume_id=_optional_id(body, "network_volume_id"),
            data_center_id=_optional_id(body, "data_center_id"),
            container_disk_gb=_integer(body, "container_disk_gb", 50, 1, 4000),
            volume_gb=_integer(body, "volume_gb", 0, 0, 10000),
            ports=_text(body, "ports", default=defaults.ports, limit=200).replace(" ", ""),
            env=_env(body.get("env")),
            start_command=_start_command(body, defaults.start_command),
        )
        spec.check()
        return spec

    def check(self) -> None:
        if not self.name.strip():
            raise SpecError("name must not be blank.")
        if self.cloud_type not in CLOUD_TYPES:
            raise SpecError("cloud_type must be SECURE, COMMUNITY or ALL.")
        if not IMAGE.match(self.image):
            raise SpecError("image must be a container image name such as runpod/pytorch:tag.")
        if not PORTS.match(self.ports):
            raise SpecError('ports must look like "8888/http,22/tcp".')
        if self.network_volume_id and self.cloud_type == "COMMUNITY":
            raise SpecError(
                "Network volumes live in RunPod's secure cloud: choose SECURE (or ALL) "
                "to attach one."
            )

    def graphql_input(self) -> dict[str, graphql.Value]:
        """The launch's input object. The volume mounts at /workspace, never RunPod's SDK's
        default /runpod-volume, so notebooks and the snapshot store are where they were."""
        fields: dict[str, graphql.Value] = {
            "name": self.name,
            "imageName": self.image,
            "gpuTypeId": self.gpu_type_id,
            "gpuCount": self.gpu_count,
            "cloudType": graphql.Enum(self.cloud_type, CLOUD_TYPES),
            "containerDiskInGb": self.container_disk_gb,
            "volumeInGb": self.volume_gb,
            "volumeMountPath": VOLUME_MOUNT_PATH,
            "ports": self.ports,
            "supportPublicIp": True,
            "startSsh": True,
            "env": [{"key": k, "value": v} for k, v in self.env.items()],
        }
        if self.start_command:
            fields["dockerArgs"] = self.start_command
        if self.network_volume_id:
            fields["networkVolumeId"] = self.network_volume_id
        if self.data_center_id:
            fields["dataCenterId"] = self.data_center_id
        return fields

    def to_json(self) -> dict[str, Any]:
        """The spec without env values: those may hold secrets and are not echoed back."""
        return {
            "name": self.name,
            "gpu_type_id": self.gpu_type_id,
            "gpu_count": self.gpu_count,
            "cloud_type": self.cloud_type,
            "image": self.image,
            "network_volume_id": self.network_volume_id,
            "data_center_id": self.data_center_id,
            "container_disk_gb": self.container_disk_gb,
            "volume_gb": self.volume_gb,
            "ports": self.ports,
            "env": sorted(self.env),
        }


def _text(
    body: dict[str, Any], key: str, *, required: bool = False, default: str = "", limit: int
) -> str:
    value = body.get(key)
    if value is None or value == "":
        if required:
            raise SpecError(f"{key} is required.")
        return default
    if not isinstance(value, str):
        raise SpecError(f"{key} must be text.")
    if len(value) > limit:
        raise SpecError(f"{key} is longer than {limit} characters.")
    try:
        graphql.string(value)
    except graphql.LiteralError as err:
        raise SpecError(f"{key}: {err}.") from None
    return value


def _integer(body: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = body.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SpecError(f"{key} must be a whole number from {low} to {high}.")
    return value


def _optional_id(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not RESOURCE_ID.match(value):
        raise SpecError(f"{key} must be a RunPod id (letters, digits, - and _).")
    return value


def _start_command(body: dict[str, Any], default: str) -> str:
    value = body.get("start_command")
    if value is None or value == "":
        return default
    try:
        return check_start_command(value)
    except StartCommandError as err:
        raise SpecError(str(err)) from None


def _env(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SpecError("env must be an object of names to text values.")
    if len(value) > MAX_ENV:
        raise SpecError(f"env may hold at most {MAX_ENV} variables.")
    env: dict[str, str] = {}
    for name, text in value.items():
        if not isinstance(name, str) or not ENV_NAME.match(name):
            raise SpecError(f"env name {str(name)[:40]!r} must be letters, digits and _.")
        if not isinstance(text, str) or len(text) > 32768:
            raise SpecError(f"env {name} must be text of at most 32768 characters.")
        try:
            graphql.string(text)
        except graphql.LiteralError as err:
            raise SpecError(f"env {name}: {err}.") from None
        env[name] = text
    return env
