"""One snapshot of the local store onto the replica: the chunks it lacks, then the manifest.

The manifest goes last: a snapshot exists on the replica once its manifest is there, so an
upload killed at any point leaves only complete snapshots listed (and chunks that the next
upload counts on, or that a prune removes after its grace period).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..model import SnapshotError
from ..store import Store
from . import layout
from .client import Bucket
from .errors import ReplicaError
from .index import ChunkIndex
from .transfer import Countdown, Progress, run_all

# Rounds of "the listing got old: list again, upload what a prune condemned meanwhile"
# before an upload gives up; each round is rare (one per max_age of uploading).
MAX_ROUNDS = 5


@dataclass
class UploadReport:
    snapshot_id: str
    bytes_uploaded: int  # chunks and manifest
    chunks_uploaded: int
    chunks_present: int  # the replica had them
    seconds: float
    already: bool = False  # the replica had the snapshot: nothing was uploaded


def upload(
    bucket: Bucket,
    index: Callable[[float], ChunkIndex],
    store: Store,
    snapshot_id: str,
    *,
    max_age: float,
    threads: int,
    progress: Progress | None = None,
) -> UploadReport:
    """Upload ``snapshot_id`` from ``store``. ``index(max_age)`` answers a chunk index no
    older than ``max_age`` seconds, listing again when the one it has is older."""
    started = time.monotonic()
    manifest = store.export_manifest(snapshot_id)
    try:
        sizes = layout.manifest_chunks(layout.parse_manifest(manifest, snapshot_id))
    except ValueError as err:
        raise SnapshotError(f"the manifest of snapshot {snapshot_id} is damaged: {err}") from err
    if bucket.head(layout.manifest_key(snapshot_id)) is not None:
        Countdown(0, progress)
        return UploadReport(snapshot_id, 0, 0, len(sizes), time.monotonic() - started, True)
    current = index(max_age)
    todo = [c for c, size in sizes.items() if not current.has(c, size)]
    countdown = Countdown(sum(sizes[c] for c in todo) + len(manifest), progress)
    sent: set[str] = set()

    def put(chunk_id: str) -> None:
        try:
            data = store.read_chunk(chunk_id, sizes[chunk_id]) or b""
        except SnapshotError as err:
            raise SnapshotError(f"snapshot {snapshot_id} cannot be uploaded: {err}") from err
        bucket.put(layout.chunk_key(chunk_id), data)
        current.uploaded.add(chunk_id)
        sent.add(chunk_id)
        countdown.done(len(data))

    for _round in range(MAX_ROUNDS):
        run_all(put, todo, threads)
        # A prune deletes a chunk only a grace period after recording it unreferenced, and
        # the grace is longer than max_age: what this listing showed is still there.
        if current.age() <= max_age:
            break
        current = index(max_age)
        todo = [c for c, size in sizes.items() if not current.has(c, size)]
        if not todo:
            break
        countdown.left += sum(sizes[c] for c in todo)
        countdown.report()
    else:
        raise ReplicaError(
            f"{bucket.location} kept losing chunks while snapshot {snapshot_id} was uploaded"
        )
    bucket.put(layout.manifest_key(snapshot_id), manifest)
    countdown.done(len(manifest))
    return UploadReport(
        snapshot_id,
        sum(sizes[c] for c in sent) + len(manifest),
        len(sent),
        len(sizes) - len(sent),
        time.monotonic() - started,
    )
