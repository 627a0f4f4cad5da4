"""Where the snapshot store is, decided the same way by the server, the CLI and a kernel,
and whether it outlives the machine.

``c.GpuGuard.snapshot_dir`` in a Jupyter config file reaches the server through traitlets;
the CLI and a kernel loaded by hand (``%load_ext jupyter_gpuguard``) read the same files
here, so that all three look in one store.
"""

from __future__ import annotations

import os
from pathlib import Path

CONFIG_FILES = ("jupyter_config", "jupyter_server_config")
WORKSPACE = Path("/workspace")  # RunPod's volume: it outlives the pod
CLOUD_VMS = ("aws", "gcp", "azure")


def configured_setting(name: str) -> str | None:
    """``GpuGuard.<name>`` (a non-empty string) from the Jupyter config files, as the server
    would read it: the user's directory wins over the environment's and the system's."""
    try:
        from jupyter_core.paths import jupyter_config_path
        from traitlets.config.loader import (
            ConfigFileNotFound,
            JSONFileConfigLoader,
            PyFileConfigLoader,
        )
    except ImportError:  # a kernel's environment without Jupyter's server packages
        return None
    for directory in jupyter_config_path():
        for base in CONFIG_FILES:
            for loader in (PyFileConfigLoader, JSONFileConfigLoader):
                suffix = ".py" if loader is PyFileConfigLoader else ".json"
                try:
                    config = loader(base + suffix, path=directory).load_config()
                except ConfigFileNotFound:
                    continue
                except Exception:  # a broken config file is the server's to report
                    continue
                value = config.get("GpuGuard", {}).get(name)
                if isinstance(value, str) and value:
                    return value
    return None


def configured_snapshot_dir() -> str | None:
    """``GpuGuard.snapshot_dir`` from the Jupyter config files."""
    return configured_setting("snapshot_dir")


def default_store_path() -> Path:
    """``$GPUGUARD_STORE``, else ``c.GpuGuard.snapshot_dir`` from Jupyter's config files,
    else ``/workspace/.gpuguard`` (RunPod's volume), else Jupyter's data dir."""
    configured = os.environ.get("GPUGUARD_STORE") or configured_snapshot_dir()
    if configured:
        return Path(configured).expanduser()
    if WORKSPACE.is_dir() and os.access(WORKSPACE, os.W_OK):
        return WORKSPACE / ".gpuguard"
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "gpuguard"


def store_path_for(path: str | os.PathLike[str] | None = None) -> Path:
    """The store at ``path`` (``~`` expanded), else the default one: where ``Store(path)``
    keeps its snapshots, known without importing the store."""
    return Path(path).expanduser() if path is not None else default_store_path()


def store_persistence(store_path: Path, provider: str) -> tuple[bool | None, str]:
    """Whether snapshots in ``store_path`` outlive the machine, and why, in words.

    ``provider`` is the machine's, as instance/ names it: "runpod" on any RunPod pod."""
    resolved = store_path.resolve()
    if provider == "runpod":
        if resolved == WORKSPACE or WORKSPACE in resolved.parents:
            return True, "on the pod's /workspace volume"
        return False, "outside /workspace: this will not survive the pod"
    if provider in CLOUD_VMS:
        return None, (
            "on the VM's disk: it survives a stop, but a spot termination may delete the disk"
        )
    return True, "on this machine's disk"
