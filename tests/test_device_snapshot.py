"""GPU-tensor snapshots end to end, with CPU tensors standing in for CUDA ones (the copier's
``stand_in`` seam): fingerprints, the copy after the fork, reused chunks, the host-memory
guard and the wait of a cell that starts during the copy, on a real IPython shell and a real
kernel. The same path on a GPU is in test_cuda_snapshot.py."""

from __future__ import annotations

import threading
import time

import pytest
from IPython.core.interactiveshell import InteractiveShell

from jupyter_gpuguard.snapshot import Store
from jupyter_gpuguard.snapshot.chunks import CHUNK_SIZE
from jupyter_gpuguard.snapshot.host_memory import HostMemory, read_host_memory
from jupyter_gpuguard.snapshot.kernel import KernelSnapshots
from tests.helpers.kernels import kernel

torch = pytest.importorskip("torch")

MiB = 2**20
MANIFEST_AT_MOST = 64 * 1024  # a manifest of a few variables


@pytest.fixture
def store_dir(tmp_path):
    """As conftest's: scripts/gpu_check.sh runs this file without conftest."""
    return tmp_path / "store"


@pytest.fixture
def shell():
    shell = InteractiveShell.instance()
    saved = dict(shell.user_ns)
    yield shell
    shell.user_ns.clear()
    shell.user_ns.update(saved)


def stand_in(shell, tmp_path, **copier) -> KernelSnapshots:
    snapshots = KernelSnapshots(shell, Store(tmp_path / "store"))
    snapshots.devices.stand_in = "cpu"
    for name, value in copier.items():
        setattr(snapshots.devices, name, value)
    return snapshots


def taken(snapshots: KernelSnapshots, background: bool = True):
    job = snapshots.snapshot(background=background).wait(120)
    assert job.error is None, job.error
    return job


