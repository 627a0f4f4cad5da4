"""Server configuration for the Galata integration tests.

It describes a manual SPOT instance so that the tests see a fixed machine
wherever they run.
"""

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821

c.ServerApp.allow_root = True  # noqa: F821

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
