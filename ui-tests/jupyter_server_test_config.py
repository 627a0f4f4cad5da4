"""Galata server 1 (port 8888): a manually described SPOT machine."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from galata_servers import configure, serve_fake_runpod  # noqa: E402

configure(c, 8888)  # noqa: F821
c.GpuGuard.provider = "manual"  # noqa: F821
c.GpuGuard.manual_instance = {  # noqa: F821
    "instance_type": "gpu-1x-a6000",
    "gpu_name": "RTX A6000",
    "gpu_count": 1,
    "gpu_memory_gb": 48,
    "interruptible": True,
    "price_per_hour": 0.23,
    "on_demand_price_per_hour": 0.49,
    "region": "EU-RO-1",
}
serve_fake_runpod(c, 18888)  # noqa: F821
