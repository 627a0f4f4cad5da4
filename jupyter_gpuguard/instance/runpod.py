"""RunPod as a provider: this pod's facts as InstanceInfo, asked of RunPod's API through
``pods/``, and the variables RunPod sets on every pod, read here and nowhere else."""

from __future__ import annotations

import os
from typing import Any

from ..pods.graphql import LiteralError
from ..pods.key import SOURCES_HINT
from ..pods.pod import ThisPod, interruptible, query_pod
from ..pods.transport import RunPodError, run_query
from ..reported import positive_price
from .model import InstanceInfo

# What info_from_answer reads: the pod, and the GPU types' prices for a spot pod's
# on-demand price.
POD_FIELDS = "id name podType costPerHr gpuCount uptimeSeconds imageName machine { gpuDisplayName }"
GPU_TYPES = "gpuTypes { id displayName memoryInGb securePrice communityPrice }"


def this_pod() -> ThisPod:
    """Read anew at each call: the rest of the package is handed what it needs of it."""
    gpu_count = os.environ.get("RUNPOD_GPU_COUNT", "")
    return ThisPod(
        id=os.environ.get("RUNPOD_POD_ID", "").strip() or None,
        data_center=os.environ.get("RUNPOD_DC_ID") or None,
        gpu_count=int(gpu_count) if gpu_count.isdigit() else 0,
    )


def this_pod_id() -> str | None:
    return this_pod().id


def pod_query(pod_id: str) -> str:
    try:
        return query_pod(pod_id, POD_FIELDS, beside=GPU_TYPES)
    except LiteralError as err:
        raise RunPodError(f"RUNPOD_POD_ID {err}.", "invalid") from None


def _on_demand_price(gpu_types: Any, gpu_name: str | None, gpu_count: int) -> float | None:
    if not gpu_name or not isinstance(gpu_types, list):
        return None
    for gpu_type in gpu_types:
        if not isinstance(gpu_type, dict):
            continue
        if gpu_name not in (gpu_type.get("displayName"), gpu_type.get("id")):
            continue
        prices = [
            p
            for p in (
                positive_price(gpu_type.get("communityPrice")),
                positive_price(gpu_type.get("securePrice")),
            )
            if p is not None
        ]
        if prices:
            return round(min(prices) * max(gpu_count, 1), 4)
    return None


def _gpu_memory(gpu_types: Any, gpu_name: str | None) -> float | None:
    if not gpu_name or not isinstance(gpu_types, list):
        return None
    for gpu_type in gpu_types:
        if isinstance(gpu_type, dict) and gpu_name in (
            gpu_type.get("displayName"),
            gpu_type.get("id"),
        ):
            memory = positive_price(gpu_type.get("memoryInGb"))
            return memory
    return None


def info_from_answer(answer: dict[str, Any], pod_id: str) -> InstanceInfo:
    """Turn the GraphQL answer into InstanceInfo; anything missing or nonsensical is unknown."""
    data = answer.get("data") if isinstance(answer, dict) else None
    pod = data.get("pod") if isinstance(data, dict) else None
    info = InstanceInfo(provider="runpod", region=this_pod().data_center)
    if not isinstance(pod, dict):
        info.detail = f"RunPod API knows no pod {pod_id!r} for this API key."
        return info
    unknown: list[str] = []
    info.instance_type = pod.get("name") if isinstance(pod.get("name"), str) else pod_id
    machine = pod.get("machine") if isinstance(pod.get("machine"), dict) else {}
    gpu_name = machine.get("gpuDisplayName")
    info.gpu_name = gpu_name if isinstance(gpu_name, str) and gpu_name else None
    gpu_count = pod.get("gpuCount")
    info.gpu_count = gpu_count if isinstance(gpu_count, int) and gpu_count >= 0 else 0

    pod_type = pod.get("podType")
    info.interruptible = interruptible(pod_type)
    if info.interruptible is None:
        unknown.append(f"whether it is spot (podType {pod_type!r})")

    info.price_per_hour = positive_price(pod.get("costPerHr"))
    if info.price_per_hour is None:
        unknown.append("its price (costPerHr was 0 or missing)")
    else:
        info.price_source = "RunPod API (the pod's costPerHr)"

    uptime = positive_price(pod.get("uptimeSeconds"))
    info.uptime_seconds = uptime

    gpu_types = data.get("gpuTypes") if isinstance(data, dict) else None
    info.gpu_memory_gb = _gpu_memory(gpu_types, info.gpu_name)
    if info.interruptible:
        info.on_demand_price_per_hour = _on_demand_price(gpu_types, info.gpu_name, info.gpu_count)
    elif info.interruptible is False:
        info.on_demand_price_per_hour = info.price_per_hour

    pod_kind = {True: "spot", False: "on-demand", None: ""}[info.interruptible]
    described = f"RunPod {pod_kind} pod {pod_id}".replace("  ", " ")
    if unknown:
        info.detail = f"{described}: RunPod did not say {' or '.join(unknown)}."
    else:
        info.detail = f"{described}."
    return info


async def detect(pod_id: str, api_key: str, timeout: float) -> InstanceInfo:
    """Describe the pod; never raises: failures become an InstanceInfo that says why."""
    here = this_pod()
    fallback = InstanceInfo(
        provider="runpod",
        instance_type=pod_id,
        gpu_count=here.gpu_count,
        region=here.data_center,
    )
    if not api_key:
        fallback.detail = (
            f"RunPod pod {pod_id}: set a RunPod API key ({SOURCES_HINT}) "
            "to see its price and whether it is spot."
        )
        return fallback
    try:
        answer = await run_query(pod_query(pod_id), api_key, timeout)
    except RunPodError as err:
        fallback.detail = f"RunPod pod {pod_id}: price and spot state unknown. {err}"
        return fallback
    return info_from_answer(answer, pod_id)
