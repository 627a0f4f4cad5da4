"""What a stopped RunPod pod still costs: its disks, per month.

RunPod bills a pod's volume disk while the pod is stopped (at twice the running rate), a
network volume whether a pod runs or not, and never a stopped pod's container disk, which
is wiped at the stop. Rates as https://www.runpod.io/pricing lists them (read 2025-11).
"""

from __future__ import annotations

from typing import Any

VOLUME_RUNNING_PER_GB_MONTH = 0.10
VOLUME_STOPPED_PER_GB_MONTH = 0.20
CONTAINER_DISK_PER_GB_MONTH = 0.10  # while running only
NETWORK_VOLUME_PER_GB_MONTH = 0.07  # under 1 TB
HOURS_PER_MONTH = 730.0
RATES_SOURCE = "RunPod's storage prices (runpod.io/pricing, 2025-11)"
STORAGE_FIELDS = "volumeInGb containerDiskInGb networkVolumeId"


def _size(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def stopped_pod_cost(pod: dict[str, Any], network_volume_gb: int | None) -> dict[str, Any]:
    """What the pod costs a month once stopped, and its disks' share of what running costs."""
    volume = _size(pod.get("volumeInGb"))
    container = _size(pod.get("containerDiskInGb"))
    network = _size(network_volume_gb)
    parts = []
    if volume:
        parts.append(f"{volume} GB volume disk at ${VOLUME_STOPPED_PER_GB_MONTH:.2f}/GB/month")
    if network:
        parts.append(f"{network} GB network volume at ${NETWORK_VOLUME_PER_GB_MONTH:.2f}/GB/month")
    stopped = volume * VOLUME_STOPPED_PER_GB_MONTH + network * NETWORK_VOLUME_PER_GB_MONTH
    running_disks = (
        volume * VOLUME_RUNNING_PER_GB_MONTH
        + container * CONTAINER_DISK_PER_GB_MONTH
        + network * NETWORK_VOLUME_PER_GB_MONTH
    )
    return {
        "per_month": round(stopped, 2),
        "per_hour": round(stopped / HOURS_PER_MONTH, 5),
        "running_disks_per_month": round(running_disks, 2),
        "volume_gb": volume,
        "container_disk_gb": container,
        "network_volume_gb": network,
        "basis": " + ".join(parts) or "no disk is kept while stopped",
        "source": RATES_SOURCE,
    }
