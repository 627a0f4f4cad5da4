"""CUDA tensors in snapshots.

The GPU tests run where torch sees a CUDA device (a GPU pod, or the project's device
machine) and are skipped elsewhere; the CPU-side restore of a GPU snapshot runs everywhere
torch is installed.
"""

from __future__ import annotations

import pytest

from jupyter_gpuguard.snapshot import Store, cuda
from tests.helpers.kernels import kernel

torch = pytest.importorskip("torch")
needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

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
