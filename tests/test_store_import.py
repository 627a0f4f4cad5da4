"""Store.export_manifest, import_chunk and import_manifest: a snapshot copied in from
elsewhere (a replica) is checked as it comes, and listed only once complete."""

from __future__ import annotations

import json
import os
import stat

import pytest
from blake3 import blake3

from jupyter_gpuguard.snapshot import SnapshotError, Store


def test_a_snapshot_copied_chunk_by_chunk_then_its_manifest(tmp_path) -> None:
    source = Store(tmp_path / "source")
    info = source.save({"x": list(range(10_000)), "y": b"\x01" * 5_000_000}, notebook="n.ipynb")
    manifest = source.export_manifest(info.id)
    parsed = json.loads(manifest)
    pairs = [
        pair
        for group in parsed["groups"]
        for pairs in (group["stream"], *group["buffers"])
        for pair in pairs
    ]
    target = Store(tmp_path / "target")
    for chunk_id, size in pairs[:-1]:
        assert target.import_chunk(chunk_id, source.read_chunk(chunk_id, size)) is True
    with pytest.raises(SnapshotError, match="missing"):
        target.import_manifest(manifest)  # one chunk is not there yet
    assert target.list() == []
    chunk_id, size = pairs[-1]
    target.import_chunk(chunk_id, source.read_chunk(chunk_id, size))
    assert target.import_chunk(chunk_id, source.read_chunk(chunk_id, size)) is False
    assert target.import_manifest(manifest).id == info.id
    assert target.import_manifest(manifest).id == info.id  # again: kept as it is
    assert target.export_manifest(info.id) == manifest
    assert target.load(info.id).variables["x"] == list(range(10_000))
    for root, dirs, files in os.walk(target.path):
        for name in [*dirs, *files]:
            assert stat.S_IMODE(os.stat(os.path.join(root, name)).st_mode) & 0o077 == 0


def test_import_refuses_what_does_not_match(tmp_path) -> None:
    store = Store(tmp_path / "s")
    data = b"some chunk"
    with pytest.raises(SnapshotError, match="does not match"):
        store.import_chunk(blake3(b"other").hexdigest(), data)
    with pytest.raises(SnapshotError, match="not a chunk"):
        store.import_chunk("../../etc/passwd", data)
    assert [p.name for p in store.chunks_dir.rglob("*") if p.is_file()] == []
    with pytest.raises(SnapshotError, match="damaged"):
        store.import_manifest(b'{"id": "nope"}')
    with pytest.raises(SnapshotError, match="damaged"):
        store.import_manifest(b"not json")
    source = Store(tmp_path / "src")
    manifest = json.loads(source.export_manifest(source.save({"x": 1}).id))
    manifest["groups"][0]["stream"][0][0] = "../x"
    with pytest.raises(SnapshotError, match="damaged"):
        store.import_manifest(json.dumps(manifest).encode())
    assert store.list() == []
