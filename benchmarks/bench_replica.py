"""What uploading a snapshot to an S3 replica costs, against boto3's ``upload_file`` of the
same bytes to the same server in the same run.

A snapshot of one array of random bytes (2 GiB, or 256 MiB with ``--quick``) is taken into a
local store; then, on a moto S3 server on loopback (``moto[server]``), each run uploads it
with ``Replica.upload`` (its chunks as 4 MiB PutObjects on a few threads, then the
manifest) to a new bucket, and the same bytes from a file with boto3's ``upload_file``
(multipart, its default 8 MiB parts on 10 threads) to another; the page cache holds neither
the store's chunks nor the file when each starts. Then a second snapshot of the unchanged
array is uploaded (only its manifest should go), and the first is pulled into an empty
store. Prints a markdown table.

    pip install ".[test]"
    python benchmarks/bench_replica.py [--quick] [--runs N] [--dir DIR]

Needs about 4x the snapshot in free disk under ``--dir`` (the store, the file, and moto's
copies, which it spools to its temporary directory) and 3x in memory.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import boto3
import numpy as np
from botocore.config import Config

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from jupyter_gpuguard.snapshot import Store  # noqa: E402
from jupyter_gpuguard.snapshot.replica import Replica  # noqa: E402
from tests.helpers.s3_server import KEYS, moto_server  # noqa: E402

MiB = 1024 * 1024


def uncache(path: Path) -> None:
    """Drop ``path``'s pages (a file, or every file below a directory) from the page cache."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for file in files:
        fd = os.open(file, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def rate(size: int, seconds: float) -> str:
    return f"{size / MiB / seconds:,.0f} MiB/s ({seconds:.1f} s)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="256 MiB instead of 2 GiB")
    parser.add_argument("--runs", type=int, default=2, help="uploads of each kind (best kept)")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    size = (256 if args.quick else 2048) * MiB
    os.environ.update(KEYS)
    work = Path(tempfile.mkdtemp(prefix="gpuguard-replica-bench-", dir=args.dir))
    os.environ["TMPDIR"] = str(work)  # where moto spools what it is sent
    try:
        data = np.frombuffer(np.random.default_rng(0).bytes(size), dtype=np.uint8)
        store = Store(work / "store")
        first = store.save({"weights": data}, notebook="bench.ipynb")
        file = work / "weights.bin"
        data.tofile(file)
        ours: list[float] = []
        theirs: list[float] = []
        with moto_server() as s3:
            # moto joins a multipart upload's parts in memory: for 2 GiB that takes longer
            # than botocore's 60 s read timeout, and a retried CompleteMultipartUpload fails
            client = boto3.client(
                "s3",
                endpoint_url=s3.url,
                region_name="us-east-1",
                config=Config(read_timeout=900, retries={"max_attempts": 1}),
            )
            for _ in range(args.runs):
                replica = Replica(f"s3://{s3.new_bucket()}/bench", endpoint_url=s3.url)
                uncache(store.path)
                started = time.monotonic()
                report = replica.upload(store, first.id)
                ours.append(time.monotonic() - started)
                assert report.chunks_uploaded > size // (4 * MiB)  # and the pickle stream
                bucket = s3.new_bucket()
                uncache(file)
                started = time.monotonic()
                client.upload_file(str(file), bucket, "bench/weights.bin")
                theirs.append(time.monotonic() - started)
            second = store.save({"weights": data}, notebook="bench.ipynb")
            started = time.monotonic()
            unchanged = replica.upload(store, second.id)
            unchanged_seconds = time.monotonic() - started
            manifest = len(store.export_manifest(second.id))
            empty = Store(work / "pulled")
            started = time.monotonic()
            replica.pull(empty, first.id)
            pulled = time.monotonic() - started
        assert np.array_equal(empty.load(first.id).variables["weights"], data)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ratio = min(theirs) / min(ours)
    only_manifest = unchanged.chunks_uploaded == 0 and unchanged.bytes_uploaded == manifest
    print(f"\n### Upload to an S3 replica (`benchmarks/bench_replica.py`), {size // MiB} MiB\n")
    print("| measure | result | target |")
    print("| --- | --- | --- |")
    print(f"| `Replica.upload`, best of {args.runs} | {rate(size, min(ours))} | - |")
    print(f"| boto3 `upload_file`, best of {args.runs} | {rate(size, min(theirs))} | - |")
    print(f"| upload throughput against boto3 | {ratio:.0%} | >= 80 % |")
    print(
        f"| second snapshot, state unchanged | {unchanged.bytes_uploaded:,} bytes in "
        f"{unchanged_seconds:.2f} s ({'the manifest alone' if only_manifest else 'MORE'}) "
        "| the manifest alone |"
    )
    print(f"| pull into an empty store (checked, durable) | {rate(size, pulled)} | - |")
    print(
        f"\nRun on: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}, "
        f"Python {platform.python_version()}, against moto_server on loopback. Reproduce "
        "with `python benchmarks/bench_replica.py`."
    )


if __name__ == "__main__":
    main()
