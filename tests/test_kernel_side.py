"""The kernel side in this process, on a real IPython shell: fallback, watchdog, failures."""

from __future__ import annotations

import time

import numpy as np
import pytest
from IPython.core.interactiveshell import InteractiveShell

from jupyter_gpuguard.snapshot import Store
from jupyter_gpuguard.snapshot.kernel import KernelSnapshots


class Stalls:
    """Takes far too long to pickle, like a client object waiting on a dead server."""

    def __reduce__(self):
        time.sleep(60)
        return (Stalls, ())


@pytest.fixture
def shell():
    shell = InteractiveShell.instance()
    saved = dict(shell.user_ns)
    yield shell
    shell.user_ns.clear()
    shell.user_ns.update(saved)


def test_synchronous_fallback_saves_the_namespace(shell, tmp_path):
    shell.run_cell(
        "import numpy as np\nweights = np.arange(10.0)\nname = 'run'", store_history=True
    )
    snapshots = KernelSnapshots(shell, Store(tmp_path), kernel_id="k-1", notebook="a.ipynb")
    job = snapshots.snapshot(background=False)
    assert job.done.is_set() and job.error is None
    assert {v.name for v in job.info.variables} == {"weights", "name"}
    assert job.info.kernel_id == "k-1"
    manifest = Store(tmp_path)._manifest(job.info.id)
    assert manifest["history"][-1] == "import numpy as np\nweights = np.arange(10.0)\nname = 'run'"
    assert manifest["execution_count"] == shell.execution_count


def test_background_snapshot_returns_before_the_write_and_reports_it(shell, tmp_path):
    shell.user_ns["big"] = np.ones(20_000_000)
    snapshots = KernelSnapshots(shell, Store(tmp_path))
    job = snapshots.snapshot()
    assert job.pid is not None
    assert snapshots.snapshot() is job  # one at a time
    job.wait(60)
    assert job.error is None
    assert job.info.bytes_total >= 160_000_000
    loaded = Store(tmp_path).load(job.info.id)
    assert loaded.variables["big"].sum() == 20_000_000


def test_a_hanging_child_is_ended_by_the_watchdog(shell, tmp_path):
    shell.user_ns["stuck"] = Stalls()
    snapshots = KernelSnapshots(shell, Store(tmp_path))
    snapshots.watchdog_seconds = 1.0
    job = snapshots.snapshot()
    assert not job.done.is_set()
    job.wait(30)
    assert job.error == "the snapshot process gave up after 1 s"
    assert Store(tmp_path).list() == []


def test_an_unwritable_store_fails_the_snapshot_with_its_reason(shell, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    shell.user_ns["value"] = 1
    snapshots = KernelSnapshots(shell, Store(blocker / "store"))
    job = snapshots.snapshot().wait(30)
    assert job.info is None
    assert "cannot write the snapshot store" in job.error


def test_magics_snapshot_list_restore(shell, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GPUGUARD_STORE", str(tmp_path))
    monkeypatch.setenv("JPY_SESSION_NAME", "magic.ipynb")
    from jupyter_gpuguard.snapshot import kernel

    monkeypatch.setattr(kernel, "_INSTANCES", {})
    shell.run_line_magic("load_ext", "jupyter_gpuguard")
    shell.run_cell("total = 40 + 2\nitems = [total, total]")
    shell.run_line_magic("gpuguard", "snapshot --wait")
    saved = capsys.readouterr().out
    assert "2 variables" in saved
    shell.run_line_magic("gpuguard", "list")
    listed = capsys.readouterr().out
    assert "magic.ipynb  2 variables" in listed
    shell.run_cell("del total, items")
    shell.run_line_magic("gpuguard", "restore")
    restored = capsys.readouterr().out
    assert "Restored 2 variables" in restored
    assert shell.user_ns["total"] == 42
    assert shell.user_ns["items"] == [42, 42]
    shell.run_line_magic("gpuguard", "restore ../../etc")
    assert "is not a snapshot id" in capsys.readouterr().out
    shell.run_line_magic("gpuguard", "status")
    assert f"Store: {tmp_path}" in capsys.readouterr().out
