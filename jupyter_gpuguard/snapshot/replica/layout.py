"""The replica's objects below its prefix, laid out as the local store's files are:

    chunks/ab/abcdef...        a chunk, named by its BLAKE3 hash
    snapshots/<id>.json        a manifest: the snapshot exists once it is there
    unreferenced/<name>.json   a prune's record of the chunks no manifest named then

Every name read back from a listing or a manifest is checked before it is used.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ..chunks import CHUNK_SIZE, valid_chunk_id
from ..model import valid_snapshot_id

CHUNKS = "chunks/"
SNAPSHOTS = "snapshots/"
UNREFERENCED = "unreferenced/"
_CHUNK_ID_IN_TEXT = re.compile(rb'"([0-9a-f]{64})"')
_MARKER = re.compile(r"[0-9A-Za-z.\-]{1,80}")


def chunk_key(chunk_id: str) -> str:
    return f"{CHUNKS}{chunk_id[:2]}/{chunk_id}"


def manifest_key(snapshot_id: str) -> str:
    return f"{SNAPSHOTS}{snapshot_id}.json"


def marker_key(name: str) -> str:
    return f"{UNREFERENCED}{name}.json"


def chunk_of(key: str) -> str | None:
    """The chunk id a key names, if it names one."""
    name = key.removeprefix(CHUNKS)
    if name == key or len(name) != 67 or name[2] != "/" or not valid_chunk_id(name[3:]):
        return None
    return name[3:] if name[:2] == name[3:5] else None


def snapshot_of(key: str) -> str | None:
    """The snapshot id a manifest's key names, if it names one."""
    name = key.removeprefix(SNAPSHOTS)
    if name == key or not name.endswith(".json") or not valid_snapshot_id(name[:-5]):
        return None
    return name[:-5]


def is_marker(key: str) -> bool:
    name = key.removeprefix(UNREFERENCED)
    return name != key and name.endswith(".json") and _MARKER.fullmatch(name[:-5]) is not None


def parse_manifest(data: bytes, snapshot_id: str | None = None) -> dict[str, Any]:
    """The manifest in ``data``; ValueError unless it is a JSON object with the id asked for."""
    try:
        manifest = json.loads(data)
    except RecursionError:
        raise ValueError("it is nested too deeply") from None
    if not isinstance(manifest, dict) or not valid_snapshot_id(manifest.get("id")):
        raise ValueError("it is not a snapshot's manifest")
    if snapshot_id is not None and manifest["id"] != snapshot_id:
        raise ValueError("it is the manifest of another snapshot")
    return manifest


def manifest_chunks(manifest: Mapping[str, Any]) -> dict[str, int]:
    """chunk id -> size for every chunk the manifest names, each once; ValueError unless
    each is a valid id with a size a chunk can have."""
    found: dict[str, int] = {}
    groups = manifest.get("groups")
    if not isinstance(groups, list):
        raise ValueError("it has no list of groups")
    for group in groups:
        if not isinstance(group, dict) or not isinstance(group.get("buffers"), list):
            raise ValueError("a group is not an object with buffers")
        for pairs in [group.get("stream"), *group["buffers"]]:
            if not isinstance(pairs, list):
                raise ValueError("a chunk list is not a list")
            for pair in pairs:
                if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
                    raise ValueError("a chunk is not an [id, size] pair")
                chunk_id, size = pair
                if not valid_chunk_id(chunk_id):
                    raise ValueError("a chunk id is not a BLAKE3 hash")
                if type(size) is not int or not 0 <= size <= CHUNK_SIZE:
                    raise ValueError(f"chunk {chunk_id[:12]} has an impossible size")
                found[chunk_id] = size
    return found


def named_chunks(data: bytes) -> set[str]:
    """The chunk ids in the raw text of a manifest that cannot be read: prune keeps them,
    since removing a chunk cannot be undone."""
    return {match.decode() for match in _CHUNK_ID_IN_TEXT.findall(data)}
