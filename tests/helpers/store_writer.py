"""Child processes for the snapshot store tests.

python -m tests.helpers.store_writer crash STORE SEED [COUNT]
    saves generation 0 of ``namespace(SEED, 0)``, builds generation 1, prints ``ready``,
    then saves generations 1, 2, ... (COUNT saves in all, forever without it) until it is
    killed; prints ``saved <generation> <seconds the save took>`` after each save.
python -m tests.helpers.store_writer fsize STORE LIMIT
    saves ``big_namespace()`` with RLIMIT_FSIZE set to LIMIT bytes; prints one JSON line.
python -m tests.helpers.store_writer paused STORE NOTEBOOK
    saves ``paused_namespace()`` but stops right before its manifest is committed: prints
    ``committing`` and waits for a line on stdin; prints ``saved <id>`` at the end.
"""

from __future__ import annotations

import json
import resource
import signal
import sys
import time
from typing import Any

import numpy as np

from jupyter_gpuguard.snapshot import SnapshotError, Store


def namespace(seed: int, generation: int) -> dict[str, Any]:
    """A few MB, the same for the same (seed, generation): part of it changes per generation."""
    fixed = np.random.default_rng(seed)
    moving = np.random.default_rng([seed, generation])
    grid = fixed.integers(0, 256, size=5 * 1024 * 1024, dtype=np.uint8)  # two chunks
    grid[-1] = generation % 256  # only the second chunk changes
    return {
        "meta": {"seed": seed, "generation": generation},
        "base": fixed.standard_normal(256 * 1024),  # 2 MiB, never changes
        "grid": grid,
        "weights": moving.standard_normal((256, 1024)).astype(np.float32),  # 1 MiB
        "counts": moving.integers(-(2**40), 2**40, size=50_000),
        "records": [
            {"i": i, "name": f"r{seed}-{generation}-{i}", "score": float(x), "tags": ["a", str(i)]}
            for i, x in enumerate(moving.random(2_000))
        ],
        "label": f"seed {seed} generation {generation}",
    }


def big_namespace() -> dict[str, Any]:
    return {"big": np.arange(2 * 1024 * 1024, dtype=np.int64) * 3, "note": "too big"}


def paused_namespace() -> dict[str, Any]:
    """Shares ``shared`` with the namespace the paused test saves before, and adds new data."""
    return {
        "shared": np.arange(1024 * 1024, dtype=np.float64),
        "fresh": np.full(1024 * 1024, 7, dtype=np.int32),
    }


def _crash(store: Store, seed: int, count: int | None) -> None:
    store.save(namespace(seed, 0), notebook="crash.ipynb")
    generation, following = 1, namespace(seed, 1)
    print("ready", flush=True)  # the next save starts right away
    while count is None or generation < count:
        started = time.perf_counter()
        store.save(following, notebook="crash.ipynb")
        print(f"saved {generation} {time.perf_counter() - started:.6f}", flush=True)
        generation += 1
        following = namespace(seed, generation)


def _fsize(store: Store, limit: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit, write() fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    try:
        info = store.save(big_namespace(), notebook="full.ipynb")
    except SnapshotError as err:
        print(json.dumps({"saved": None, "error": str(err), "type": type(err).__name__}))
    else:
        print(json.dumps({"saved": info.id, "error": None, "type": None}))


def _paused(store: Store, notebook: str) -> None:
    commit = Store._commit_manifest

    def paused_commit(self: Store, manifest: dict[str, Any]) -> int:
        print("committing", flush=True)
        sys.stdin.readline()
        return commit(self, manifest)

    Store._commit_manifest = paused_commit  # type: ignore[method-assign]
    info = store.save(paused_namespace(), notebook=notebook)
    print(f"saved {info.id}", flush=True)


def main(argv: list[str]) -> None:
    mode, store = argv[0], Store(argv[1])
    if mode == "crash":
        _crash(store, int(argv[2]), int(argv[3]) if len(argv) > 3 else None)
    elif mode == "fsize":
        _fsize(store, int(argv[2]))
    elif mode == "paused":
        _paused(store, argv[2])
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
