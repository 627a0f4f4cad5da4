"""Moving a session: snapshot every kernel now, then launch an on-demand pod like this one.

Same GPU type, image and network volume, so the notebooks and the snapshot store follow;
on the new pod the restore prompt picks the session up, and its frontend opens the
notebooks this pod names in its environment (``moved_session``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from ..config import GpuGuard
from .client import PodError, RunPodClient
from .launch import data_center_of, launch_defaults, launch_defaults_of
from .pod import ThisPod
from .spec import LaunchSpec, SpecError

# The new pod's environment names the notebooks of a moved session, for its frontend to open.
RESTORE_ENV = "GPUGUARD_RESTORE_NOTEBOOKS"
MOVED_FROM_ENV = "GPUGUARD_MOVED_FROM"
MAX_ENV_VALUE = 32768


class Kernel(Protocol):
    @property
    def notebook(self) -> str | None: ...


class Scheduler(Protocol):
    """What a move needs of the server's snapshot scheduler."""

    @property
    def kernels(self) -> Mapping[str, Kernel]: ...

    async def snapshot_all(self, reason: str, announce: bool = True) -> dict[str, Any]: ...


MOVE_FIELDS = {"name", "gpu_type_id", "gpu_count", "cloud_type", "network_volume_id"}


async def move_session(
    config: GpuGuard,
    client: RunPodClient,
    here: ThisPod,
    scheduler: Scheduler,
    store_path: Path,
    body: dict[str, Any],
) -> dict[str, Any]:
    """Snapshot every kernel, then launch an on-demand pod like this one."""
    unknown = sorted(set(body) - MOVE_FIELDS - {"allow_failed_snapshots"})
    if unknown:
        raise SpecError(f"Unknown field(s): {', '.join(unknown)[:200]}.")
    if not isinstance(body.get("allow_failed_snapshots", False), bool):
        raise SpecError("allow_failed_snapshots must be true or false.")
    if here.id is None:
        raise PodError(
            "Moving a session works from a RunPod pod: this server is not on one "
            "(RUNPOD_POD_ID is not set). Use Launch to start a pod instead.",
            "not-on-runpod",
            409,
        )
    if not client.api_key:
        await client.check_key()  # raises the no-key explanation before any snapshot
    defaults, env = await launch_defaults(config, client, here, store_path)
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


def moved_notebooks(scheduler: Scheduler, kernels: dict[str, Any]) -> list[str]:
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
