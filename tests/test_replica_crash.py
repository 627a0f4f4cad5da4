"""An uploader killed (SIGKILL) at random points never leaves an incomplete snapshot on the
replica, and the newest it left restores exactly.

Each seed starts ``tests/helpers/replica_uploader.py`` on a new bucket to upload the same three
snapshots, oldest first, and kills it: even seeds after a random number of landed objects
(the uploader kills itself from its progress callback, mid-flight for the other threads),
odd seeds after a random delay spread over one whole upload's time. The bucket must then
list only snapshots whose every chunk is there, oldest first as uploaded; the newest must
pull into an empty store and load byte-identical; a second upload must finish the rest.

Each seed is printed; ``GPUGUARD_REPLICA_SEEDS=N[,M...]`` reruns just those.
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jupyter_gpuguard.snapshot import Store
from jupyter_gpuguard.snapshot.replica import Replica, Timeouts
from jupyter_gpuguard.snapshot.replica.index import Listing
from jupyter_gpuguard.snapshot.replica.layout import manifest_chunks, parse_manifest
from tests.helpers.s3_server import KEYS, S3Server
from tests.helpers.store_writer import namespace
from tests.test_store_crash import assert_identical

pytest_plugins = ["tests.helpers.s3_server"]  # its fixtures: s3, clean_aws, aws_keys
pytest.importorskip("obstore")
pytest.importorskip("boto3")

REPO = Path(__file__).resolve().parent.parent
PYTHON_PATH = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
ITERATIONS = 24
SEED = 5  # of the data: the snapshots are the same for every kill
GENERATIONS = 3


def _seeds() -> list[int]:
    chosen = os.environ.get("GPUGUARD_REPLICA_SEEDS")
    if chosen:
        return [int(seed) for seed in chosen.split(",")]
    first = secrets.randbelow(2**31)
    return [first + i for i in range(ITERATIONS)]


def _uploader(
    s3: S3Server, url: str, store: Store, kill_after: int | None
) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "tests.helpers.replica_uploader", s3.url, url, str(store.path)]
    if kill_after is not None:
        args.append(str(kill_after))
    return subprocess.Popen(
        args,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            **KEYS,
            "PYTHONPATH": os.pathsep.join([str(REPO), *PYTHON_PATH]),
        },
    )


def _replica(s3: S3Server, url: str) -> Replica:
    return Replica(url, endpoint_url=s3.url, timeouts=Timeouts(connect=1, total=10))


def _check(replica: Replica, order: list[str], generation_of: dict[str, int], tmp: Path) -> int:
    """Only complete snapshots are listed, the oldest ones uploaded; the newest restores
    exactly. Returns how many are there."""
    ids = replica.ids()
    assert sorted(ids) == sorted(order[: len(ids)]), "listed snapshots are not the first uploaded"
    listing = Listing.scan(replica._bucket)
    for snapshot_id in ids:
        data = replica._bucket.get(f"snapshots/{snapshot_id}.json", 1 << 30)
        chunks = manifest_chunks(parse_manifest(data, snapshot_id))
        missing = [c for c in chunks if c not in listing.chunks]
        assert not missing, f"snapshot {snapshot_id} is listed without {len(missing)} chunks"
    if ids:
        store = Store(tmp / f"restore-{secrets.token_hex(4)}")
        replica.pull(store, ids[0])
        result = store.load(ids[0])
        assert result.failed == [] and result.skipped == []
        assert_identical(result.variables, namespace(SEED, generation_of[ids[0]]))
    return len(ids)


def test_a_killed_upload_leaves_only_complete_snapshots(s3, aws_keys, tmp_path) -> None:
    store = Store(tmp_path / "store")
    saved = [store.save(namespace(SEED, g), notebook="n.ipynb") for g in range(GENERATIONS)]
    order = [info.id for info in saved]
    generation_of = {info.id: g for g, info in enumerate(saved)}

    # one whole upload, timed, and its number of progress calls
    calibration = f"s3://{s3.new_bucket()}/calibration"
    proc = _uploader(s3, calibration, store, None)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    started = time.monotonic()
    out, err = proc.communicate(timeout=120)
    window = time.monotonic() - started
    assert proc.returncode == 0, err
    assert out.count("uploaded") == GENERATIONS
    calls = int(out.split("calls ")[1])
    print(f"one upload: {window * 1000:.0f} ms, {calls} progress calls")

    outcomes = []
    for seed in _seeds():
        rng = random.Random(seed)
        url = f"s3://{s3.new_bucket()}/kill-{seed}"
        try:
            if seed % 2 == 0:
                after = rng.randint(1, calls)
                proc = _uploader(s3, url, store, after)
                _out, err = proc.communicate(timeout=120)
                how = f"after {after} progress calls"
            else:
                delay = rng.uniform(0, window)
                proc = _uploader(s3, url, store, None)
                assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
                time.sleep(delay)
                proc.send_signal(signal.SIGKILL)
                _out, err = proc.communicate(timeout=60)
                how = f"after {delay * 1000:.0f} ms"
            assert proc.returncode in (-signal.SIGKILL, 0), err
            replica = _replica(s3, url)
            left = _check(replica, order, generation_of, tmp_path)
            for snapshot_id in order:  # the next upload finishes what was cut short
                replica.upload(store, snapshot_id)
            assert _check(replica, order, generation_of, tmp_path) == GENERATIONS
        except BaseException:
            print(f"seed={seed} failed")
            raise
        killed = "killed" if proc.returncode == -signal.SIGKILL else "finished"
        outcomes.append(left)
        print(f"seed={seed}: {killed} {how}, {left} of {GENERATIONS} snapshots complete")
    # the kills landed all over the upload
    assert len(set(outcomes)) > 1 or len(outcomes) < 5
