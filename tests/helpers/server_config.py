"""The Jupyter server configuration tests start from: our extension, no real cloud."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.fakes.server import closed_port_url


def local_server_config(store_dir: Path, **settings: Any) -> dict[str, Any]:
    """A local machine (no cloud answers), snapshots in ``store_dir``; ``settings`` win."""
    closed = closed_port_url()
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_gpuguard": True}},
        "GpuGuard": {
            "provider": "local",
            "aws_metadata_url": closed,
            "gcp_metadata_url": closed,
            "azure_metadata_url": closed,
            "nvml": False,
            "snapshot_dir": str(store_dir),
            **settings,
        },
    }
