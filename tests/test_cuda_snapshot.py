"""CUDA tensors in snapshots.

The GPU tests run where torch sees a CUDA device (a GPU pod, or the project's device
machine) and are skipped elsewhere; the CPU-side restore of a GPU snapshot runs everywhere
torch is installed. The same logic with CPU tensors standing in for CUDA ones runs
everywhere in test_cuda_blocks.py and test_device_snapshot.py.
"""

from __future__ import annotations

import threading
import time

import pytest

from jupyter_gpuguard.snapshot import Store, cuda, cuda_blocks
from jupyter_gpuguard.snapshot.chunks import CHUNK_SIZE
from jupyter_gpuguard.snapshot.host_memory import HostMemory, read_host_memory
from tests.helpers.kernels import kernel

torch = pytest.importorskip("torch")
needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture
def store_dir(tmp_path):
    """As conftest's: scripts/gpu_check.sh runs this file without conftest (no Jupyter
    server there), so it brings its own."""
    return tmp_path / "store"


STATE = r"""
import torch
torch.manual_seed(0)
weights = torch.randn(256, 256, device="cuda")
alias = weights
bias = torch.nn.Parameter(torch.ones(256, device="cuda"))
history = [weights, weights]
on_cpu = torch.arange(6.0)
expected = float((weights @ weights).sum().item())
"""


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the restore without a GPU")
def test_a_gpu_snapshot_restores_on_the_cpu_and_says_so():
    cuda.CUDA_NOTES.clear()
    restored = cuda.restore_cuda_tensor(torch.arange(4.0), "cuda:0", True, True)
    assert isinstance(restored, torch.nn.Parameter)
    assert restored.requires_grad
    assert restored.device.type == "cpu"
    assert restored.tolist() == [0.0, 1.0, 2.0, 3.0]
    plain = cuda.restore_cuda_tensor(torch.arange(3), "cuda:1", False, False)
    assert plain.device.type == "cpu" and not plain.requires_grad
    assert cuda.CUDA_NOTES == [
        "tensors saved on cuda:0 were restored on the CPU: no GPU is available",
        "tensors saved on cuda:1 were restored on the CPU: no GPU is available",
    ]
    cuda.CUDA_NOTES.clear()


@needs_gpu
def test_cuda_tensors_survive_a_killed_kernel(store_dir):
    env = {"GPUGUARD_STORE": str(store_dir)}
    with kernel(env) as first:
        first.run(STATE)
        expected = first.value("expected")
        first.run("%load_ext jupyter_gpuguard")
        first.run("%gpuguard snapshot --wait")
        first.kill()
    with kernel(env) as second:
        second.run("%load_ext jupyter_gpuguard")
        second.run("%gpuguard restore")
        assert second.value("weights.is_cuda and bias.is_cuda") is True
        assert second.value("float((weights @ weights).sum().item())") == pytest.approx(expected)
        assert second.value("alias is weights and history[0] is weights") is True
        assert second.value("type(bias).__name__") == "Parameter"
        assert second.value("bias.requires_grad") is True
        assert second.value("on_cpu.device.type") == "cpu"


@needs_gpu
def test_cuda_tensors_can_be_left_out(store_dir):
    env = {"GPUGUARD_STORE": str(store_dir), "GPUGUARD_CUDA": "skip"}
    with kernel(env) as first:
        first.run(STATE)
        first.run("%load_ext jupyter_gpuguard")
        first.run("%gpuguard snapshot --wait")
    info = Store(path=store_dir).list()[0]
    skipped = {s.name: s.reason for s in info.skipped}
    assert {"weights", "alias", "bias", "history"} <= set(skipped)
    assert all("CUDA snapshots are turned off" in r for r in skipped.values())
    assert {v.name for v in info.variables} >= {"on_cpu", "expected"}


MiB = 2**20


@pytest.fixture
def gpu_shell():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    saved = dict(shell.user_ns)
    yield shell
    shell.user_ns.clear()
    shell.user_ns.update(saved)
    torch.cuda.empty_cache()


def gpu_snapshots(shell, store_dir, **copier):
    from jupyter_gpuguard.snapshot.kernel import KernelSnapshots

    snapshots = KernelSnapshots(shell, Store(store_dir))
    for name, value in copier.items():
        setattr(snapshots.devices, name, value)
    return snapshots


def taken(snapshots, background=True):
    job = snapshots.snapshot(background=background).wait(300)
    assert job.error is None, job.error
    return job


@needs_gpu
def test_fingerprints_on_the_gpu_are_the_cpus():
    data = torch.randint(0, 256, (3 * CHUNK_SIZE + 1001,), dtype=torch.uint8)
    on_gpu = cuda_blocks.fingerprints(data.to("cuda")).cpu().tolist()
    assert on_gpu == cuda_blocks.fingerprints(data).tolist()  # int64 wraps the same way
    changed = data.clone()
    changed[CHUNK_SIZE + 17] ^= 0x40
    after = cuda_blocks.fingerprints(changed.to("cuda")).cpu().tolist()
    assert [a != b for a, b in zip(after, on_gpu, strict=True)] == [False, True, False, False]


