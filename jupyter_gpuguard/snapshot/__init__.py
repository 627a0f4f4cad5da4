"""Snapshots of kernel variables: works without Jupyter, from any Python process."""

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
