"""Check a replica's snapshots where they are, without pulling them.

Each manifest is read and checked as a pull checks it (so a snapshot that verifies here can
be pulled), and every chunk it names must be on the replica with the size it names: one
listing of the chunks for many snapshots (listings are slow past 10k objects, but one page
holds 1000), a HEAD per chunk for one snapshot. ``deep`` downloads each chunk once and
checks it against its hash as well.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from blake3 import blake3

from .. import manifests
from ..model import DamagedChunk, VerifyReport
from . import layout
from .client import Bucket, ObjectInfo
from .errors import ObjectMissing, ReplicaDamaged, ReplicaSnapshotMissing
from .pull import read_manifest
from .transfer import run_all

# One snapshot names few chunks: a HEAD each beats listing every chunk of the replica.
HEADS_BELOW = 1000


def read_checked(bucket: Bucket, snapshot_id: str) -> dict[str, Any]:
    """The manifest of ``snapshot_id`` on the replica, its fields and chunks checked as the
    local store checks a manifest it imports; ReplicaDamaged naming what is wrong."""
    data = read_manifest(bucket, snapshot_id)
    try:
        manifest = layout.parse_manifest(data, snapshot_id)
        manifests._check_fields(manifest)
        manifests._check_groups(manifest)
    except (ValueError, TypeError, KeyError) as err:
        raise ReplicaDamaged(
            f"the manifest of snapshot {snapshot_id} on {bucket.location} is damaged: "
            f"{str(err)[:200]}"
        ) from None
    return manifest


@dataclass
class _Chunk:
    size: int
    names: list[str] = field(default_factory=list)  # the variables that use it, all snapshots


def _named(bucket: Bucket, snapshot_ids: list[str], problems: list[str]) -> dict[str, _Chunk]:
    named: dict[str, _Chunk] = {}
    for snapshot_id in snapshot_ids:
        try:
            manifest = read_checked(bucket, snapshot_id)
        except ReplicaSnapshotMissing:
            if len(snapshot_ids) == 1:
                raise  # the one asked for: not damage, a wrong id
            continue  # removed by a prune since the listing
        except ReplicaDamaged as err:
            problems.append(f"{snapshot_id}: {err}")
            continue
        for chunk_id, size, names in manifests.chunks_of(manifest):
            chunk = named.setdefault(chunk_id, _Chunk(size))
            if chunk.size != size:  # two manifests disagree: the replica's object decides
                problems.append(f"{snapshot_id}: chunk {chunk_id[:12]} is named with two sizes")
            chunk.names.extend(n for n in names if n not in chunk.names)
    return named


def verify(bucket: Bucket, snapshot_ids: list[str], *, deep: bool, threads: int) -> VerifyReport:
    """Check ``snapshot_ids`` on the replica; ReplicaSnapshotMissing when the one id given is
    not there. Failures to reach the replica are raised, not reported as damage."""
    problems: list[str] = []
    named = _named(bucket, snapshot_ids, problems)
    where = bucket.location
    found: dict[str, str] = {}  # chunk id -> what is wrong with it
    absent: set[str] = set()
    lock = threading.Lock()

    def fault(chunk_id: str, problem: str) -> None:
        with lock:
            found[chunk_id] = problem

    def check_size(chunk_id: str, info: ObjectInfo | None) -> bool:
        if info is None:
            fault(chunk_id, f"chunk {chunk_id[:12]} is missing from {where}")
            absent.add(chunk_id)
            return False
        if info.size != named[chunk_id].size:
            fault(
                chunk_id,
                f"chunk {chunk_id[:12]} on {where} is damaged (wrong size: {info.size} bytes, "
                f"not {named[chunk_id].size})",
            )
            return False
        return True

    def download(chunk_id: str) -> None:
        size = named[chunk_id].size
        try:
            data = bucket.get(layout.chunk_key(chunk_id), size)
        except ObjectMissing:
            check_size(chunk_id, None)
            return
        except ReplicaDamaged:  # larger than the manifest says
            fault(chunk_id, f"chunk {chunk_id[:12]} on {where} is damaged (wrong size)")
            return
        if len(data) != size:
            fault(chunk_id, f"chunk {chunk_id[:12]} on {where} is damaged (wrong size)")
        elif blake3(data).hexdigest() != chunk_id:
            fault(
                chunk_id,
                f"chunk {chunk_id[:12]} on {where} is damaged (content does not match its hash)",
            )

    ids = sorted(named)
    if deep:
        run_all(download, ids, threads)
    elif len(snapshot_ids) == 1 and len(ids) < HEADS_BELOW:
        run_all(lambda c: check_size(c, bucket.head(layout.chunk_key(c))), ids, threads)
    else:
        present = {}
        for info in bucket.list(layout.CHUNKS):
            if (chunk_id := layout.chunk_of(info.key)) is not None and chunk_id in named:
                present[chunk_id] = info
        for chunk_id in ids:
            check_size(chunk_id, present.get(chunk_id))
    damaged = [DamagedChunk(c, found[c], named[c].names, c in absent) for c in ids if c in found]
    return VerifyReport(list(snapshot_ids), len(ids), damaged, problems)
