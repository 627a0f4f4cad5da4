"""A RunPod template saved from the panel, for pods started from RunPod's console.

After a spot loss the next pod is often started by hand in RunPod's console: a template with
this pod's image, ports and volume mount, and the start command that installs the extension
from the volume's wheelhouse, makes that pod restore-ready like one launched from the panel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._version import __version__
from . import graphql
from .spec import (
    IMAGE,
    PORTS,
    VOLUME_MOUNT_PATH,
    SpecError,
    _env,
    _integer,
    _start_command,
    _text,
)

TEMPLATES_URL = "https://www.runpod.io/console/user/templates"
README = (
    "Starts with jupyter-gpuguard {version}, installed from the wheelhouse on the network "
    "volume (else from the package index), then runs the image's own start. A failed install "
    "is logged to pod-start.log beside the wheelhouse, and JupyterLab starts anyway. Attach "
    "the network volume that holds your notebooks and snapshots: it mounts at /workspace."
)


@dataclass(frozen=True)
class TemplateDefaults:
    image: str
    ports: str
    start_command: str
    container_disk_gb: int = 50
    volume_gb: int = 20


@dataclass
class TemplateSpec:
    name: str
    image: str
    ports: str
    start_command: str
    container_disk_gb: int = 50
    volume_gb: int = 20
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, body: dict[str, Any], defaults: TemplateDefaults) -> TemplateSpec:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(body) - known)
        if unknown:
            raise SpecError(f"Unknown field(s): {', '.join(unknown)[:200]}.")
        spec = cls(
            name=_text(body, "name", required=True, limit=191).strip(),
            image=_text(body, "image", default=defaults.image, limit=300),
            ports=_text(body, "ports", default=defaults.ports, limit=200).replace(" ", ""),
            start_command=_start_command(body, defaults.start_command),
            container_disk_gb=_integer(
                body, "container_disk_gb", defaults.container_disk_gb, 1, 4000
            ),
            volume_gb=_integer(body, "volume_gb", defaults.volume_gb, 0, 10000),
            env=_env(body.get("env")),
        )
        if not spec.name:
            raise SpecError("name must not be blank.")
        if not IMAGE.match(spec.image):
            raise SpecError("image must be a container image name such as runpod/pytorch:tag.")
        if not PORTS.match(spec.ports):
            raise SpecError('ports must look like "8888/http,22/tcp".')
        return spec

    def graphql_input(self) -> dict[str, graphql.Value]:
        """``saveTemplate``'s input: a pod template, never a serverless one."""
        return {
            "name": self.name,
            "imageName": self.image,
            "containerDiskInGb": self.container_disk_gb,
            "volumeInGb": self.volume_gb,
            "volumeMountPath": VOLUME_MOUNT_PATH,
            "ports": self.ports,
            "dockerArgs": self.start_command,
            "env": [{"key": k, "value": v} for k, v in self.env.items()],
            "isServerless": False,
            "readme": README.format(version=__version__),
        }

    def to_json(self) -> dict[str, Any]:
        """The template without env values: those may hold secrets and are not echoed back."""
        return {
            "name": self.name,
            "image": self.image,
            "ports": self.ports,
            "volume_mount_path": VOLUME_MOUNT_PATH,
            "container_disk_gb": self.container_disk_gb,
            "volume_gb": self.volume_gb,
            "start_command": self.start_command,
            "env": sorted(self.env),
        }
