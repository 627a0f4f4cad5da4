"""The wheelhouse: the installed version and the dependencies JupyterLab does not bring, as
wheels in one directory, so that a machine with JupyterLab and no network installs the
extension with ``pip install --no-index --find-links DIR jupyter-gpuguard``.

A pod's container disk is wiped by a reset, a spot restart or a new pod, and the extension
with it; the volume is not. So the wheelhouse goes in the store (``<store>/wheels``), where
the pods' start command looks for it.

The extension's own wheel is rebuilt from the installed files (``rebuild``): neither Node
nor the source tree is needed. Compiled dependencies (blake3) need a wheel per Python:
``pip download`` fetches them for the Pythons of RunPod's images; where the index cannot be
reached, this environment's installed copies are rebuilt, which covers this Python, and the
report says which Pythons the wheelhouse lacks.
"""

from __future__ import annotations

from .needs import TARGET_PYTHONS
from .report import WheelhouseReport
from .writer import (
    WheelhouseError,
    default_dir,
    has_installed_version,
    installed,
    write_wheelhouse,
)

__all__ = [
    "TARGET_PYTHONS",
    "WheelhouseError",
    "WheelhouseReport",
    "default_dir",
    "has_installed_version",
    "installed",
    "write_wheelhouse",
]
