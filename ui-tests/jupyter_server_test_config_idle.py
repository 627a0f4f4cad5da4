"""Galata server 6 (port 8893): a spot machine at $2.49/h whose idle stop is 90 s away and
warns 80 s before; its stop command does nothing, so the server outlives a stop. Only
idle.spec.ts uses it: every other server keeps idle stop off, its default."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from galata_servers import configure  # noqa: E402

configure(c, 8893)  # noqa: F821
sys.path.insert(0, str(Path(__file__).parent.parent))
from tests.helpers.machines import SPOT  # noqa: E402

c.GpuGuard.provider = "manual"  # noqa: F821
AT_2_49 = {"price_per_hour": 2.49, "on_demand_price_per_hour": 3.99}
c.GpuGuard.manual_instance = {**SPOT, **AT_2_49}  # noqa: F821
c.GpuGuard.idle_stop_after = 90.0  # noqa: F821
c.GpuGuard.idle_warn_before = 80.0  # noqa: F821
c.GpuGuard.idle_check_interval = 1.0  # noqa: F821
c.GpuGuard.idle_stop_command = "true"  # noqa: F821
c.GpuGuard.snapshot_interval = 2.0  # noqa: F821
