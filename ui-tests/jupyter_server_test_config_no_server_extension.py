"""Galata server 4 (port 8891): the frontend is installed but the server extension is off."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from galata_servers import configure  # noqa: E402

configure(c, 8891)  # noqa: F821
c.ServerApp.jpserver_extensions = {"jupyter_gpuguard": False}  # noqa: F821
