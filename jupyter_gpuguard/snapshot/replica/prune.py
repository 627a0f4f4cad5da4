"""Prune a replica: the newest N snapshots of each notebook stay; a chunk goes once no
manifest has named it for a whole grace period.

S3-compatible services may have no locks, no conditional writes and no DeleteObjects
(RunPod's has none of them), so a concurrent upload is kept safe by time alone, as restic's
and kopia's designs do. Each prune lists the prefix once (listings are slow past 10k
objects), records the chunks no manifest names in a new ``unreferenced/`` object, and
deletes, one DeleteObject each, the chunks an earlier record named at least ``grace``
seconds before (by the service's clock) that are still unreferenced and were not written
again since. An upload counts on a recorded chunk only if it was written after the record
(``index``), and lists again before its manifest when its listing is older than a grace
period's half: what it counts on is still there when its manifest lands.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from ..identity import group_key
from ..manifests import MAX_MANIFEST_BYTES
from ..model import SnapshotInfo
from . import layout
from .client import Bucket, ObjectInfo
from .errors import ObjectMissing, ReplicaDamaged, ReplicaError
from .index import Listing, marker_bytes, read_marker
from .transfer import run_all


@dataclass
class ReplicaPruneReport:
    removed: list[str] = field(default_factory=list)  # snapshot ids
    removed_chunks: int = 0
    freed_bytes: int = 0
    waiting_chunks: int = 0  # unreferenced, kept until their grace period has passed
    problems: list[str] = field(default_factory=list)  # manifests that cannot be read
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, size: int) -> None:
        with self._lock:
            self.removed_chunks += 1
            self.freed_bytes += size


def _new_marker() -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    return layout.marker_key(f"{stamp}-{secrets.token_hex(4)}")


def _referenced(
    bucket: Bucket,
    listing: Listing,
    manifests: dict[str, bytes],
    keep: int,
    report: ReplicaPruneReport,
) -> tuple[set[str] | None, list[str]]:
    """(the chunks the surviving manifests name, the snapshot ids to remove). A manifest
    that cannot be parsed is kept, with every chunk id in its text; one that cannot be
    fetched at all leaves the chunks None: then no chunk is known to be unreferenced."""
    infos: list[tuple[SnapshotInfo, dict[str, int]]] = []
    held: set[str] | None = set()
    for snapshot_id in sorted(listing.manifests, reverse=True):  # newest first
        data = manifests.get(snapshot_id)
        if data is None:
            try:
                data = bucket.get(layout.manifest_key(snapshot_id), MAX_MANIFEST_BYTES)
            except ObjectMissing:
                continue  # removed since the listing
            except ReplicaDamaged as err:
                report.problems.append(f"{snapshot_id}: {err}")
                held = None
                continue
            manifests[snapshot_id] = data
        try:
            manifest = layout.parse_manifest(data, snapshot_id)
            infos.append((SnapshotInfo.from_manifest(manifest), layout.manifest_chunks(manifest)))
        except (ValueError, KeyError, TypeError, OverflowError) as err:
            report.problems.append(f"{snapshot_id}: the manifest is damaged ({err})")
            if held is not None:
                held |= layout.named_chunks(data)
    kept: dict[tuple[str, str | None], int] = {}
    removed = []
    for info, chunks in infos:
        key = group_key(info)
        if kept.get(key, 0) >= keep:
            removed.append(info.id)
        else:
            kept[key] = kept.get(key, 0) + 1
            if held is not None:
                held |= chunks.keys()
    return held, removed


def prune(
    bucket: Bucket,
    keep: int,
    grace: float,
    manifests: dict[str, bytes],
    markers: dict[str, frozenset[str]],
    threads: int,
) -> ReplicaPruneReport:
    """``manifests`` and ``markers``: what earlier calls read (neither ever changes)."""
    report = ReplicaPruneReport()
    listing = Listing.scan(bucket)
    referenced, removed = _referenced(bucket, listing, manifests, keep, report)
    for snapshot_id in removed:  # manifests first: their chunks are unreferenced from now
        bucket.delete(layout.manifest_key(snapshot_id))
        manifests.pop(snapshot_id, None)
        report.removed.append(snapshot_id)
    if referenced is None:
        return report
    unreferenced = set(listing.chunks) - referenced
    if not unreferenced:
        for key in listing.markers:
            bucket.delete(key)
            markers.pop(key, None)
        return report
    record = _new_marker()
    bucket.put(record, marker_bytes(unreferenced))
    written = bucket.head(record)
    if written is None:
        raise ReplicaError(f"{bucket.location} lost the prune's record just written")
    # the service's clock, which stamped every object: the machine's may be off
    cutoff = written.modified - timedelta(seconds=grace)
    doomed: dict[str, ObjectInfo] = {}
    expired = [key for key, info in listing.markers.items() if info.modified <= cutoff]
    for key in expired:
        recorded = listing.markers[key].modified
        for chunk_id in read_marker(bucket, key, markers) & unreferenced:
            if listing.chunks[chunk_id].modified < recorded:
                doomed[chunk_id] = listing.chunks[chunk_id]

    def delete(chunk_id: str) -> None:
        # An upload may have written the chunk again since the listing: then it stays.
        now = bucket.head(layout.chunk_key(chunk_id))
        if now is None or now.modified > doomed[chunk_id].modified:
            return
        bucket.delete(layout.chunk_key(chunk_id))
        report.count(now.size)

    run_all(delete, sorted(doomed), threads)
    for key in expired:
        bucket.delete(key)
        markers.pop(key, None)
    report.waiting_chunks = len(unreferenced) - report.removed_chunks
    if not report.waiting_chunks:
        bucket.delete(record)  # it names only chunks deleted now
    return report
