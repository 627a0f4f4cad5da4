"""Galata server 3 (port 8890): a laptop, no cloud, no GPU."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from galata_servers import configure  # noqa: E402

configure(c, 8890)  # noqa: F821
c.GpuGuard.provider = "auto"  # noqa: F821
