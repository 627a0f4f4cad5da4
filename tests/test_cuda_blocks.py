"""The block, fingerprint, plan, host-memory and remap logic of GPU snapshots, with CPU
tensors standing in for CUDA ones: the same torch ops run on either device."""

from __future__ import annotations

import random

import pytest

from jupyter_gpuguard.snapshot import cuda, cuda_blocks, cuda_plan, host_memory
from jupyter_gpuguard.snapshot.cuda_blocks import BLOCK_SIZE

torch = pytest.importorskip("torch")

MiB = 1024 * 1024


def test_blocks_cover_the_bytes_once_in_4_mib_pieces():
    assert cuda_blocks.block_spans(0) == []
    assert cuda_blocks.block_spans(5) == [(0, 5)]
    assert cuda_blocks.block_spans(2 * BLOCK_SIZE) == [(0, BLOCK_SIZE), (BLOCK_SIZE, BLOCK_SIZE)]
    spans = cuda_blocks.block_spans(2 * BLOCK_SIZE + 3)
    assert spans[-1] == (2 * BLOCK_SIZE, 3) and len(spans) == cuda_blocks.block_count(
        2 * BLOCK_SIZE + 3
    )
    assert 4 * MiB == BLOCK_SIZE  # one block, one chunk of the store


def test_byte_view_is_the_tensors_memory_in_row_major_order():
    matrix = torch.arange(12, dtype=torch.int32).reshape(3, 4)
    assert cuda_blocks.byte_view(matrix).numel() == 48
    assert cuda_blocks.byte_view(matrix).data_ptr() == matrix.data_ptr()  # no copy
    transposed = matrix.t()
    assert torch.equal(
        cuda_blocks.byte_view(transposed), cuda_blocks.byte_view(transposed.contiguous())
    )
    assert cuda_blocks.byte_view(torch.ones(3, dtype=torch.bool)).tolist() == [1, 1, 1]


def _fingerprints(data):
    return cuda_blocks.fingerprints(data).tolist()


@pytest.mark.parametrize("nbytes", [7, BLOCK_SIZE, 3 * BLOCK_SIZE + 4099])
def test_every_single_byte_change_changes_its_blocks_fingerprint_and_no_other(nbytes):
    generator = torch.Generator().manual_seed(nbytes)
    data = torch.randint(0, 256, (nbytes,), dtype=torch.uint8, generator=generator)
    before = _fingerprints(data)
    assert len(before) == cuda_blocks.block_count(nbytes)
    assert _fingerprints(data.clone()) == before  # same bytes, same fingerprints
    rng = random.Random(nbytes)
    positions = {0, nbytes - 1, *(rng.randrange(nbytes) for _ in range(12))}
    for position in positions:
        for flip in (1, 0x80, rng.randrange(1, 256)):
            changed = data.clone()
            changed[position] ^= flip
            after = _fingerprints(changed)
            block = position // BLOCK_SIZE
            assert after[block] != before[block], (position, flip)
            assert [a for i, a in enumerate(after) if i != block] == [
                b for i, b in enumerate(before) if i != block
            ]


