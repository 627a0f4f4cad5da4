"""Pods started from the panel: the launch form's defaults, a launch, a template.

On RunPod the defaults are this pod's own GPU type, image and network volume. Every pod
launched or templated from here starts with a command that installs the extension first
(``start_command``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import GpuGuard
from .client import PodError, RunPodClient
from .pod import ThisPod, interruptible
from .spec import LaunchDefaults, LaunchSpec, SpecError
from .start_command import StartCommandError, start_command, store_path_of, volume_store
from .template import TEMPLATES_URL, TemplateDefaults, TemplateSpec

INHERITED_ENV_PREFIXES = ("RUNPOD_",)  # set by RunPod on every pod: never copied


def _env_of(pod: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for entry in pod.get("env") or []:
        if isinstance(entry, str) and "=" in entry:
            name, value = entry.split("=", 1)
            if not name.startswith(INHERITED_ENV_PREFIXES):
                env[name] = value
    return env


async def _network_volume_of(client: RunPodClient, pod_id: str) -> str | None:
    """The network volume this pod mounts. Asked on its own: a RunPod schema without the
    field must cost only this answer, never the rest of the defaults."""
    try:
        pod = await client.pod(pod_id, "networkVolumeId")
    except PodError as err:
        if err.reason in ("runpod-error", "not-found"):
            return None
        raise
    value = pod.get("networkVolumeId")
    return value if isinstance(value, str) and value else None


def pod_start_command(config: GpuGuard, store_path: Path | None = None) -> str:
    """The start command of a pod launched from here: install the extension from the
    wheelhouse beside the store on the volume, then ``c.GpuGuard.pod_start_command``."""
    store = store_path if store_path is not None else store_path_of(config.snapshot_dir)
    try:
        return start_command(volume_store(store), config.pod_start_command)
    except StartCommandError as err:
        raise SpecError(f"c.GpuGuard.{err}") from None


def launch_defaults_of(config: GpuGuard, store_path: Path | None) -> LaunchDefaults:
    return LaunchDefaults(config.pod_image, config.pod_ports, pod_start_command(config, store_path))


async def launch_defaults(
    config: GpuGuard, client: RunPodClient, here: ThisPod, store_path: Path | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """What the launch form starts from: this pod's GPU, image and volume when on RunPod.

    The second value is this pod's environment, for a moved session only: it may hold the
    user's secrets (JUPYTER_PASSWORD, tokens) and never goes to the browser.
    """
    defaults: dict[str, Any] = {
        "this_pod": None,
        "name": "on-demand",
        "image": config.pod_image,
        "ports": config.pod_ports,
        "gpu_type_id": None,
        "gpu_count": 1,
        "network_volume_id": None,
        "data_center": here.data_center,
        "interruptible": None,
        "start_command": pod_start_command(config, store_path),
    }
    pod_id = here.id
    if pod_id is None:
        return defaults, {}
    pod = await client.pod(pod_id, "env")
    gpu_types = await client.gpu_types()
    machine = pod.get("machine") if isinstance(pod.get("machine"), dict) else {}
    gpu_name = machine.get("gpuDisplayName")
    matching = [t for t in gpu_types if gpu_name in (t["name"], t["id"])]
    volume = await _network_volume_of(client, pod_id)
    if volume is None:
        volumes = await client.volumes()
        nearby = [v for v in volumes if v["data_center"] == defaults["data_center"]]
        volume = nearby[0]["id"] if len(nearby) == 1 else None
    defaults.update(
        this_pod=pod_id,
        name=f"{pod.get('name') or pod_id} on-demand"[:191],
        image=pod.get("imageName") or config.pod_image,
        gpu_type_id=matching[0]["id"] if matching else None,
        gpu_count=pod.get("gpuCount") if isinstance(pod.get("gpuCount"), int) else 1,
        network_volume_id=volume,
        interruptible=interruptible(pod.get("podType")) is True,
    )
    return defaults, _env_of(pod)


async def data_center_of(client: RunPodClient, volume_id: str | None) -> str | None:
    """A pod must start in its network volume's data centre, or the volume cannot mount."""
    if not volume_id:
        return None
    for volume in await client.volumes():
        if volume["id"] == volume_id:
            return volume["data_center"]
    raise PodError(
        f"There is no network volume {volume_id!r} in this RunPod account.", "invalid", 400
    )


async def launch(
    config: GpuGuard, client: RunPodClient, body: dict[str, Any], store_path: Path | None = None
) -> dict[str, Any]:
    spec = LaunchSpec.from_json(body, launch_defaults_of(config, store_path))
    if spec.network_volume_id and not spec.data_center_id:
        spec.data_center_id = await data_center_of(client, spec.network_volume_id)
    pod = await client.launch(spec)
    return {"pod": pod, "url": pod["url"], "spec": spec.to_json()}


TEMPLATE_POD_FIELDS = "ports containerDiskInGb volumeInGb"


async def template_defaults(
    config: GpuGuard, client: RunPodClient, here: ThisPod, command: str
) -> TemplateDefaults:
    """This pod's image, ports and disk sizes on RunPod; the settings elsewhere."""
    pod_id = here.id
    if pod_id is None:
        return TemplateDefaults(config.pod_image, config.pod_ports, command)
    try:
        pod = await client.pod(pod_id, TEMPLATE_POD_FIELDS)
    except PodError as err:
        if err.reason != "runpod-error":  # a schema without these fields costs only them
            raise
        pod = await client.pod(pod_id)

    def size(name: str, default: int) -> int:
        value = pod.get(name)
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        return value if ok else default

    ports = pod.get("ports")
    return TemplateDefaults(
        image=pod.get("imageName") or config.pod_image,
        ports=ports.replace(" ", "") if isinstance(ports, str) and ports else config.pod_ports,
        start_command=command,
        container_disk_gb=size("containerDiskInGb", 50) or 50,
        volume_gb=size("volumeInGb", 20),
    )


async def save_template(
    config: GpuGuard,
    client: RunPodClient,
    here: ThisPod,
    body: dict[str, Any],
    store_path: Path | None = None,
) -> dict[str, Any]:
    command = pod_start_command(config, store_path)
    # Checked against the settings first, so a malformed request costs no RunPod call.
    TemplateSpec.from_json(body, TemplateDefaults(config.pod_image, config.pod_ports, command))
    spec = TemplateSpec.from_json(body, await template_defaults(config, client, here, command))
    saved = await client.save_template(spec)
    return {"template": {**spec.to_json(), **saved}, "url": TEMPLATES_URL}
