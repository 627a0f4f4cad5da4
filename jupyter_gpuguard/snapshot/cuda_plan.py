"""Which blocks of which device tensors a snapshot copies to the host: plain logic over
fingerprints, the last snapshot's blocks and the host-memory allowance, no device involved.

A block is reused (neither copied nor hashed again) when the tensor is the one the last
snapshot saw (same object, memory, dtype, shape and device), the block's fingerprint is the
same, and the store still has the chunk that snapshot wrote for it. Every other block is
copied. A tensor whose copied blocks do not fit in what the host may still hold is skipped
whole, with that reason: a part of a tensor restores as nothing useful.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .cuda_blocks import block_spans
from .host_memory import describe

SETTING = "c.GpuGuard.cuda_host_memory_margin"

TensorKey = tuple[Any, ...]


def tensor_key(tensor: Any) -> TensorKey:
    """What must stay the same for a tensor's blocks to be compared with the last snapshot's."""
    return (
        id(tensor),
        int(tensor.data_ptr()),
        str(tensor.dtype),
        tuple(tensor.shape),
        str(tensor.device),
        int(tensor.numel()) * int(tensor.element_size()),
    )


@dataclass
class Remembered:
    """A tensor's blocks in the last good snapshot: fingerprint and chunk id of each."""

    fingerprints: list[int]
    chunks: list[str]


@dataclass
class TensorPlan:
    """What one snapshot does with one tensor's blocks."""

    index: int
    nbytes: int
    # block index -> offset of its copy in the snapshot's host buffer
    copy: dict[int, int] = field(default_factory=dict)
    # block index -> the chunk the last snapshot wrote for it
    reuse: dict[int, str] = field(default_factory=dict)
    skipped: str | None = None

    @property
    def copied_bytes(self) -> int:
        spans = block_spans(self.nbytes)
        return sum(spans[b][1] for b in self.copy)

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "nbytes": self.nbytes,
            "copy": [[b, o] for b, o in sorted(self.copy.items())],
            "reuse": [[b, c] for b, c in sorted(self.reuse.items())],
            "skipped": self.skipped,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TensorPlan:
        return cls(
            index=int(data["index"]),
            nbytes=int(data["nbytes"]),
            copy={int(b): int(o) for b, o in data["copy"]},
            reuse={int(b): str(c) for b, c in data["reuse"]},
            skipped=data.get("skipped"),
        )


def changed_blocks(
    fingerprints: Sequence[int],
    remembered: Remembered | None,
    has_chunk: Callable[[str, int], bool],
    sizes: Sequence[int],
) -> tuple[list[int], dict[int, str]]:
    """(blocks to copy, block -> chunk to reuse) of one tensor."""
    if remembered is None or len(remembered.fingerprints) != len(fingerprints):
        return list(range(len(fingerprints))), {}
    copy: list[int] = []
    reuse: dict[int, str] = {}
    for block, value in enumerate(fingerprints):
        chunk = remembered.chunks[block]
        if value == remembered.fingerprints[block] and has_chunk(chunk, sizes[block]):
            reuse[block] = chunk
        else:
            copy.append(block)
    return copy, reuse


def plan(
    keys: Sequence[TensorKey],
    sizes: Sequence[int],
    devices: Sequence[str],
    fingerprints: Sequence[Sequence[int]],
    remembered: dict[TensorKey, Remembered],
    has_chunk: Callable[[str, int], bool],
    room: int,
) -> tuple[list[TensorPlan], int]:
    """The plan of each tensor, in order, and the size of the host buffer it needs.

    ``room``: bytes the host may still hold (``host_memory.allowance``). Tensors are taken in
    the order given (the walk's, so the first variables first) while their copies fit.
    """
    plans: list[TensorPlan] = []
    offset = 0
    for index, (key, nbytes, device, values) in enumerate(
        zip(keys, sizes, devices, fingerprints, strict=True)
    ):
        spans = block_spans(nbytes)
        copy, reuse = changed_blocks(
            values, remembered.get(key), has_chunk, [size for _start, size in spans]
        )
        needed = sum(spans[b][1] for b in copy)
        entry = TensorPlan(index=index, nbytes=nbytes, reuse=reuse)
        if offset + needed > room:
            entry.reuse = {}
            entry.skipped = (
                f"not saved: its {describe(needed)} changed on {device} would not fit in host "
                f"memory ({describe(max(0, room - offset))} free beyond the margin, {SETTING})"
            )
        else:
            for block in copy:
                entry.copy[block] = offset
                offset += spans[block][1]
        plans.append(entry)
    return plans, offset
