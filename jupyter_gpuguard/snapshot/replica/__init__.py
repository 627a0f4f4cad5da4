"""A replica of the snapshot store on S3-compatible object storage (AWS S3, Google Cloud
Storage's S3 interface, Cloudflare R2, MinIO, RunPod's S3 API for network volumes).

The local store stays the fast tier: snapshots are taken there, then uploaded; a replica
outlives the machine and its disk. It uses the store through its public methods alone, and
needs obstore (``pip install 'jupyter-gpuguard[s3]'``), imported on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import Credentials, Timeouts
    from .errors import (
        ReplicaBucketMissing,
        ReplicaConfigError,
        ReplicaCredentialsRefused,
        ReplicaDamaged,
        ReplicaError,
        ReplicaNoCredentials,
        ReplicaNotInstalled,
        ReplicaNotS3,
        ReplicaPermissionDenied,
        ReplicaServerError,
        ReplicaSnapshotMissing,
        ReplicaUnreachable,
        ReplicaWrongRegion,
    )
    from .prune import ReplicaPruneReport
    from .pull import PullReport
    from .replica import Replica
    from .upload import UploadReport

# Each name is loaded on first use: the server's routes import the errors as it starts, and
# the store and the S3 client only once a replica is used.
_HOMES = {
    "Credentials": "client",
    "PullReport": "pull",
    "Replica": "replica",
    "ReplicaBucketMissing": "errors",
    "ReplicaConfigError": "errors",
    "ReplicaCredentialsRefused": "errors",
    "ReplicaDamaged": "errors",
    "ReplicaError": "errors",
    "ReplicaNoCredentials": "errors",
    "ReplicaNotInstalled": "errors",
    "ReplicaNotS3": "errors",
    "ReplicaPermissionDenied": "errors",
    "ReplicaPruneReport": "prune",
    "ReplicaServerError": "errors",
    "ReplicaSnapshotMissing": "errors",
    "ReplicaUnreachable": "errors",
    "ReplicaWrongRegion": "errors",
    "Timeouts": "client",
    "UploadReport": "upload",
}

__all__ = [
    "Credentials",
    "PullReport",
    "Replica",
    "ReplicaBucketMissing",
    "ReplicaConfigError",
    "ReplicaCredentialsRefused",
    "ReplicaDamaged",
    "ReplicaError",
    "ReplicaNoCredentials",
    "ReplicaNotInstalled",
    "ReplicaNotS3",
    "ReplicaPermissionDenied",
    "ReplicaPruneReport",
    "ReplicaServerError",
    "ReplicaSnapshotMissing",
    "ReplicaUnreachable",
    "ReplicaWrongRegion",
    "Timeouts",
    "UploadReport",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value
