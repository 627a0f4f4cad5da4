"""jupyter-gpuguard: notebook-safe GPU sessions."""

from __future__ import annotations

from typing import Any

try:
    from ._version import __version__
except ImportError:  # running from a source tree that was never built
    __version__ = "dev"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-gpuguard"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    # Imported here so that `import jupyter_gpuguard` (e.g. in a kernel) stays cheap.
    from .server.extension import GpuGuardApp

    return [{"module": "jupyter_gpuguard", "app": GpuGuardApp}]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_gpuguard``: snapshot magics and background snapshots."""
    from .snapshot.kernel import load_ipython_extension as load

    load(ipython)
