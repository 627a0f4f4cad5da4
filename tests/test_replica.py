"""The replica on a real S3 server on loopback (moto's): upload, list, pull and prune."""

from __future__ import annotations

import os
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from blake3 import blake3

from jupyter_gpuguard.snapshot import Store
from jupyter_gpuguard.snapshot.replica import Replica, ReplicaDamaged, Timeouts
from tests.helpers.s3_server import S3Server
from tests.helpers.store_writer import namespace
from tests.test_store_crash import assert_identical

pytest_plugins = ["tests.helpers.s3_server"]  # its fixtures: s3, clean_aws, aws_keys
pytest.importorskip("obstore")
pytest.importorskip("boto3")

FAST = Timeouts(connect=1.0, request=10.0, retries=1, total=5.0)


def make_replica(s3: S3Server, bucket: str | None = None, **options) -> Replica:
    return Replica(
        f"s3://{bucket or s3.new_bucket()}/team/gpu-1",
        endpoint_url=s3.url,
        region="us-east-1",
        timeouts=FAST,
        **options,
    )


def bucket_keys(s3: S3Server, replica: Replica) -> list[str]:
    paginator = s3.client().get_paginator("list_objects_v2")
    prefix = replica.location.prefix + "/"
    return [
        item["Key"][len(prefix) :]
        for page in paginator.paginate(Bucket=replica.location.bucket, Prefix=prefix)
        for item in page.get("Contents", [])
    ]


def manifest_size(store: Store, snapshot_id: str) -> int:
    return len(store.export_manifest(snapshot_id))


def chunk_sizes(store: Store, snapshot_id: str) -> dict[str, int]:
    import json

    from jupyter_gpuguard.snapshot.replica.layout import manifest_chunks

    return manifest_chunks(json.loads(store.export_manifest(snapshot_id)))


def test_upload_then_unchanged_uploads_only_its_manifest(s3, aws_keys, tmp_path) -> None:
    store = Store(tmp_path / "store")
    first = store.save(namespace(1, 0), notebook="a.ipynb")
    replica = make_replica(s3)
    left: list[int] = []
    report = replica.upload(store, first.id, progress=left.append)
    sizes = chunk_sizes(store, first.id)
    total = sum(sizes.values()) + manifest_size(store, first.id)
    assert report.bytes_uploaded == total
    assert report.chunks_uploaded == len(sizes) and report.chunks_present == 0
    assert left[0] == total and left[-1] == 0
    assert left == sorted(left, reverse=True)
    assert sorted(k for k in bucket_keys(s3, replica) if k.startswith("chunks/")) == sorted(
        f"chunks/{c[:2]}/{c}" for c in sizes
    )

    again = replica.upload(store, first.id)
    assert again.already and again.bytes_uploaded == 0

    unchanged = store.save(namespace(1, 0), notebook="a.ipynb")
    fresh = make_replica(s3, replica.location.bucket)  # no cached index: it lists
    second = fresh.upload(store, unchanged.id)
    assert second.chunks_uploaded == 0 and second.chunks_present == len(sizes)
    assert second.bytes_uploaded == manifest_size(store, unchanged.id)
    assert replica.ids() == [unchanged.id, first.id]


def test_pull_into_an_empty_store_loads_the_same_values(s3, aws_keys, tmp_path) -> None:
    store = Store(tmp_path / "a")
    saved = [store.save(namespace(7, g), notebook="n.ipynb") for g in range(2)]
    replica = make_replica(s3)
    for info in saved:
        replica.upload(store, info.id)
    listed = replica.list()
    assert [info.id for info in listed] == [saved[1].id, saved[0].id]
    assert replica.list(notebook="other.ipynb") == []

    empty = Store(tmp_path / "b")
    left: list[int] = []
    pulled = replica.pull(empty, saved[1].id, progress=left.append)
    assert pulled.snapshot.id == saved[1].id and left[-1] == 0
    assert pulled.chunks_downloaded == len(chunk_sizes(store, saved[1].id))
    result = empty.load(saved[1].id)
    assert result.failed == [] and result.skipped == []
    assert_identical(result.variables, namespace(7, 1))
    assert empty.verify().ok
    # written as the store writes its own: private
    for root, dirs, files in os.walk(empty.path):
        for name in dirs:
            assert stat.S_IMODE(os.stat(Path(root) / name).st_mode) == 0o700
        for name in files:
            assert stat.S_IMODE(os.stat(Path(root) / name).st_mode) & 0o077 == 0

    # the older one shares chunks with it: only what differs comes down
    older = replica.pull(empty, saved[0].id)
    assert 0 < older.chunks_downloaded < len(chunk_sizes(store, saved[0].id))
    assert_identical(empty.load(saved[0].id).variables, namespace(7, 0))
    assert [info.id for info in empty.list()] == [saved[1].id, saved[0].id]


def test_pull_refuses_a_damaged_chunk_and_adds_no_snapshot(s3, aws_keys, tmp_path) -> None:
    store = Store(tmp_path / "a")
    info = store.save(namespace(3, 0), notebook="n.ipynb")
    replica = make_replica(s3)
    replica.upload(store, info.id)
    chunk_id, size = next(iter(chunk_sizes(store, info.id).items()))
    s3.client().put_object(
        Bucket=replica.location.bucket,
        Key=f"{replica.location.prefix}/chunks/{chunk_id[:2]}/{chunk_id}",
        Body=b"x" * size,
    )
    empty = Store(tmp_path / "b")
    with pytest.raises(ReplicaDamaged, match="does not match its hash"):
        replica.pull(empty, info.id)
    assert empty.list() == []


