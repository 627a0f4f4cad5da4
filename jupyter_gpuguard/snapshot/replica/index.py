"""What a replica holds, from one listing of its prefix: its chunks, manifests and prune
records, and which chunks an upload may count on.

A chunk a prune found unreferenced (named in an ``unreferenced/`` record) may be deleted
once that record is older than the prune's grace period; an upload counts on such a chunk
only if it was written after the record, and uploads it again otherwise.
"""

from __future__ import annotations

import json
import time
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from datetime import datetime

from . import layout
from .client import Bucket, ObjectInfo
from .errors import ObjectMissing, ReplicaDamaged

MAX_MARKER_BYTES = 64 * 1024 * 1024  # ids of a million chunks


@dataclass
class Listing:
    """Every object below the replica's prefix, from one ListObjectsV2 pass."""

    chunks: dict[str, ObjectInfo]
    manifests: dict[str, ObjectInfo]
    markers: dict[str, ObjectInfo]
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def scan(cls, bucket: Bucket) -> Listing:
        started = time.monotonic()
        chunks, manifests, markers = {}, {}, {}
        for info in bucket.list(""):
            if (chunk_id := layout.chunk_of(info.key)) is not None:
                chunks[chunk_id] = info
            elif (snapshot_id := layout.snapshot_of(info.key)) is not None:
                manifests[snapshot_id] = info
            elif layout.is_marker(info.key):
                markers[info.key] = info
        return cls(chunks, manifests, markers, started)


def marker_bytes(chunk_ids: set[str]) -> bytes:
    return json.dumps({"chunks": sorted(chunk_ids)}).encode()


def read_marker(
    bucket: Bucket, key: str, cache: MutableMapping[str, frozenset[str]]
) -> frozenset[str]:
    """The chunk ids a prune record names (records never change: cached). A damaged record
    names none, for prunes and uploads alike: no chunk is deleted on its word."""
    if key in cache:
        return cache[key]
    try:
        data = json.loads(bucket.get(key, MAX_MARKER_BYTES))
        named = data["chunks"] if isinstance(data, dict) else None
        if not isinstance(named, list):
            raise ValueError("no list of chunks")
        found = frozenset(c for c in named if isinstance(c, str) and layout.valid_chunk_id(c))
    except ObjectMissing:
        return frozenset()  # removed by a prune since the listing
    except (ValueError, RecursionError, ReplicaDamaged):
        found = frozenset()
    cache[key] = found
    return found


@dataclass
class ChunkIndex:
    """The chunks an upload may count on the replica having."""

    listing: Listing
    condemned: dict[str, datetime]  # chunk id -> the newest prune record naming it
    uploaded: set[str] = field(default_factory=set)  # put since the listing

    @classmethod
    def scan(cls, bucket: Bucket, markers: MutableMapping[str, frozenset[str]]) -> ChunkIndex:
        listing = Listing.scan(bucket)
        condemned: dict[str, datetime] = {}
        for key, info in listing.markers.items():
            for chunk_id in read_marker(bucket, key, markers):
                if chunk_id not in condemned or condemned[chunk_id] < info.modified:
                    condemned[chunk_id] = info.modified
        return cls(listing, condemned)

    def has(self, chunk_id: str, size: int) -> bool:
        if chunk_id in self.uploaded:
            return True
        info = self.listing.chunks.get(chunk_id)
        if info is None or info.size != size:
            return False
        recorded = self.condemned.get(chunk_id)
        return recorded is None or info.modified > recorded

    def age(self) -> float:
        return time.monotonic() - self.listing.started