@needs_gpu
def test_unchanged_gpu_memory_is_not_copied_again_and_a_change_is(gpu_shell, store_dir):
    weights = torch.randn(64 * MiB // 4, device="cuda")  # 16 blocks
    gpu_shell.user_ns.update(weights=weights, alias=weights)
    snapshots = gpu_snapshots(gpu_shell, store_dir)
    first = taken(snapshots)
    assert first.device()["bytes_copied"] == 64 * MiB
    second = taken(snapshots)
    assert second.device()["bytes_copied"] == 0
    assert second.device()["bytes_reused"] == 64 * MiB
    assert second.info.bytes_written < 64 * 1024
    weights[3 * CHUNK_SIZE // 4 + 5] += 1  # one element of the fourth block
    third = taken(snapshots)
    assert third.device()["bytes_copied"] == CHUNK_SIZE
    assert CHUNK_SIZE <= third.info.bytes_written < CHUNK_SIZE + 64 * 1024
    loaded = snapshots.store.load(third.info.id)
    restored = loaded.variables["weights"]
    assert restored.is_cuda and torch.equal(restored, weights)
    assert loaded.variables["alias"] is restored


@needs_gpu
def test_a_cell_that_starts_during_the_gpu_copy_waits_and_the_snapshot_has_the_before(
    gpu_shell, store_dir
):
    weights = torch.zeros(256 * MiB // 4, device="cuda")
    gpu_shell.user_ns["weights"] = weights

    def slow() -> HostMemory:
        time.sleep(1.0)
        return read_host_memory()

    snapshots = gpu_snapshots(gpu_shell, store_dir, read_memory=slow)
    started: list = []
    thread = threading.Thread(target=lambda: started.append(snapshots.snapshot()))
    thread.start()
    thread.join()
    job = started[0]
    assert job.pause_seconds < 0.5
    assert gpu_shell.run_cell("weights.add_(1); torch.cuda.synchronize()").success
    job.wait(300)
    assert job.error is None, job.error
    assert job.device()["waited_seconds"] > 0.3
    saved = snapshots.store.load(job.info.id).variables["weights"]
    assert torch.count_nonzero(saved).item() == 0  # as before the cell


@needs_gpu
def test_gpu_tensors_that_do_not_fit_in_host_memory_are_skipped(gpu_shell, store_dir):
    gpu_shell.user_ns.update(
        small=torch.ones(4 * MiB // 4, device="cuda"),
        large=torch.ones(64 * MiB // 4, device="cuda"),
    )
    room = HostMemory(available=16 * MiB, limit=2**40)
    snapshots = gpu_snapshots(gpu_shell, store_dir, read_memory=lambda: room, margin="0")
    job = taken(snapshots)
    skipped = {s.name: s.reason for s in job.info.skipped}
    assert set(skipped) == {"large"}
    assert "changed on cuda:0 would not fit in host memory" in skipped["large"]
    assert job.device()["bytes_copied"] == 4 * MiB


@needs_gpu
def test_tensors_of_a_gpu_this_machine_lacks_land_on_one_it_has():
    gpus = torch.cuda.device_count()
    cuda.CUDA_NOTES.clear()
    data = bytearray(torch.arange(6, dtype=torch.float32).numpy().tobytes())
    restored = cuda.restore_cuda_blocks(data, "float32", (2, 3), f"cuda:{gpus + 1}")
    assert restored.device == torch.device(f"cuda:{(gpus + 1) % gpus}")
    assert restored.cpu().flatten().tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    plural = "GPU" if gpus == 1 else "GPUs"
    note = (
        f"tensors saved on cuda:{gpus + 1} were restored on cuda:{(gpus + 1) % gpus}: "
        f"this machine has {gpus} {plural}"
    )
    noted = list(cuda.CUDA_NOTES)
    assert noted == [note]
    cuda.CUDA_NOTES.clear()


@needs_gpu
@pytest.mark.skipif(
    not torch.cuda.is_available() or torch.cuda.device_count() < 2, reason="needs two GPUs"
)
def test_tensors_on_several_gpus_come_back_on_theirs(gpu_shell, store_dir):
    gpu_shell.user_ns.update(
        a=torch.ones(5 * MiB, device="cuda:0"), b=torch.full((5 * MiB,), 2.0, device="cuda:1")
    )
    snapshots = gpu_snapshots(gpu_shell, store_dir)
    taken(snapshots)
    job = taken(snapshots)
    assert job.device()["bytes_copied"] == 0
    loaded = snapshots.store.load(job.info.id).variables
    assert loaded["a"].device == torch.device("cuda:0")
    assert loaded["b"].device == torch.device("cuda:1") and float(loaded["b"][0]) == 2.0
