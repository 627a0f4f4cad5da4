"""The replica: one ``s3://bucket/prefix``, with the store's operations on it."""

from __future__ import annotations

import threading
from typing import Any

from ..model import SnapshotInfo, VerifyReport
from ..store import Store
from . import layout
from .client import Bucket, Credentials, Location, Timeouts
from .errors import (
    ReplicaConfigError,
    ReplicaDamaged,
    ReplicaSnapshotMissing,
)
from .index import ChunkIndex
from .prune import ReplicaPruneReport, prune
from .pull import PullReport, pull, read_manifest
from .transfer import Progress
from .upload import UploadReport, upload
from .verify import read_checked, verify

THREADS = 8  # objects in flight: 4 MiB chunks need a few at once to fill a link
INDEX_MAX_AGE = 300.0  # seconds an upload counts on one listing; prune's grace is longer


class Replica:
    """``s3://bucket/prefix`` on an S3-compatible service.

    ``endpoint_url``: the service (None: AWS S3); ``region``: its region (else
    ``AWS_REGION``, ``~/.aws/config``, us-east-1); ``credentials``: keys given explicitly,
    else the standard AWS chain. Safe to use from several threads; uploads run one at a
    time.
    """

    def __init__(
        self,
        url: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        credentials: Credentials | None = None,
        timeouts: Timeouts | None = None,
        threads: int = THREADS,
        index_max_age: float = INDEX_MAX_AGE,
    ) -> None:
        self.location = Location.parse(url)
        self.threads = threads
        self.index_max_age = index_max_age
        self._bucket = Bucket(
            self.location,
            endpoint_url=endpoint_url,
            region=region,
            credentials=credentials,
            timeouts=timeouts,
        )
        self._lock = threading.Lock()
        self._index: ChunkIndex | None = None
        # objects that never change once written, read once
        self._manifests: dict[str, bytes] = {}
        self._markers: dict[str, frozenset[str]] = {}

    @property
    def url(self) -> str:
        return str(self.location)

    @property
    def endpoint(self) -> str:
        return self._bucket.endpoint

    def __repr__(self) -> str:
        return f"Replica({self.url!r}, {self.endpoint!r})"

    def check(self) -> None:
        """Raise the ReplicaError that keeps the replica from being used, if any: an
        endpoint that cannot be reached or does not answer as S3 does, refused credentials,
        a missing bucket."""
        self._bucket.probe()
        next(iter(self._bucket.list(layout.SNAPSHOTS)), None)

    def _fresh_index(self, max_age: float) -> ChunkIndex:
        if self._index is None or self._index.age() > max_age:
            self._index = ChunkIndex.scan(self._bucket, self._markers)
        return self._index

    def upload(
        self, store: Store, snapshot_id: str, progress: Progress | None = None
    ) -> UploadReport:
        """Upload a snapshot of ``store``: the chunks the replica lacks, then its manifest.
        ``progress(bytes_left)`` is called as each object lands, from the upload's threads."""
        with self._lock:
            self._bucket.probe()
            try:
                return upload(
                    self._bucket,
                    self._fresh_index,
                    store,
                    snapshot_id,
                    max_age=self.index_max_age,
                    threads=self.threads,
                    progress=progress,
                )
            except BaseException:
                self._index = None  # what failed may have left the index unsure
                raise

    def ids(self) -> list[str]:
        """The ids of the replica's snapshots, newest first: a manifest there means its
        chunks are there."""
        self._bucket.probe()
        found = [layout.snapshot_of(info.key) for info in self._bucket.list(layout.SNAPSHOTS)]
        return sorted((i for i in found if i is not None), reverse=True)

    def list(self, notebook: str | None = None) -> list[SnapshotInfo]:
        """The replica's complete snapshots, newest first (``notebook``: only that one's);
        manifests that cannot be read are left out."""
        infos = []
        for snapshot_id in self.ids():
            try:
                data = self._manifests.get(snapshot_id) or read_manifest(self._bucket, snapshot_id)
                self._manifests[snapshot_id] = data
                info = SnapshotInfo.from_manifest(layout.parse_manifest(data, snapshot_id))
            except (ReplicaDamaged, ReplicaSnapshotMissing, ValueError, KeyError, TypeError):
                continue
            if notebook is None or info.notebook == notebook:
                infos.append(info)
        return infos

    def manifest(self, snapshot_id: str) -> dict[str, Any]:
        """The manifest of a snapshot on the replica, checked as a pull checks it:
        ReplicaSnapshotMissing when it is not there, ReplicaDamaged when it is damaged."""
        self._bucket.probe()
        return read_checked(self._bucket, snapshot_id)

    def verify(self, snapshot_id: str | None = None, deep: bool = False) -> VerifyReport:
        """Check one snapshot (or all) where it is: its manifest is read and checked, and
        every chunk it names is there with its size; ``deep`` downloads each chunk and checks
        it against its hash. Damage is reported; ReplicaSnapshotMissing when the one asked
        for is not there."""
        self._bucket.probe()
        ids = [snapshot_id] if snapshot_id is not None else self.ids()
        return verify(self._bucket, ids, deep=deep, threads=self.threads)

    def pull(self, store: Store, snapshot_id: str, progress: Progress | None = None) -> PullReport:
        """Download a snapshot into ``store``: the chunks it lacks, checked against their
        hashes, then the manifest; ``store.load(snapshot_id)`` reads it from then on."""
        self._bucket.probe()
        return pull(self._bucket, store, snapshot_id, threads=self.threads, progress=progress)

    def prune(self, keep: int = 10, grace_seconds: float = 3600.0) -> ReplicaPruneReport:
        """Keep the newest ``keep`` snapshots of each notebook; delete the chunks no manifest
        has named for ``grace_seconds`` (at least twice the uploads' index age)."""
        if keep < 1:
            raise ReplicaConfigError("prune must keep at least one snapshot")
        if grace_seconds < 2 * self.index_max_age:
            raise ReplicaConfigError(
                f"the grace period must be at least {2 * self.index_max_age:g} seconds"
            )
        with self._lock:
            self._bucket.probe()
            try:
                return prune(
                    self._bucket,
                    keep,
                    grace_seconds,
                    self._manifests,
                    self._markers,
                    self.threads,
                )
            finally:
                self._index = None
