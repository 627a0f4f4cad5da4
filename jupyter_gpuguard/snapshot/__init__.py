"""Snapshots of kernel variables: works without Jupyter, from any Python process.

The names below are loaded on first use: the server imports ``snapshot.location`` and
``snapshot.model`` as it starts, and the store's modules (pickling, hashing, restoring)
only once a kernel or a snapshot route needs them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .location import default_store_path
    from .model import (
        FailedVariable,
        LoadResult,
        PruneReport,
        SkippedVariable,
        SnapshotError,
        SnapshotInfo,
        StoreSecurityError,
        VariableInfo,
        VerifyReport,
    )
    from .store import Store

_HOMES = {
    "FailedVariable": "model",
    "LoadResult": "model",
    "PruneReport": "model",
    "SkippedVariable": "model",
    "SnapshotError": "model",
    "SnapshotInfo": "model",
    "Store": "store",
    "StoreSecurityError": "model",
    "VariableInfo": "model",
    "VerifyReport": "model",
    "default_store_path": "location",
}

__all__ = [
    "FailedVariable",
    "LoadResult",
    "PruneReport",
    "SkippedVariable",
    "SnapshotError",
    "SnapshotInfo",
    "Store",
    "StoreSecurityError",
    "VariableInfo",
    "VerifyReport",
    "default_store_path",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value