def test_sign_flips_in_pairs_and_swapped_words_are_caught():
    values = torch.randn(BLOCK_SIZE // 4, generator=torch.Generator().manual_seed(1))
    before = _fingerprints(cuda_blocks.byte_view(values))
    for first, second in [(1, 3), (0, 2), (10, 11), (5, 1000)]:
        flipped = values.clone()
        flipped[first] = -flipped[first]
        flipped[second] = -flipped[second]
        assert _fingerprints(cuda_blocks.byte_view(flipped)) != before, (first, second)
    swapped = values.clone()
    swapped[[7, 9]] = swapped[[9, 7]]
    assert _fingerprints(cuda_blocks.byte_view(swapped)) != before
    shifted = torch.roll(values, 2)
    assert _fingerprints(cuda_blocks.byte_view(shifted)) != before


def test_a_misaligned_view_is_fingerprinted_like_its_copy():
    data = torch.randint(0, 256, (BLOCK_SIZE + 64,), dtype=torch.uint8)
    view = data[3 : BLOCK_SIZE + 3]
    assert _fingerprints(view) == _fingerprints(view.clone())


def test_batches_give_the_same_fingerprints_as_one_pass():
    data = torch.randint(0, 256, (5 * BLOCK_SIZE,), dtype=torch.uint8)
    assert cuda_blocks.fingerprints(data, batch_blocks=2).tolist() == _fingerprints(data)


# ---- the plan ---------------------------------------------------------------------------------
def _plan(fingerprints, remembered, room=10**12, has_chunk=lambda c, s: True):
    sizes = [len(v) * BLOCK_SIZE for v in fingerprints]
    keys = [("t", i) for i in range(len(fingerprints))]
    return cuda_plan.plan(
        keys, sizes, ["cuda:0"] * len(keys), fingerprints, remembered, has_chunk, room
    )


def test_unchanged_blocks_reuse_their_chunks_and_changed_ones_are_copied():
    remembered = {("t", 0): cuda_plan.Remembered([1, 2, 3], ["a" * 64, "b" * 64, "c" * 64])}
    plans, size = _plan([[1, 9, 3]], remembered)
    assert plans[0].reuse == {0: "a" * 64, 2: "c" * 64}
    assert plans[0].copy == {1: 0}
    assert size == BLOCK_SIZE
    nothing, none = _plan([[1, 2, 3]], remembered)
    assert nothing[0].copy == {} and none == 0


def test_a_new_tensor_and_a_chunk_gone_from_the_store_are_copied():
    remembered = {("t", 0): cuda_plan.Remembered([1, 2], ["a" * 64, "b" * 64])}
    plans, size = _plan([[1, 2], [1, 2]], remembered, has_chunk=lambda c, s: c != "b" * 64)
    assert plans[0].reuse == {0: "a" * 64} and plans[0].copy == {1: 0}
    assert plans[1].reuse == {} and plans[1].copy == {0: BLOCK_SIZE, 1: 2 * BLOCK_SIZE}
    assert size == 3 * BLOCK_SIZE


def test_what_does_not_fit_in_host_memory_is_skipped_whole_with_the_reason():
    plans, size = _plan([[1], [1, 2, 3], [4]], {}, room=2 * BLOCK_SIZE)
    assert [p.skipped is None for p in plans] == [True, False, True]
    assert size == 2 * BLOCK_SIZE  # the first and the last: they fit
    reason = plans[1].skipped
    assert "12.0 MiB changed on cuda:0" in reason and "would not fit in host memory" in reason
    assert "cuda_host_memory_margin" in reason
    assert plans[1].copy == {} and plans[1].reuse == {}


def test_a_plan_survives_its_json():
    plan = cuda_plan.TensorPlan(3, 2 * BLOCK_SIZE, copy={1: 0}, reuse={0: "a" * 64})
    assert cuda_plan.TensorPlan.from_json(plan.to_json()) == plan


# ---- host memory ------------------------------------------------------------------------------
def _machine(tmp_path, available_kib, cgroup=None):
    proc = tmp_path / "proc"
    proc.mkdir(parents=True)
    (proc / "meminfo").write_text(
        f"MemTotal:       67108864 kB\nMemFree: 1000 kB\nMemAvailable:   {available_kib} kB\n"
    )
    root = tmp_path / "cgroup"
    root.mkdir()
    if cgroup is not None:
        limit, current = cgroup
        (root / "memory.max").write_text(f"{limit}\n")
        (root / "memory.current").write_text(f"{current}\n")
    return proc, root


def test_the_host_memory_is_the_smaller_of_meminfo_and_the_cgroup(tmp_path):
    proc, root = _machine(tmp_path / "a", 50 * 1024 * 1024, cgroup=(16 * 2**30, 10 * 2**30))
    memory = host_memory.read_host_memory(proc, root)
    assert memory.available == 6 * 2**30 and memory.limit == 16 * 2**30
    proc, root = _machine(tmp_path / "b", 1024 * 1024, cgroup=("max", 10 * 2**30))
    memory = host_memory.read_host_memory(proc, root)
    assert memory.available == 2**30 and memory.limit == 64 * 2**30
    assert host_memory.read_host_memory().available > 0  # this machine's, read for real


def test_the_margin_is_a_percent_of_the_limit_or_bytes():
    memory = host_memory.HostMemory(available=10 * 2**30, limit=64 * 2**30)
    assert host_memory.allowance(memory, "10%") == 10 * 2**30 - int(6.4 * 2**30)
    assert host_memory.allowance(memory, "8GiB") == 2 * 2**30
    assert host_memory.allowance(memory, "20%") == 0  # never negative
    assert host_memory.parse_margin("2G") == (0.0, 2 * 10**9)
    with pytest.raises(ValueError, match="not a memory margin"):
        host_memory.parse_margin("lots")
    with pytest.raises(ValueError):
        host_memory.parse_margin("150%")


# ---- remap on restore ---------------------------------------------------------------------------
def test_tensors_of_missing_gpus_go_to_the_gpus_there_are_or_the_cpu():
    assert cuda.target_device("cuda:3", 8) == ("cuda:3", None)
    assert cuda.target_device("cuda:5", 2) == (
        "cuda:1",
        "tensors saved on cuda:5 were restored on cuda:1: this machine has 2 GPUs",
    )
    assert cuda.target_device("cuda:7", 1)[0] == "cuda:0"
    assert cuda.target_device("cuda", 1) == ("cuda:0", None)
    assert cuda.target_device("cuda:2", 0) == (
        "cpu",
        "tensors saved on cuda:2 were restored on the CPU: no GPU is available",
    )
    assert cuda.target_device("cpu", 0) == ("cpu", None)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the restore without a GPU")
def test_blocks_of_a_gpu_tensor_restore_on_the_cpu_with_a_note():
    cuda.CUDA_NOTES.clear()
    original = torch.arange(12, dtype=torch.float16).reshape(3, 4)
    data = bytearray(cuda_blocks.byte_view(original).numpy().tobytes())
    restored = cuda.restore_cuda_blocks(data, "float16", (3, 4), "cuda:6", True, True)
    assert isinstance(restored, torch.nn.Parameter) and restored.requires_grad
    assert restored.dtype == torch.float16 and torch.equal(restored.detach(), original)
    empty = cuda.restore_cuda_blocks(None, "int64", (0, 5), "cuda:0")
    assert empty.shape == (0, 5) and empty.dtype == torch.int64
    assert cuda.CUDA_NOTES[0] == (
        "tensors saved on cuda:6 were restored on the CPU: no GPU is available"
    )
    cuda.CUDA_NOTES.clear()
    with pytest.raises(TypeError):
        cuda.restore_cuda_blocks(data, "Tensor", (3, 4), "cpu")


def test_the_margin_setting_is_checked_and_sent_to_kernels():
    from traitlets import TraitError

    from jupyter_gpuguard.config import GpuGuard
    from jupyter_gpuguard.snapshot import protocol

    assert GpuGuard().cuda_host_memory_margin == host_memory.DEFAULT_MARGIN
    assert GpuGuard(cuda_host_memory_margin="8GiB").cuda_host_memory_margin == "8GiB"
    for wrong in ("lots", "150%", "-1"):
        with pytest.raises(TraitError, match="cuda_host_memory_margin"):
            GpuGuard(cuda_host_memory_margin=wrong)
    request = protocol.attach_request("/store", "k-1", {"notebook": "a.ipynb"}, "4G")
    assert request["cuda_host_memory_margin"] == "4G"
    assert "cuda_host_memory_margin" not in protocol.attach_request("/store", "k-1", {})