def put_orphans(s3: S3Server, replica: Replica, count: int) -> list[str]:
    """``count`` chunks no manifest names, straight into the bucket."""
    client = s3.client()
    ids = [blake3(f"orphan {i}".encode()).hexdigest() for i in range(count)]

    def put(i: int) -> None:
        key = f"{replica.location.prefix}/chunks/{ids[i][:2]}/{ids[i]}"
        client.put_object(Bucket=replica.location.bucket, Key=key, Body=f"orphan {i}".encode())

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(put, range(count)))
    return ids


GRACE = 2.0


def wait_past_grace() -> None:
    # S3 stamps objects to the second: a grace of 2 s is over 3 s later
    time.sleep(GRACE + 1.2)


def test_prune_keeps_the_newest_per_notebook_and_waits_out_the_grace(
    s3, aws_keys, tmp_path
) -> None:
    store = Store(tmp_path / "a")
    a = [store.save(namespace(11, g), notebook="a.ipynb") for g in range(3)]
    b = store.save(namespace(12, 0), notebook="b.ipynb")
    replica = make_replica(s3, index_max_age=GRACE / 2)
    for info in [*a, b]:
        replica.upload(store, info.id)
    orphans = put_orphans(s3, replica, 5)
    newest = {*chunk_sizes(store, a[2].id), *chunk_sizes(store, b.id)}
    only_old = {*chunk_sizes(store, a[0].id), *chunk_sizes(store, a[1].id)} - newest
    # a chunk stamped in the second of a prune's record may have been written after it:
    # only older ones are ever deleted on its word
    time.sleep(1.2)
    first = replica.prune(keep=1, grace_seconds=GRACE)
    assert sorted(first.removed) == sorted([a[0].id, a[1].id])
    assert first.removed_chunks == 0
    assert first.waiting_chunks == len(orphans) + len(only_old)
    assert replica.ids() == [b.id, a[2].id]

    again = replica.prune(keep=1, grace_seconds=GRACE)  # within the grace: nothing goes
    assert again.removed == [] and again.removed_chunks == 0

    wait_past_grace()
    last = replica.prune(keep=1, grace_seconds=GRACE)
    assert last.removed_chunks == len(orphans) + len(only_old)
    left = bucket_keys(s3, replica)
    assert sorted(k for k in left if k.startswith("chunks/")) == sorted(
        f"chunks/{c[:2]}/{c}" for c in newest
    )
    assert [k for k in left if k.startswith("unreferenced/")] == []
    empty = Store(tmp_path / "b")
    for info, seed, generation in ((a[2], 11, 2), (b, 12, 0)):
        replica.pull(empty, info.id)
        assert_identical(empty.load(info.id).variables, namespace(seed, generation))


def test_a_prune_lists_past_the_first_page(s3, aws_keys) -> None:
    replica = make_replica(s3, index_max_age=GRACE / 2)
    orphans = put_orphans(s3, replica, 1010)  # ListObjectsV2 answers 1000 at a time
    report = replica.prune(keep=1, grace_seconds=GRACE)
    assert report.waiting_chunks == len(orphans)


def test_prune_keeps_a_chunk_written_again_after_its_record(s3, aws_keys, tmp_path) -> None:
    replica = make_replica(s3, index_max_age=GRACE / 2)
    (orphan,) = put_orphans(s3, replica, 1)
    recorded = replica.prune(keep=1, grace_seconds=GRACE)
    assert recorded.waiting_chunks == 1
    time.sleep(1.2)
    put_orphans(s3, replica, 1)  # an upload writes it again: newer than the record
    time.sleep(GRACE)
    kept = replica.prune(keep=1, grace_seconds=GRACE)
    assert kept.removed_chunks == 0 and kept.waiting_chunks == 1
    wait_past_grace()
    gone = replica.prune(keep=1, grace_seconds=GRACE)
    assert gone.removed_chunks == 1
    assert f"chunks/{orphan[:2]}/{orphan}" not in bucket_keys(s3, replica)


def test_an_upload_writes_again_the_chunks_a_prune_recorded(s3, aws_keys, tmp_path) -> None:
    store = Store(tmp_path / "a")
    old = store.save(namespace(21, 0), notebook="a.ipynb")
    replica = make_replica(s3, index_max_age=GRACE / 2)
    replica.upload(store, old.id)
    other = store.save({"small": list(range(100))}, notebook="a.ipynb")
    replica.upload(store, other.id)
    pruned = replica.prune(keep=1, grace_seconds=GRACE)  # old goes: its chunks are recorded
    assert pruned.removed == [old.id]
    time.sleep(1.2)  # the record's second is over: what is written now is newer
    again = store.save(namespace(21, 0), notebook="a.ipynb")  # the same data once more
    report = replica.upload(store, again.id)
    assert report.chunks_uploaded == len(chunk_sizes(store, again.id))
    wait_past_grace()
    after = replica.prune(keep=5, grace_seconds=GRACE)
    assert after.removed_chunks == 0
    empty = Store(tmp_path / "b")
    replica.pull(empty, again.id)
    assert_identical(empty.load(again.id).variables, namespace(21, 0))


def test_prune_refuses_a_grace_shorter_than_the_uploads_listing_age(s3, aws_keys) -> None:
    from jupyter_gpuguard.snapshot.replica import ReplicaConfigError

    replica = make_replica(s3)
    with pytest.raises(ReplicaConfigError, match="grace"):
        replica.prune(keep=3, grace_seconds=10)
    with pytest.raises(ReplicaConfigError, match="at least one"):
        replica.prune(keep=0)
