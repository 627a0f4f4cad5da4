"""Verifying a replica where it is, on a real S3 server on loopback (moto's): the manifests
are checked as a pull checks them, and every chunk they name must be there with its size
(by one listing, or a HEAD each for one snapshot); ``deep`` checks the hashes too."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jupyter_gpuguard.snapshot import Store
from jupyter_gpuguard.snapshot.replica import (
    Replica,
    ReplicaDamaged,
    ReplicaSnapshotMissing,
    Timeouts,
)
from tests.helpers.s3_server import S3Server

pytest_plugins = ["tests.helpers.s3_server"]  # its fixtures: s3, clean_aws, aws_keys
pytest.importorskip("obstore")
pytest.importorskip("boto3")

FAST = Timeouts(connect=1.0, request=10.0, retries=1, total=5.0)


class Bucketed:
    def __init__(self, s3: S3Server, store: Store) -> None:
        self.s3, self.store = s3, store
        self.bucket = s3.new_bucket()
        self.replica = Replica(f"s3://{self.bucket}/v", endpoint_url=s3.url, timeouts=FAST)
        self.ids = []
        for seed, notebook in ((1, "a.ipynb"), (2, "a.ipynb"), (3, "b.ipynb")):
            values = {
                "shared": np.arange(600_000, dtype=np.float64),  # two chunks, in all three
                f"own{seed}": np.full(100_000, seed, dtype=np.int64),
            }
            info = store.save(values, notebook=notebook)
            self.replica.upload(store, info.id)
            self.ids.append(info.id)

    def chunks(self, snapshot_id: str) -> dict[str, tuple[int, list[str]]]:
        manifest = json.loads(self.store.export_manifest(snapshot_id))
        found = {}
        for group in manifest["groups"]:
            for chunk_id, size in [*group["stream"], *(c for b in group["buffers"] for c in b)]:
                found[chunk_id] = (size, group["names"])
        return found

    def key(self, chunk_id: str) -> str:
        return f"v/chunks/{chunk_id[:2]}/{chunk_id}"

    def put(self, key: str, body: bytes) -> None:
        self.s3.client().put_object(Bucket=self.bucket, Key=key, Body=body)


@pytest.fixture
def bucketed(s3, aws_keys, tmp_path) -> Bucketed:
    return Bucketed(s3, Store(tmp_path / "store"))


def test_an_intact_replica_verifies(bucketed) -> None:
    everything = {c for i in bucketed.ids for c in bucketed.chunks(i)}
    for deep in (False, True):
        report = bucketed.replica.verify(deep=deep)
        assert report.ok, report
        assert report.snapshots == bucketed.ids[::-1]
        assert report.chunks_checked == len(everything)
        one = bucketed.replica.verify(bucketed.ids[0], deep=deep)
        assert one.ok and one.chunks_checked == len(bucketed.chunks(bucketed.ids[0]))


@pytest.mark.parametrize("one", [False, True], ids=["listing", "heads"])
def test_missing_and_wrong_size_chunks_are_found_without_downloading(bucketed, one) -> None:
    first = bucketed.chunks(bucketed.ids[0])
    # the largest chunk of each: its data, not a pickle stream that other variables share

    def largest(name: str) -> str:
        return max((c for c in first if first[c][1] == [name]), key=lambda c: first[c][0])

    own, shared = largest("own1"), largest("shared")
    bucketed.s3.client().delete_object(Bucket=bucketed.bucket, Key=bucketed.key(own))
    bucketed.put(bucketed.key(shared), b"short")
    report = bucketed.replica.verify(bucketed.ids[0] if one else None)
    assert not report.ok
    problems = {d.chunk: (d.problem, d.variables) for d in report.damaged}
    assert set(problems) == {own, shared}
    assert problems[own] == (
        f"chunk {own[:12]} is missing from {bucketed.replica.url}",
        ["own1"],
    )
    assert "wrong size: 5 bytes" in problems[shared][0]
    assert problems[shared][1] == ["shared"]  # named once, whichever snapshots share it


def test_only_deep_finds_a_chunk_of_the_right_size_with_other_bytes(bucketed) -> None:
    chunks = bucketed.chunks(bucketed.ids[2])
    chunk_id, (size, _names) = next(iter(chunks.items()))
    bucketed.put(bucketed.key(chunk_id), b"\x01" * size)
    assert bucketed.replica.verify().ok
    report = bucketed.replica.verify(deep=True)
    assert [d.chunk for d in report.damaged] == [chunk_id]
    assert "does not match its hash" in report.damaged[0].problem
    deep_one = bucketed.replica.verify(bucketed.ids[2], deep=True)
    assert [d.chunk for d in deep_one.damaged] == [chunk_id]


def test_a_damaged_manifest_is_a_problem_and_the_others_are_checked(bucketed) -> None:
    broken = bucketed.ids[1]
    manifest = json.loads(bucketed.store.export_manifest(broken))
    manifest["variables"] = "not a list"
    bucketed.put(f"v/snapshots/{broken}.json", json.dumps(manifest).encode())
    report = bucketed.replica.verify()
    assert len(report.problems) == 1 and report.problems[0].startswith(f"{broken}: ")
    assert "'variables' is missing or has the wrong type" in report.problems[0]
    assert report.damaged == []
    assert report.chunks_checked == len(
        {c for i in (bucketed.ids[0], bucketed.ids[2]) for c in bucketed.chunks(i)}
    )
    with pytest.raises(ReplicaDamaged, match="is damaged"):
        bucketed.replica.manifest(broken)


def test_manifest_and_an_unknown_snapshot(bucketed) -> None:
    manifest = bucketed.replica.manifest(bucketed.ids[0])
    assert manifest == json.loads(bucketed.store.export_manifest(bucketed.ids[0]))
    absent = "20260101T000000.000000Z-0123abcd"
    with pytest.raises(ReplicaSnapshotMissing):
        bucketed.replica.verify(absent)
    with pytest.raises(ReplicaSnapshotMissing):
        bucketed.replica.manifest(absent)


def test_verifying_an_empty_replica(s3, aws_keys) -> None:
    replica = Replica(f"s3://{s3.new_bucket()}/e", endpoint_url=s3.url, timeouts=FAST)
    report = replica.verify(deep=True)
    assert report.ok and report.snapshots == [] and report.chunks_checked == 0
