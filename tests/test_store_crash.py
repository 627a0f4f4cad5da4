"""A writer killed (SIGKILL) at random moments of a save never leaves a broken snapshot.

Each iteration starts ``tests/helpers/store_writer.py`` on a fresh store: it saves generation 0,
says it is ready, and goes on saving changed generations until the test kills it after a
random delay, spread uniformly over the time one save takes here (measured first, and a
little past it, so that some kills land just after a commit). Every snapshot left behind must
then be complete and byte-identical to the namespace it was saved from, which the snapshot
itself names (seed and generation), and every chunk on disk must match its hash.

A failure prints ``seed=N``; ``GPUGUARD_CRASH_SEEDS=N[,M...]`` reruns just those seeds.
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from blake3 import blake3

from jupyter_gpuguard.snapshot import Store
from jupyter_gpuguard.snapshot.model import valid_snapshot_id
from tests.helpers.store_writer import namespace

REPO = Path(__file__).resolve().parent.parent
PYTHON_PATH = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
ITERATIONS = 80


def _writer(store: Path, seed: int, count: int | None = None) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "tests.helpers.store_writer", "crash", str(store), str(seed)]
    if count is not None:
        args.append(str(count))
    return subprocess.Popen(
        args,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *PYTHON_PATH])},
    )


def _save_window(tmp_path: Path) -> float:
    """How long one save of a changed generation takes here, in seconds."""
    proc = _writer(tmp_path / "calibration", seed=1, count=6)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    periods = [float(line.split()[2]) for line in out.splitlines() if line.startswith("saved")]
    assert len(periods) == 5, out
    print(f"saves took {[round(period * 1000, 1) for period in periods]} ms")
    return statistics.median(periods)


def assert_identical(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert sorted(got) == sorted(want)
    for name, value in want.items():
        loaded = got[name]
        assert type(loaded) is type(value), name
        if isinstance(value, np.ndarray):
            assert loaded.dtype == value.dtype, name
            assert loaded.shape == value.shape, name
            assert loaded.tobytes() == value.tobytes(), name
        else:
            assert loaded == value, name


def assert_no_partial_files(store: Store) -> None:
    """Outside ``.tmp-*`` names, every chunk matches its hash and every manifest is named
    for a snapshot."""
    for prefix in os.listdir(store.chunks_dir):
        for name in os.listdir(store.chunks_dir / prefix):
            if name.startswith(".tmp-"):
                continue
            assert name.startswith(prefix)
            data = (store.chunks_dir / prefix / name).read_bytes()
            assert blake3(data).hexdigest() == name, f"chunk {name} is partial or damaged"
    for name in os.listdir(store.snapshots_dir):
        if not name.startswith(".tmp-"):
            assert name.endswith(".json") and valid_snapshot_id(name[: -len(".json")]), name


def check_after_kill(store: Store, seed: int, printed: list[int]) -> int:
    """Everything the killed writer left; returns the newest generation in the store."""
    ids = store.ids()
    infos = store.list()
    assert [info.id for info in infos] == ids, "a manifest in the store is not complete"
    generations = []
    for info in infos:  # newest first
        result = store.load(info.id)
        assert result.failed == [] and result.skipped == []
        meta = result.variables["meta"]
        assert meta["seed"] == seed
        assert_identical(result.variables, namespace(seed, meta["generation"]))
        generations.append(meta["generation"])
    # Each save the writer finished is there; at most one more got in before the kill.
    newest = generations[0]
    last_printed = printed[-1] if printed else 0
    assert newest in (last_printed, last_printed + 1)
    assert generations == list(range(newest, -1, -1))
    newest_loaded = store.load()
    assert newest_loaded.snapshot is not None and newest_loaded.snapshot.id == ids[0]
    assert newest_loaded.variables["meta"] == {"seed": seed, "generation": newest}
    report = store.verify()
    assert report.ok, report
    assert report.snapshots == ids
    assert_no_partial_files(store)
    return newest


def _seeds() -> list[int]:
    chosen = os.environ.get("GPUGUARD_CRASH_SEEDS")
    if chosen:
        return [int(seed) for seed in chosen.split(",")]
    first = secrets.randbelow(2**31)
    return [first + i for i in range(ITERATIONS)]


def _kill_during_save(proc: subprocess.Popen[str], delay: float) -> list[int]:
    """Wait for the writer to be ready, kill it ``delay`` seconds into its next save; returns
    the generations it reported as saved."""
    assert proc.stdout is not None
    ready = proc.stdout.readline()
    assert ready == "ready\n", proc.communicate(timeout=30)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    # Read through the buffered file object: readline() above may already hold lines the
    # writer printed while it ran ahead; communicate() would read past them.
    assert proc.stderr is not None
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, err
    return [int(line.split()[1]) for line in out.splitlines() if line.startswith("saved")]


def test_sigkill_during_save_leaves_only_complete_snapshots(tmp_path: Path) -> None:
    window = _save_window(tmp_path)
    print(f"save window {window * 1000:.1f} ms")
    seeds = _seeds()
    newest_generations = []
    left_temporary = 0
    # The next writer starts while the previous store is checked.
    following = _writer(tmp_path / f"store-{seeds[0]}", seeds[0])
    try:
        for index, seed in enumerate(seeds):
            print(f"seed={seed}")
            proc = following
            printed = _kill_during_save(proc, random.Random(seed).uniform(0.0, 1.2 * window))
            if index + 1 < len(seeds):
                following = _writer(tmp_path / f"store-{seeds[index + 1]}", seeds[index + 1])
            store = Store(tmp_path / f"store-{seed}")
            newest_generations.append(check_after_kill(store, seed, printed))
            left_temporary += any(True for _ in store.path.rglob(".tmp-*"))
    finally:
        if following.poll() is None:
            following.kill()
            following.communicate()
    print(f"newest generation after each kill: {newest_generations}")
    print(f"kills that left temporary files: {left_temporary}")
    if len(newest_generations) >= 20:
        # The delays spread over the save: many kills hit it before its commit.
        assert newest_generations.count(0) >= len(newest_generations) // 4
