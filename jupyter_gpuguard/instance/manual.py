"""A machine the user describes in ``c.GpuGuard.manual_instance``."""

from __future__ import annotations

from typing import Any

from ..reported import positive_price
from .model import InstanceInfo

MANUAL_KEYS = {
    "instance_type",
    "gpu_name",
    "gpu_count",
    "gpu_memory_gb",
    "region",
    "interruptible",
    "price_per_hour",
    "on_demand_price_per_hour",
    "currency",
}
SOURCE = "your c.GpuGuard.manual_instance setting"


def _optional_str(settings: dict[str, Any], key: str, problems: list[str]) -> str | None:
    value = settings.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        problems.append(f"{key} must be text")
        return None
    return value


def from_settings(settings: dict[str, Any]) -> InstanceInfo:
    """Build InstanceInfo from the setting; a bad value is reported in ``detail``, not raised."""
    problems: list[str] = []
    unknown_keys = sorted(set(settings) - MANUAL_KEYS)
    if unknown_keys:
        problems.append(f"unknown keys {', '.join(unknown_keys)}")

    info = InstanceInfo(provider="manual", price_source=SOURCE)
    info.instance_type = _optional_str(settings, "instance_type", problems)
    info.gpu_name = _optional_str(settings, "gpu_name", problems)
    info.region = _optional_str(settings, "region", problems)
    currency = _optional_str(settings, "currency", problems)
    if currency:
        info.currency = currency

    gpu_count = settings.get("gpu_count", 1 if info.gpu_name else 0)
    if isinstance(gpu_count, int) and not isinstance(gpu_count, bool) and gpu_count >= 0:
        info.gpu_count = gpu_count
    else:
        problems.append("gpu_count must be a whole number")

    if "gpu_memory_gb" in settings:
        info.gpu_memory_gb = positive_price(settings["gpu_memory_gb"])
        if info.gpu_memory_gb is None:
            problems.append("gpu_memory_gb must be a positive number")

    interruptible = settings.get("interruptible")
    if interruptible is None or isinstance(interruptible, bool):
        info.interruptible = interruptible
    else:
        problems.append("interruptible must be true or false")

    for key in ("price_per_hour", "on_demand_price_per_hour"):
        if key in settings and settings[key] is not None:
            price = positive_price(settings[key])
            if price is None:
                problems.append(f"{key} must be a positive number")
            setattr(info, key, price)
    if info.interruptible is False and info.on_demand_price_per_hour is None:
        info.on_demand_price_per_hour = info.price_per_hour

    kind = {True: "spot", False: "on-demand", None: ""}[info.interruptible]
    described = f"Manually configured {kind} machine".replace("  ", " ")
    if problems:
        info.detail = (
            f"{described}; c.GpuGuard.manual_instance has problems: {'; '.join(problems)}."
        )
    elif info.price_per_hour is None:
        info.detail = f"{described}, no hourly price set."
    else:
        info.detail = f"{described}."
    return info