def test_unchanged_tensors_are_neither_copied_nor_written_again(shell, tmp_path):
    weights = torch.randn(16 * MiB // 4, generator=torch.Generator().manual_seed(0))
    shell.user_ns.update(weights=weights, alias=weights, bias=torch.nn.Parameter(torch.ones(9)))
    snapshots = stand_in(shell, tmp_path)
    first = taken(snapshots)
    assert first.device()["bytes_copied"] == first.device()["bytes"] >= 16 * MiB
    assert first.info.bytes_written >= 16 * MiB
    second = taken(snapshots)
    device = second.device()
    assert device["bytes_copied"] == 0 and device["bytes_reused"] == device["bytes"]
    assert second.info.bytes_written < MANIFEST_AT_MOST
    assert "0 bytes copied to host memory" in " ".join(second.info.notes)
    loaded = snapshots.store.load(second.info.id)
    assert torch.equal(loaded.variables["weights"], weights)
    assert loaded.variables["alias"] is loaded.variables["weights"]
    assert isinstance(loaded.variables["bias"], torch.nn.Parameter)


def test_a_changed_block_is_the_only_one_copied_and_written(shell, tmp_path):
    weights = torch.zeros(64 * MiB // 4)  # 16 blocks
    shell.user_ns["weights"] = weights
    snapshots = stand_in(shell, tmp_path)
    taken(snapshots)
    weights[5 * CHUNK_SIZE // 4 + 7] = 1.0  # one element of the sixth block
    job = taken(snapshots)
    assert job.device()["bytes_copied"] == CHUNK_SIZE
    assert job.device()["bytes_reused"] == 15 * CHUNK_SIZE
    assert CHUNK_SIZE <= job.info.bytes_written < CHUNK_SIZE + MANIFEST_AT_MOST
    assert torch.equal(snapshots.store.load(job.info.id).variables["weights"], weights)


def test_the_synchronous_path_reuses_blocks_the_same_way(shell, tmp_path):
    shell.user_ns["weights"] = torch.ones(12 * MiB // 4)
    snapshots = stand_in(shell, tmp_path)
    taken(snapshots, background=False)
    job = taken(snapshots, background=False)
    assert job.device()["bytes_copied"] == 0
    assert torch.equal(snapshots.store.load(job.info.id).variables["weights"], torch.ones(3 * MiB))


def test_a_chunk_gone_from_the_store_is_copied_again(shell, tmp_path):
    weights = torch.arange(8 * MiB // 8, dtype=torch.int64)
    shell.user_ns["weights"] = weights
    snapshots = stand_in(shell, tmp_path)
    first = taken(snapshots)
    snapshots.store.delete(first.info.id)
    snapshots.store.prune(keep=1)  # nothing references its chunks: they go
    again = taken(snapshots)
    assert again.device()["bytes_copied"] == 8 * MiB
    assert torch.equal(snapshots.store.load(again.info.id).variables["weights"], weights)


def test_what_host_memory_cannot_hold_is_skipped_with_the_reason(shell, tmp_path):
    shell.user_ns.update(
        small=torch.ones(4 * MiB // 4), large=torch.ones(16 * MiB // 4), note="kept"
    )
    room = HostMemory(available=8 * MiB, limit=2**40)
    snapshots = stand_in(shell, tmp_path, read_memory=lambda: room, margin="0")
    job = taken(snapshots)
    skipped = {s.name: s.reason for s in job.info.skipped}
    assert set(skipped) == {"large"}
    assert "16.0 MiB changed on cpu would not fit in host memory" in skipped["large"]
    assert "c.GpuGuard.cuda_host_memory_margin" in skipped["large"]
    assert {v.name for v in job.info.variables} == {"small", "note"}
    assert job.device()["bytes_copied"] == 4 * MiB
    assert job.device()["tensors_skipped"] == 1
    # the margin counts: with 6 MiB of the 8 kept free, not even the small one fits
    snapshots.devices.forget()
    snapshots.devices.margin = "6MiB"
    job = taken(snapshots)
    assert {s.name for s in job.info.skipped} == {"small", "large"}


def test_a_cell_that_starts_during_the_copy_waits_for_it(shell, tmp_path):
    weights = torch.zeros(8 * MiB // 4)
    shell.user_ns["weights"] = weights

    def slow() -> HostMemory:  # stretches the copy: the cell below starts during it
        time.sleep(1.0)
        return read_host_memory()

    snapshots = stand_in(shell, tmp_path, read_memory=slow)
    started: list = []
    # from another thread, as the control socket asks while the kernel is idle
    thread = threading.Thread(target=lambda: started.append(snapshots.snapshot()))
    thread.start()
    thread.join()
    job = started[0]
    fork_pause = job.pause_seconds
    assert fork_pause < 0.9  # the kernel went on before the copy
    result = shell.run_cell("weights.add_(1)")
    assert result.success
    job.wait(120)
    assert job.error is None, job.error
    device = job.device()
    assert device["waited_seconds"] > 0.3
    assert job.pause_seconds == pytest.approx(fork_pause + device["waited_seconds"], abs=0.01)
    saved = snapshots.store.load(job.info.id).variables["weights"]
    assert torch.equal(saved, torch.zeros(8 * MiB // 4))  # before the cell, not after


def test_the_margin_comes_from_the_servers_attach(shell, tmp_path):
    snapshots = stand_in(shell, tmp_path)
    answer = snapshots._answer('{"op": "attach", "cuda_host_memory_margin": "2GiB"}')
    assert "error" not in answer and snapshots.devices.margin == "2GiB"
    refused = snapshots._answer('{"op": "attach", "cuda_host_memory_margin": "lots"}')
    assert "not a memory margin" in refused["error"]
    assert snapshots.devices.margin == "2GiB"


def test_device_tensors_survive_a_killed_kernel(store_dir):
    env = {"GPUGUARD_STORE": str(store_dir)}
    setup = (
        "import torch\n"
        "from jupyter_gpuguard.snapshot.kernel import current\n"
        "current().devices.stand_in = 'cpu'\n"
        "torch.manual_seed(0)\n"
        "model = torch.nn.Linear(512, 2048)\n"
        "optimizer = torch.optim.Adam(model.parameters())\n"
        "model(torch.randn(4, 512)).sum().backward(); optimizer.step()\n"
        "expected = float(model.weight.sum())\n"
    )
    with kernel(env) as first:
        first.run("%load_ext jupyter_gpuguard")
        first.run(setup)
        first.run("%gpuguard snapshot --wait")
        first.run("%gpuguard snapshot --wait")
        device = first.value("current().last.to_json()['device']")
        assert device["bytes_copied"] == 0 and device["tensors"] >= 4
        status = first.run("%gpuguard status")
        assert "GPU memory: 0 B copied to host" in status and "unchanged" in status
        expected = first.value("expected")
        first.kill()
    with kernel(env) as second:
        second.run("%load_ext jupyter_gpuguard")
        second.run("%gpuguard restore")
        assert second.value("float(model.weight.sum())") == pytest.approx(expected)
        shared = "optimizer.param_groups[0]['params'][0] is model.weight"
        assert second.value(shared) is True
        assert second.value("len(optimizer.state)") == 2


def test_a_snapshot_taken_while_a_cell_runs_is_not_compared_with(shell, tmp_path):
    """Its fingerprints and its copy may be of different moments of a running cell: the next
    snapshot copies everything again rather than trust them."""
    shell.user_ns["weights"] = torch.ones(8 * MiB // 4)
    snapshots = stand_in(shell, tmp_path)
    jobs: list = []
    shell.user_ns["_take"] = lambda: jobs.append(snapshots.snapshot())
    shell.user_ns_hidden["_take"] = shell.user_ns_hidden["_t"] = None  # not the user's
    cell = "import threading\n_t = threading.Thread(target=_take); _t.start(); _t.join()"
    assert shell.run_cell(cell).success  # from another thread, as a preemption notice does
    busy = jobs[0].wait(120)
    assert busy.error is None and busy.device()["bytes_copied"] == 8 * MiB
    assert snapshots.devices.remembered == {}
    idle = taken(snapshots)
    assert idle.device()["bytes_copied"] == 8 * MiB  # nothing trusted from the busy one
    assert taken(snapshots).device()["bytes_copied"] == 0
    for name in ("_take", "_t"):
        shell.user_ns_hidden.pop(name, None)


def test_a_tensor_in_a_value_only_dill_can_save_takes_the_block_path_too(shell, tmp_path):
    log = open(tmp_path / "train.log", "w")  # noqa: SIM115 - a file handle needs dill
    weights = torch.arange(6 * MiB // 4, dtype=torch.int32)
    shell.user_ns["run"] = {"log": log, "weights": weights}
    snapshots = stand_in(shell, tmp_path)
    taken(snapshots)
    job = taken(snapshots)
    assert job.device()["bytes_copied"] == 0
    restored = snapshots.store.load(job.info.id).variables["run"]
    assert torch.equal(restored["weights"], weights)
    assert restored["log"].name == log.name
    restored["log"].close()
    log.close()
