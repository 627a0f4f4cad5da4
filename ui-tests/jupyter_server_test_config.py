"""Galata server 1 (port 8888): a manually described SPOT machine."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from galata_servers import configure, serve_fake_runpod  # noqa: E402

configure(c, 8888)  # noqa: F821
c.GpuGuard.provider = "manual"  # noqa: F821
sys.path.insert(0, str(Path(__file__).parent.parent))
from tests.helpers.machines import SPOT  # noqa: E402

c.GpuGuard.manual_instance = SPOT  # noqa: F821
serve_fake_runpod(c, 18888)  # noqa: F821
