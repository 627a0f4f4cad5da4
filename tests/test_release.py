"""The forked writer hands back the pages it has written, and nothing else."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from jupyter_gpuguard.snapshot import Store
from jupyter_gpuguard.snapshot.release import releasable
from tests.helpers.kernels import kernel

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="madvise")


def test_overlapping_buffers_are_never_released():
    base = np.arange(1_000_000, dtype=np.float64)
    view = base[10:500_000]
    alone = np.ones(1_000_000)
    starts = releasable([memoryview(base), memoryview(view), memoryview(alone), memoryview(b"")])
    assert starts[0] is None and starts[1] is None  # they share memory
    assert starts[2] == alone.ctypes.data
    assert starts[3] is None


def test_a_forked_writer_that_releases_saves_everything_and_leaves_the_parent_intact(tmp_path):
    rng = np.random.default_rng(7)
    namespace = {
        "big": rng.random(3_000_000),  # 24 MB, several chunks, not page-aligned in general
        "other": rng.integers(0, 1000, 2_000_000),
        "base": np.arange(1_500_000, dtype=np.float64),
    }
    namespace["view"] = namespace["base"][7:1_400_000]
    expected = {name: value.copy() for name, value in namespace.items()}
    store = Store(tmp_path / "store")
    pid = os.fork()
    if pid == 0:  # the writer, as the kernel forks it
        try:
            store.save(namespace, release_written=True)
        finally:
            os._exit(0)
    _pid, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    for name, value in namespace.items():
        assert np.array_equal(value, expected[name]), name  # the parent's pages are its own
    loaded = store.load()
    assert loaded.failed == []
    for name, value in expected.items():
        assert np.array_equal(loaded.variables[name], value), name


def test_a_cell_rewriting_arrays_during_the_snapshot_keeps_its_own_values(tmp_path):
    env = {"GPUGUARD_STORE": str(tmp_path / "store")}
    with kernel(env) as k:
        k.run("import numpy as np\narrays = [np.full(2_000_000, float(i)) for i in range(6)]")
        k.run("%load_ext jupyter_gpuguard")
        k.run("%gpuguard snapshot")
        k.run("for a in arrays:\n    a += 1")  # while the writer runs
        k.run(
            "__import__('jupyter_gpuguard.snapshot.kernel', fromlist=['_']).current().last.wait()"
        )
        assert k.value("[float(a.sum()) for a in arrays]") == [
            2_000_000.0 * (i + 1) for i in range(6)
        ]
    loaded = Store(tmp_path / "store").load()
    # the snapshot holds the arrays as they were at the fork: not rewritten, never zeroed
    assert [float(a.sum()) for a in loaded.variables["arrays"]] == [
        2_000_000.0 * i for i in range(6)
    ]
