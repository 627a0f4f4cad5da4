"""Machines the tests describe by hand (``c.GpuGuard.manual_instance``)."""

from __future__ import annotations

from typing import Any

# A spot RTX A6000 at $0.23/h, $0.49/h on demand: the panel's usual picture.
SPOT: dict[str, Any] = {
    "instance_type": "gpu-1x-a6000",
    "gpu_name": "RTX A6000",
    "gpu_count": 1,
    "gpu_memory_gb": 48,
    "interruptible": True,
    "price_per_hour": 0.23,
    "on_demand_price_per_hour": 0.49,
    "region": "EU-RO-1",
}
