"""One snapshot of the replica into the local store: the chunks the store lacks, each
checked against its hash, then the manifest; the store then loads it as any other."""

from __future__ import annotations

import time
from dataclasses import dataclass

from blake3 import blake3

from ..manifests import MAX_MANIFEST_BYTES
from ..model import SnapshotError, SnapshotInfo, valid_snapshot_id
from ..store import Store
from . import layout
from .client import Bucket
from .errors import ObjectMissing, ReplicaDamaged, ReplicaSnapshotMissing
from .transfer import Countdown, Progress, run_all


@dataclass
class PullReport:
    snapshot: SnapshotInfo
    bytes_downloaded: int  # chunks and manifest
    chunks_downloaded: int
    chunks_present: int  # the local store had them
    seconds: float


def read_manifest(bucket: Bucket, snapshot_id: str) -> bytes:
    """The manifest of ``snapshot_id`` on the replica, as stored."""
    if not valid_snapshot_id(snapshot_id):
        raise SnapshotError(f"{str(snapshot_id)[:80]!r} is not a snapshot id")
    try:
        return bucket.get(layout.manifest_key(snapshot_id), MAX_MANIFEST_BYTES)
    except ObjectMissing:
        raise ReplicaSnapshotMissing(
            f"there is no snapshot {snapshot_id} on {bucket.location}"
        ) from None


def _has(store: Store, chunk_id: str, size: int) -> bool:
    try:
        store.read_chunk(chunk_id, size)
    except SnapshotError:
        return False
    return True


def pull(
    bucket: Bucket,
    store: Store,
    snapshot_id: str,
    *,
    threads: int,
    progress: Progress | None = None,
) -> PullReport:
    started = time.monotonic()
    manifest = read_manifest(bucket, snapshot_id)
    try:
        sizes = layout.manifest_chunks(layout.parse_manifest(manifest, snapshot_id))
    except ValueError as err:
        raise ReplicaDamaged(
            f"the manifest of snapshot {snapshot_id} on {bucket.location} is damaged: {err}"
        ) from None
    todo = [c for c, size in sizes.items() if not _has(store, c, size)]
    countdown = Countdown(sum(sizes[c] for c in todo), progress)

    def fetch(chunk_id: str) -> None:
        try:
            data = bucket.get(layout.chunk_key(chunk_id), sizes[chunk_id])
        except ObjectMissing:
            raise ReplicaDamaged(
                f"chunk {chunk_id[:12]} of snapshot {snapshot_id} is missing from {bucket.location}"
            ) from None
        if len(data) != sizes[chunk_id] or blake3(data).hexdigest() != chunk_id:
            raise ReplicaDamaged(
                f"chunk {chunk_id[:12]} of snapshot {snapshot_id} on {bucket.location} is "
                "damaged (content does not match its hash)"
            )
        store.import_chunk(chunk_id, data)
        countdown.done(len(data))

    run_all(fetch, todo, threads)
    info = store.import_manifest(manifest)
    return PullReport(
        info,
        sum(sizes[c] for c in todo) + len(manifest),
        len(todo),
        len(sizes) - len(todo),
        time.monotonic() - started,
    )
