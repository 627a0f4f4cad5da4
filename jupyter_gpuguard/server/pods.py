"""RunPod pod launching for the server: this pod's launch defaults, and moving a session.

Moving a session = snapshot every kernel now, then launch an on-demand pod like this one
(same GPU type, image and network volume, so the notebooks and the snapshot store follow);
on the new pod the restore prompt picks the session up. Every pod launched from here starts
with a command that installs the extension first (``pods.start_command``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..config import GpuGuard
from ..instance.runpod import this_pod, this_pod_id
from ..pods.client import PodError, RunPodClient
from ..pods.key import api_key
from ..pods.pod import interruptible
from ..pods.spec import LaunchDefaults, LaunchSpec, SpecError
from ..pods.start_command import (
    StartCommandError,
    start_command,
    store_path_of,
    volume_store,
)
from ..pods.template import TEMPLATES_URL, TemplateDefaults, TemplateSpec
from .scheduler import SnapshotScheduler

INHERITED_ENV_PREFIXES = ("RUNPOD_",)  # set by RunPod on every pod: never copied
# The new pod's environment names the notebooks of a moved session, for its frontend to open.
RESTORE_ENV = "GPUGUARD_RESTORE_NOTEBOOKS"
MOVED_FROM_ENV = "GPUGUARD_MOVED_FROM"
MAX_ENV_VALUE = 32768


def client_for(config: GpuGuard) -> RunPodClient:
    key = api_key(config)
    return RunPodClient(
        key.value, timeout=config.runpod_api_timeout, launch_timeout=config.runpod_launch_timeout
    )


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
    config: GpuGuard, client: RunPodClient, store_path: Path | None = None
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
        "data_center": this_pod().data_center,
        "interruptible": None,
        "start_command": pod_start_command(config, store_path),
    }
    pod_id = this_pod_id()
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
        here = [v for v in volumes if v["data_center"] == defaults["data_center"]]
        volume = here[0]["id"] if len(here) == 1 else None
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


MOVE_FIELDS = {"name", "gpu_type_id", "gpu_count", "cloud_type", "network_volume_id"}


async def move_session(
    config: GpuGuard,
    client: RunPodClient,
    scheduler: SnapshotScheduler,
    body: dict[str, Any],
) -> dict[str, Any]:
    """Snapshot every kernel, then launch an on-demand pod like this one."""
    unknown = sorted(set(body) - MOVE_FIELDS - {"allow_failed_snapshots"})
    if unknown:
        raise SpecError(f"Unknown field(s): {', '.join(unknown)[:200]}.")
    if not isinstance(body.get("allow_failed_snapshots", False), bool):
        raise SpecError("allow_failed_snapshots must be true or false.")
    if this_pod_id() is None:
        raise PodError(
            "Moving a session works from a RunPod pod: this server is not on one "
            "(RUNPOD_POD_ID is not set). Use Launch to start a pod instead.",
            "not-on-runpod",
            409,
        )
    if not client.api_key:
        await client.check_key()  # raises the no-key explanation before any snapshot
    store_path = scheduler.store.path
    defaults, env = await launch_defaults(config, client, store_path)
    request = {
        "name": body.get("name") or defaults["name"],
        "gpu_type_id": body.get("gpu_type_id") or defaults["gpu_type_id"],
        "gpu_count": body.get("gpu_count") or defaults["gpu_count"],
        "cloud_type": body.get("cloud_type") or "SECURE",
        "image": defaults["image"],
        "network_volume_id": body.get("network_volume_id") or defaults["network_volume_id"],
        "env": {**env, MOVED_FROM_ENV: defaults["this_pod"]},
    }
    if not request["gpu_type_id"]:
        raise SpecError("RunPod did not say this pod's GPU type: choose one (gpu_type_id).")
    if not request["network_volume_id"]:
        raise SpecError(
            "This pod's network volume is unknown: choose the volume that holds the "
            "snapshots (network_volume_id), or the new pod cannot restore them."
        )
    spec = LaunchSpec.from_json(request, launch_defaults_of(config, store_path))
    spec.data_center_id = await data_center_of(client, spec.network_volume_id)

    snapshots = await scheduler.snapshot_all("moving to an on-demand pod", announce=False)
    failed = {k: r["error"] for k, r in snapshots["kernels"].items() if not r["snapshot"]}
    if failed and not body.get("allow_failed_snapshots"):
        raise PodError(
            f"{len(failed)} of {len(snapshots['kernels'])} kernels could not be snapshotted, "
            "so nothing was launched: "
            + "; ".join(f"{k[:8]}: {e}" for k, e in failed.items())[:600],
            "snapshot-failed",
            409,
        )
    notebooks = moved_notebooks(scheduler, snapshots["kernels"])
    if notebooks:
        spec.env[RESTORE_ENV] = json.dumps(notebooks)
    pod = await client.launch(spec)
    return {
        "pod": pod,
        "url": pod["url"],
        "spec": spec.to_json(),
        "snapshots": snapshots["kernels"],
        "from_pod": defaults["this_pod"],
        "notebooks": notebooks,
    }


def moved_notebooks(scheduler: SnapshotScheduler, kernels: dict[str, Any]) -> list[str]:
    """The notebooks whose kernels were just snapshotted, as this server names them (the
    new pod serves the same volume from the same root), within one env value."""
    notebooks: list[str] = []
    for kernel_id, result in kernels.items():
        state = scheduler.kernels.get(kernel_id)
        path = state.notebook if state is not None else None
        if not result.get("snapshot") or not path or path in notebooks:
            continue
        if len(json.dumps([*notebooks, path])) > MAX_ENV_VALUE:
            break
        notebooks.append(path)
    return sorted(notebooks)


def moved_session() -> dict[str, Any]:
    """On a pod a session was moved to: where from, and the notebooks to open."""
    try:
        listed = json.loads(os.environ.get(RESTORE_ENV) or "[]")
    except ValueError:
        listed = []
    notebooks = [p for p in listed if isinstance(p, str) and p] if isinstance(listed, list) else []
    return {"from_pod": os.environ.get(MOVED_FROM_ENV) or None, "notebooks": notebooks}


TEMPLATE_POD_FIELDS = "ports containerDiskInGb volumeInGb"


async def template_defaults(
    config: GpuGuard, client: RunPodClient, command: str
) -> TemplateDefaults:
    """This pod's image, ports and disk sizes on RunPod; the settings elsewhere."""
    pod_id = this_pod_id()
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
    config: GpuGuard, client: RunPodClient, body: dict[str, Any], store_path: Path | None = None
) -> dict[str, Any]:
    command = pod_start_command(config, store_path)
    # Checked against the settings first, so a malformed request costs no RunPod call.
    TemplateSpec.from_json(body, TemplateDefaults(config.pod_image, config.pod_ports, command))
    spec = TemplateSpec.from_json(body, await template_defaults(config, client, command))
    saved = await client.save_template(spec)
    return {"template": {**spec.to_json(), **saved}, "url": TEMPLATES_URL}
